"""Shared fixtures: the bundled sites and a PostgreSQL server for the store tests."""

from __future__ import annotations

import os

import pytest

from tests.paths import REFERENCE_PARK, SMALL_SITE


@pytest.fixture(scope="session")
def reference_site():
    from microgrid.site import load_site

    return load_site(REFERENCE_PARK)


@pytest.fixture(scope="session")
def small_site():
    from microgrid.site import load_site

    return load_site(SMALL_SITE)


def debian_tool(name: str) -> str:
    """Path of a Debian command-line tool a test needs, installed by scripts/ensure-debian-tools.sh when
    running as root; the test is skipped with a message otherwise."""
    import shutil
    import subprocess

    from tests.paths import ROOT

    if shutil.which(name) is None:
        subprocess.run([str(ROOT / "scripts" / "ensure-debian-tools.sh"), name], check=False, timeout=300)
    path = shutil.which(name)
    if path is None:
        pytest.skip(f"{name} not installed (Debian package '{name}'; run as root or apt-get install {name})")
    return path


@pytest.fixture(scope="session")
def pg_url():
    """URL of a PostgreSQL database: ``MICROGRID_TEST_PG_URL`` when set, else a throw-away server started
    for this session (tests/pgserver.py); the tests using it are skipped with the reason otherwise."""
    url = os.environ.get("MICROGRID_TEST_PG_URL")
    if url:
        yield url
        return
    from tests.pgserver import PgServer, Unavailable

    try:
        server = PgServer.start()
    except Unavailable as exc:
        pytest.skip(f"PostgreSQL store tests: {exc}")
    try:
        yield server.url
    finally:
        server.stop()
