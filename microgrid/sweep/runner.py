"""Run a sweep's cases on Dask (an embedded ``LocalCluster`` or an existing scheduler) or in this process.

One task per (site, scenario) year (:func:`microgrid.sweep.task.run_task`). The client builds each case's
year of inputs (weather, calendar, loads from the site's profile files) and ships it as data; tasks are
submitted as soon as their inputs are ready, so workers start while the rest are being built. Rows are
written the moment they arrive (:class:`~microgrid.sweep.results.ResultStore`); a rerun skips the cases
already stored with the same digest.

Fault tolerance comes from Dask: a worker that dies loses only the tasks it was running, which the
scheduler gives to another worker (up to ``distributed.scheduler.allowed-failures`` times, default 3);
a task that still cannot finish becomes an ``error`` row, never a lost sweep.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from microgrid.errors import UserError
from microgrid.sweep.results import ResultStore
from microgrid.sweep.scenarios import Case
from microgrid.sweep.task import SweepTask, base_row, run_task
from optimizer import SolverOptions

IN_PROCESS = "in-process"
LOCAL = "local"
CONNECT_TIMEOUT_S = 20

OnRow = Callable[[dict[str, Any], int, int], None]
"""Called after each row is written with (row, rows done, rows to compute)."""


@dataclass(frozen=True)
class RunSettings:
    """What every case of a sweep shares; part of each row's digest."""

    year: int
    step_min: int | None = None
    months: tuple[int, int] | None = None
    seed: int | None = None
    time_limit_s: float | None = None

    def digest(self, case: Case) -> str:
        text = json.dumps([case.digest, self.year, self.step_min or case.site.site.resolution_min,
                           self.months, self.seed, self.time_limit_s, sorted(case.scenario.params.items(),
                                                                                key=str)], default=str)
        return hashlib.sha256(text.encode()).hexdigest()[:16]


@dataclass
class SweepOutcome:
    keys: list[str]
    """Every case's key, in the scenario file's order."""
    computed: list[str] = field(default_factory=list)
    """Keys computed by this run (the others were reused)."""
    reused: list[str] = field(default_factory=list)
    executor: str = IN_PROCESS
    dashboard: str | None = None
    wall_s: float = 0.0


def make_task(case: Case, settings: RunSettings) -> SweepTask:
    """The case's year of inputs, built here and carried as data (the site without its directory)."""
    from microgrid.planning import solver_options_for
    from microgrid.study.year import year_inputs

    kwargs = {} if settings.seed is None else {"seed": settings.seed}
    inputs = year_inputs(case.site, settings.year, step_min=settings.step_min, **kwargs)
    # the worker must not read the client's files: the site goes without its directory
    inputs.site = inputs.site.model_copy(update={"base_dir": ""})
    solver: SolverOptions = solver_options_for(case.site, time_limit_s=settings.time_limit_s, interface="appsi")
    site = case.site
    meta = {"pv_kwp": site.pv_kwp_total(), "storage_kwh": sum(b.e_kwh for b in site.assets.batteries),
            "storage_kw": sum(b.p_discharge_max_kw for b in site.assets.batteries)}
    return SweepTask(case.site_id, case.scenario.name, settings.digest(case), dict(case.scenario.params), inputs,
                     solver, settings.months, meta)


def _tasks(cases: list[Case], settings: RunSettings) -> Iterator[SweepTask]:
    for case in cases:
        yield make_task(case, settings)


def scheduler_address(option: str | None) -> str:
    """``--scheduler``, else ``DASK_SCHEDULER_ADDRESS``, else the embedded local cluster."""
    chosen = option or os.environ.get("DASK_SCHEDULER_ADDRESS") or LOCAL
    if chosen in (LOCAL, IN_PROCESS) or "://" in chosen:
        return chosen
    raise UserError.of("uerr.scheduler_bad", text=chosen)


def run_sweep(cases: list[Case], settings: RunSettings, out: str | Path, *, scheduler: str = LOCAL,
              workers: int | None = None, retry_failed: bool = False, on_row: OnRow | None = None,
              on_start: Callable[[str, str | None], None] | None = None) -> SweepOutcome:
    """Compute every case not yet stored in ``out`` and write its row; see the module docstring.

    ``on_start`` is called with (executor description, dashboard link) once the executor is up.
    """
    start = time.perf_counter()
    store = ResultStore(out)
    outcome = SweepOutcome(keys=[c.key for c in cases])
    todo = []
    for case in cases:
        if store.reusable(case.key, settings.digest(case), retry_failed=retry_failed):
            outcome.reused.append(case.key)
        else:
            todo.append(case)
    done = 0

    def finished(row: dict[str, Any]) -> None:
        nonlocal done
        store.write(row)
        outcome.computed.append(row["key"])
        done += 1
        if on_row is not None:
            on_row(row, done, len(todo))

    if not todo:
        outcome.executor = "nothing to compute"
    elif scheduler == IN_PROCESS:
        outcome.executor = "this process (no Dask)"
        if on_start is not None:
            on_start(outcome.executor, None)
        for task in _tasks(todo, settings):
            finished(run_task(task))
    else:
        from microgrid.sweep.dask_exec import run_on_dask

        run_on_dask(_tasks(todo, settings), scheduler, workers, finished, outcome, on_start)
    outcome.wall_s = time.perf_counter() - start
    return outcome


def failed_row(task: SweepTask, exc: BaseException) -> dict[str, Any]:
    """The row of a task Dask could not finish (e.g. its workers kept dying)."""
    return {**base_row(task), "status": "error", "error": f"{type(exc).__name__}: {exc}"}
