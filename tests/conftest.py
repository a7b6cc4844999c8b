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


class ThreadLeftRunning(pytest.PytestWarning):
    """A test module left a thread running (shown in the warnings summary, also from xdist workers)."""


@pytest.fixture(scope="module", autouse=True)
def _threads_left_running(request):
    """Notes threads a test module started and left running (in the warnings summary at the end of the run): a
    simulator, driver or runtime loop left behind keeps stepping and logging into later tests' output, as a
    session-scoped simulated stack once did."""
    import threading
    import time
    import warnings

    before = set(threading.enumerate())
    yield
    deadline = time.monotonic() + 5.0
    while True:
        left = [t for t in threading.enumerate() if t not in before and t.is_alive()]
        if not left or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    for t in left:
        warnings.warn(ThreadLeftRunning(f"{request.node.nodeid}: thread {t.name!r} left running"), stacklevel=1)
