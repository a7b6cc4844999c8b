"""Closed loop for tests: simulator (real Modbus TCP on loopback) + drivers + SQLite store + runtime, one
stepped clock. The true PCC power is recorded after every physics step (``Loop.truth``)."""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from drivers.fleet import Fleet
from microgrid.clock import SteppedClock
from microgrid.control.driver_fleet import DriverFleet, relax_pacing
from microgrid.control.runtime import Runtime, RuntimeOptions
from microgrid.control.store_adapter import StoreAdapter
from microgrid.site.models import Site
from microgrid.store import Store, energy_sources_from_site
from sim.park import Park


@dataclass
class Loop:
    site: Site
    clock: SteppedClock
    park: Park
    fleet: DriverFleet
    store: Store
    runtime: Runtime
    db_url: str
    truth: list[tuple[float, float, float]] = field(default_factory=list)
    """(park seconds at the end of the step, true PCC import kW, step length s) after every physics step."""

    def longest_export_s(self, threshold_kw: float, after_s: float = 0.0) -> float:
        """Longest continuous time the true PCC exported more than ``threshold_kw``."""
        longest = run = 0.0
        for t, p, dt in self.truth:
            if t <= after_s:
                continue
            run = run + dt if -p > threshold_kw else 0.0
            longest = max(longest, run)
        return longest

    def max_import_kw(self, after_s: float = 0.0) -> float:
        return max((p for t, p, _dt in self.truth if t > after_s), default=0.0)

    def pcc_at(self, t_s: float) -> float:
        """True PCC import at the first step ending at or after ``t_s`` (park seconds)."""
        return next(p for t, p, _dt in self.truth if t >= t_s - 1e-9)


def record_truth(park: Park, truth: list) -> None:
    original = park.step

    def step(dt_s: float) -> None:
        original(dt_s)
        if dt_s > 0:
            truth.append((park.t_s, park.state().pcc_import_kw, dt_s))

    park.step = step  # type: ignore[method-assign]


async def new_runtime(site: Site, clock: SteppedClock, park: Park, db_url: str,
                      **options) -> tuple[DriverFleet, Store, Runtime]:
    """Drivers + store + runtime against a running park (also used to 'restart' the controller)."""
    client_site = park.client_site()
    fleet = Fleet.from_site(client_site, clock=clock, connect_delay_s=0.0)
    relax_pacing(fleet)
    driver_fleet = DriverFleet(fleet)
    await driver_fleet.start()
    store = Store.open(db_url, site_id=site.id, energy_sources=energy_sources_from_site(site))
    opts = RuntimeOptions.from_site(client_site, **options)
    runtime = Runtime(client_site, driver_fleet, StoreAdapter(store, client_site), clock, options=opts)
    return driver_fleet, store, runtime


async def open_loop(site: Site, start: datetime, tmp_path: Path, *, faults=None, **options) -> Loop:
    clock = SteppedClock(start)
    cycle_s = options.get("cycle_s", site.control.cycle_s)
    park = Park.from_site(site, clock, seed=7, bind="auto", step_s=cycle_s, faults=faults)
    truth: list = []
    record_truth(park, truth)
    await park.start()
    db_url = f"sqlite:///{tmp_path}/control.db"
    fleet, store, runtime = await new_runtime(site, clock, park, db_url, **options)
    return Loop(site, clock, park, fleet, store, runtime, db_url, truth)


async def close_loop(loop: Loop, graceful: bool = True) -> None:
    if graceful:
        await loop.runtime.stop()
        loop.runtime.store.close()
    await loop.fleet.close()
    await loop.park.stop()
    loop.store.close()


async def run_cancelled(loop: Loop, kill_at: datetime) -> None:
    """Run until ``kill_at``, then cancel the run task mid-loop (a crash: no stop, no final flush)."""
    task: asyncio.Task | None = None

    def kill(runtime: Runtime) -> None:
        if loop.clock.now() >= kill_at and task is not None:
            task.cancel()

    task = asyncio.create_task(loop.runtime.run(progress=kill))
    with contextlib.suppress(asyncio.CancelledError):
        await task
