"""One sweep task: a (site, scenario) year planned and accounted, on whichever process runs it.

The task carries its inputs as data (the validated :class:`~microgrid.site.models.Site` without its
directory, and the year's forecast frame), so a worker needs the installed package and nothing of the
client's file system. It never raises: a failed or partly infeasible year is a row with its error.
"""

from __future__ import annotations

import os
import re
import socket
import time
import traceback
from dataclasses import dataclass, field
from typing import Any

from microgrid.i18n import t
from microgrid.study.year import YearInputs
from optimizer import SolverOptions

ROW_FIGURES = (
    "consumption_kwh", "grid_import_kwh", "grid_export_kwh", "pv_generated_kwh", "pv_self_consumed_kwh",
    "pv_curtailed_kwh", "storage_discharge_kwh", "green_total_kwh", "green_ratio_pct", "co2_location_kg",
    "cost_energy_cny", "cost_basic_charge_cny", "cost_export_revenue_cny", "cost_total_cny", "peak_import_kw",
    "savings_cny",
)
"""Figures of the park's accounts over the studied period (:class:`microgrid.reports.Accounts`), per row."""

STATUSES = ("ok", "fallback", "error")
"""``ok``: every day optimised; ``fallback``: some days had only the rule-based plan (named in ``error``);
``error``: the year could not be computed (the exception in ``error``)."""



def _fallback_note_pattern() -> re.Pattern[str]:
    """The stored English fallback note (made from the catalogue's ``sweep.fallback_note``) as a pattern."""
    english = re.escape(t("sweep.fallback_note", "en", n="\0N", days="\0D"))
    return re.compile(english.replace(re.escape("\0N"), r"(?P<n>\d+)").replace(re.escape("\0D"), r"(?P<days>.*?)"))


def case_error(row: dict[str, Any], lang: str | None = None) -> str:
    """A row's ``error`` for the console in ``lang``: the stored English fallback note re-worded; an
    exception's text (``TypeName: message``) stays as it was raised."""
    error = row.get("error") or ""
    note = _fallback_note_pattern().fullmatch(error) if row.get("status") == "fallback" else None
    return t("sweep.fallback_note", lang, n=note["n"], days=note["days"]) if note else error


@dataclass
class SweepTask:
    """What a worker needs for one (site, scenario)."""

    site_id: str
    scenario: str
    digest: str
    params: dict[str, Any]
    inputs: YearInputs
    solver: SolverOptions
    months: tuple[int, int] | None = None
    meta: dict[str, Any] = field(default_factory=dict)
    """Descriptive columns copied into the row (installed PV and storage, target)."""

    @property
    def key(self) -> str:
        return f"{self.site_id}/{self.scenario}"


def base_row(task: SweepTask) -> dict[str, Any]:
    """The identifying columns of a task's row (also the row of a task that never ran)."""
    return {"key": task.key, "site_id": task.site_id, "scenario": task.scenario, "digest": task.digest,
            "year": task.inputs.year, "resolution_min": task.inputs.step_min,
            "months": "" if task.months is None else f"{task.months[0]}-{task.months[1]}",
            **{f"param_{k}": v for k, v in task.params.items()}, **task.meta}


def run_task(task: SweepTask) -> dict[str, Any]:
    """Plan and account the task's year; the result row (never raises)."""
    from microgrid.reports import PARK
    from microgrid.study.run import run_study

    row = base_row(task)
    row["worker"] = f"{socket.gethostname()}:{os.getpid()}"
    start = time.perf_counter()
    try:
        result = run_study(task.inputs.site, task.inputs.year, inputs=task.inputs, solver=task.solver,
                           months=task.months)
    except Exception as exc:  # noqa: BLE001 - any failure of one scenario is its row, never a lost sweep
        last = traceback.extract_tb(exc.__traceback__)[-1]
        row.update(status="error", error=f"{type(exc).__name__}: {exc} (at {os.path.basename(last.filename)}:"
                                         f"{last.lineno})", task_s=time.perf_counter() - start)
        return row
    total = result.report.rows("total", PARK)[0]
    for name in ROW_FIGURES:
        row[name] = getattr(total, name)
    # the site's own target when it has one, else the first policy target (microgrid/reports/targets.yaml)
    target = result.report.targets[0] if result.report.targets else None
    row["target_id"] = None if target is None else target.id
    row["target_ratio_pct"] = None if target is None else target.target_pct
    row["target_met"] = None if target is None else target.met
    row["days"] = len(result.outcomes)
    row["fallback_days"] = len(result.fallback_days)
    row["solve_s"] = sum(o.solve_s for o in result.outcomes)
    if result.fallback_days:
        days = ", ".join(d.isoformat() for d in result.fallback_days[:5])
        row.update(status="fallback", error=t("sweep.fallback_note", "en", n=len(result.fallback_days), days=days))
    else:
        row.update(status="ok", error="")
    row["task_s"] = time.perf_counter() - start
    return row
