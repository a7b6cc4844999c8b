"""Measured state for intraday re-planning, from the latest readings (pure functions)."""

from __future__ import annotations

from datetime import datetime, timedelta

import pandas as pd

from microgrid.control.fleet import FleetReadings
from microgrid.site.models import WATER_KWH_PER_M3_K, Site, minutes_of
from optimizer import MeasuredState


def occurrence_id(arrival_hhmm: str, departure_hhmm: str, now: datetime) -> str | None:
    """Id of the daily window (EV session, deferrable window) in progress at ``now``: its start as
    ``YYYY-MM-DDTHH:MM``, else ``None``.

    Same naming as :func:`microgrid.planning.ev.depot_sessions`.
    """
    ts = pd.Timestamp(now)
    for back in (1, 0):
        day = (ts - pd.Timedelta(days=back)).normalize()
        arrival = day + timedelta(minutes=minutes_of(arrival_hhmm))
        departure = day + timedelta(minutes=minutes_of(departure_hhmm))
        if departure <= arrival:
            departure += timedelta(days=1)
        if arrival <= ts < departure:
            return arrival.strftime("%Y-%m-%dT%H:%M")
    return None


def measured_state(site: Site, readings: FleetReadings, now: datetime, month_peak_kw: float) -> MeasuredState:
    """SoC, tank energy, EV/deferrable progress and shiftable backlog measured at ``now``.

    - tank energy above the minimum temperature: ``V · 1.163 kWh/m³K · (T − T_min)``, clipped to the tank;
    - EV energy delivered in the session in progress: ``E − e_pending_kwh`` (the charger's pending energy);
    - deferrable energy consumed in its window: ``E − e_pending_kwh``;
    - shiftable energy ahead of the baseline: ``−e_pending_kwh`` (pending = backlog owed to the process).

    Values the devices do not report (or report stale) are left out: the optimizer keeps its assumption.
    """
    local = pd.Timestamp(now).tz_convert(site.timezone)
    soc = {k: float(r.soc_pct) for k, r in readings.storage.items() if r.valid and r.soc_pct is not None}
    tank = {}
    for h in site.assets.heat_pumps:
        r = readings.heat_pumps.get(h.id)
        if r is not None and r.valid and r.tank_temp_c is not None:
            e = h.tank_volume_m3 * WATER_KWH_PER_M3_K * (float(r.tank_temp_c) - h.tank_temp_min_c)
            tank[h.id] = min(max(e, 0.0), h.tank_capacity_kwh_th)
    ev: dict[str, dict[str, float]] = {}
    for depot in site.assets.ev_depots:
        r = readings.flex.get(depot.id)
        sid = occurrence_id(depot.arrival, depot.departure, local)
        if sid and r is not None and r.valid and r.e_pending_kwh is not None:
            ev[depot.id] = {sid: min(max(depot.energy_kwh - float(r.e_pending_kwh), 0.0), depot.energy_kwh)}
    deferrable, shiftable = {}, {}
    for f in site.assets.flexible_loads:
        r = readings.flex.get(f.id)
        if r is None or not r.valid or r.e_pending_kwh is None:
            continue
        if f.kind == "deferrable" and f.energy_kwh and f.window_start and f.window_end:
            if occurrence_id(f.window_start, f.window_end, local) is None:
                continue  # outside its window: the next window starts from zero
            deferrable[f.id] = min(max(f.energy_kwh - float(r.e_pending_kwh), 0.0), f.energy_kwh)
        elif f.kind == "shiftable":
            shiftable[f.id] = -float(r.e_pending_kwh)
    return MeasuredState(soc_pct=soc, tank_kwh=tank, ev_delivered_kwh=ev, deferrable_delivered_kwh=deferrable,
                         shiftable_ahead_kwh=shiftable, month_peak_kw=month_peak_kw)
