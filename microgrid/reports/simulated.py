"""Figures for a period without metered data: a closed-loop simulation when the control package provides
one, else the optimizer's day-ahead plans. The report says plainly which (never "metered").

Hook: if ``microgrid.control`` exposes ``simulate_days(site, first_day, last_day, *, store)`` (writing the
simulated telemetry of those local days into ``store``), it is used and the table is built from that store
exactly like a metered one. Otherwise each day is planned with :func:`microgrid.planning.plan_day` and the
plan's interval powers become the table (no plant deviations, no network losses, no metering noise).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from datetime import date, datetime, timedelta

from microgrid.i18n import both
from microgrid.reports.sources import days_between, table_from_schedules, table_from_store
from microgrid.reports.table import IntervalTable
from microgrid.site.models import Site
from microgrid.store import Store, energy_sources_from_site

HOOK_MODULE, HOOK_NAME = "microgrid.control", "simulate_days"


def simulation_hook() -> Callable | None:
    """``microgrid.control.simulate_days`` when it exists, else ``None``."""
    try:
        module = importlib.import_module(HOOK_MODULE)
    except Exception:  # noqa: BLE001 - an unfinished or broken control package means "no simulator"
        return None
    hook = getattr(module, HOOK_NAME, None)
    return hook if callable(hook) else None


def simulated_table(site: Site, first_day: date, last_day: date, *, min_coverage: float = 0.5,
                    progress: Callable[[str], None] | None = None, use_hook: bool = True) -> IntervalTable:
    """An interval table for ``[first_day, last_day]`` from a simulation or, failing that, from plans."""
    say = progress or (lambda _msg: None)
    hook = simulation_hook() if use_hook else None
    problem = ("", "")
    if hook is not None:
        say(f"simulating {first_day}..{last_day} in closed loop")
        store = Store.open("sqlite://", site_id=site.id, timezone=site.timezone,
                           interval_min=site.site.resolution_min, energy_sources=energy_sources_from_site(site))
        try:
            hook(site, first_day, last_day, store=store)
            store.roll_up(datetime.combine(last_day + timedelta(days=2), datetime.min.time()).astimezone())
            return table_from_store(store, site, first_day, last_day, min_coverage=min_coverage, source="simulated",
                                    note=both("rep.src.simulated"))
        except TypeError as exc:  # the hook's signature differs from the documented one
            problem = both("rep.src.sim_unavailable", problem=exc)
        finally:
            store.close()
    return planned_table(site, first_day, last_day, progress=say, prefix=problem)


def planned_table(site: Site, first_day: date, last_day: date, *, progress: Callable[[str], None] | None = None,
                  prefix: tuple[str, str] = ("", "")) -> IntervalTable:
    """An interval table from the optimizer's day-ahead plan of each day."""
    from microgrid.planning import plan_day

    say = progress or (lambda _msg: None)
    frames, fallbacks = [], []
    for day in days_between(first_day, last_day):
        say(f"planning {day}")
        plan = plan_day(site, day)
        frames.append(plan.result.schedule.frame)
        if plan.result.fallback:
            fallbacks.append(day.isoformat())
    parts = [prefix, both("rep.src.planned")]
    if fallbacks:
        parts.append(both("rep.src.fallbacks", days=", ".join(fallbacks)))
    note = ("".join(p[0] for p in parts), "".join(p[1] for p in parts))
    return table_from_schedules(site, frames, first_day, last_day, source="planned", note=note)
