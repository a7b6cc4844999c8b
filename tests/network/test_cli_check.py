"""``microgrid check`` and the network step of ``microgrid optimize``."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from microgrid.cli import main
from microgrid.network import ParkNetwork, check_schedule
from microgrid.planning import build_dispatch_inputs, horizon_for_day
from optimizer import solve_dispatch
from tests.network.conftest import CONGESTED_SITE, SUMMER_DAY


@pytest.fixture(scope="module")
def unconstrained_csv(tmp_path_factory, congested_site):
    inputs = build_dispatch_inputs(congested_site, horizon_for_day(congested_site, SUMMER_DAY))
    path = tmp_path_factory.mktemp("plan") / "schedule.csv"
    solve_dispatch(inputs).schedule.to_csv(path)
    return path


def test_check_prints_violations_and_writes_network_csv(unconstrained_csv, congested_site, capsys):
    code = main(["check", str(CONGESTED_SITE), "--schedule", str(unconstrained_csv), "--max-rows", "5"])
    out = capsys.readouterr().out
    assert code == 1
    assert out.startswith("AC check of putian_congested: 96 intervals from 2025-07-15T00:00:00+08:00, 96 converged")
    assert "line cable_ss_fa1" in out
    table = out.splitlines()
    header = next(i for i, line in enumerate(table) if line.startswith("time "))
    assert table[header].split() == ["time", "element", "quantity", "value", "limit"]
    assert "more rows (see network.csv)" in out
    written = unconstrained_csv.parent / "network.csv"
    assert f"Wrote {written}" in out
    frame = pd.read_csv(written, index_col=0)
    expected = check_schedule(ParkNetwork.from_site(congested_site), unconstrained_csv)
    assert len(frame) == 96 and frame["violations"].sum() == expected.n_violations
    assert frame["cable_ss_fa1_loading_pct"].max() == pytest.approx(
        expected.line_loading_pct["cable_ss_fa1"].max(), rel=1e-5)


def test_check_exit_0_when_clean_and_custom_out(unconstrained_csv, tmp_path, capsys):
    out_csv = tmp_path / "sub" / "net.csv"
    code = main(["check", str(CONGESTED_SITE), "--schedule", str(unconstrained_csv), "--max-loading", "200",
                 "--out", str(out_csv)])
    out = capsys.readouterr().out
    assert code == 0 and "No limit violated" in out and out_csv.is_file()


def test_check_bad_input_exits_2(tmp_path, capsys):
    code = main(["check", str(CONGESTED_SITE), "--schedule", str(tmp_path / "missing.csv")])
    err = capsys.readouterr().err
    assert code == 2 and err.startswith("error: schedule file not found")
    bad = tmp_path / "bad.csv"
    bad.write_text("timestamp,pv_shoes_kw\n2025-07-15T00:00:00+08:00,1\n", encoding="utf-8")
    code = main(["check", str(CONGESTED_SITE), "--schedule", str(bad)])
    err = capsys.readouterr().err
    assert code == 2 and "schedule lacks" in err and "column 'pv_electronics_kw' is missing" in err
    with pytest.raises(SystemExit) as exc:
        main(["check", str(CONGESTED_SITE), "--schedule", str(bad), "--load-pf", "1.5"])
    assert exc.value.code == 2


@pytest.mark.slow
def test_optimize_runs_the_network_loop(tmp_path, capsys):
    out_dir = tmp_path / "plan"
    code = main(["optimize", str(CONGESTED_SITE), "--day", SUMMER_DAY.isoformat(), "--out", str(out_dir), "--no-plot"])
    out = capsys.readouterr().out
    assert code == 0
    assert "AC network check of the unconstrained plan:" in out and "line cable_ss_fa1" in out
    assert "Network status: clean" in out
    summary = json.loads((out_dir / "network.json").read_text(encoding="utf-8"))
    assert summary["status"] == "clean" and summary["iterations"] >= 1
    assert summary["cost_final_cny"] >= summary["cost_unconstrained_cny"]
    # The written schedule is the constrained plan: checking it again is clean.
    assert main(["check", str(CONGESTED_SITE), "--schedule", str(out_dir / "schedule.csv")]) == 0
    no_net = tmp_path / "plain"
    assert main(["optimize", str(CONGESTED_SITE), "--day", SUMMER_DAY.isoformat(), "--out", str(no_net),
                 "--no-plot", "--no-network"]) == 0
    assert not (no_net / "network.csv").exists()
    assert main(["check", str(CONGESTED_SITE), "--schedule", str(no_net / "schedule.csv")]) == 1
