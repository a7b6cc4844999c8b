"""Representative-day profiles of a site, mapped onto a calendar day at any planning step.

Profile files (``site_configs/<site>/profiles/<day_type>.csv``) hold 15-min interval averages in local
time, labelled by interval start. ``load_day_profile`` picks the day type for a date (weekend; summer or
winter weekday by ``profiles.summer_months``) and resamples to the requested step keeping interval
averages: values are held on a 5-min grid, then averaged over blocks of the step (5–60 min).

Columns: weather ``ghi_w_m2``, ``dni_w_m2``, ``dhi_w_m2`` (W/m²), ``temp_air_c`` (°C), ``cloud_factor`` (clear-sky
index, 0–1); tenant base loads ``load_<tenant>_kw`` (consumption > 0); heat demand ``heat_<asset>_kw_th``;
flexible-load baselines ``flex_<asset>_kw``.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from functools import lru_cache
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd

from microgrid.errors import UserError
from microgrid.site.models import Site

PROFILE_STEP_MIN = 15
FINE_STEP_MIN = 5


def day_type_for(site: Site, day: date) -> str:
    """``weekend`` on Saturday/Sunday, else ``summer_weekday`` or ``winter_weekday`` by month."""
    if day.weekday() >= 5:
        return "weekend"
    return "summer_weekday" if day.month in site.profiles.summer_months else "winter_weekday"


@lru_cache(maxsize=64)
def _read_profile(path: str) -> pd.DataFrame:
    frame = pd.read_csv(path)
    if "time" not in frame.columns:
        raise UserError.of("uerr.profile_no_time", path=str(path))
    expected = 24 * 60 // PROFILE_STEP_MIN
    if len(frame) != expected:
        raise UserError.of("uerr.profile_rows", path=str(path), rows=len(frame), expected=expected, step=PROFILE_STEP_MIN)
    return frame.drop(columns=["time"]).astype(float)


def profile_path(site: Site, day_type: str) -> Path:
    return Path(site.base_dir or ".") / site.profiles.dir / site.profiles.days[day_type]


def day_index(site: Site, day: date, step_min: int) -> pd.DatetimeIndex:
    """Interval starts of the local calendar ``day`` at ``step_min`` resolution (tz-aware)."""
    tz = ZoneInfo(site.timezone)
    start = pd.Timestamp(datetime(day.year, day.month, day.day), tz=tz)
    end = pd.Timestamp(datetime.combine(day + timedelta(days=1), datetime.min.time()), tz=tz)
    return pd.date_range(start, end, freq=f"{step_min}min", inclusive="left")


def load_day_profile(site: Site, day: date, step_min: int | None = None, day_type: str | None = None) -> pd.DataFrame:
    """Profile of ``day`` at ``step_min`` (default: the site's resolution), indexed by interval start.

    ``day_type`` overrides the weekday/weekend rule of :func:`day_type_for` (e.g. a public holiday from the
    study calendar uses ``weekend``).
    """
    step = step_min or site.site.resolution_min
    if step % FINE_STEP_MIN or not FINE_STEP_MIN <= step <= 60 or 60 % step and step % 60:
        raise UserError(f"step_min: {step} is not a supported step (use 5, 10, 15, 20, 30 or 60)")
    day_type = day_type or day_type_for(site, day)
    base = _read_profile(str(profile_path(site, day_type)))
    repeat = PROFILE_STEP_MIN // FINE_STEP_MIN
    fine = np.repeat(base.to_numpy(), repeat, axis=0)
    index = day_index(site, day, step)
    # Map each output interval onto the local minute of day, so a DST day (not in China) still works.
    minutes = (index.hour * 60 + index.minute).to_numpy()
    block = step // FINE_STEP_MIN
    rows = np.stack([fine[(minutes // FINE_STEP_MIN + k) % len(fine)] for k in range(block)]).mean(axis=0)
    frame = pd.DataFrame(rows, index=index, columns=base.columns)
    frame.attrs.update(day_type=day_type, step_min=step, site=site.id)
    return frame
