"""Demand charge at the boundaries of the 105 %/×2 rule, in the rule, the plan KPIs and the report.

Hand values: declared 1,000 kW, 36 CNY/kW·month, excess above 1,050 kW billed at 2× (发改办价格〔2016〕1583号):
  900 kW → 36 × 900 = 32,400;  1,030 kW → 37,080 (between 100 % and 105 %: no excess);
  1,100 kW → 36 × 1,100 + 36 × (1,100 − 1,050) = 39,600 + 1,800 = 41,400.
The import cap (below, at and above 105 % of the declared demand) never changes the bill.
"""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
import pytest

from microgrid.accounting.rules import DemandRule
from optimizer import FixedLoad, baseline_schedule, compute_kpis
from tests.optimizer.helpers import day_index, inputs

HAND = {900.0: 32_400.0, 1030.0: 37_080.0, 1100.0: 41_400.0}
CAPS = (1000.0, 1050.0, 1200.0)


@pytest.mark.parametrize("peak_kw", sorted(HAND))
def test_rule_at_the_boundaries(peak_kw):
    rule = DemandRule(36.0, 1000.0, 105.0, 2.0)
    assert rule.charge_cny(peak_kw) == pytest.approx(HAND[peak_kw])
    # Month-to-date: raising an earlier 900 kW peak adds only the difference; a lower peak adds nothing.
    assert rule.increase_cny(900.0, peak_kw) == pytest.approx(HAND[peak_kw] - 32_400.0)
    assert rule.increase_cny(1200.0, peak_kw) == 0.0


def test_exactly_at_105_percent_is_not_excess():
    rule = DemandRule(36.0, 1000.0, 105.0, 2.0)
    assert rule.charge_cny(1050.0) == pytest.approx(36 * 1050)
    assert rule.charge_cny(1050.0 + 1e-6) == pytest.approx(36 * 1050, abs=1e-3)


@pytest.mark.parametrize("cap_kw", CAPS)
@pytest.mark.parametrize("peak_kw", sorted(HAND))
def test_plan_kpis_keep_the_double_rate_whatever_the_import_cap(peak_kw, cap_kw):
    idx = day_index()
    load = np.full(96, 500.0)
    load[40] = peak_kw  # one interval at the peak: a fixed load the plan must serve
    inp = inputs(idx, 0.6, import_limit_kw=cap_kw, loads=[FixedLoad(id="f", p_kw=load)])
    inp.tariff.demand_charge_cny_per_kw_month = 36.0
    inp.tariff.declared_demand_kw = 1000.0
    inp.tariff.demand_charge_share = 1.0
    schedule = baseline_schedule(inp)
    imported = float(schedule.frame["grid_import_kw"].max())
    k = compute_kpis(schedule, inp)
    expected = 36.0 * imported + 36.0 * max(imported - 1050.0, 0.0)
    assert k["cost_breakdown_cny"]["demand_charge"] == pytest.approx(expected, abs=0.01)
    if imported == pytest.approx(peak_kw):
        assert k["cost_breakdown_cny"]["demand_charge"] == pytest.approx(HAND[peak_kw], abs=0.01)


@pytest.mark.parametrize("peak_kw", sorted(HAND))
def test_report_month_to_date_demand_charge(peak_kw, small_site):
    from microgrid.reports import build_report
    from microgrid.reports.table import IntervalTable

    site = small_site.model_copy(update={
        "grid": small_site.grid.model_copy(update={"declared_demand_kw": 1000.0, "import_limit_kw": 1000.0}),
        "tariff": small_site.tariff.model_copy(update={"basic_charge": "demand",
                                                       "demand_charge_cny_per_kw_month": 36.0,
                                                       "demand_excess_threshold_pct": 105.0,
                                                       "demand_excess_factor": 2.0}),
    })
    idx = pd.date_range("2025-07-15", periods=96, freq="15min", tz="Asia/Shanghai")
    imp = np.full(96, 100.0)
    imp[50] = peak_kw / 4
    rows = pd.DataFrame({"ts": idx, "entity": "park", "import_kwh": imp, "export_kwh": 0.0, "pv_kwh": 0.0,
                         "bat_charge_kwh": 0.0, "bat_discharge_kwh": 0.0, "coverage": 1.0})
    table = IntervalTable(rows, 15, "Asia/Shanghai", date(2025, 7, 15), date(2025, 7, 15))
    report = build_report(site, table)
    park = next(a for a in report.total if a.entity == "park")
    assert park.month_peak_kw == pytest.approx(peak_kw)
    assert park.demand_charge_month_to_date_cny == pytest.approx(HAND[peak_kw])
    # the day's pro-rata share of that month's charge (31 days in July)
    assert park.cost_basic_charge_cny == pytest.approx(HAND[peak_kw] / 31)
    # an earlier, higher peak of the month (metered before the report) is the bill's basis
    table.month_peak_before_kw = {"2025-07": 1200.0}
    park = next(a for a in build_report(site, table).total if a.entity == "park")
    assert park.month_peak_kw == pytest.approx(1200.0)
    assert park.demand_charge_month_to_date_cny == pytest.approx(36 * 1200 + 36 * 150)
