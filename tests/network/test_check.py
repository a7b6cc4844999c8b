"""AC check: equal to pandapower ``runpp`` step by step; violations; failed intervals are reported."""

from __future__ import annotations

import numpy as np
import pandapower as pp
import pandas as pd
import pytest

from microgrid.network import CheckLimits, ParkNetwork, ScheduleError, check_injections, check_schedule
from microgrid.network.builder import apply_step, element_powers
from microgrid.network.check import VIOLATION_COLUMNS
from microgrid.network.schedule import read_schedule_csv, schedule_injections
from tests.network.conftest import synthetic_schedule


@pytest.fixture(scope="module")
def reference_check(reference_site, reference_network):
    return check_schedule(reference_network, synthetic_schedule(reference_site))


@pytest.mark.slow  # 96 x runpp: ~2 s alone, more on a loaded machine
def test_every_step_equals_runpp(reference_site, reference_network, reference_check):
    check = reference_check
    assert check.converged.all() and (check.method == "batch-nr").all()
    net = reference_network.net
    powers = element_powers(net, check.injections_kw)
    for step in range(len(check.index)):
        apply_step(net, powers, step)
        pp.runpp(net, numba=False)
        assert np.abs(net.res_bus.vm_pu.to_numpy() - check.vm_pu.iloc[step].to_numpy()).max() <= 1e-6
        assert np.abs(net.res_bus.va_degree.to_numpy() - check.va_degree.iloc[step].to_numpy()).max() <= 1e-4
        assert net.res_line.loading_percent.to_numpy() == pytest.approx(check.line_loading_pct.iloc[step].to_numpy(),
                                                                        abs=1e-4)
        assert net.res_trafo.loading_percent.to_numpy() == pytest.approx(
            check.trafo_loading_pct.iloc[step].to_numpy(), abs=1e-4)
        losses_kw = (net.res_line.pl_mw.sum() + net.res_trafo.pl_mw.sum()) * 1000
        assert check.losses_kw.iloc[step] == pytest.approx(losses_kw, abs=1e-4)
        assert check.grid_p_kw.iloc[step] == pytest.approx(net.res_ext_grid.p_mw.sum() * 1000, abs=1e-4)
        assert check.grid_q_kvar.iloc[step] == pytest.approx(net.res_ext_grid.q_mvar.sum() * 1000, abs=1e-4)


def test_results_are_labelled_by_site_ids(reference_site, reference_check):
    assert list(reference_check.vm_pu.columns) == [b.id for b in reference_site.network.buses]
    assert list(reference_check.line_loading_pct.columns) == [ln.id for ln in reference_site.network.lines]
    assert list(reference_check.trafo_loading_pct.columns) == [t.id for t in reference_site.network.transformers]
    assert len(reference_check.index) == 96 and reference_check.index.tz is not None


def test_voltage_bands_by_level(reference_check):
    c = reference_check
    assert c.vm_min_pu["ss_10kv"] == 0.93 and c.vm_max_pu["ss_10kv"] == 1.07
    assert c.vm_min_pu["shoes_lv"] == 0.90 and c.vm_max_pu["shoes_lv"] == 1.07
    assert (c.line_limit_pct == 100).all() and (c.trafo_limit_pct == 100).all()


def test_violations_list_every_element_and_interval_over_its_limit(reference_network, reference_check):
    tight = check_injections(reference_network, reference_check.injections_kw, CheckLimits(max_loading_pct=50.0,
                                                                                          lv_vm_min_pu=0.97))
    v = tight.violations
    assert list(v.columns) == VIOLATION_COLUMNS
    loading = pd.concat([tight.line_loading_pct, tight.trafo_loading_pct], axis=1)
    expected = int((loading.to_numpy() > 50.0).sum()) + int((tight.vm_pu.to_numpy() < np.where(
        reference_network.bus_vn_kv <= 1, 0.97, 0.93)).sum())
    assert len(v) == tight.n_violations == expected > 0
    row = v[v["element_type"] == "trafo"].iloc[0]
    assert row["value"] == pytest.approx(tight.trafo_loading_pct.at[row["time"], row["element"]])
    assert row["limit"] == 50.0 and row["quantity"] == "loading_pct"
    assert set(v.loc[v["element_type"] == "bus", "quantity"]) == {"vm_pu below"}
    assert not tight.ok and ("trafo", row["element"]) in tight.violated_elements()


def test_to_frame_has_one_row_per_interval(reference_check):
    frame = reference_check.to_frame()
    assert len(frame) == 96
    assert {"converged", "method", "losses_kw", "grid_p_kw", "violations", "shoes_lv_vm_pu",
            "cable_ss_fa1_loading_pct", "tx_food_loading_pct"} <= set(frame.columns)
    assert frame["shoes_lv_vm_pu"].equals(reference_check.vm_pu["shoes_lv"])


def test_deliberately_broken_steps_are_reported_not_dropped(reference_network, reference_check):
    inj = reference_check.injections_kw.copy()
    inj.iloc[40, inj.columns.get_loc("rnd")] = -80_000.0   # 80 MW on an 800 kVA transformer: no solution
    inj.iloc[41, inj.columns.get_loc("pv_food")] = np.nan
    check = check_injections(reference_network, inj)
    assert [f.step for f in check.failures] == [40, 41]
    assert "did not converge" in check.failures[0].reason and "runpp" in check.failures[0].reason
    assert check.failures[1].reason == "non-finite power for pv_food"
    assert not check.converged.iloc[40] and not check.converged.iloc[41]
    assert check.method.iloc[40] == "failed"
    assert check.converged.drop(check.index[[40, 41]]).all()
    assert np.isnan(check.vm_pu.iloc[40]).all() and np.isnan(check.losses_kw.iloc[41])
    failed = check.violations[check.violations["element_type"] == "power_flow"]
    assert list(failed["step"]) == [40, 41] and set(failed["quantity"]) == {"not converged"}
    ref = reference_check.violations
    assert not check.ok and check.n_violations == int((~ref["step"].isin([40, 41])).sum())
    # The other intervals are unaffected.
    assert check.vm_pu.iloc[39].to_numpy() == pytest.approx(reference_check.vm_pu.iloc[39].to_numpy(), abs=1e-12)
    assert "not converged" in check.violation_table()


def test_steps_the_batch_solver_misses_are_retried_with_runpp(reference_site, reference_check):
    network = ParkNetwork.from_site(reference_site)
    network.solver.max_iter = 1  # the batch Newton stops after one iteration: every step needs a retry
    check = check_injections(network, reference_check.injections_kw.iloc[:4])
    assert check.converged.all() and not check.failures
    assert set(check.method) == {"runpp nr (init dc)"}
    assert check.vm_pu.to_numpy() == pytest.approx(reference_check.vm_pu.iloc[:4].to_numpy(), abs=1e-9)


def test_tenant_loads_missing_from_the_schedule_come_from_profiles(reference_site, reference_network, reference_check):
    frame = synthetic_schedule(reference_site)
    without = frame.drop(columns=[f"{t.id}_load_kw" for t in reference_site.tenants])
    check = check_schedule(reference_network, without)
    assert check.injections_kw.equals(reference_check.injections_kw)


def test_missing_asset_columns_are_named(reference_site, reference_network):
    frame = synthetic_schedule(reference_site).drop(columns=["pv_food_kw", "hp_shoes_p_el_kw"])
    with pytest.raises(ScheduleError) as err:
        check_schedule(reference_network, frame)
    assert err.value.problems == ["column 'hp_shoes_p_el_kw' is missing (kW, see docs/network.md)",
                                  "column 'pv_food_kw' is missing (kW, see docs/network.md)"]


def test_schedule_csv_round_trip(tmp_path, reference_site, reference_network, reference_check):
    frame = synthetic_schedule(reference_site)
    path = tmp_path / "schedule.csv"
    out = frame.copy()
    out.index = [ts.isoformat() for ts in out.index]
    out.index.name = "timestamp"
    out.to_csv(path, float_format="%.6f")
    read = read_schedule_csv(path, reference_site.timezone)
    assert read.index.equals(frame.index)
    check = check_schedule(reference_network, path)
    assert check.vm_pu.to_numpy() == pytest.approx(reference_check.vm_pu.to_numpy(), abs=1e-7)


def test_naive_timestamps_are_rejected(reference_network, reference_site):
    frame = synthetic_schedule(reference_site)
    frame.index = frame.index.tz_localize(None)
    with pytest.raises(ScheduleError, match="timezone-aware"):
        schedule_injections(frame, reference_network.assets, reference_site)


def test_a_site_is_accepted_in_place_of_a_network(small_site):
    index = pd.date_range("2025-07-15", periods=3, freq="15min", tz="Asia/Shanghai")
    frame = pd.DataFrame({"pv_roof_kw": [0, 100, 200], "bat_factory_kw": [0, 0, -100]}, index=index, dtype=float)
    check = check_schedule(small_site, frame)  # tenant base load from the small site's profile
    assert check.ok and check.converged.all()
    assert (check.injections_kw["factory"] < 0).all()


def test_profile_loads_follow_a_horizon_across_midnight(reference_site, reference_network):
    from microgrid.profiles import load_day_profile

    index = pd.date_range("2025-07-15 12:00", periods=96, freq="15min", tz="Asia/Shanghai")
    frame = pd.DataFrame(0.0, index=index, columns=[f"{a}_kw" for a in ("pv_shoes", "pv_electronics", "pv_food",
                                                                          "pv_coatings", "pv_rnd", "pv_logistics",
                                                                          "bat_electronics", "ess_shared")])
    for col in ("hp_shoes_p_el_kw", "hp_food_p_el_kw", "cold_store_food_load_kw", "air_coatings_load_kw",
                "hvac_rnd_load_kw", "aeration_food_load_kw", "ev_logistics_load_kw"):
        frame[col] = 0.0
    inj = schedule_injections(frame, reference_network.assets, reference_site)
    day1 = load_day_profile(reference_site, index[0].date())["load_food_kw"]
    day2 = load_day_profile(reference_site, index[-1].date())["load_food_kw"]
    expected = pd.concat([day1.iloc[48:], day2.iloc[:48]]).to_numpy()
    assert (-inj["food"]).to_numpy() == pytest.approx(expected)
    frame.index = frame.index + pd.Timedelta(minutes=7)
    with pytest.raises(ScheduleError, match="interval grid"):
        schedule_injections(frame, reference_network.assets, reference_site)


def test_solver_set_up_survives_an_impossible_initial_state(small_site):
    network = ParkNetwork.from_site(small_site)
    network.net.load["p_mw"] = 500.0  # 500 MW of typical load: the first runpp cannot converge
    solver = network.solver  # falls back to the no-load case to build the admittance matrices
    assert np.abs(solver.v_init).min() > 0.99
    assert (network.net.load["p_mw"] == 500.0).all()  # setpoints restored
    index = pd.date_range("2025-07-15", periods=2, freq="15min", tz="Asia/Shanghai")
    inj = pd.DataFrame({"factory": [-300.0, -600.0], "pv_roof": [0.0, 100.0], "bat_factory": [0.0, 0.0]}, index=index)
    check = check_injections(network, inj)
    assert check.converged.all() and check.grid_p_kw.iloc[0] > 300.0
