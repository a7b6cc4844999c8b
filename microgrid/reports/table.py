"""The interval table: metered (or simulated/planned) energies per interval for the park and each tenant.

A tidy ``pandas`` frame, one row per (interval, entity), the input of every accounting function. It is
independent of where the data came from (store, simulation, plan), so the accounting is tested with
hand-written tables. Columns (energies in kWh over the interval, all >= 0):

=====================  ==========================================================================
``ts``                 interval start, tz-aware, site time zone
``entity``             ``"park"`` or a tenant id
``import_kwh``         park: import at the PCC; tenant: import at the tenant's feeder meter
``export_kwh``         park: export at the PCC; tenant: export at its meter
``pv_kwh``             PV generation (park: all plants; tenant: plants behind its meter)
``pv_curtailed_kwh``   PV available but curtailed (0 where unknown; see ``attrs["curtailment_known"]``)
``bat_charge_kwh``     AC energy into batteries (park: all; tenant: its own behind its meter)
``bat_discharge_kwh``  AC energy out of batteries
``load_kwh``           tenant: gross consumption (meter import − export + own PV + own discharge − own
                       charge); park: NaN (the accounting derives it)
``bat_stored_start_kwh`` / ``bat_stored_end_kwh``  park only: energy held by all batteries at the interval
                       start/end (from SoC), NaN where unknown
``coverage``           0–1, the worst coverage of the meters/assets the row needs
``estimated``          True when the row is not metered but derived (e.g. a tenant without a meter)
=====================  ==========================================================================

A row whose coverage is below the report's minimum holds NaN energies: a gap, never a zero.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Literal
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd

PARK = "park"
ENERGY_COLUMNS = ("import_kwh", "export_kwh", "pv_kwh", "pv_curtailed_kwh", "bat_charge_kwh",
                  "bat_discharge_kwh", "load_kwh")
STATE_COLUMNS = ("bat_stored_start_kwh", "bat_stored_end_kwh")
COLUMNS = ("ts", "entity", *ENERGY_COLUMNS, *STATE_COLUMNS, "coverage", "estimated")
PARK_REQUIRED = ("import_kwh", "export_kwh", "pv_kwh", "bat_charge_kwh", "bat_discharge_kwh")
"""A park interval is usable when all of these are known."""

DataSource = Literal["metered", "simulated", "planned"]


class TableError(ValueError):
    """An interval table that does not follow the layout above."""


@dataclass
class IntervalTable:
    """The tidy frame plus what it describes."""

    frame: pd.DataFrame
    interval_min: int
    timezone: str
    first_day: date
    last_day: date
    source: DataSource = "metered"
    source_note: str = ""
    """How the data was produced, printed on the report's first page."""
    source_note_zh: str = ""
    """The same in Chinese (empty: as ``source_note``)."""
    tenants: list[str] = field(default_factory=list)
    curtailment_known: bool = True
    notes: list[str] = field(default_factory=list)
    """Caveats found while building the table (unmetered tenants, missing curtailment data, ...)."""
    notes_zh: list[str] = field(default_factory=list)
    """The same in Chinese."""
    findings: list[str] = field(default_factory=list)
    """Data-quality findings: physically impossible intervals (naming meter/entity and interval), excluded as
    gaps; the rest of the report still renders."""
    month_peak_before_kw: dict[str, float] = field(default_factory=dict)
    """``YYYY-MM`` → the month-to-date peak metered before the table's first interval (demand charge)."""

    def __post_init__(self) -> None:
        self.frame, found = normalise(self.frame, self.timezone)
        self.findings = [*self.findings, *found]
        if not self.tenants:
            self.tenants = [e for e in dict.fromkeys(self.frame["entity"]) if e != PARK]

    @property
    def step_h(self) -> float:
        return self.interval_min / 60

    def entity(self, entity_id: str) -> pd.DataFrame:
        """Rows of one entity indexed by ``ts`` on the full expected grid (missing rows are gaps)."""
        rows = self.frame[self.frame["entity"] == entity_id].set_index("ts").drop(columns="entity")
        grid = expected_index(self.first_day, self.last_day, self.interval_min, self.timezone)
        rows = rows[~rows.index.duplicated(keep="last")].reindex(grid)
        rows["coverage"] = rows["coverage"].fillna(0.0)
        rows["estimated"] = rows["estimated"].map(lambda v: bool(v) if isinstance(v, bool) else False).astype(bool)
        return rows


def expected_index(first_day: date, last_day: date, interval_min: int, timezone: str) -> pd.DatetimeIndex:
    """Every interval start from local midnight of ``first_day`` to the end of ``last_day``."""
    tz = ZoneInfo(timezone)
    start = pd.Timestamp(datetime(first_day.year, first_day.month, first_day.day), tz=tz)
    end_day = last_day + timedelta(days=1)
    end = pd.Timestamp(datetime(end_day.year, end_day.month, end_day.day), tz=tz)
    return pd.date_range(start, end, freq=f"{interval_min}min", inclusive="left")


def normalise(frame: pd.DataFrame, timezone: str) -> tuple[pd.DataFrame, list[str]]:
    """Check the layout, add optional columns, convert ``ts`` to the site time zone.

    A row with a negative energy is physically impossible: it becomes a gap (energies NaN, coverage 0) and a
    data-quality finding naming the entity, column and interval; it never stops the report.
    """
    missing = [c for c in ("ts", "entity", "coverage") if c not in frame.columns]
    if missing:
        raise TableError(f"interval table lacks column(s) {missing}")
    unknown = sorted(set(frame.columns) - set(COLUMNS))
    if unknown:
        raise TableError(f"interval table has unknown column(s) {unknown}; expected {list(COLUMNS)}")
    out = frame.copy()
    ts = pd.to_datetime(out["ts"])
    if ts.dt.tz is None:
        raise TableError("interval table 'ts' must be tz-aware")
    out["ts"] = ts.dt.tz_convert(timezone)
    for col in (*ENERGY_COLUMNS, *STATE_COLUMNS):
        out[col] = out[col].astype(float) if col in out else np.nan
    if "estimated" not in out:
        out["estimated"] = False
    out["coverage"] = out["coverage"].astype(float).clip(0.0, 1.0)
    if PARK not in set(out["entity"]):
        raise TableError("interval table has no 'park' rows")
    findings: list[str] = []
    energies = out[list(ENERGY_COLUMNS)]
    bad = energies < -1e-9
    for i in np.flatnonzero(bad.any(axis=1).to_numpy()):
        row = out.iloc[i]
        cols = [c for c in ENERGY_COLUMNS if bad.iloc[i][c]]
        what = ", ".join(f"{c} {row[c]:.3f}" for c in cols)
        findings.append(f"{row['entity']}, interval {row['ts']:%Y-%m-%d %H:%M}: negative energy ({what} kWh), "
                        "physically impossible; the interval is left out as a gap")
    if findings:
        rows = bad.any(axis=1)
        out.loc[rows, list(ENERGY_COLUMNS)] = np.nan
        out.loc[rows, "coverage"] = 0.0
    return out[list(COLUMNS)].sort_values(["ts", "entity"], kind="stable").reset_index(drop=True), findings


def apply_min_coverage(frame: pd.DataFrame, min_coverage: float) -> pd.DataFrame:
    """Blank the energies of rows covered less than ``min_coverage`` (they become gaps)."""
    out = frame.copy()
    low = out["coverage"] < min_coverage
    out.loc[low, list(ENERGY_COLUMNS)] = np.nan
    return out
