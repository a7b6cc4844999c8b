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
