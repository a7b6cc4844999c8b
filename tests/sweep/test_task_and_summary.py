"""A failing task is a row with its error; the Pareto front and the summary page from known rows."""

from __future__ import annotations

import dataclasses

import pandas as pd

from microgrid.sweep.runner import IN_PROCESS, RunSettings, make_task, run_sweep
from microgrid.sweep.scenarios import Scenario, SiteSource, build_case
from microgrid.sweep.summary import pareto_front, render_summary, site_table
from microgrid.sweep.task import run_task
from tests.paths import SMALL_SITE


def test_a_task_that_fails_is_an_error_row_not_an_exception(tmp_path):
    case = build_case(SiteSource.read(SMALL_SITE), Scenario("base", ()), "test")
    task = make_task(case, RunSettings(2026, step_min=60, months=(1, 1)))
    assert task.inputs.site.base_dir == ""  # shipped without the client's directory
    broken = dataclasses.replace(task, inputs=dataclasses.replace(task.inputs, frame=task.inputs.frame.iloc[:0]))
    row = run_task(broken)
    assert row["status"] == "error" and row["key"] == "small_factory/base" and row["error"]
    assert "cost_total_cny" not in row


def test_pareto_front_is_per_site_and_keeps_only_undominated_rows():
    frame = pd.DataFrame([
        {"site_id": "a", "scenario": "cheap", "cost_total_cny": 100.0, "green_ratio_pct": 20.0},
        {"site_id": "a", "scenario": "green", "cost_total_cny": 150.0, "green_ratio_pct": 40.0},
        {"site_id": "a", "scenario": "worse", "cost_total_cny": 160.0, "green_ratio_pct": 30.0},  # dominated by green
        {"site_id": "a", "scenario": "tie", "cost_total_cny": 100.0, "green_ratio_pct": 19.0},  # dominated by cheap
        {"site_id": "b", "scenario": "only", "cost_total_cny": 999.0, "green_ratio_pct": 1.0},  # alone on its front
        {"site_id": "b", "scenario": "failed", "cost_total_cny": None, "green_ratio_pct": None},
    ])
    assert list(pareto_front(frame)) == [True, True, False, False, True, False]


def test_summary_page_lists_failed_rows_and_the_cheapest_reaching_the_target():
    frame = pd.DataFrame([
        {"key": "a/x", "site_id": "a", "scenario": "x", "status": "ok", "error": "", "cost_total_cny": 100.0,
         "green_ratio_pct": 30.0, "target_ratio_pct": 35.0, "target_met": False, "param_pv": 1.0},
        {"key": "a/y", "site_id": "a", "scenario": "y", "status": "ok", "error": "", "cost_total_cny": 120.0,
         "green_ratio_pct": 36.0, "target_ratio_pct": 35.0, "target_met": True, "param_pv": 1.5},
        {"key": "a/z", "site_id": "a", "scenario": "z", "status": "error", "error": "ValueError: boom",
         "param_pv": 2.0},
    ])
    html = render_summary(frame, [("scenario file", "s.yaml")])
    assert "ValueError: boom" in html and "1 scenario(s) with errors" in html
    per_site = site_table(frame).iloc[0]
    assert (per_site["cheapest"], per_site["cheapest_reaching_target"], per_site["greenest"]) == ("x", "y", "y")
    assert (per_site["scenarios"], per_site["failed"], per_site["reaching_target"]) == (3, 1, 1)
    assert "<svg" in html and "帕累托" in html


def test_in_process_sweep_with_nothing_to_do_reuses_every_row(tmp_path):
    case = build_case(SiteSource.read(SMALL_SITE), Scenario("base", ()), "test")
    settings = RunSettings(2026, step_min=60, months=(1, 1))
    from microgrid.sweep.results import ResultStore

    ResultStore(tmp_path).write({"key": case.key, "digest": settings.digest(case), "status": "ok"})
    outcome = run_sweep([case], settings, tmp_path, scheduler=IN_PROCESS)
    assert outcome.reused == [case.key] and outcome.computed == []
