"""A year of the reference park, hourly: sums, carry-overs, outputs (one run for the module)."""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
import pytest

from microgrid.cli import main
from microgrid.reports import PARK
from microgrid.study import monthly_table, run_study, write_study
from tests.paths import REFERENCE_PARK

pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]  # a year of days: ~1 min alone, more on a busy machine

SUMMED = ("consumption_kwh", "grid_import_kwh", "pv_generated_kwh", "pv_curtailed_kwh", "storage_discharge_kwh",
          "green_total_kwh", "co2_location_kg", "cost_energy_cny", "cost_basic_charge_cny", "cost_total_cny")


@pytest.fixture(scope="module")
def study(reference_site, reference_year):
    return run_study(reference_site, 2026, inputs=reference_year)


def test_every_day_planned_by_the_optimizer(study):
    assert len(study.outcomes) == 365
    assert [(o.day, o.status, o.message) for o in study.outcomes if o.fallback] == []
    assert len(study.schedule) == 8760


def test_annual_equals_sum_of_months_and_of_days(study):
    report = study.report
    year = report.rows("year", PARK)[0]
    months = report.rows("month", PARK)
    days = report.rows("day", PARK)
    assert len(months) == 12 and len(days) == 365
    for field in SUMMED:
        total = getattr(year, field)
        assert sum(getattr(m, field) for m in months) == pytest.approx(total, rel=1e-9, abs=1e-6), field
        assert sum(getattr(d, field) for d in days) == pytest.approx(total, rel=1e-9, abs=1e-6), field


def test_report_accounting_agrees_with_the_optimizer_kpis(study):
    # two independent computations: the optimizer's per-plan KPIs and the report's interval ledger
    year = study.report.rows("year", PARK)[0]
    assert sum(k["import_kwh"] for k in study.plan_kpis) == pytest.approx(year.grid_import_kwh, rel=1e-5)
    assert sum(k["pv_generation_kwh"] for k in study.plan_kpis) == pytest.approx(year.pv_generated_kwh, rel=1e-5)
    assert sum(k["co2_kg"] for k in study.plan_kpis) == pytest.approx(year.co2_location_kg, rel=1e-5)


def test_state_of_charge_and_month_peak_carry_over(study, reference_site):
    s = study.schedule.tz_convert(reference_site.timezone)
    bat = reference_site.asset("ess_shared")
    for day in (date(2026, 3, 1), date(2026, 7, 16), date(2026, 12, 31)):
        first = s.index.get_loc(pd.Timestamp(day, tz=reference_site.timezone))
        before = s["ess_shared_e_kwh"].iloc[first - 1]
        row = s.iloc[first]
        start = row["ess_shared_e_kwh"] - (bat.eta_charge * row["ess_shared_charge_kw"]
                                           - row["ess_shared_discharge_kw"] / bat.eta_discharge)
        assert start == pytest.approx(before, abs=1e-3)
    for m in study.report.rows("month", PARK):
        month = s[s.index.strftime("%Y-%m") == m.period]["grid_import_kw"]
        assert m.peak_import_kw == pytest.approx(month.max(), rel=1e-6)
        assert m.cost_basic_charge_cny == pytest.approx(36 * month.max(), rel=1e-6)


def test_monthly_table_and_outputs(study, tmp_path):
    table = monthly_table(study)
    assert list(table["period"]) == [f"2026-{m:02d}" for m in range(1, 13)] + ["2026"]
    assert (table["emission_factor"].str.startswith("fujian_2023")).all()
    months = table.iloc[:12]
    np.testing.assert_allclose(months["battery_cycles"].sum(), table.iloc[12]["battery_cycles"])
    assert (months["green_ratio_pct"] > 5).all()
    paths = write_study(study, tmp_path)
    html = paths["html"].read_text(encoding="utf-8")
    assert html.count("<svg") == 3 and "绿电占比" in html and "(35 %)" in html and "(45 %)" in html
    frame = pd.read_csv(paths["monthly_csv"])
    assert len(frame) == 13
    assert frame["cost_total_cny"].iloc[:12].sum() == pytest.approx(frame["cost_total_cny"].iloc[12], rel=1e-6)


def test_cli_rejects_bad_arguments(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["study", str(REFERENCE_PARK), "--year", "1999"])
    assert exc.value.code == 2 and "not a year" in capsys.readouterr().err
    assert main(["study", str(REFERENCE_PARK), "--year", "2090", "--quiet", "--out", "/tmp/x"]) == 2
    assert "no calendar for 2090" in capsys.readouterr().err
