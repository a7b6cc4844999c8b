"""EV depot sessions for a planning horizon, including the overnight window that crosses midnight.

A depot's vehicles arrive every day at ``arrival`` and leave at ``departure`` (e.g. 18:00 → 07:00 next
day) needing ``energy_kwh``. Every arrival whose session overlaps the horizon becomes one
:class:`optimizer.EVSession` with absolute times; the optimizer then owes, inside the horizon, only what
the chargers could not deliver after it (:func:`optimizer.model.data.energy_window`).

For a day-ahead plan of local day D (00:00–24:00) with an 18:00 → 07:00 window this gives:

- **morning part**: the session that arrived at 18:00 on D−1 must finish by 07:00 on D. Its energy
  already delivered before midnight is assumed to be the minimum the previous day's plan had to deliver
  (what cannot be delivered between 00:00 and 07:00 at full charger power), because that is what a
  day-ahead plan does when the night valley is cheaper than the evening; intraday re-planning replaces
  the assumption with the measured energy.
- **evening part**: the session arriving at 18:00 on D owes by 24:00 only what cannot be delivered
  between 00:00 and 07:00 on D+1 at full power, i.e. ``max(0, E − η·P·7 h)``; it may deliver more if that
  is cheaper (it never is against a valley price), and day D+1 finishes the rest.
"""

from __future__ import annotations

from datetime import timedelta

import pandas as pd

from microgrid.site.models import EVDepot as SiteEVDepot
from microgrid.site.models import energy_still_owed_kwh, minutes_of
from optimizer import EVDepot, EVSession


def _window(day: pd.Timestamp, arrival: str, departure: str) -> tuple[pd.Timestamp, pd.Timestamp]:
    """Arrival and departure of the session that arrives on local ``day`` (midnight, tz-aware)."""
    start = day + timedelta(minutes=minutes_of(arrival))
    end_min = minutes_of(departure)
    end = day + timedelta(minutes=end_min)
    if end <= start:
        end += timedelta(days=1)
    return start, end


def depot_sessions(depot: SiteEVDepot, index: pd.DatetimeIndex, step_h: float) -> list[EVSession]:
    """Sessions of ``depot`` overlapping the horizon ``index``, in arrival order.

    A session already under way when the horizon starts gets the assumed delivered energy described in
    the module docstring: ``max(0, E − η·P·(departure − horizon start))``.
    """
    tz = index.tz
    h_start = index[0]
    h_end = index[-1] + pd.Timedelta(hours=step_h)
    first_day = (h_start - pd.Timedelta(days=1)).tz_convert(tz).normalize()
    sessions = []
    day = first_day
    while day < h_end:
        arrival, departure = _window(day, depot.arrival, depot.departure)
        if departure > h_start and arrival < h_end:
            delivered = 0.0
            if arrival < h_start:
                hours_left = (departure - h_start).total_seconds() / 3600
                delivered = depot.energy_kwh - energy_still_owed_kwh(depot.energy_kwh, depot.p_max_kw, hours_left,
                                                                     depot.eta_charge)
            sessions.append(EVSession(id=arrival.strftime("%Y-%m-%dT%H:%M"), arrival=arrival, departure=departure,
                                      energy_kwh=depot.energy_kwh, delivered_kwh=delivered))
        day = (day + pd.Timedelta(days=1, hours=2)).normalize()  # robust to DST-length days
    return sessions


def ev_depot(depot: SiteEVDepot, index: pd.DatetimeIndex, step_h: float) -> EVDepot:
    """The optimizer's :class:`~optimizer.EVDepot` for a site depot over the horizon."""
    return EVDepot(id=depot.id, p_max_kw=depot.p_max_kw, eta_charge=depot.eta_charge,
                   sessions=depot_sessions(depot, index, step_h))
