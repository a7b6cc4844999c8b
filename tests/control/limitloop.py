"""A closed-loop day judged on the simulator's TRUE flows (not on any meter the controller reads).

Simulator (real Modbus TCP on loopback) + drivers + runtime on one stepped clock, with an in-memory store
(the store has its own tests; leaving it out keeps a generated-site day cheap). After every physics step
the true PCC import, battery powers, SoCs, tank temperatures and EV/deferrable job states are recorded.
:func:`judge` checks them against the site's hard limits.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from drivers.fleet import Fleet
from microgrid.clock import SteppedClock
from microgrid.control.driver_fleet import DriverFleet, relax_pacing
from microgrid.control.options import RuntimeOptions
from microgrid.control.runtime import Runtime
from microgrid.control.storeport import MemoryStore
from microgrid.site.models import Site
from sim.park import Park


@dataclass
class Step:
    t_s: float
    dt_s: float
    pcc_kw: float
    battery_kw: dict[str, float]
    soc_pct: dict[str, float]
    tank_c: dict[str, float]


@dataclass(frozen=True)
class Planned:
    """The plan in force at one cycle: planned PCC import, price and the plan's peak."""

    t_s: float
    grid_kw: float
    price_cny_per_kwh: float
    plan_peak_kw: float


@dataclass
class DayRun:
    site: Site
    runtime: Runtime
    park: Park
    steps: list[Step] = field(default_factory=list)
    cycle_s: float = 0.0
    planned: list[Planned] = field(default_factory=list)
    """One entry per cycle with a plan in force (``t_s`` in park seconds at the start of the cycle)."""

    def interval_means_kw(self, minutes: int = 15) -> dict[int, float]:
        """Mean true PCC import per interval (index from the run's start), kW (full intervals only)."""
        length = minutes * 60
        sums: dict[int, float] = {}
        covered: dict[int, float] = {}
        for s in self.steps:
            k = int((s.t_s - 1e-9) // length)
            sums[k] = sums.get(k, 0.0) + s.pcc_kw * s.dt_s
            covered[k] = covered.get(k, 0.0) + s.dt_s
        return {k: v / length for k, v in sums.items() if covered[k] >= length - 1e-6}

    def realised_peak_kw(self) -> float:
        """Highest 15-min mean of the true import (the demand-charge peak), kW."""
        return max(self.interval_means_kw().values(), default=0.0)

    def first_plan_peak_kw(self) -> float:
        """Peak of the plan in force at the first cycle (the peak the day was planned for), kW."""
        return self.planned[0].plan_peak_kw if self.planned else float("nan")

    def cost_cny(self) -> tuple[float, float]:
        """(realised, planned) energy cost over the same cycles: the true import against the plan's import,
        each at the plan's price (export not credited), CNY."""
        by_start = {round(p.t_s, 6): p for p in self.planned}
        realised = planned = 0.0
        for s in self.steps:
            p = by_start.get(round(s.t_s - s.dt_s, 6))
            if p is None:
                continue
            realised += max(s.pcc_kw, 0.0) * s.dt_s / 3600 * p.price_cny_per_kwh
            planned += max(p.grid_kw, 0.0) * s.dt_s / 3600 * p.price_cny_per_kwh
        return realised, planned

    def runs_above(self, limit_kw: float, sign: float = 1.0) -> tuple[int, float]:
        """(longest run of consecutive steps with ``sign·pcc`` above ``limit_kw``, worst excess kW)."""
        longest = run = 0
        worst = 0.0
        for s in self.steps:
            excess = sign * s.pcc_kw - limit_kw
            run = run + 1 if excess > 1e-6 else 0
            longest = max(longest, run)
            worst = max(worst, excess)
        return longest, worst

    def seconds_above(self, limit_kw: float, sign: float = 1.0) -> float:
        return sum(s.dt_s for s in self.steps if sign * s.pcc_kw - limit_kw > 1e-6)


async def run_day(site: Site, start: datetime, *, cycle_s: float, hours: float = 24.0, seed: int = 7,
                  _progress=None, **options) -> DayRun:
    """Run ``hours`` of closed loop from ``start`` with control (and physics) every ``cycle_s``.

    ``_progress(runtime, park)`` is called after every cycle (benchmarks use it to watch the plan)."""
    clock = SteppedClock(start)
    park = Park.from_site(site, clock, seed=seed, bind="auto", step_s=cycle_s)
    await park.start()
    client_site = park.client_site()
    fleet = Fleet.from_site(client_site, clock=clock, connect_delay_s=0.0)
    relax_pacing(fleet)
    driver_fleet = DriverFleet(fleet)
    await driver_fleet.start()
    opts = RuntimeOptions.from_site(client_site, cycle_s=cycle_s, **options)
    runtime = Runtime(client_site, driver_fleet, MemoryStore(), clock, options=opts)
    day = DayRun(site, runtime, park, cycle_s=cycle_s)
    original = park.step

    def step(dt_s: float) -> None:
        original(dt_s)
        if dt_s > 0:
            st = park.state()
            day.steps.append(Step(park.t_s, dt_s, st.pcc_import_kw, dict(st.battery_kw), dict(st.soc_pct),
                                  dict(st.tank_temp_c)))

    park.step = step  # type: ignore[method-assign]

    def progress(rt: Runtime) -> None:
        interval = rt.plans.interval(rt.clock.now())
        if interval is not None:
            day.planned.append(Planned(park.t_s, interval.grid_kw, interval.price_cny_per_kwh, interval.plan_peak_kw))
        if _progress is not None:
            _progress(rt, park)

    try:
        await runtime.run(until=start + timedelta(hours=hours), progress=progress)
        await runtime.stop()
    finally:
        await driver_fleet.close()
        await park.stop()
    return day


def judge(day: DayRun, *, max_cycles: int = 2, tol_pct: float = 2.0) -> list[str]:
    """Hard-limit violations on the true flows (empty = every limit held)."""
    site, problems = day.site, []
    cap, export = site.grid.import_cap_kw, site.grid.export_limit_kw
    n, worst = day.runs_above(cap)
    if n > max_cycles or worst > tol_pct / 100 * cap:
        problems.append(f"import cap {cap:g} kW: {n} consecutive cycles above, worst +{worst:.1f} kW")
    n, worst = day.runs_above(export, sign=-1.0)
    if n > max_cycles or worst > tol_pct / 100 * cap:
        problems.append(f"export limit {export:g} kW: {n} consecutive cycles above, worst +{worst:.1f} kW")
    for b in site.assets.batteries:
        p = [s.battery_kw[b.id] for s in day.steps]
        soc = [s.soc_pct[b.id] for s in day.steps]
        if max(p) > b.p_discharge_max_kw + 1e-6 or -min(p) > b.p_charge_max_kw + 1e-6:
            problems.append(f"{b.id}: power {min(p):.1f} .. {max(p):.1f} kW outside its rating")
        if min(soc) < b.soc_min_pct - 0.5 or max(soc) > b.soc_max_pct + 0.5:
            problems.append(f"{b.id}: SoC {min(soc):.1f} .. {max(soc):.1f} % outside its bounds")
    for h in site.assets.heat_pumps:
        temps = [s.tank_c[h.id] for s in day.steps]
        if min(temps) < h.tank_temp_min_c - 0.5 or max(temps) > h.tank_temp_max_c + 0.5:
            problems.append(f"{h.id}: tank {min(temps):.1f} .. {max(temps):.1f} °C outside its bounds")
    for fid, run in day.park.flex.items():
        if run.job_params is not None and run.job.unmet_kwh > 0.5:
            problems.append(f"{fid}: {run.job.unmet_kwh:.1f} kWh not delivered by its deadline")
    return problems
