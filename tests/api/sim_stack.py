"""The whole product on loopback for API tests: simulator (Modbus TCP) + drivers + store + controller runtime
+ this API, in one event loop on a background thread — what ``microgrid run SITE --sim --port PORT`` runs.

Time is the runtime's stepped clock, paced to at most ``pace_speed`` times the wall clock, so HTTP requests
from the test thread see the park move (and overrides expire) in seconds.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from datetime import datetime
from pathlib import Path

from api import Settings
from api.serve import app_for_runtime, start_server, stop_server
from drivers.fleet import Fleet
from microgrid.clock import SteppedClock
from microgrid.control.driver_fleet import DriverFleet, relax_pacing
from microgrid.control.runtime import Runtime, RuntimeOptions
from microgrid.control.store_adapter import StoreAdapter
from microgrid.site import Site
from microgrid.store import Store, energy_sources_from_site
from sim.park import Park
from tests.api.server import free_port


class SimStack:
    """Start with :meth:`start` (returns once the API listens and the first plan is made), stop with :meth:`stop`."""

    def __init__(self, site: Site, start: datetime, directory: Path, *, pace_speed: float = 30.0,
                 settings: Settings | None = None, faults=None) -> None:
        self.site = site
        self.faults = faults
        self.start_time = start
        self.db_url = f"sqlite:///{directory / 'stack.sqlite'}"
        self.pace_speed = pace_speed
        self.settings = settings or Settings.for_dev(auth_rate_per_min=6000, auth_burst=1000)
        self.url = ""
        self.store: Store | None = None
        self.runtime: Runtime | None = None
        self.loop: asyncio.AbstractEventLoop | None = None
        self._ready = threading.Event()
        self._stop: asyncio.Event | None = None
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._thread_main, name="sim-stack", daemon=True)

    def start(self, timeout_s: float = 120.0) -> SimStack:
        self._thread.start()
        if not self._ready.wait(timeout_s):
            raise RuntimeError("the simulated stack did not start in time")
        if self._error is not None:
            raise RuntimeError(f"the simulated stack failed to start: {self._error!r}") from self._error
        return self

    def stop(self, timeout_s: float = 60.0) -> None:
        if self.loop is not None and self._stop is not None:
            self.loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(timeout_s)

    def call(self, fn, *args):
        """Run ``fn(*args)`` on the stack's loop (e.g. to read runtime state consistently) and return its result."""
        async def run():
            return fn(*args)

        return asyncio.run_coroutine_threadsafe(run(), self.loop).result(30)  # type: ignore[arg-type]

    def _thread_main(self) -> None:
        try:
            asyncio.run(self._main())
        except BaseException as exc:  # noqa: BLE001 - reported to the starting thread
            self._error = exc
            self._ready.set()

    async def _main(self) -> None:
        self.loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        site = self.site
        clock = SteppedClock(self.start_time)
        park = Park.from_site(site, clock, seed=7, bind="auto", step_s=site.control.cycle_s, faults=self.faults)
        await park.start()
        client_site = park.client_site()
        fleet = Fleet.from_site(client_site, clock=clock, connect_delay_s=0.0)
        relax_pacing(fleet)
        drivers = DriverFleet(fleet)
        await drivers.start()
        store = Store.open(self.db_url, site_id=site.id, timezone=site.timezone,
                           energy_sources=energy_sources_from_site(site))
        self.store = store
        options = RuntimeOptions.from_site(client_site, pace_speed=self.pace_speed)
        runtime = Runtime(client_site, drivers, StoreAdapter(store, client_site), clock, options=options)
        self.runtime = runtime
        app = app_for_runtime(runtime, store, client_site, self.settings)
        server = await start_server(app, port=free_port())
        self.url = server.url
        await runtime.start()  # resumes, makes the first plan
        run = asyncio.create_task(runtime.run())
        self._ready.set()
        try:
            stop = asyncio.create_task(self._stop.wait())
            await asyncio.wait([run, stop], return_when=asyncio.FIRST_COMPLETED)
            if run.done() and run.exception() is not None:
                raise run.exception()  # type: ignore[misc]
        finally:
            runtime.request_stop()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(run, 30)
            await runtime.stop()
            runtime.store.close()
            await stop_server(server)
            await drivers.close()
            await park.stop()
            store.close()
