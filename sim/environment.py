"""The park's surroundings over time: weather, PV availability, tenant base loads, heat demand, baselines.

Values come from the site's representative-day profiles (:func:`microgrid.profiles.load_day_profile`,
15-min interval averages labelled by interval start). Between interval centres they are interpolated
linearly, so the simulated signals are smooth. PV availability is computed once per day and plant on a
1-min grid with pvlib (:mod:`sim.physics.pv`) and interpolated the same way.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd

from microgrid.profiles import load_day_profile
from microgrid.site.models import Site
from sim.physics.pv import available_power_series_kw

PROFILE_STEP_MIN = 15
PV_GRID_S = 60
CUMULATIVE_GRID_S = 30
"""Grid of the cumulative-energy tables: the interval centres (7.5 min + k·15 min) lie on it, so integrating
the piecewise-linear profile with the trapezoid rule on it is exact."""
_CUMULATIVE_X_S = np.arange(0, 86400 + CUMULATIVE_GRID_S, CUMULATIVE_GRID_S, dtype=float)


@dataclass
class _Day:
    x_s: np.ndarray
    """Seconds after local midnight of the profile interval centres."""
    columns: dict[str, np.ndarray]
    pv_x_s: np.ndarray
    pv_kw: dict[str, np.ndarray]
    cumulative_kwh: dict[str, np.ndarray] = field(default_factory=dict)
    """Per column, the energy since local midnight on the :data:`CUMULATIVE_GRID_S` grid, kWh."""


class Environment:
    """Interpolated profile values and PV availability for any tz-aware time."""

    def __init__(self, site: Site) -> None:
        self.site = site
        self.tz = ZoneInfo(site.timezone)
        self._days: dict[date, _Day] = {}

    def seconds_of_day(self, t: datetime) -> tuple[date, float]:
        local = t.astimezone(self.tz)
        return local.date(), local.hour * 3600 + local.minute * 60 + local.second + local.microsecond / 1e6

    def _day(self, day: date) -> _Day:
        cached = self._days.get(day)
        if cached is not None:
            return cached
        frame = load_day_profile(self.site, day, step_min=PROFILE_STEP_MIN)
        x_s = np.arange(len(frame)) * PROFILE_STEP_MIN * 60.0 + PROFILE_STEP_MIN * 30.0
        columns = {name: frame[name].to_numpy(dtype=float) for name in frame.columns}
        pv_x_s = np.arange(0, 86400, PV_GRID_S, dtype=float) + PV_GRID_S / 2
        start = pd.Timestamp(datetime(day.year, day.month, day.day), tz=self.tz)
        times = pd.DatetimeIndex([start + timedelta(seconds=float(s)) for s in pv_x_s])
        weather = pd.DataFrame(
            {
                name: np.interp(pv_x_s, x_s, columns[name])
                for name in ("ghi_w_m2", "dni_w_m2", "dhi_w_m2", "temp_air_c")
            },
            index=times,
        )
        loc = self.site.site.location
        pv_kw = {
            pv.id: available_power_series_kw(
                times,
                weather,
                loc.latitude_deg,
                loc.longitude_deg,
                loc.altitude_m,
                pv.kwp,
                pv.tilt_deg,
                pv.azimuth_deg,
                pv.temp_coeff_pct_per_c,
                pv.system_losses_pct,
                pv.noct_c,
            )
            for pv in self.site.assets.pv
        }
        result = _Day(x_s=x_s, columns=columns, pv_x_s=pv_x_s, pv_kw=pv_kw)
        if len(self._days) >= 3:
            self._days.pop(min(self._days))
        self._days[day] = result
        return result

    def has(self, column: str, t: datetime) -> bool:
        day, _ = self.seconds_of_day(t)
        return column in self._day(day).columns

    def value(self, column: str, t: datetime, default: float | None = None) -> float:
        """Profile ``column`` at ``t``; ``default`` if the profile has no such column (else ``KeyError``)."""
        day, sod = self.seconds_of_day(t)
        data = self._day(day)
        values = data.columns.get(column)
        if values is None:
            if default is None:
                raise KeyError(f"profile has no column '{column}'")
            return default
        return float(np.interp(sod, data.x_s, values))

    def temp_air_c(self, t: datetime) -> float:
        return self.value("temp_air_c", t)

    def pv_available_kw(self, pv_id: str, t: datetime) -> float:
        """DC power the plant could deliver at ``t`` before clipping and limits, kW."""
        day, sod = self.seconds_of_day(t)
        data = self._day(day)
        return float(np.interp(sod, data.pv_x_s, data.pv_kw[pv_id]))

    def _cumulative(self, column: str, day: date) -> np.ndarray | None:
        data = self._day(day)
        cum = data.cumulative_kwh.get(column)
        if cum is None:
            values = data.columns.get(column)
            if values is None:
                return None
            v = np.interp(_CUMULATIVE_X_S, data.x_s, values)
            cum = np.concatenate(([0.0], np.cumsum((v[1:] + v[:-1]) * (CUMULATIVE_GRID_S / 2 / 3600))))
            data.cumulative_kwh[column] = cum
        return cum

    def energy_kwh(self, column: str, t0: datetime, t1: datetime) -> float:
        """Energy of profile ``column`` (kW) between ``t0`` and ``t1`` as the simulator runs it (the
        interpolated signal), kWh; 0 if the profile has no such column."""
        if t1 <= t0:
            return 0.0
        total = 0.0
        day, sod = self.seconds_of_day(t0)
        end_day, end_sod = self.seconds_of_day(t1)
        while True:
            cum = self._cumulative(column, day)
            if cum is None:
                return 0.0
            upper = end_sod if day == end_day else 86400.0
            total += float(np.interp(upper, _CUMULATIVE_X_S, cum) - np.interp(sod, _CUMULATIVE_X_S, cum))
            if day >= end_day:
                return total
            day, sod = day + timedelta(days=1), 0.0
