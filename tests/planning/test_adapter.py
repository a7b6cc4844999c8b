"""Site → optimizer inputs: TOU prices, EV overnight window, transformers, tanks, emission factors, CSV."""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
import pytest

from microgrid.errors import UserError
from microgrid.planning import PlanOptions, build_dispatch_inputs, horizon_for_day, rolling_horizon
from microgrid.planning.ev import depot_sessions
from microgrid.planning.forecasts import ForecastFileError
from microgrid.planning.tariff import tou_prices
from optimizer.model.data import Structure, compute_data

SUMMER, WINTER = date(2025, 7, 15), date(2025, 1, 15)


def at(index: pd.DatetimeIndex, hhmm: str) -> int:
    return int(np.flatnonzero(index.strftime("%H:%M") == hhmm)[0])


def test_fujian_tou_prices_with_critical_peak_in_summer_only(reference_site):
    summer = horizon_for_day(reference_site, SUMMER)
    prices, periods = tou_prices(reference_site, summer)
    expect = {"00:00": ("valley", 0.3554), "08:00": ("flat", 0.62), "10:00": ("peak", 0.8636),
              "11:00": ("critical", 0.956), "17:30": ("critical", 0.956), "18:00": ("peak", 0.8636),
              "20:00": ("flat", 0.62), "21:15": ("peak", 0.8636), "23:45": ("flat", 0.62)}
    for hhmm, (period, price) in expect.items():
        assert (periods[at(summer, hhmm)], prices[at(summer, hhmm)]) == (period, pytest.approx(price))
    winter = horizon_for_day(reference_site, WINTER)
    prices, periods = tou_prices(reference_site, winter)
    assert (periods[at(winter, "11:00")], prices[at(winter, "11:00")]) == ("peak", pytest.approx(0.8636))
    assert "critical" not in set(periods)


@pytest.mark.parametrize(("step", "n"), [(5, 288), (15, 96), (30, 48), (60, 24)])
def test_any_supported_step(reference_site, step, n):
    inp = build_dispatch_inputs(reference_site, horizon_for_day(reference_site, SUMMER, step))
    assert inp.n_steps == n and inp.step_h == pytest.approx(step / 60)
    daily_pv = sum(p.p_avail_kw.sum() for p in inp.pv) * inp.step_h
    assert daily_pv == pytest.approx(20205, rel=0.02)  # same energy whatever the step


def test_ev_overnight_window_split_at_midnight(reference_site):
    inp = build_dispatch_inputs(reference_site, horizon_for_day(reference_site, SUMMER))
    (depot,) = inp.ev_depots
    morning, evening = depot.sessions
    assert (morning.arrival.isoformat(), morning.departure.isoformat()) == ("2025-07-14T18:00:00+08:00", "2025-07-15T07:00:00+08:00")
    assert (evening.arrival.isoformat(), evening.departure.isoformat()) == ("2025-07-15T18:00:00+08:00", "2025-07-16T07:00:00+08:00")
    data = compute_data(inp, Structure.of(inp)).values
    # 20 x 60 kW x 0.95 x 7 h = 7980 kWh >= 2400: the night valley can take it all, nothing is owed by midnight
    assert morning.delivered_kwh == 0
    assert data["ev_owed"]["ev_logistics:0"] == pytest.approx(2400)
    assert data["ev_owed"]["ev_logistics:1"] == pytest.approx(0)
    assert data["ev_max"]["ev_logistics:1"] == pytest.approx(2400)


def test_ev_energy_owed_by_midnight_when_the_morning_is_too_short(reference_site):
    depot = reference_site.assets.ev_depots[0].model_copy(update={"n_chargers": 4})  # 240 kW
    idx = horizon_for_day(reference_site, SUMMER)
    morning, evening = depot_sessions(depot, idx, 0.25)
    owed_by_midnight = 2400 - 0.95 * 240 * 7  # 804 kWh cannot wait for the morning
    assert morning.delivered_kwh == pytest.approx(owed_by_midnight)  # the previous day's plan delivered it
    site = reference_site.model_copy(update={"assets": reference_site.assets.model_copy(update={"ev_depots": [depot]})})
    inp = build_dispatch_inputs(site, idx)
    data = compute_data(inp, Structure.of(inp)).values
    assert data["ev_owed"]["ev_logistics:0"] == pytest.approx(2400 - owed_by_midnight)
    assert data["ev_owed"]["ev_logistics:1"] == pytest.approx(owed_by_midnight)


def test_rolling_horizon_crossing_midnight_has_the_whole_night_session(reference_site):
    idx = rolling_horizon(reference_site, pd.Timestamp("2025-07-15 14:00", tz="Asia/Shanghai"))
    inp = build_dispatch_inputs(reference_site, idx)
    assert [s.arrival.isoformat() for s in inp.ev_depots[0].sessions] == ["2025-07-15T18:00:00+08:00"]
    data = compute_data(inp, Structure.of(inp)).values
    assert data["ev_owed"]["ev_logistics:0"] == pytest.approx(2400)  # departs 07:00, inside the horizon
    # profiles of both days are stitched: 14:00-24:00 of the 15th and 00:00-14:00 of the 16th
    assert inp.loads[0].p_kw.shape == (96,)


def test_transformers_tanks_windows_and_factors(reference_site):
    inp = build_dispatch_inputs(reference_site, horizon_for_day(reference_site, SUMMER))
    tr = {t.id: t for t in inp.transformers}
    assert tr["tx_logistics"].asset_ids == ("logistics", "pv_logistics", "ev_logistics")
    assert tr["tx_food"].asset_ids == ("food", "pv_food", "hp_food", "cold_store_food", "aeration_food")
    assert tr["tx_food"].limit_kw == 1600
    assert not any("ess_shared" in t.asset_ids for t in inp.transformers)  # 10 kV storage: no tenant transformer
    hp = {h.id: h for h in inp.heat_pumps}
    assert hp["hp_shoes"].tank_capacity_kwh == pytest.approx(20 * 1.163 * 20)
    assert hp["hp_shoes"].tank_initial_kwh == pytest.approx(20 * 1.163 * 10)
    assert hp["hp_food"].cop.min() >= 1.8 and hp["hp_food"].cop.max() <= 5.0
    (aeration,) = inp.deferrable
    assert (aeration.window_start.isoformat(), aeration.window_end.isoformat()) == (
        "2025-07-15T08:00:00+08:00", "2025-07-15T20:00:00+08:00")
    assert inp.carbon.emission_factor_kg_per_kwh == 0.4211
    assert inp.carbon.emission_factor_label == "fujian_2023: Fujian 2023, location-based (MEE/NBS 公告2025年第47号)"
    assert inp.grid.import_limit_kw == 6000 and inp.grid.export_limit_kw == 0
    assert inp.tariff.demand_charge_cny_per_kw_month == 36 and inp.tariff.declared_demand_kw == 6000
    assert inp.green.min_ratio is None  # the site's 35 % is a long-term target, not a daily constraint
    national = build_dispatch_inputs(reference_site, horizon_for_day(reference_site, SUMMER),
                                     options=PlanOptions(emission_factor_id="national_2023"))
    assert national.carbon.emission_factor_kg_per_kwh == 0.5306
    with pytest.raises(UserError, match="emission factor 'nope' is not in the site file"):
        build_dispatch_inputs(reference_site, horizon_for_day(reference_site, SUMMER),
                              options=PlanOptions(emission_factor_id="nope"))


def test_forecast_csv_overrides_profile_columns(small_site, tmp_path):
    idx = horizon_for_day(small_site, SUMMER)
    csv = tmp_path / "fc.csv"
    rows = [f"{ts.isoformat()},123.0,45.0" for ts in idx]
    csv.write_text("timestamp,load_factory_kw,pv_pv_roof_kw\n" + "\n".join(rows) + "\n")
    inp = build_dispatch_inputs(small_site, idx, forecast_csv=str(csv))
    assert np.all(inp.loads[0].p_kw == 123.0) and np.all(inp.pv[0].p_avail_kw == 45.0)
    csv.write_text("timestamp,load_factroy_kw\n" + "\n".join(f"{ts.isoformat()},1" for ts in idx) + "\n")
    with pytest.raises(ForecastFileError) as err:
        build_dispatch_inputs(small_site, idx, forecast_csv=str(csv))
    assert err.value.exit_code == 2
    assert err.value.message == f"{csv}: unknown column(s) ['load_factroy_kw']"
