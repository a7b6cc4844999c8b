"""The network-limit hook: rows in the one sign convention, validation, injections of a schedule."""

from __future__ import annotations

import numpy as np
import pytest

from optimizer import Battery, FixedLoad, InputError, NetworkLimit, PVPlant, solve_dispatch
from optimizer.model import DispatchModel
from tests.optimizer.helpers import day_index, inputs, window


def case(limits=()):
    idx = day_index()
    return inputs(idx, window(idx, 8, 20, 0.9, 0.3), export_limit_kw=100, export_price=0.1,
                  pv=[PVPlant(id="pv", p_avail_kw=window(idx, 10, 14, 300.0))],
                  batteries=[Battery(id="bat", e_capacity_kwh=200, p_charge_max_kw=100, p_discharge_max_kw=100)],
                  loads=[FixedLoad(id="factory", p_kw=np.full(96, 150.0))], network_limits=list(limits))


def test_injection_signs_follow_the_convention():
    result = solve_dispatch(case())
    inj = result.schedule.injections_kw()
    f = result.schedule.frame
    np.testing.assert_allclose(inj["pv"], f["pv_kw"])
    np.testing.assert_allclose(inj["bat"], f["bat_discharge_kw"] - f["bat_charge_kw"])
    np.testing.assert_allclose(inj["factory"], -f["factory_load_kw"])
    np.testing.assert_allclose(inj["grid"], f["grid_import_kw"] - f["grid_export_kw"])
    np.testing.assert_allclose(inj.sum(axis=1), 0, atol=1e-6)


def test_limit_on_pv_plus_battery_injection_binds():
    """A feeder limit: PV + battery injection at 12:00 (step 48) at most 120 kW."""
    free = solve_dispatch(case()).schedule.injections_kw()
    assert free["pv"].iloc[48] + free["bat"].iloc[48] > 120
    lim = NetworkLimit(name="feeder F1 reverse flow", step=48, coeffs_kw={"pv": 1.0, "bat": 1.0}, constant=0.0, upper=120.0)
    inj = solve_dispatch(case([lim])).schedule.injections_kw()
    assert inj["pv"].iloc[48] + inj["bat"].iloc[48] == pytest.approx(120, abs=1e-6)


def test_voltage_style_rows_with_constant_upper_and_lower_bound():
    """v = 1.02 + 1e-4·p_grid ≤ 1.035 caps the import at 150 kW (step 10); a lower bound v ≥ 1.0 with
    v = 0.98 + 1e-4·p_grid is written negated, −0.98 − 1e-4·p_grid ≤ −1.0, and forces import ≥ 200 kW (step 20)."""
    rows = [NetworkLimit(name="bus v max", step=10, coeffs_kw={"grid": 1e-4}, constant=1.02, upper=1.035),
            NetworkLimit(name="bus v min", step=20, coeffs_kw={"grid": -1e-4}, constant=-0.98, upper=-1.0)]
    f = solve_dispatch(case(rows)).schedule.frame
    assert f["grid_import_kw"].iloc[10] == pytest.approx(150, abs=1e-6)
    assert f["grid_import_kw"].iloc[20] >= 200 - 1e-6


def test_model_exposes_the_injection_expression():
    dm = DispatchModel(case())
    expr = dm.injection_kw("bat", 5)
    assert {v.name for v in _vars(expr)} == {"p_dis[bat,5]", "p_ch[bat,5]"}
    with pytest.raises(KeyError, match="unknown asset id 'nope'"):
        dm.injection_kw("nope", 5)


def _vars(expr):
    from pyomo.core.expr.visitor import identify_variables

    return list(identify_variables(expr))


def test_bad_limits_are_rejected_with_every_problem():
    bad = [NetworkLimit(name="a", step=96, coeffs_kw={"grid": 1.0}, upper=1.0),
           NetworkLimit(name="b", step=0, coeffs_kw={"nope": 1.0}, upper=1.0)]
    with pytest.raises(InputError) as err:
        solve_dispatch(case(bad))
    assert err.value.problems == [
        "network_limits[0] ('a').step: 96 is outside the horizon 0..95",
        "network_limits[1] ('b').coeffs_kw: unknown asset ids ['nope'] (use site asset ids, tenant ids or 'grid')",
    ]
