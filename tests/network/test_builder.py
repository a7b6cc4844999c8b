"""build_net: the pandapower net matches the site (counts, ratings, switches, std types, asset map)."""

from __future__ import annotations

import math

import pandapower as pp
import pytest

from microgrid.network import NetworkBuildError, asset_elements, build_net, transformer_std_types
from microgrid.network.std_types import dyn11_type_name, shift_degree
from microgrid.site import site_from_mapping
from microgrid.site.loader import parse_site_yaml
from tests.paths import REFERENCE_PARK


def test_reference_park_element_counts(reference_site):
    net = build_net(reference_site)
    s = reference_site
    assert len(net.bus) == len(s.network.buses) == 14
    assert len(net.line) == len(s.network.lines) == 8
    assert len(net.trafo) == len(s.network.transformers) == 6
    assert len(net.switch) == 1
    assert len(net.ext_grid) == 1
    assert len(net.sgen) == len(s.assets.pv) == 6
    assert len(net.storage) == len(s.assets.batteries) == 2
    n_loads = len(s.tenants) + len(s.assets.heat_pumps) + len(s.assets.flexible_loads) + len(s.assets.ev_depots)
    assert len(net.load) == n_loads == 13
    assert list(net.bus["name"]) == [b.id for b in s.network.buses]


def test_ratings_and_parameters_follow_the_site(reference_site):
    net = build_net(reference_site)
    for tr in reference_site.network.transformers:
        row = net.trafo[net.trafo["name"] == tr.id].iloc[0]
        assert row.sn_mva == pytest.approx(tr.sn_kva / 1000)
        assert (row.vk_percent, row.vkr_percent, row.pfe_kw, row.i0_percent) == (
            tr.vk_percent, tr.vkr_percent, tr.pfe_kw, tr.i0_percent)
        assert row.vector_group == "Dyn11" and row.shift_degree == 330
        assert net.bus.at[row.hv_bus, "name"] == tr.hv_bus and net.bus.at[row.lv_bus, "name"] == tr.lv_bus
    catalogue = pp.available_std_types(net, "line")
    for line in reference_site.network.lines:
        row = net.line[net.line["name"] == line.id].iloc[0]
        assert row.std_type == line.std_type
        assert row.length_km == line.length_km
        assert row.max_i_ka == catalogue.at[line.std_type, "max_i_ka"]
        assert row.max_loading_percent == 100.0
    ext = net.ext_grid.iloc[0]
    assert net.bus.at[ext.bus, "name"] == "ss_10kv"
    assert ext.s_sc_max_mva == 200 and ext.rx_max == pytest.approx(0.1) and ext.vm_pu == 1.0


def test_open_tie_stays_open(reference_site):
    net = build_net(reference_site)
    sw = net.switch.iloc[0]
    assert sw["name"] == "tie_ab" and sw.et == "l" and not sw.closed
    assert net.line.at[sw.element, "name"] == "cable_tie_ab"
    assert net.bus.at[sw.bus, "name"] == "fa_3"
    pp.runpp(net, numba=False)
    tie = net.res_line.loc[sw.element]
    assert abs(tie.p_from_mw) < 1e-6 and abs(tie.p_to_mw) < 1e-6  # only charging current flows


def test_asset_map_kinds_buses_and_power_factors(reference_site):
    net = build_net(reference_site)
    assets = asset_elements(net)
    assert set(assets.index) == {t.id for t in reference_site.tenants} | set(reference_site.all_asset_ids())
    assert assets.loc["pv_food", "table"] == "sgen" and assets.loc["pv_food", "kind"] == "pv"
    assert assets.loc["ess_shared", "table"] == "storage"
    assert net.bus.at[assets.loc["ess_shared", "bus"], "name"] == "ess_10kv"
    assert assets.loc["hp_food", "kind"] == "heat_pump"
    assert assets.loc["ev_logistics", "kind"] == "ev_depot"
    assert assets.loc["shoes", "kind"] == "tenant_load"
    assert assets.loc["cold_store_food", "kind"] == "flexible_load"
    assert assets.loc["shoes", "cos_phi"] == 0.95 and assets.loc["pv_shoes", "cos_phi"] == 1.0
    # Tenant base loads start at their typical load (so a first runpp is meaningful), assets at zero.
    shoes = net.load[net.load["asset_id"] == "shoes"].iloc[0]
    assert shoes.p_mw == pytest.approx(1.2)
    assert shoes.q_mvar == pytest.approx(1.2 * math.tan(math.acos(0.95)))
    assert (net.sgen.p_mw == 0).all() and (net.storage.p_mw == 0).all()
    assert net.storage.loc[net.storage["asset_id"] == "ess_shared", "max_e_mwh"].iloc[0] == 5.0


def test_registered_dyn11_types_cover_the_missing_ratings():
    types = transformer_std_types()
    for kva in (800, 1000, 1250, 1600, 2000, 2500):
        t = types[dyn11_type_name(kva)]
        assert t["sn_mva"] == kva / 1000 and t["vector_group"] == "Dyn11" and t["shift_degree"] == 330
        assert (t["vn_hv_kv"], t["vn_lv_kv"]) == (10.0, 0.4)
    net = pp.create_empty_network()
    assert dyn11_type_name(2500) not in pp.available_std_types(net, "trafo").index  # the catalogue lacks them


def _reference_mapping() -> dict:
    return parse_site_yaml((REFERENCE_PARK / "site.yaml").read_text(encoding="utf-8"))


def test_transformer_std_type_is_used_when_named():
    data = _reference_mapping()
    data["network"]["transformers"][0] = {**data["network"]["transformers"][0], "std_type": dyn11_type_name(2000)}
    net = build_net(site_from_mapping(data, base_dir=REFERENCE_PARK))
    row = net.trafo[net.trafo["name"] == "tx_shoes"].iloc[0]
    assert row.std_type == dyn11_type_name(2000)
    assert row.vkr_percent == pytest.approx(0.73) and row.shift_degree == 330


def test_unknown_types_are_reported_by_field():
    data = _reference_mapping()
    data["network"]["lines"][1] = {**data["network"]["lines"][1], "std_type": "NA2XS2Y 1x999 RM/25 6/10 kV"}
    data["network"]["transformers"][2] = {**data["network"]["transformers"][2], "std_type": "3 MVA unknown"}
    site = site_from_mapping(data, base_dir=REFERENCE_PARK)
    with pytest.raises(NetworkBuildError) as err:
        build_net(site)
    problems = err.value.problems
    assert len(problems) == 2
    assert problems[0].startswith("network.lines[1].std_type: 'NA2XS2Y 1x999 RM/25 6/10 kV' is not a pandapower line type")
    assert problems[1].startswith("network.transformers[2].std_type: '3 MVA unknown' is not a known transformer type")
    assert err.value.exit_code == 2


@pytest.mark.parametrize(("group", "degrees"), [("Dyn11", 330), ("Dyn5", 150), ("Yy0", 0), ("YNd1", 30)])
def test_shift_degree_from_clock_number(group, degrees):
    assert shift_degree(group) == degrees


def test_shift_degree_rejects_groups_without_clock_number():
    with pytest.raises(ValueError, match="no clock number"):
        shift_degree("Dyn")
