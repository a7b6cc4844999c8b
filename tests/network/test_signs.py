"""Sign conventions on the small site (grid → 1 MVA transformer → PV, battery, load) with known flows.

Park convention: PV > 0, battery discharge > 0 / charge < 0, loads < 0 as injections (consumption > 0 in
schedule columns). pandapower: load and storage ``p_mw`` consume (storage charging > 0), sgen generates.
"""

from __future__ import annotations

import math

import numpy as np
import pandapower as pp
import pandas as pd
import pytest

from microgrid.network import check_injections, element_powers
from microgrid.network.builder import apply_step
from microgrid.network.schedule import schedule_injections

TAN_PHI = math.tan(math.acos(0.95))


def _injections(small_network, rows: list[dict]) -> pd.DataFrame:
    index = pd.date_range("2025-07-15", periods=len(rows), freq="15min", tz="Asia/Shanghai")
    return pd.DataFrame(rows, index=index)[list(small_network.assets.index)]


def test_element_powers_convert_signs_once(small_network):
    inj = _injections(small_network, [{"factory": -450.0, "pv_roof": 300.0, "bat_factory": 100.0}])
    pw = element_powers(small_network.net, inj)
    assert pw.p_mw["load"][0, 0] == pytest.approx(0.45)  # consumption positive in pandapower
    assert pw.q_mvar["load"][0, 0] == pytest.approx(0.45 * TAN_PHI)  # lagging: reactive consumption
    assert pw.p_mw["sgen"][0, 0] == pytest.approx(0.3)
    assert pw.q_mvar["sgen"][0, 0] == 0.0
    assert pw.p_mw["storage"][0, 0] == pytest.approx(-0.1)  # discharging = negative storage power
    charge = element_powers(small_network.net, _injections(small_network, [
        {"factory": -450.0, "pv_roof": 0.0, "bat_factory": -150.0}]))
    assert charge.p_mw["storage"][0, 0] == pytest.approx(0.15)


@pytest.mark.parametrize(("pv_kw", "bat_kw", "load_kw"), [
    (300.0, 100.0, 450.0),    # import 50 kW + losses
    (400.0, -100.0, 100.0),   # export 200 kW - losses
    (0.0, 0.0, 0.0),          # no load: only the transformer's no-load losses
])
def test_known_flows_at_the_pcc(small_network, pv_kw, bat_kw, load_kw):
    inj = _injections(small_network, [{"factory": -load_kw, "pv_roof": pv_kw, "bat_factory": bat_kw}])
    check = check_injections(small_network, inj)
    grid, losses = check.grid_p_kw.iloc[0], check.losses_kw.iloc[0]
    net_demand = load_kw - pv_kw - bat_kw
    assert grid == pytest.approx(net_demand + losses, abs=1e-6)  # grid import > 0, export < 0
    assert 1.19 < losses < 1.2 + 0.02 * max(abs(net_demand), 1)  # pfe 1.2 kW (at V²) + copper losses
    assert check.grid_q_kvar.iloc[0] > load_kw * TAN_PHI - 1e-6  # load vars plus transformer vars
    # The same step through pandapower gives the same PCC power with pandapower's own signs.
    net = small_network.net
    apply_step(net, element_powers(net, inj), 0)
    pp.runpp(net, numba=False)
    assert net.res_ext_grid.p_mw.iloc[0] * 1000 == pytest.approx(grid, abs=1e-6)
    lv_side = net.res_trafo.p_lv_mw.iloc[0] * 1000  # pandapower: power flowing into the trafo at LV
    assert lv_side == pytest.approx(-(net_demand), abs=1e-6)
    if net_demand < 0:
        assert grid < 0 and net.res_trafo.p_hv_mw.iloc[0] < 0  # export flows from LV to HV


def test_lv_voltage_rises_with_export_and_sags_with_import(small_network):
    inj = _injections(small_network, [
        {"factory": -800.0, "pv_roof": 0.0, "bat_factory": 0.0},
        {"factory": 0.0, "pv_roof": 420.0, "bat_factory": 200.0},
    ])
    vm = check_injections(small_network, inj).vm_pu["factory_lv"].to_numpy()
    assert vm[0] < 0.98 < 1.0 < vm[1]


def test_schedule_columns_map_to_injections(small_network):
    index = pd.date_range("2025-07-15", periods=2, freq="15min", tz="Asia/Shanghai")
    frame = pd.DataFrame({"factory_load_kw": [450.0, 300.0], "pv_roof_kw": [100.0, 0.0],
                          "bat_factory_kw": [-50.0, 80.0], "grid_kw": [400.0, 220.0]}, index=index)
    inj = schedule_injections(frame, small_network.assets)
    assert inj.to_dict("list") == {"factory": [-450.0, -300.0], "pv_roof": [100.0, 0.0], "bat_factory": [-50.0, 80.0]}
    assert np.allclose(inj.sum(axis=1) + frame["grid_kw"], 0.0)  # balances with the PCC import
