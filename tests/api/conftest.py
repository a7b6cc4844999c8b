"""Fixtures of the API tests: a store seeded with a real plan and measurements, users of every role, the app
served by uvicorn on 127.0.0.1, and httpx clients per role.

``api_env``/``base_url``/``clients`` (session) serve the read-only tests; tests that write (overrides,
re-plans, user management) build their own environment with :func:`make_env` so they cannot disturb them.
"""

from __future__ import annotations

from contextlib import contextmanager
from datetime import date, datetime
from zoneinfo import ZoneInfo

import httpx
import pytest

from api import Settings, create_app
from microgrid.store import Store, energy_sources_from_site
from tests.api.inproc import InProcessControl, ManualClock, seed_store
from tests.api.server import live_server

DAY = date(2025, 7, 16)
NOW = datetime(2025, 7, 16, 14, 7, 30, tzinfo=ZoneInfo("Asia/Shanghai"))
ROLES = ("viewer", "operator", "admin")


def make_env(directory, site) -> dict:
    """A seeded store, an in-process control port and a token per role (plus a disabled operator)."""
    store = Store.open(f"sqlite:///{directory / 'store.sqlite'}", site_id=site.id, timezone=site.timezone,
                       max_hold_s=90, energy_sources=energy_sources_from_site(site))
    seeded = seed_store(site, store, DAY, NOW)
    tokens = {role: store.create_user(f"{role}_user", role)[1] for role in ROLES}
    _user, disabled = store.create_user("gone_user", "operator")
    store.set_user_disabled("gone_user", True)
    tokens["disabled"] = disabled
    clock = ManualClock(NOW)
    control = InProcessControl(site, store, clock)
    return {"store": store, "control": control, "clock": clock, "site": site, "tokens": tokens, **seeded}


def client(base_url: str, token: str | None = None) -> httpx.Client:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return httpx.Client(base_url=base_url, headers=headers, timeout=60.0)


@contextmanager
def serving(env: dict, settings: Settings | None = None):
    """Serve ``env`` and yield ``(base_url, clients)`` with clients per role and ``anonymous``."""
    app = create_app(settings or Settings.for_dev(auth_rate_per_min=6000, auth_burst=1000), env["store"],
                     env["control"], env["site"])
    with live_server(app) as url:
        clients = {"anonymous": client(url)}
        clients.update({name: client(url, token) for name, token in env["tokens"].items()})
        try:
            yield url, clients
        finally:
            for c in clients.values():
                c.close()


@pytest.fixture(scope="session")
def api_env(tmp_path_factory, small_site):
    env = make_env(tmp_path_factory.mktemp("api"), small_site)
    yield env
    env["store"].close()


@pytest.fixture(scope="session")
def served(api_env):
    with serving(api_env) as pair:
        yield pair


@pytest.fixture(scope="session")
def base_url(served):
    return served[0]


@pytest.fixture(scope="session")
def clients(served):
    """httpx clients: ``anonymous``, ``viewer``, ``operator``, ``admin``, ``disabled`` (read-only use)."""
    return served[1]


@pytest.fixture(scope="module")
def write_env(tmp_path_factory, small_site):
    """A separate environment for tests that change things."""
    env = make_env(tmp_path_factory.mktemp("api_write"), small_site)
    with serving(env) as (url, clients):
        env["url"], env["clients"] = url, clients
        yield env
    env["store"].close()


SIM_START = datetime(2025, 7, 16, 10, 12, tzinfo=ZoneInfo("Asia/Shanghai"))
"""Three minutes before an interval closes: measured intervals appear soon after the start."""


@pytest.fixture(scope="module")
def sim_env(tmp_path_factory, small_site):
    """The real stack (simulator + drivers + store + runtime + API, see :mod:`tests.api.sim_stack`) with a token
    per role, in the same shape as :func:`make_env` plus ``url``, ``clients`` and ``stack``."""
    from tests.api.sim_stack import SimStack

    stack = SimStack(small_site, SIM_START, tmp_path_factory.mktemp("sim_stack"), pace_speed=30.0).start()
    store = stack.store
    tokens = {role: store.create_user(f"{role}_user", role)[1] for role in ROLES}
    _user, disabled = store.create_user("gone_user", "operator")
    store.set_user_disabled("gone_user", True)
    tokens["disabled"] = disabled
    clients = {"anonymous": client(stack.url)}
    clients.update({name: client(stack.url, token) for name, token in tokens.items()})
    yield {"store": store, "site": small_site, "tokens": tokens, "url": stack.url, "clients": clients,
           "stack": stack}
    for c in clients.values():
        c.close()
    stack.stop()


@pytest.fixture()
def browser():
    """Debian's headless chromium through Playwright (the test is skipped, saying why, when it is missing).

    Function-scoped on purpose: Playwright's sync API keeps an asyncio loop running in this thread while it
    is open, so a longer-lived browser would break every later ``asyncio.run`` in the session."""
    import os

    from tests.api.browser import ARGS, CHROMIUM

    if not os.path.exists(CHROMIUM):
        pytest.skip(f"Debian's chromium is not installed at {CHROMIUM} (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield b
        b.close()
