"""Store fixtures: a fresh SQLite file per test, and the same tests on PostgreSQL when
``MICROGRID_TEST_PG_URL`` is set (e.g. ``postgresql+psycopg://user:pw@127.0.0.1/microgrid_test``)."""

from __future__ import annotations

import os
import uuid

import pytest

from microgrid.store import Store

PG_URL = os.environ.get("MICROGRID_TEST_PG_URL")


@pytest.fixture
def sqlite_url(tmp_path):
    return f"sqlite:///{tmp_path / 'store.sqlite'}"


@pytest.fixture(params=["sqlite", "postgresql"])
def any_url(request, tmp_path):
    """A SQLite file, then (only with MICROGRID_TEST_PG_URL) a PostgreSQL database."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'store.sqlite'}"
    if not PG_URL:
        pytest.skip("set MICROGRID_TEST_PG_URL to run the store tests on PostgreSQL")
    return PG_URL


@pytest.fixture
def site_id():
    """A fresh site id per test, so tests sharing one PostgreSQL database do not see each other's rows."""
    return f"t_{uuid.uuid4().hex[:10]}"


@pytest.fixture
def store(any_url, site_id):
    st = Store.open(any_url, site_id=site_id)
    yield st
    st.close()
