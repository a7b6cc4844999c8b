"""Sweeps on real Dask: an embedded LocalCluster (2 worker processes), a separately started scheduler and
worker on 127.0.0.1, a worker killed mid-sweep, and an interrupted sweep resumed.

Every run is judged against the same sweep computed in this process without Dask: the figures must be
identical (same inputs, same deterministic solves), and every scenario must be there exactly once. The
small site, hourly, January only, keeps each task to a few seconds.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import psutil
import pytest

from microgrid.cli import main
from microgrid.sweep.results import ResultStore
from microgrid.sweep.runner import IN_PROCESS, LOCAL, RunSettings, run_sweep
from microgrid.sweep.scenarios import SiteSource, cases, read_scenarios
from microgrid.sweep.task import ROW_FIGURES
from tests.paths import SMALL_SITE

pytestmark = pytest.mark.slow

SCENARIOS = """
sweeps:
  - name: "ess{ess}-pv{pv}"
    product:
      ess: {scale: ["assets.batteries[*].e_kwh", "assets.batteries[*].p_charge_max_kw", "assets.batteries[*].p_discharge_max_kw"], values: [1, 2]}
      pv: {scale: ["assets.pv[*].kwp", "assets.pv[*].inverter_ac_kw"], values: [1, 1.4]}
"""
SETTINGS = RunSettings(year=2026, step_min=60, months=(1, 1))
COMPARED = ["key", "status", *ROW_FIGURES, "target_met", "fallback_days"]


def _cases(tmp_path: Path, names: list[str] | None = None):
    path = tmp_path / "scenarios.yaml"
    path.write_text(SCENARIOS, encoding="utf-8")
    built = cases([SiteSource.read(SMALL_SITE)], read_scenarios(path), str(path))
    return [c for c in built if names is None or c.scenario.name in names], path


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """All four scenarios computed in this process (no Dask)."""
    tmp = tmp_path_factory.mktemp("reference")
    todo, _ = _cases(tmp)
    outcome = run_sweep(todo, SETTINGS, tmp / "out", scheduler=IN_PROCESS)
    frame = ResultStore(tmp / "out").table(outcome.keys)
    assert list(frame["status"]) == ["ok"] * 4
    # the scenarios differ, so identical figures below are not a coincidence of equal inputs
    assert frame["cost_total_cny"].nunique() == 4 and frame["green_ratio_pct"].nunique() == 4
    return frame.set_index("key")


def _same(frame: pd.DataFrame, reference: pd.DataFrame) -> None:
    got = frame.set_index("key")
    assert sorted(got.index) == sorted(reference.index) and got.index.is_unique
    cols = [c for c in COMPARED if c != "key"]
    pd.testing.assert_frame_equal(got.loc[reference.index, cols], reference[cols], check_exact=True,
                                  check_dtype=False)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_port(port: int, proc: subprocess.Popen, timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        assert proc.poll() is None, "the scheduler exited"
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.2)
    raise AssertionError(f"no scheduler on port {port} after {timeout_s} s")


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


def test_external_scheduler_and_worker_give_the_in_process_figures(tmp_path, reference, capsys):
    dask = shutil.which("dask", path=str(Path(sys.executable).parent))
    assert dask, "the dask command comes with dask[distributed]"
    port = _free_port()
    address = f"tcp://127.0.0.1:{port}"
    # the worker runs in an empty directory: the site's files are not reachable, only the installed package
    workdir = tmp_path / "worker"
    workdir.mkdir()
    logs = tmp_path / "logs"
    logs.mkdir()
    scheduler = subprocess.Popen([dask, "scheduler", "--host", "127.0.0.1", "--port", str(port),
                                  "--no-dashboard"], stdout=subprocess.DEVNULL,
                                 stderr=(logs / "scheduler.log").open("w"), cwd=workdir)
    worker = None
    try:
        _wait_port(port, scheduler)
        worker = subprocess.Popen([dask, "worker", address, "--nworkers", "1", "--nthreads", "1", "--host",
                                   "127.0.0.1", "--no-dashboard"], stdout=subprocess.DEVNULL,
                                  stderr=(logs / "worker.log").open("w"), cwd=workdir)
        # two of the four scenarios (the worker's first imports dominate here; the file sweeps all four)
        _, path = _cases(tmp_path)
        path.write_text(SCENARIOS.replace("values: [1, 2]", "values: [2]"), encoding="utf-8")
        out = tmp_path / "out"
        env_before = os.environ.get("DASK_SCHEDULER_ADDRESS")
        os.environ["DASK_SCHEDULER_ADDRESS"] = address  # the environment variable picks the cluster
        try:
            code = main(["sweep", str(SMALL_SITE), "--scenarios", str(path), "--year", "2026", "--resolution", "60",
                         "--months", "1", "--out", str(out)])
        finally:
            if env_before is None:
                os.environ.pop("DASK_SCHEDULER_ADDRESS")
            else:
                os.environ["DASK_SCHEDULER_ADDRESS"] = env_before
        captured = capsys.readouterr()
        assert code == 0, captured.err + (logs / "worker.log").read_text()[-2000:]
        assert f"Dask scheduler {address}" in captured.err
        frame = pd.read_parquet(out / "results.parquet")
        _same(frame, reference.loc[["small_factory/ess2-pv1", "small_factory/ess2-pv1.4"]])
        worker_pids = {int(w.rsplit(":", 1)[1]) for w in frame["worker"]}
        assert os.getpid() not in worker_pids
        assert "[2/2]" in captured.err
        assert (pd.read_csv(out / "results.csv")["key"] == frame["key"]).all()
        html = (out / "summary.html").read_text(encoding="utf-8")
        assert "Pareto" in html and "帕累托" in html and "<svg" in html
    finally:
        if worker is not None:
            _stop(worker)
        _stop(scheduler)


def test_local_cluster_of_two_processes_survives_a_killed_worker_with_the_in_process_figures(tmp_path, reference):
    todo, _ = _cases(tmp_path)
    seen: list[str] = []
    killed: list[int] = []

    def on_row(row, done, total):
        seen.append(row["key"])
        if not killed:
            # the other worker process has not reported yet: it is in the middle of its first task
            finished_by = int(row["worker"].rsplit(":", 1)[1])
            workers = [p.pid for p in psutil.Process().children(recursive=True)
                       if "spawn_main" in " ".join(p.cmdline()) and p.pid != finished_by]
            assert len(workers) == 1, workers
            os.kill(workers[0], signal.SIGKILL)
            killed.append(workers[0])

    started: list[tuple[str, str | None]] = []
    out = tmp_path / "out"
    outcome = run_sweep(todo, SETTINGS, out, scheduler=LOCAL, workers=2, on_row=on_row,
                        on_start=lambda what, link: started.append((what, link)))
    assert started[0][0] == "local cluster of 2 worker process(es)"
    assert started[0][1].startswith("http://127.0.0.1:")  # the dashboard link that is printed
    frame = ResultStore(out).table(outcome.keys)
    assert killed
    assert not frame["worker"].str.endswith(f":{os.getpid()}").any()
    assert sorted(seen) == sorted(c.key for c in todo)  # every scenario arrived exactly once
    assert outcome.computed == seen and not outcome.reused
    _same(frame, reference)  # the lost task was recomputed elsewhere, with the same figures


def test_interrupted_sweep_resumes_with_only_the_rest(tmp_path, reference):
    names = ["ess1-pv1", "ess2-pv1", "ess1-pv1.4"]
    todo, _ = _cases(tmp_path, names)
    out = tmp_path / "out"

    def interrupt_after_one(row, done, total):
        if done == 1:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run_sweep(todo, SETTINGS, out, scheduler=IN_PROCESS, on_row=interrupt_after_one)
    first = ResultStore(out).row_path("small_factory/ess1-pv1")
    assert first.exists() and len(list((out / "rows").rglob("*.json"))) == 1
    stamp = first.stat().st_mtime_ns
    computed: list[str] = []
    outcome = run_sweep(todo, SETTINGS, out, scheduler=IN_PROCESS, on_row=lambda r, d, t: computed.append(r["key"]))
    assert outcome.reused == ["small_factory/ess1-pv1"]
    assert sorted(computed) == ["small_factory/ess1-pv1.4", "small_factory/ess2-pv1"]
    assert first.stat().st_mtime_ns == stamp  # the stored row was not rewritten
    _same(ResultStore(out).table(outcome.keys), reference.loc[[f"small_factory/{n}" for n in names]])
    # a third run computes nothing; a changed setting (another month) is another digest: all recomputed
    again = run_sweep(todo, SETTINGS, out, scheduler=IN_PROCESS)
    assert again.computed == [] and len(again.reused) == 3
    other = RunSettings(year=2026, step_min=60, months=(2, 2))
    assert all(not ResultStore(out).reusable(c.key, other.digest(c)) for c in todo)
