"""Target planner on a site: representative days, candidates, monotonic curve, the sized site."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from microgrid.cli import main
from microgrid.site import load_site
from microgrid.study.repdays import k_medoids
from microgrid.study.target import CURVE_TARGETS, Costs, build_target_plan, crf, curve, sized_site
from tests.paths import SMALL_SITE

pytestmark = pytest.mark.slow

STUDY_BLOCK = """
study:
  shutdowns:
    - {tenant: factory, days_before: 5, days_after: 10, load_pct: 10}
  roofs:
    - {tenant: factory, bus: factory_lv, max_added_kwp: 300, tilt_deg: 10}
  storage:
    - {id: bat_added, tenant: factory, bus: factory_lv, max_power_kw: 300, max_energy_kwh: 1200}
"""


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    folder = tmp_path_factory.mktemp("site") / "small"
    shutil.copytree(SMALL_SITE, folder)
    path = folder / "site.yaml"
    path.write_text(path.read_text(encoding="utf-8") + STUDY_BLOCK, encoding="utf-8")
    return load_site(folder)


@pytest.fixture(scope="module")
def plan(site):
    return build_target_plan(site, 2026, per_month=1, certificates=False)


def test_capital_recovery_factor():
    assert crf(0.06, 25) == pytest.approx(0.078227, rel=1e-4)  # textbook value
    assert crf(0.0, 20) == pytest.approx(0.05)


def test_representative_days_and_weights(plan):
    assert plan.n_days == 24  # one medoid and the peak-net-load day of every month
    assert sum(plan.rep.weights) == 365
    assert sorted(d.month for d in plan.rep.days) == sorted(list(range(1, 13)) * 2)
    assert sorted(plan.rep.weights).count(1.0) >= 12
    assert set(plan.rep.assignment) == set(plan.inputs.days)


def test_k_medoids_recovers_two_groups():
    rng = np.random.default_rng(1)
    x = np.vstack([rng.normal(0, 0.05, (10, 3)), rng.normal(1, 0.05, (6, 3))])
    medoids, labels = k_medoids(x, 2)
    assert sorted(np.bincount(labels).tolist()) == [6, 10]
    assert len(set(labels[:10])) == 1 and len(set(labels[10:])) == 1


def test_curve_is_monotonic_and_meets_targets(plan):
    results = curve(plan, (20, 35, 45, 60, 80))
    costs = [r.annual_cost_cny for r in results]
    assert all(r.ok for r in results)
    assert all(b >= a - 1e-6 for a, b in zip(costs, costs[1:], strict=False))
    for r in results:
        assert r.green_ratio >= r.target - 1e-6
        assert r.pv_kwp["pv_add_factory_0"] <= 300 + 1e-6
    assert CURVE_TARGETS[0] == 20 and CURVE_TARGETS[-1] == 80


def test_sized_site_carries_the_design(plan, site):
    res = plan.model.solve(0.45)
    sized = sized_site(plan, res)
    added = {p.id: p.kwp for p in sized.assets.pv}
    if res.pv_kwp["pv_add_factory_0"] > 1e-3:
        assert added["pv_add_factory_0"] == pytest.approx(res.pv_kwp["pv_add_factory_0"])
    assert sized.green_power.green_trading_mwh_per_month == pytest.approx(res.purchases_mwh["trading"] / 12)
    assert res.cost_breakdown_cny["green_purchases"] == pytest.approx(
        res.purchases_mwh["trading"] * Costs.load().trading_cny_per_mwh, rel=1e-6)


def test_plan_target_cli_writes_sizing_and_curve(site, tmp_path, capsys):
    out = tmp_path / "target"
    code = main(["plan-target", site.base_dir, "--target", "45", "--year", "2026", "--days-per-month", "1",
                 "--curve", "--out", str(out)])
    assert code == 0
    text = capsys.readouterr().out
    assert "target 45 % -> annualised cost" in text and "costs ILLUSTRATIVE" in text
    report = json.loads((out / "sizing.json").read_text(encoding="utf-8"))
    assert report["days_in_model"] == 24 and report["result"]["green_ratio_pct"] >= 45 - 1e-6
    curve = (out / "curve.csv").read_text(encoding="utf-8").splitlines()
    assert len(curve) == 1 + 13


def test_plan_target_cli_bad_input(site, capsys, tmp_path):
    with pytest.raises(SystemExit) as exc:
        main(["plan-target", site.base_dir, "--target", "45", "--year", "2026", "--days-per-month", "0"])
    assert exc.value.code == 2 and "number of days per month" in capsys.readouterr().err
    bad = tmp_path / "costs.yaml"
    bad.write_text("pv: {}\n", encoding="utf-8")
    assert main(["plan-target", site.base_dir, "--target", "45", "--year", "2026", "--costs", str(bad)]) == 2
    assert "not a valid cost file" in capsys.readouterr().err
