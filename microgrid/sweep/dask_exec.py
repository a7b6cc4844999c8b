"""The Dask side of a sweep: start or reach a cluster, submit tasks as their inputs are ready, gather rows.

Imported only when a sweep runs on Dask (``distributed`` is heavy). ``local`` starts a ``LocalCluster``
of worker *processes* (one thread each: a solve holds the GIL), sized to the machine unless ``workers``
says otherwise, with its dashboard on a free port; an address (``tcp://HOST:8786``) connects to a running
scheduler whose workers have this package installed.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterable
from typing import Any

from microgrid.errors import UserError
from microgrid.sweep.runner import CONNECT_TIMEOUT_S, LOCAL, SweepOutcome, failed_row
from microgrid.sweep.task import SweepTask, run_task

WINDOW_PER_WORKER = 2
"""Tasks submitted ahead per worker (plus two): enough to keep every worker busy while the client builds
the next task's inputs."""
RETRIES = 1
"""Extra attempts of a task that *raised* (run_task returns error rows, so this covers deserialisation or
a worker-side import failure); a task lost with its worker is rescheduled by the scheduler anyway."""


def _client(scheduler: str, workers: int | None):
    from distributed import Client, LocalCluster

    # Dask's own INFO lines (nannies starting, clients connecting) would drown the sweep's progress
    logging.getLogger("distributed").setLevel(logging.WARNING)
    if scheduler == LOCAL:
        n = workers or max(1, os.cpu_count() or 1)
        cluster = LocalCluster(n_workers=n, threads_per_worker=1, processes=True, dashboard_address=":0",
                               silence_logs=logging.ERROR)
        return Client(cluster), cluster, f"local cluster of {n} worker process(es)"
    try:
        client = Client(scheduler, timeout=CONNECT_TIMEOUT_S)
    except (OSError, TimeoutError) as exc:
        raise UserError.of("uerr.scheduler_unreachable", exit_code=4, address=scheduler, detail=str(exc)) from None
    n = len(client.scheduler_info(n_workers=-1).get("workers", {}))
    return client, None, f"Dask scheduler {scheduler} ({n} worker(s) now)"


def _dashboard(client) -> str | None:
    try:
        return client.dashboard_link
    except Exception:  # noqa: BLE001 - no dashboard (bokeh missing, disabled): the sweep runs without it
        return None


def run_on_dask(tasks: Iterable[SweepTask], scheduler: str, workers: int | None,
                finished: Callable[[dict[str, Any]], None], outcome: SweepOutcome,
                on_start: Callable[[str, str | None], None] | None) -> None:
    """Submit every task, write each row as it completes (in completion order)."""
    from distributed import as_completed

    client, cluster, what = _client(scheduler, workers)
    try:
        outcome.executor = what
        outcome.dashboard = _dashboard(client)
        if on_start is not None:
            on_start(what, outcome.dashboard)
        pending: dict[Any, SweepTask] = {}
        queue = as_completed()
        feed = iter(tasks)

        def fill() -> None:
            # a bounded window of submitted tasks: each carries its year of inputs (MBs), so the scheduler holds
            # a few per worker, not the whole sweep, and the client builds the next inputs while workers solve
            workers_now = len(client.scheduler_info(n_workers=-1).get("workers", {}))
            while len(pending) < WINDOW_PER_WORKER * max(workers_now, 1) + 2:
                task = next(feed, None)
                if task is None:
                    return
                # the key names the case and its digest: resubmitting the same case is the same task
                future = client.submit(run_task, task, key=f"sweep-{task.site_id}-{task.scenario}-{task.digest}",
                                       pure=False, retries=RETRIES)
                pending[future.key] = task
                queue.add(future)

        fill()
        while pending:
            for future in queue.next_batch(block=True):
                task = pending.pop(future.key)
                try:
                    row = future.result()
                except Exception as exc:  # noqa: BLE001 - KilledWorker, a worker without the package, ...
                    row = failed_row(task, exc)
                future.release()
                finished(row)
            fill()
    finally:
        # a worker slow to stop under load is killed by its nanny with a warning that is no news to the user
        logging.getLogger("distributed").setLevel(logging.ERROR)
        client.close()
        if cluster is not None:
            cluster.close()
