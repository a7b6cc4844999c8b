"""Store fixtures: a fresh SQLite file per test, and the same tests on PostgreSQL (a throw-away server
started for the session, or ``MICROGRID_TEST_PG_URL``; see tests/conftest.py ``pg_url``)."""

from __future__ import annotations

import uuid

import pytest

from microgrid.store import Store


@pytest.fixture
def sqlite_url(tmp_path):
    return f"sqlite:///{tmp_path / 'store.sqlite'}"


@pytest.fixture(params=["sqlite", "postgresql"])
def any_url(request, tmp_path):
    """A SQLite file, then a PostgreSQL database."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'store.sqlite'}"
    return request.getfixturevalue("pg_url")


@pytest.fixture
def site_id():
    """A fresh site id per test, so tests sharing one PostgreSQL database do not see each other's rows."""
    return f"t_{uuid.uuid4().hex[:10]}"


@pytest.fixture
def store(any_url, site_id):
    st = Store.open(any_url, site_id=site_id)
    yield st
    st.close()
