"""Tenant allocation: hand-computed shares, and every allocated figure sums to the park."""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
import pytest

from microgrid.reports.accounting import LEDGER_COLUMNS, GreenInstruments, entity_ledgers
from microgrid.reports.build import ReportOptions, build_report
from microgrid.reports.table import IntervalTable, expected_index
from tests.reports.conftest import hand_table

DAY = date(2025, 6, 10)


def test_pv_of_one_tenant_shared_pro_rata_or_own_first(two_tenant_site):
    # Tenant b's roof makes 50 kWh; factory uses 100, b uses 20; the rest comes from the grid.
    rows = {("2025-06-10 12:00", "park"): {"pv_kwh": 50.0, "import_kwh": 70.0},
            ("2025-06-10 12:00", "factory"): {"import_kwh": 100.0, "load_kwh": 100.0},
            ("2025-06-10 12:00", "b"): {"pv_kwh": 50.0, "export_kwh": 30.0, "load_kwh": 20.0}}
    table = hand_table(DAY, rows, tenants=("factory", "b"))
    by_consumption = {a.entity: a for a in build_report(two_tenant_site, table).total}
    assert by_consumption["factory"].green_onsite_physical_kwh == pytest.approx(50 * 100 / 120)
    assert by_consumption["b"].green_onsite_physical_kwh == pytest.approx(50 * 20 / 120)
    assert by_consumption["factory"].grid_import_kwh == pytest.approx(70 * 100 / 120)
    assert by_consumption["b"].pv_generated_kwh == 50.0 and by_consumption["factory"].pv_generated_kwh == 0.0
    own = {a.entity: a for a in build_report(two_tenant_site, table,
                                             options=ReportOptions(allocation_rule="own_pv_first")).total}
    assert own["b"].green_onsite_physical_kwh == pytest.approx(20.0)  # capped at its own consumption
    assert own["factory"].green_onsite_physical_kwh == pytest.approx(30.0)
    assert own["b"].grid_import_kwh == pytest.approx(0.0) and own["factory"].grid_import_kwh == pytest.approx(70.0)
    assert own["b"].green_ratio_pct == pytest.approx(100.0) and own["factory"].green_ratio_pct == pytest.approx(30.0)


def random_park_table(seed: int, n_days: int = 2, interval_min: int = 15) -> IntervalTable:
    """Physically consistent random day(s) of the two-tenant site: own PV and battery behind the tenant
    meters, a shared battery at 10 kV and network losses."""
    rng = np.random.default_rng(seed)
    first = DAY
    last = date.fromordinal(DAY.toordinal() + n_days - 1)
    index = expected_index(first, last, interval_min, "Asia/Shanghai")
    n = len(index)
    hours = np.asarray(index.hour + index.minute / 60, dtype=float)
    sun = np.clip(np.sin((hours - 6) / 12 * np.pi), 0, None)
    L_f = rng.uniform(20, 120, n)
    L_b = rng.uniform(0, 40, n)
    G_f = 100 * sun * rng.uniform(0.6, 1.0, n)
    G_b = 25 * sun * rng.uniform(0.6, 1.0, n)
    C_f = np.where(rng.random(n) < 0.3, rng.uniform(0, 30, n), 0.0)
    D_f = np.where((C_f == 0) & (rng.random(n) < 0.3), rng.uniform(0, 30, n), 0.0)
    C_s = np.where(rng.random(n) < 0.3, rng.uniform(0, 40, n), 0.0)
    D_s = np.where((C_s == 0) & (rng.random(n) < 0.4), rng.uniform(0, 60, n), 0.0)
    losses = 0.01 * (L_f + L_b)
    net_f = L_f - G_f - D_f + C_f
    net_b = L_b - G_b
    pcc = net_f + net_b + C_s - D_s + losses
    cov = np.where(rng.random(n) < 0.05, 0.3, 1.0)  # some gaps
    frames = [
        pd.DataFrame({"ts": index, "entity": "park", "import_kwh": pcc.clip(0), "export_kwh": (-pcc).clip(0),
                      "pv_kwh": G_f + G_b, "pv_curtailed_kwh": 5 * sun, "bat_charge_kwh": C_f + C_s,
                      "bat_discharge_kwh": D_f + D_s, "coverage": cov}),
        pd.DataFrame({"ts": index, "entity": "factory", "import_kwh": net_f.clip(0), "export_kwh": (-net_f).clip(0),
                      "pv_kwh": G_f, "pv_curtailed_kwh": 5 * sun, "bat_charge_kwh": C_f, "bat_discharge_kwh": D_f,
                      "load_kwh": L_f, "coverage": 1.0}),
        pd.DataFrame({"ts": index, "entity": "b", "import_kwh": net_b.clip(0), "export_kwh": (-net_b).clip(0),
                      "pv_kwh": G_b, "load_kwh": L_b, "coverage": np.where(rng.random(n) < 0.03, 0.0, 1.0)}),
    ]
    return IntervalTable(pd.concat(frames, ignore_index=True), interval_min, "Asia/Shanghai", first, last,
                         tenants=["factory", "b"])


@pytest.mark.parametrize("rule", ["consumption", "own_pv_first"])
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_tenant_ledgers_sum_to_the_park_in_every_interval(two_tenant_site, rule, seed):
    table = random_park_table(seed)
    ledgers = entity_ledgers(table, min_coverage=0.5, round_trip_efficiency=0.9, export_limit_kw=50,
                             instruments=GreenInstruments(trading_mwh_per_month=3), rule=rule)
    park, f, b = ledgers["park"], ledgers["factory"], ledgers["b"]
    both = f["valid"] & b["valid"]
    assert both.sum() > 100 and (~both & park["valid"]).sum() > 0  # some intervals only the park has
    for col in LEDGER_COLUMNS:
        if col in ("valid", "coverage"):
            continue
        summed = (f[col] + b[col])[both].to_numpy()
        assert summed == pytest.approx(park[col][both].to_numpy(), abs=1e-9), col


@pytest.mark.parametrize("rule", ["consumption", "own_pv_first"])
def test_tenant_accounts_sum_to_the_park_over_the_intervals_they_share(two_tenant_site, rule):
    table = random_park_table(7)
    frame = table.frame.copy()
    frame.loc[frame["entity"] == "park", "coverage"] = 1.0  # the park is valid wherever the tenants are
    frame.loc[frame["entity"] == "b", "coverage"] = 1.0
    table = IntervalTable(frame, table.interval_min, table.timezone, table.first_day, table.last_day,
                          tenants=table.tenants)
    report = build_report(two_tenant_site, table, options=ReportOptions(allocation_rule=rule))
    for level in ("total", "day"):
        for park in report.rows(level, "park"):
            tenants = [a for a in report.rows(level) if a.period == park.period and a.entity != "park"]
            assert len(tenants) == 2
            for field in ("consumption_kwh", "grid_import_kwh", "grid_export_kwh", "pv_generated_kwh",
                          "pv_exported_kwh", "pv_curtailed_kwh", "green_onsite_physical_kwh", "green_trading_kwh",
                          "storage_charge_kwh", "storage_discharge_kwh", "storage_losses_kwh", "co2_location_kg",
                          "cost_energy_cny", "cost_basic_charge_cny", "cost_total_cny", "counterfactual_import_kwh",
                          "counterfactual_cost_cny", "savings_cny"):
                assert sum(getattr(t, field) for t in tenants) == pytest.approx(getattr(park, field), rel=1e-9,
                                                                               abs=1e-6), (level, field)
