"""Serve the API inside an event loop that is already running (the controller's), and demo users.

``microgrid run SITE --sim --port PORT`` does, in its ``async`` main::

    app = app_for_runtime(runtime, store, site)          # settings from MICROGRID_* (refuses insecure ones)
    server = await start_server(app, port=args.port)      # uvicorn in this loop; returns once listening
    try:
        await runtime.run(...)
    finally:
        await stop_server(server)

The runtime and the API then share one loop: API reads see the state between two control cycles.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets

import uvicorn

from api.app import create_app
from api.ports import StoreView
from api.runtime_port import RuntimePort
from api.settings import Settings, check_bind
from microgrid.site import Site

log = logging.getLogger(__name__)

DEMO_USER = "demo"


def app_for_runtime(runtime, store: StoreView, site: Site, settings: Settings | None = None):
    """The app over a running :class:`microgrid.control.runtime.Runtime` and its :class:`microgrid.store.Store`."""
    return create_app(settings or Settings.from_env(), store, RuntimePort(runtime), site)


def uvicorn_config(app, host: str, port: int, log_level: str = "warning") -> uvicorn.Config:
    """uvicorn's configuration for ``app``: dev mode refused off loopback, uvicorn's proxy headers off.

    uvicorn by default believes ``X-Forwarded-For`` from loopback and rewrites the client address; the app
    reads that header itself, and only from the configured proxies (:mod:`api.proxies`).
    """
    settings = getattr(getattr(getattr(app, "state", None), "ctx", None), "settings", None)
    check_bind(host, bool(getattr(settings, "dev", False)))
    return uvicorn.Config(app, host=host, port=port, log_level=log_level, lifespan="on", proxy_headers=False)


class RunningServer:
    """A uvicorn server started by :func:`start_server` and its task."""

    def __init__(self, server: uvicorn.Server, task: asyncio.Task, url: str) -> None:
        self.server = server
        self.task = task
        self.url = url


async def start_server(app, host: str = "127.0.0.1", port: int = 8000, *, log_level: str = "warning",
                       startup_timeout_s: float = 30.0) -> RunningServer:
    """Start uvicorn for ``app`` as a task of the running loop; return once it listens (or raise).

    Dev mode is refused on a non-loopback ``host`` (see :func:`uvicorn_config`).
    """
    config = uvicorn_config(app, host, port, log_level)
    server = uvicorn.Server(config)
    server.capture_signals = contextlib.nullcontext  # type: ignore[method-assign] - the caller owns the signals
    task = asyncio.get_running_loop().create_task(_serve(server, host, port), name=f"api:{port}")
    deadline = asyncio.get_running_loop().time() + startup_timeout_s
    while not server.started:
        if task.done():
            exc = task.exception()
            raise RuntimeError(f"the API server did not start on {host}:{port}: {exc or 'exited'}")
        if asyncio.get_running_loop().time() > deadline:
            server.should_exit = True
            raise RuntimeError(f"the API server did not start on {host}:{port} within {startup_timeout_s:g} s")
        await asyncio.sleep(0.02)
    shown = f"[{host}]" if ":" in host else host
    return RunningServer(server, task, f"http://{shown}:{port}")


async def _serve(server: uvicorn.Server, host: str, port: int) -> None:
    """uvicorn exits the process (``SystemExit``) when it cannot bind; make that an ordinary error of the task."""
    try:
        await server.serve()
    except SystemExit:
        raise RuntimeError(f"cannot listen on {host}:{port} (in use by another program?)") from None


async def stop_server(running: RunningServer, timeout_s: float = 10.0) -> None:
    """Ask uvicorn to finish open requests and stop; cancel it after ``timeout_s``."""
    running.server.should_exit = True
    try:
        await asyncio.wait_for(asyncio.shield(running.task), timeout_s)
    except TimeoutError:
        running.task.cancel()


def ensure_demo_user(store: StoreView, name: str = DEMO_USER, role: str = "operator") -> str:
    """A fresh token for the demo operator (created on first use, rotated afterwards); print it once."""
    users = {u.name for u in store.users()}
    if name in users:
        store.set_user_disabled(name, False)
        return store.rotate_token(name)
    return store.create_user(name, role)[1]


def demo_password(store: StoreView, name: str = DEMO_USER) -> str:
    """A fresh random dashboard password for the demo operator (simulated runs only); print it once."""
    password = secrets.token_urlsafe(12)  # 16 characters, 96 bits
    store.set_password(name, password)
    return password
