"""A year of inputs for a site: weather, tenant loads for every day, PV and COP, in one forecast frame.

The frame has the columns of the forecast CSV format (:mod:`optimizer.forecast`) for every interval of the
local year, so each day's slice goes straight into :func:`microgrid.planning.build_dispatch_inputs`.

- Weather: the typical-year generator (:mod:`microgrid.study.weather`) or a user's weather CSV.
- Loads, heat demand and flexible baselines: the site's representative-day profile for each date's day
  type from the working calendar (:mod:`microgrid.study.calendar`: weekends and public holidays use the
  ``weekend`` profile, make-up working days a weekday profile), times the month's seasonal factor
  (``study.seasonal_load_pct``), and during a tenant's Spring Festival shutdown its weekend profile times
  the shutdown's ``load_pct`` (the tenant's base load and the heat demand and baselines of its assets).
- Or a year of metered loads (``loads_csv``): any of those profile columns given as a CSV with a
  ``timestamp`` column (the forecast CSV format, e.g. tenant base loads exported from the metering
  system) replaces the calendar-built column for the whole year; the columns it lacks stay calendar-built.
- PV (pvlib) and heat-pump COP from the weather (:func:`microgrid.planning.forecasts.add_derived_columns`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pandas as pd

from microgrid.errors import UserError
from microgrid.planning.forecasts import add_derived_columns
from microgrid.profiles import load_day_profile
from microgrid.site.models import Site
from microgrid.study.calendar import YearCalendar, site_calendar
from microgrid.study.weather import (
    DEFAULT_SEED,
    generate_year_weather,
    read_weather_csv,
    to_step,
    year_index,
)
from optimizer.forecast import ForecastError, align_forecast, read_csv_table

WEATHER = ("ghi_w_m2", "dni_w_m2", "dhi_w_m2", "temp_air_c", "cloud_factor")


@dataclass
class YearInputs:
    """The forecast frame of a whole year and where it came from."""

    site: Site
    year: int
    step_min: int
    calendar: YearCalendar
    frame: pd.DataFrame
    """One row per interval of the local year; forecast-CSV columns (kW, W/m², °C)."""
    weather_source: str
    load_source: str = "the site's day-type profiles and the holiday calendar"

    @property
    def days(self) -> list[date]:
        first = date(self.year, 1, 1)
        return [first + timedelta(days=i) for i in range((date(self.year + 1, 1, 1) - first).days)]

    def day_frame(self, day: date) -> pd.DataFrame:
        """The rows of the local ``day``."""
        start = pd.Timestamp(day, tz=self.site.timezone)
        return self.frame.loc[start:start + pd.Timedelta(days=1) - pd.Timedelta(minutes=self.step_min)]

    def pv_yield_kwh_per_kwp(self) -> float:
        """Available AC energy of all site PV over the year per installed kWp."""
        cols = [f"pv_{p.id}_kw" for p in self.site.assets.pv]
        kwp = self.site.pv_kwp_total()
        return float(self.frame[cols].to_numpy().sum() * self.step_min / 60 / kwp) if kwp else 0.0


def tenant_columns(site: Site, tenant: str) -> list[str]:
    """Profile columns that belong to a tenant: its base load and its assets' heat demand and baselines."""
    cols = [f"load_{tenant}_kw"]
    cols += [h.heat_demand_profile for h in site.assets.heat_pumps if h.tenant == tenant]
    cols += [f.baseline_profile for f in site.assets.flexible_loads if f.tenant == tenant and f.baseline_profile]
    cols += [fb.heat_profile for fb in site.study.fuel_baselines if fb.tenant == tenant]
    return cols


def load_frame(site: Site, calendar: YearCalendar, step_min: int) -> pd.DataFrame:
    """Profile columns for every day of the calendar's year (see the module docstring)."""
    summer = site.profiles.summer_months
    days = sorted(calendar.kinds)
    # A day type's profile does not depend on the date: read each once, then lay the days out.
    types = {d: calendar.day_type(d, summer) for d in days}
    shapes = {t: load_day_profile(site, days[0], step_min, day_type=t) for t in sorted(set(types.values()))}
    columns = list(next(iter(shapes.values())).columns)
    per_day = len(next(iter(shapes.values())))
    values = np.concatenate([shapes[types[d]].to_numpy() for d in days])
    weekend = load_day_profile(site, days[0], step_min, day_type="weekend")
    for s in site.study.shutdowns:
        for col in tenant_columns(site, s.tenant):
            if col not in columns:
                continue
            j = columns.index(col)
            for i, d in enumerate(days):
                if d in calendar.shutdown.get(s.tenant, ()):
                    values[i * per_day:(i + 1) * per_day, j] = weekend[col].to_numpy() * s.load_pct / 100.0
    index = year_index(calendar.year, step_min, site.timezone)
    out = pd.DataFrame(values, index=index, columns=columns)
    month = index.month.to_numpy() - 1
    for col, factors in site.study.seasonal_load_pct.items():
        if col in out.columns:
            out[col] = out[col].to_numpy() * np.asarray(factors, dtype=float)[month] / 100.0
    return out


def metered_loads(loads: pd.DataFrame, path: str | Path) -> tuple[pd.DataFrame, list[str]]:
    """``loads`` with the columns of the CSV at ``path`` replaced by its values (kW, interval averages).

    Raises :class:`UserError` naming the file and the column or time at fault; values must be finite and
    non-negative, and every column must be one of the profile columns the site uses.
    """
    try:
        raw = read_csv_table(path, not_found="uerr.csv_not_found")
    except ForecastError as exc:
        raise UserError.of("uerr.where_detail", where="--loads", detail=exc) from None
    unknown = sorted(set(raw.columns) - set(loads.columns) - {"timestamp"})
    if unknown:
        raise UserError.of("uerr.loads_unknown_columns", path=str(path), unknown=str(unknown),
                           known=str(sorted(loads.columns)))
    if len(raw.columns) < 2:
        raise UserError.of("uerr.loads_no_column", path=str(path))
    for col in raw.columns.drop("timestamp", errors="ignore"):
        # checked before any averaging to the study step, which would hide a bad row
        values = pd.to_numeric(raw[col], errors="coerce").to_numpy(dtype=float)
        bad = ~np.isfinite(values) | (values < 0)
        if bad.any():
            row = int(np.flatnonzero(bad)[0])
            where = raw["timestamp"].iloc[row] if "timestamp" in raw.columns else f"row {row + 2}"
            raise UserError.of("uerr.loads_bad_value", path=str(path), column=col, where=str(where),
                               value=str(raw[col].iloc[row]))
    try:
        given = align_forecast(raw, loads.index, source=str(path))
    except ForecastError as exc:
        raise UserError.of("uerr.where_detail", exc.problems, where="--loads", detail=exc) from None
    out = loads.copy()
    for col in given.columns:
        out[col] = given[col].to_numpy()
    return out, list(given.columns)


def year_inputs(site: Site, year: int, *, step_min: int | None = None, weather_csv: str | Path | None = None,
                seed: int = DEFAULT_SEED, loads_csv: str | Path | None = None) -> YearInputs:
    """The year's forecast frame for ``site`` at ``step_min`` (default: the site's resolution); ``loads_csv``
    replaces calendar-built load columns by a year of metered values (see the module docstring)."""
    step = step_min or site.site.resolution_min
    cal = site_calendar(site, year)
    loc = site.site.location
    index = year_index(year, step, site.timezone)
    if weather_csv is not None:
        weather = read_weather_csv(weather_csv, index, loc.latitude_deg, loc.longitude_deg)
        source = f"weather CSV {weather_csv}"
    else:
        weather = to_step(generate_year_weather(year, loc.latitude_deg, loc.longitude_deg, loc.altitude_m,
                                                site.timezone, seed=seed), step)
        source = f"typical-year generator (seed {seed}; calibration in docs/study.md)"
    loads = load_frame(site, cal, step)
    load_source = YearInputs.load_source
    if loads_csv is not None:
        loads, replaced = metered_loads(loads, loads_csv)
        load_source = f"metered loads from {loads_csv} ({', '.join(replaced)}); other columns from the profiles"
    frame = loads.drop(columns=[c for c in WEATHER if c in loads.columns])
    for col in WEATHER:
        frame[col] = weather[col].to_numpy()
    frame = add_derived_columns(site, frame)
    return YearInputs(site=site, year=year, step_min=step, calendar=cal, frame=frame, weather_source=source,
                      load_source=load_source)
