"""Green-power, CO2 and cost accounting against hand-computed tables (60-min intervals, June 2025)."""

from __future__ import annotations

import copy
from datetime import date

import numpy as np
import pytest

from microgrid.reports.build import ReportOptions, build_report
from tests.reports.conftest import build_site, hand_table, small_site_data

DAY = date(2025, 6, 10)  # a Tuesday in June: no critical peak; June has 30 days
EF_FUJIAN, EF_NATIONAL = 0.4211, 0.5306


def site_with(**green):
    data = copy.deepcopy(small_site_data())
    data["green_power"] = {**data.get("green_power", {}), **green}
    return build_site(data)


def total(report, entity="park"):
    return next(a for a in report.total if a.entity == entity)


PV_EXPORT_ROWS = {
    ("2025-06-10 12:00", "park"): {"pv_kwh": 100.0, "export_kwh": 30.0},
    ("2025-06-10 12:00", "factory"): {"pv_kwh": 100.0, "export_kwh": 30.0, "load_kwh": 70.0},
    ("2025-06-10 20:00", "park"): {"import_kwh": 50.0},
    ("2025-06-10 20:00", "factory"): {"import_kwh": 50.0, "load_kwh": 50.0},
}


def test_exported_pv_is_not_green_and_self_consumed_pv_is():
    report = build_report(site_with(), hand_table(DAY, PV_EXPORT_ROWS, tenants=("factory",)))
    park = total(report)
    assert park.consumption_kwh == pytest.approx(120.0)  # 50 import + 100 PV - 30 export
    assert park.pv_generated_kwh == 100.0 and park.pv_exported_kwh == 30.0
    assert park.pv_self_consumed_kwh == pytest.approx(70.0)
    assert park.green_onsite_kwh == pytest.approx(70.0) and park.green_total_kwh == pytest.approx(70.0)
    assert park.green_ratio_pct == pytest.approx(100 * 70 / 120, abs=1e-3)
    assert park.import_by_period_kwh == {"critical": 0.0, "peak": 0.0, "flat": 50.0, "valley": 0.0}
    assert park.cost_energy_cny == pytest.approx(50 * 0.62)
    assert park.cost_basic_charge_cny == pytest.approx(50 * 36 / 30)  # 50 kW peak, one day of June
    assert park.cost_total_cny == pytest.approx(31.0 + 60.0)
    assert park.co2_location_kg == pytest.approx(50 * EF_FUJIAN)
    assert park.co2_location_secondary_kg == pytest.approx(50 * EF_NATIONAL)
    assert park.co2_market_kg == pytest.approx(50 * EF_FUJIAN)  # no residual factor: location factor
    assert report.meta.factor_location.document == "MEE/NBS 公告2025年第47号"
    assert report.meta.factor_location.year == 2023
    assert "no residual-mix factor" in report.meta.factor_market_note
    tenant = total(report, "factory")
    assert tenant.consumption_kwh == pytest.approx(120.0) and tenant.green_total_kwh == pytest.approx(70.0)


def test_sold_certificates_do_not_count_and_raise_market_based_co2():
    report = build_report(site_with(onsite_certificates_retained_pct=60),
                          hand_table(DAY, PV_EXPORT_ROWS, tenants=("factory",)))
    park = total(report)
    assert park.green_onsite_physical_kwh == pytest.approx(70.0)
    assert park.green_onsite_kwh == pytest.approx(42.0)
    assert park.onsite_certificates_sold_kwh == pytest.approx(28.0)
    assert park.green_ratio_pct == pytest.approx(35.0)
    assert park.onsite_physical_share_pct == pytest.approx(100 * 70 / 120, abs=1e-3)
    assert park.co2_location_kg == pytest.approx(50 * EF_FUJIAN)  # location-based ignores certificates
    assert park.co2_market_kg == pytest.approx((50 + 28) * EF_FUJIAN)


def test_green_trading_is_added_and_unaccepted_certificates_are_not():
    # 0.6 MWh/month of trading in June = 20 kWh per day; 3.65 MWh/year of certificates = 10 kWh per day
    site = site_with(green_trading_mwh_per_month=0.6, certificates_retired_mwh_per_year=3.65,
                     unbundled_certificates_accepted=False)
    park = total(build_report(site, hand_table(DAY, PV_EXPORT_ROWS, tenants=("factory",))))
    assert park.green_trading_kwh == pytest.approx(20.0) and park.green_certificates_kwh == 0.0
    assert park.green_total_kwh == pytest.approx(90.0) and park.green_ratio_pct == pytest.approx(75.0)
    assert park.co2_market_kg == pytest.approx((50 - 20) * EF_FUJIAN)
    site = site_with(green_trading_mwh_per_month=0.6, certificates_retired_mwh_per_year=3.65,
                     unbundled_certificates_accepted=True)
    park = total(build_report(site, hand_table(DAY, PV_EXPORT_ROWS, tenants=("factory",))))
    assert park.green_certificates_kwh == pytest.approx(10.0)
    assert park.green_ratio_pct == pytest.approx(100 * 100 / 120, abs=1e-3)


def test_purchases_beyond_consumption_are_not_claimed():
    site = site_with(green_trading_mwh_per_month=3.0)  # 100 kWh per day against 50 kWh from the grid
    park = total(build_report(site, hand_table(DAY, PV_EXPORT_ROWS, tenants=("factory",))))
    assert park.green_total_kwh == pytest.approx(120.0) and park.green_ratio_pct == pytest.approx(100.0)
    assert park.green_unused_kwh == pytest.approx(50.0)
    assert park.co2_market_kg == pytest.approx(0.0)


def test_stored_pv_exported_later_is_not_counted_twice():
    rows = {
        ("2025-06-10 12:00", "park"): {"pv_kwh": 100.0, "bat_charge_kwh": 40.0},
        ("2025-06-10 12:00", "factory"): {"pv_kwh": 100.0, "bat_charge_kwh": 40.0, "load_kwh": 60.0},
        ("2025-06-10 22:00", "park"): {"bat_discharge_kwh": 36.0, "export_kwh": 36.0},
        ("2025-06-10 22:00", "factory"): {"bat_discharge_kwh": 36.0, "export_kwh": 36.0, "load_kwh": 0.0},
    }
    park = total(build_report(site_with(), hand_table(DAY, rows, tenants=("factory",))))
    assert park.consumption_kwh == pytest.approx(64.0)  # 60 load + 4 storage losses
    assert park.pv_exported_kwh == 0.0  # exported later from the battery, not directly
    assert park.green_onsite_physical_kwh == pytest.approx(64.0)  # 100 stored/used - 36 exported from storage
    assert park.green_ratio_pct == pytest.approx(100.0)
    assert park.storage_losses_kwh == pytest.approx(4.0)


def test_battery_pool_mixes_grid_and_pv_charging():
    rows = {
        ("2025-06-10 03:00", "park"): {"import_kwh": 40.0, "bat_charge_kwh": 40.0},
        ("2025-06-10 12:00", "park"): {"pv_kwh": 100.0, "bat_charge_kwh": 40.0},
        ("2025-06-10 22:00", "park"): {"bat_discharge_kwh": 36.0, "export_kwh": 36.0},
    }
    rows.update({(k[0], "factory"): {**v, "load_kwh": 0.0} for k, v in rows.items()})
    rows[("2025-06-10 12:00", "factory")]["load_kwh"] = 60.0
    report = build_report(site_with(), hand_table(DAY, rows, tenants=("factory",)))
    park = total(report)
    # Pool after 12:00: 80 kWh charged, 40 of them PV → the 36 kWh exported at 22:00 are half PV.
    assert park.green_onsite_physical_kwh == pytest.approx(100 - 18)
    assert park.consumption_kwh == pytest.approx(40 + 100 - 36)
    assert park.green_ratio_pct == pytest.approx(100 * 82 / 104, abs=1e-3)


def test_counterfactual_without_storage_and_with_curtailment_added_back():
    rows = {
        ("2025-06-10 00:00", "park"): {"bat_stored_start_kwh": 20.0},
        ("2025-06-10 03:00", "park"): {"import_kwh": 100.0, "bat_charge_kwh": 100.0},
        ("2025-06-10 12:00", "park"): {"pv_kwh": 50.0, "pv_curtailed_kwh": 20.0},
        ("2025-06-10 19:00", "park"): {"import_kwh": 60.0, "bat_discharge_kwh": 90.0},
        ("2025-06-10 23:00", "park"): {"bat_stored_end_kwh": 25.0},
    }
    for stamp, load in (("2025-06-10 12:00", 50.0), ("2025-06-10 19:00", 150.0)):
        rows[(stamp, "factory")] = {"load_kwh": load}
    park = total(build_report(site_with(), hand_table(DAY, rows, tenants=("factory",))))
    assert park.cost_energy_cny == pytest.approx(100 * 0.3554 + 60 * 0.8636)
    assert park.cost_basic_charge_cny == pytest.approx(100 * 36 / 30)
    assert park.counterfactual_import_kwh == pytest.approx(150.0)
    assert park.counterfactual_pv_curtailed_kwh == pytest.approx(20.0)  # export limit 0: still curtailed
    assert park.counterfactual_cost_cny == pytest.approx(150 * 0.8636 + 150 * 36 / 30)
    assert park.savings_cny == pytest.approx(150 * 0.8636 + 180.0 - (35.54 + 51.816 + 120.0))
    assert park.storage_losses_kwh == pytest.approx(100 - 90 - (25 - 20))
    assert park.peak_import_kw == pytest.approx(100.0)


def test_counterfactual_exports_up_to_the_export_limit():
    data = copy.deepcopy(small_site_data())
    data["grid"]["export_limit_kw"] = 10
    rows = {("2025-06-10 12:00", "park"): {"pv_kwh": 50.0, "pv_curtailed_kwh": 20.0},
            ("2025-06-10 12:00", "factory"): {"load_kwh": 50.0}}
    park = total(build_report(build_site(data), hand_table(DAY, rows, tenants=("factory",))))
    assert park.counterfactual_export_kwh == pytest.approx(10.0)
    assert park.counterfactual_pv_curtailed_kwh == pytest.approx(10.0)


def test_gaps_are_flagged_and_not_counted_as_zero():
    rows = {("2025-06-10 10:00", "park"): {"import_kwh": 999.0, "coverage": 0.2},
            ("2025-06-10 11:00", "park"): {"import_kwh": 40.0, "coverage": 0.7},
            ("2025-06-10 11:00", "factory"): {"load_kwh": 40.0}}
    report = build_report(site_with(), hand_table(DAY, rows, tenants=("factory",)))
    park = total(report)
    assert park.intervals_expected == 24 and park.intervals_valid == 23 and park.intervals_partial == 1
    assert park.coverage_pct == pytest.approx(100 * (22 + 0.7) / 24, abs=1e-3)
    assert park.grid_import_kwh == pytest.approx(40.0)
    assert [(g.start.hour, g.end.hour, g.intervals) for g in report.meta.gaps] == [(10, 11, 1)]
    assert report.meta.warnings[0].startswith("Data gaps: 1 interval(s) (1.00 h)")
    assert "not counted as zero" in report.meta.warnings[0]


def test_local_midnight_and_month_end_boundaries():
    rows = {("2025-06-30 23:45", "park"): {"import_kwh": 10.0},
            ("2025-07-01 00:00", "park"): {"import_kwh": 20.0},
            ("2025-07-01 11:00", "park"): {"import_kwh": 30.0}}
    rows.update({(k[0], "factory"): {"load_kwh": v["import_kwh"]} for k, v in list(rows.items())})
    table = hand_table(date(2025, 6, 30), rows, last_day=date(2025, 7, 1), tenants=("factory",), interval_min=15)
    # The same table handed over in UTC: 2025-07-01 00:00 in Shanghai is 2025-06-30 16:00 UTC.
    frame = table.frame.assign(ts=table.frame["ts"].dt.tz_convert("UTC"))
    table = type(table)(frame, 15, "Asia/Shanghai", date(2025, 6, 30), date(2025, 7, 1), tenants=["factory"])
    report = build_report(site_with(), table)
    daily = {a.period: a for a in report.rows("day", "park")}
    monthly = {a.period: a for a in report.rows("month", "park")}
    assert daily["2025-06-30"].grid_import_kwh == 10.0 and daily["2025-07-01"].grid_import_kwh == 50.0
    assert monthly["2025-06"].grid_import_kwh == 10.0 and monthly["2025-07"].grid_import_kwh == 50.0
    assert daily["2025-06-30"].import_by_period_kwh["flat"] == 10.0
    assert daily["2025-07-01"].import_by_period_kwh == {"critical": 30.0, "peak": 0.0, "flat": 0.0, "valley": 20.0}
    assert monthly["2025-06"].cost_basic_charge_cny == pytest.approx(40 * 36 / 30)
    assert monthly["2025-07"].cost_basic_charge_cny == pytest.approx(120 * 36 / 31)
    assert daily["2025-06-30"].intervals_expected == 96
    assert [a.period for a in report.rows("year", "park")] == ["2025"]
    assert total(report).cost_basic_charge_cny == pytest.approx(48.0 + 120 * 36 / 31)


def test_unknown_tenant_is_a_user_error(small_site):
    from microgrid.reports.build import ReportError

    with pytest.raises(ReportError, match="--tenant: 'nope' is not a tenant of site 'small_factory'"):
        build_report(small_site, hand_table(DAY, {}, tenants=("factory",)), tenant="nope")


def test_location_based_share_is_separate():
    report = build_report(site_with(), hand_table(DAY, PV_EXPORT_ROWS, tenants=("factory",)),
                          options=ReportOptions(grid_renewable_share_pct=20))
    park = total(report)
    assert park.location_renewable_share_pct == pytest.approx(100 * (70 + 0.2 * 50) / 120, abs=1e-3)
    assert park.green_ratio_pct == pytest.approx(100 * 70 / 120, abs=1e-3)  # unchanged
    assert np.isfinite(park.co2_location_kg)
