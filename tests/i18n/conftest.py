"""Fixtures of the language tests."""

from __future__ import annotations

import pytest


@pytest.fixture
def work(tmp_path, monkeypatch):
    """A working directory of its own: no store, language or server settings from the environment."""
    from microgrid.store import passwords

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MICROGRID_DATA_DIR", str(tmp_path / "var"))
    for name in ("MICROGRID_STORE_URL", "MICROGRID_LANG", "MICROGRID_DEV", "MICROGRID_SECRET"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(passwords, "SCRYPT_N", 2**12)  # fast password hashing in tests
    return tmp_path
