"""Schedules to check: the optimizer's ``Schedule``, a DataFrame with the same columns, or its CSV file.

Columns read per asset (DESIGN.md §3; the optimizer's ``optimizer.results`` table):

==========================  ============================================  ==============================
asset                       column                                        net injection into its bus
==========================  ============================================  ==============================
PV plant                    ``<id>_kw`` (output > 0)                      ``+<id>_kw``
battery                     ``<id>_kw`` (discharge > 0, charge < 0)       ``+<id>_kw``
heat pump                   ``<id>_p_el_kw`` (consumption > 0)            ``-<id>_p_el_kw``
flexible load, EV depot     ``<id>_load_kw`` (consumption > 0)            ``-<id>_load_kw``
tenant base load            ``<tenant>_load_kw`` (consumption > 0)        ``-<tenant>_load_kw``
==========================  ============================================  ==============================

Tenant base loads missing from the schedule are taken from the site's day profiles
(``load_<tenant>_kw`` of :func:`microgrid.profiles.load_day_profile`). Any other missing column is an error.
Timestamps must be timezone-aware; a CSV without UTC offsets is read in the site's time zone.
"""

from __future__ import annotations

from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd

from microgrid.errors import UserError
from microgrid.profiles import load_day_profile
from microgrid.site.models import Site


class ScheduleError(UserError):
    """A schedule that cannot be checked (missing columns, bad timestamps, unreadable file)."""

    exit_code = 2


def power_column(asset_id: str, kind: str) -> str:
    """Schedule column holding the main power of an asset of ``kind`` (see the module table)."""
    if kind in ("pv", "battery"):
        return f"{asset_id}_kw"
    if kind == "heat_pump":
        return f"{asset_id}_p_el_kw"
    return f"{asset_id}_load_kw"


def is_consumer(kind: str) -> bool:
    """True for assets whose schedule column is a consumption (> 0 = drawing power)."""
    return kind not in ("pv", "battery")


def read_schedule_csv(path: str | Path, timezone: str = "Asia/Shanghai") -> pd.DataFrame:
    """Read a schedule CSV (first column ISO-8601 timestamps, as written by ``microgrid optimize``)."""
    path = Path(path)
    try:
        frame = pd.read_csv(path, index_col=0)
    except FileNotFoundError:
        raise ScheduleError.of("uerr.schedule_not_found", path=str(path)).with_problem(
            "uerr.schedule_not_found_hint", path=str(path)) from None
    except (OSError, ValueError, pd.errors.ParserError) as exc:
        raise ScheduleError.of("uerr.schedule_unreadable", [f"{path}: {exc}"], path=str(path)) from None
    if frame.empty:
        raise ScheduleError.of("uerr.schedule_empty", path=str(path)).with_problem("uerr.schedule_empty_hint", path=str(path))
    try:
        index = pd.to_datetime(frame.index.astype(str), utc=False, format="ISO8601")
    except (ValueError, TypeError) as exc:
        raise ScheduleError.of("uerr.schedule_no_timestamps", [f"{path}: column '{frame.index.name}': {exc}"], path=str(path)) from None
    tz = ZoneInfo(timezone)  # the same tz implementation as the profiles, so indexes align
    if index.tz is None:
        index = index.tz_localize(tz)
    frame.index = index.tz_convert(tz)
    return frame


def schedule_frame(schedule: object, timezone: str = "Asia/Shanghai") -> pd.DataFrame:
    """The DataFrame of ``schedule``: an object with a ``frame`` attribute (``optimizer.Schedule``), a
    DataFrame, or a CSV path."""
    if isinstance(schedule, str | Path):
        return read_schedule_csv(schedule, timezone)
    frame = getattr(schedule, "frame", schedule)
    if not isinstance(frame, pd.DataFrame):
        raise TypeError(f"expected a Schedule, a DataFrame or a CSV path, got {type(schedule).__name__}")
    return frame


def _validate_index(index: pd.Index) -> None:
    if not isinstance(index, pd.DatetimeIndex) or index.tz is None:
        raise ScheduleError.of("uerr.schedule_index_naive").with_problem("uerr.schedule_index_naive_hint")
    if len(index) > 1:
        steps = np.diff(index.asi8)
        if np.any(steps <= 0):
            raise ScheduleError.of("uerr.schedule_not_increasing").with_problem("uerr.schedule_not_increasing_hint")


def profile_loads(site: Site, index: pd.DatetimeIndex, tenants: list[str]) -> pd.DataFrame:
    """Tenant base loads (consumption > 0, kW) from the site's day profiles at the timestamps of ``index``."""
    local = index.tz_convert(ZoneInfo(site.timezone))
    step_min = int(round((local[1] - local[0]).total_seconds() / 60)) if len(local) > 1 else site.site.resolution_min
    out = pd.DataFrame(index=index, columns=tenants, dtype=float)
    for day in sorted(set(local.date)):
        profile = load_day_profile(site, day, step_min)
        mask = local.date == day
        rows = profile.reindex(local[mask])
        if rows.isna().any().any():
            raise ScheduleError.of("uerr.schedule_off_grid").with_problem("uerr.schedule_off_grid_hint", step=step_min)
        for tenant in tenants:
            out.loc[mask, tenant] = rows[f"load_{tenant}_kw"].to_numpy()
    return out


PLAUSIBLE_FACTOR = 10.0
"""A schedule value beyond this multiple of the park's total transformer capacity cannot be a plan of the
park (a typo, a unit error or garbage): it is refused before any power flow."""


def validate_injections(injections_kw: pd.DataFrame, assets: pd.DataFrame, limit_kw: float) -> None:
    """:class:`ScheduleError` naming each schedule column with a missing, non-finite or absurd value
    (|P| > ``limit_kw``) and its first offending interval; nothing is computed from such a schedule.
    ``assets`` is the net's asset table (its ``kind`` gives the column names)."""
    values = injections_kw.to_numpy(dtype=float)
    problems: list[tuple[str, dict]] = []
    for j, asset_id in enumerate(injections_kw.columns):
        column = power_column(asset_id, assets["kind"].get(asset_id, ""))
        col = values[:, j]
        bad = ~np.isfinite(col)
        huge = ~bad & (np.abs(np.where(bad, 0.0, col)) > limit_kw)
        for mask, key in ((bad, "uerr.schedule_values_not_finite"), (huge, "uerr.schedule_values_beyond")):
            if mask.any():
                first = int(np.flatnonzero(mask)[0])
                problems.append((key, {"column": column, "count": int(mask.sum()), "limit": f"{limit_kw:,.0f}",
                                       "time": injections_kw.index[first].isoformat(), "value": f"{col[first]:g}"}))
    if problems:
        err = ScheduleError.of("uerr.schedule_unusable_values", n=len(problems))
        for key, params in problems:
            err.with_problem(key, **params)
        raise err


def schedule_injections(schedule: object, assets: pd.DataFrame, site: Site | None = None) -> pd.DataFrame:
    """Net injection of every asset into its bus (kW, park convention), one column per asset id.

    ``assets`` is :func:`microgrid.network.builder.asset_elements` of the net (its ``kind`` says which
    column to read). Tenant base loads absent from the schedule come from ``site``'s profiles.
    """
    timezone = site.timezone if site is not None else "Asia/Shanghai"
    frame = schedule_frame(schedule, timezone)
    _validate_index(frame.index)
    out: dict[str, np.ndarray] = {}
    missing: list[str] = []
    from_profile: list[str] = []
    for asset_id, kind in assets["kind"].items():
        column = power_column(asset_id, kind)
        if column in frame.columns:
            values = pd.to_numeric(frame[column], errors="coerce").to_numpy(dtype=float)
            out[asset_id] = -values if is_consumer(kind) else values
        elif kind == "tenant_load" and site is not None:
            from_profile.append(asset_id)
        else:
            missing.append(column)
    if missing:
        key = ("uerr.schedule_column_missing_load" if any(c.endswith("_load_kw") for c in missing)
               else "uerr.schedule_column_missing")
        err = ScheduleError.of("uerr.schedule_lacks_columns", n=len(missing))
        for c in missing:
            err.with_problem(key, column=c)
        raise err
    if from_profile:
        loads = profile_loads(site, frame.index, from_profile)
        for tenant in from_profile:
            out[tenant] = -loads[tenant].to_numpy(dtype=float)
    result = pd.DataFrame(out, index=frame.index)
    return result[list(assets.index)]
