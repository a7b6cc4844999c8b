"""``microgrid optimize``: files, summary, exit codes 0 / 2 / 3."""

from __future__ import annotations

import json
import shutil
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
import pytest

from microgrid.cli import main
from tests.paths import SMALL_SITE


def test_plans_a_day_and_writes_the_three_files(tmp_path, capsys):
    out = tmp_path / "plan"
    assert main(["optimize", str(SMALL_SITE), "--day", "2025-07-15", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert printed.startswith("Plan for small_factory from 2025-07-15T00:00:00+08:00 (96 × 15 min): LP optimal")
    assert "Rule-based baseline (self-consumption + valley charging)" in printed
    kpis = json.loads((out / "kpis.json").read_text(encoding="utf-8"))
    assert kpis["solver"]["status"] == "optimal" and kpis["solver"]["fallback"] is False
    assert kpis["site"] == "small_factory"
    assert kpis["cost_total_cny"] < kpis["baseline_cost_total_cny"]
    assert set(kpis["cost_breakdown_cny"]) == {"energy_import", "export_revenue", "demand_charge", "battery_throughput",
                                              "load_curtailment", "carbon"}
    header = (out / "schedule.csv").read_text().splitlines()[0].split(",")
    assert header[:4] == ["timestamp", "price_import_cny_per_kwh", "price_export_cny_per_kwh", "tou_period"]
    assert "bat_factory_soc_pct" in header and "pv_roof_curtailed_kw" in header
    assert len((out / "schedule.csv").read_text().splitlines()) == 97
    assert (out / "schedule.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_without_day_plans_the_next_local_day(tmp_path):
    out = tmp_path / "next"
    assert main(["optimize", str(SMALL_SITE), "--out", str(out), "--no-plot"]) == 0
    tomorrow = (datetime.now(ZoneInfo("Asia/Shanghai")) + timedelta(days=1)).date()
    kpis = json.loads((out / "kpis.json").read_text(encoding="utf-8"))
    assert kpis["period_start"] == f"{tomorrow.isoformat()}T00:00:00+08:00"
    assert not (out / "schedule.png").exists()


@pytest.mark.parametrize(("args", "message"), [
    (["--day", "2025-13-01"], "argument --day: '2025-13-01' is not a date (use YYYY-MM-DD, e.g. 2025-07-15)"),
    (["--step", "7"], "argument --step: '7' is not a supported step in minutes (use one of (5, 10, 15, 20, 30, 60))"),
    (["--min-green", "120"], "argument --min-green: '120' is not a percentage between 0 and 100"),
])
def test_bad_arguments_exit_2(tmp_path, capsys, args, message):
    with pytest.raises(SystemExit) as exc:
        main(["optimize", str(SMALL_SITE), "--out", str(tmp_path), *args])
    assert exc.value.code == 2
    assert message in capsys.readouterr().err


def test_bad_forecast_file_exits_2(tmp_path, capsys):
    csv = tmp_path / "f.csv"
    csv.write_text("timestamp,load_factory_kw\n2025-07-15T00:00:00+08:00,1\n")
    assert main(["optimize", str(SMALL_SITE), "--day", "2025-07-15", "--out", str(tmp_path / "o"),
                 "--forecast", str(csv)]) == 2
    assert "but the plan needs 2025-07-15T00:00:00+08:00 to 2025-07-16T00:00:00+08:00" in capsys.readouterr().err


def test_infeasible_day_exits_3_with_the_conflict_and_a_fallback(tmp_path, capsys):
    site_dir = tmp_path / "site"
    shutil.copytree(SMALL_SITE, site_dir)
    yaml_path = site_dir / "site.yaml"
    yaml_path.write_text(yaml_path.read_text().replace("declared_demand_kw: 800", "declared_demand_kw: 200"))
    out = tmp_path / "plan"
    assert main(["optimize", str(site_dir), "--day", "2025-07-15", "--out", str(out)]) == 3
    captured = capsys.readouterr()
    assert captured.err.startswith("error: no feasible plan: import limit (declared demand) 200 kW is below the load "
                                   "that must be served at ")
    assert captured.err.rstrip().endswith("using the relaxed plan, which breaks only the limits named, by the amounts given")
    assert captured.out.startswith("NO FEASIBLE PLAN (infeasible); the relaxed plan was written: it breaks only the "
                                   "limits named below.")
    kpis = json.loads((out / "kpis.json").read_text(encoding="utf-8"))
    assert kpis["source"] == "relaxed" and kpis["solver"]["fallback"] is True and kpis["solver"]["relaxed"] is True
    (broken,) = kpis["solver"]["violations"]
    assert broken["family"] == "import_limit" and broken["steps"] and broken["amount"] > 0
    schedule = pd.read_csv(out / "schedule.csv")
    over = schedule["grid_import_kw"].to_numpy() - 200
    assert sorted(np.flatnonzero(over > 1e-3).tolist()) == broken["steps"]  # broken exactly where it says
    assert kpis["solver"]["conflicts"][0].startswith("import limit (declared demand) 200 kW")
    assert (out / "schedule.csv").exists() and (out / "schedule.png").exists()


def test_missing_site_exits_2(tmp_path, capsys):
    assert main(["optimize", str(tmp_path / "nowhere"), "--day", "2025-07-15"]) == 2
    assert "site file not found" in capsys.readouterr().err
