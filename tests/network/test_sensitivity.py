"""Jacobian sensitivities equal finite differences of the AC power flow; linearised rows are exact to first order."""

from __future__ import annotations

import numpy as np
import pytest

from microgrid.network import CheckLimits, check_injections, check_schedule
from microgrid.network.sensitivity import Margins, check_sensitivities, linearised_limits
from tests.network.conftest import synthetic_schedule


@pytest.fixture(scope="module")
def operating_point(reference_site, reference_network):
    check = check_schedule(reference_network, synthetic_schedule(reference_site, seed=11))
    return check, check_sensitivities(reference_network, check)


@pytest.mark.parametrize("asset", ["ev_logistics", "pv_food", "ess_shared", "hp_shoes", "electronics"])
def test_sensitivities_match_central_differences(reference_network, operating_point, asset):
    check, sens = operating_point
    a = sens.asset_ids.index(asset)
    h = 1.0  # kW
    up, down = check.injections_kw.copy(), check.injections_kw.copy()
    up[asset] += h
    down[asset] -= h
    c_up, c_down = check_injections(reference_network, up), check_injections(reference_network, down)
    fd_trafo = (c_up.trafo_loading_pct.to_numpy() - c_down.trafo_loading_pct.to_numpy()) / (2 * h)
    fd_line = (c_up.line_loading_pct.to_numpy() - c_down.line_loading_pct.to_numpy()) / (2 * h)
    fd_vm = (c_up.vm_pu.to_numpy() - c_down.vm_pu.to_numpy()) / (2 * h)
    loaded = check.line_loading_pct.to_numpy() > 1.0  # skip the open tie (no current: |I| has a kink there)
    assert np.abs(fd_trafo - sens.trafo_loading_pct[:, :, a]).max() < 1e-4
    assert np.abs(fd_line - sens.line_loading_pct[:, :, a])[loaded].max() < 1e-4
    assert np.abs(fd_vm - sens.vm_pu[:, :, a]).max() < 1e-9
    moved = max(np.abs(sens.trafo_loading_pct[:, :, a]).max(), np.abs(sens.line_loading_pct[:, :, a]).max())
    assert moved > 1e-3  # the asset does move something


def test_signs_of_sensitivities(reference_site, operating_point):
    check, sens = operating_point
    tx = [t.id for t in reference_site.network.transformers].index("tx_logistics")
    ev = sens.asset_ids.index("ev_logistics")
    night = np.flatnonzero(check.injections_kw["ev_logistics"].to_numpy() < -100)
    # More charging = more negative injection = more loading, lower voltage.
    assert (sens.trafo_loading_pct[night, tx, ev] < 0).all()
    lv = [b.id for b in reference_site.network.buses].index("logistics_lv")
    assert (sens.vm_pu[:, lv, ev] > 0).all()


def test_voltage_rows_reproduce_the_operating_point(reference_network, operating_point):
    check = check_injections(reference_network, operating_point[0].injections_kw, CheckLimits(lv_vm_min_pu=0.97))
    asset_ids = [a for a in check.injections_kw.columns if a != "shoes"]  # 'shoes' held fixed: goes to the constant
    rows = linearised_limits(reference_network, check, [("bus", "food_lv")], asset_ids,
                             margins=Margins(loading_pct=0.0, vm_pu=0.0))
    assert rows and all(r.name == "bus food_lv vm_pu min" for r in rows)  # only the side near its band
    assert {r.step for r in rows} == set(range(96))
    p0 = check.injections_kw
    for r in rows:
        assert "shoes" not in r.coeffs_kw
        value = r.constant + sum(c * p0.iloc[r.step][a] for a, c in r.coeffs_kw.items())
        assert -value == pytest.approx(check.vm_pu["food_lv"].iloc[r.step], abs=1e-12)
        assert r.upper == -0.97


def test_loading_rows_never_exceed_the_ac_loading(reference_network, operating_point):
    """Tangents of the convex loading: at the operating point the row is at most the AC value."""
    check, _ = operating_point
    rows = linearised_limits(reference_network, check, [("trafo", "tx_food"), ("line", "cable_ss_fa1")],
                             list(check.injections_kw.columns), margins=Margins(loading_pct=0.0))
    assert len(rows) == 2 * 96
    p0 = check.injections_kw
    for r in rows:
        value = r.constant + sum(c * p0.iloc[r.step][a] for a, c in r.coeffs_kw.items())
        kind, element = r.name.split()[:2]
        frame = check.trafo_loading_pct if kind == "trafo" else check.line_loading_pct
        assert value <= frame[element].iloc[r.step] + 1e-6
        assert r.upper == 100.0


def test_loading_rows_are_exact_at_the_limit(reference_network, operating_point):
    """Moving along a row's own gradient to where it predicts 100 % lands on 100 % in AC: within 0.5 % where
    the transformer carries > 10 % at the operating point, within 5 % where its flow is near reversal (the
    plain tangent there would predict an overload of 180 %)."""
    check, _ = operating_point
    assets = list(check.injections_kw.columns)
    rows = linearised_limits(reference_network, check, [("trafo", "tx_logistics")], assets,
                             margins=Margins(loading_pct=0.0))
    inj = check.injections_kw.copy()
    for r in rows:
        g = np.array([r.coeffs_kw.get(a, 0.0) for a in assets])
        current = r.constant + g @ inj.iloc[r.step].to_numpy()
        inj.iloc[r.step] = inj.iloc[r.step].to_numpy() + (r.upper - current) / (g @ g) * g
    moved = check_injections(reference_network, inj).trafo_loading_pct["tx_logistics"]
    loaded = check.trafo_loading_pct["tx_logistics"].to_numpy() > 10
    assert moved.to_numpy()[loaded] == pytest.approx(100.0, abs=0.5)
    assert moved.to_numpy() == pytest.approx(100.0, abs=5.0)
