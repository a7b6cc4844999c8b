"""HTML, CSV and XLSX outputs: first page says what the data is and where the gaps are; no CDN."""

from __future__ import annotations

import re
from datetime import date
from zoneinfo import ZoneInfo

import openpyxl
import pandas as pd
import pytest

from microgrid.reports import build_report, render_html, write_csv, write_xlsx
from tests.reports.conftest import hand_table

DAY = date(2025, 6, 10)
ROWS = {("2025-06-10 10:00", "park"): {"import_kwh": 999.0, "coverage": 0.0},
        ("2025-06-10 12:00", "park"): {"pv_kwh": 100.0, "export_kwh": 30.0},
        ("2025-06-10 12:00", "factory"): {"pv_kwh": 100.0, "export_kwh": 30.0, "load_kwh": 70.0},
        ("2025-06-10 20:00", "park"): {"import_kwh": 50.0},
        ("2025-06-10 20:00", "factory"): {"import_kwh": 50.0, "load_kwh": 50.0}}


@pytest.fixture
def report(small_site):
    table = hand_table(DAY, ROWS, tenants=("factory",), source="planned",
                       source_note="day-ahead plans of the optimizer (test)")
    return build_report(small_site, table)


def test_html_first_page_says_planned_and_shows_the_gap(report):
    html = render_html(report)
    first_page = html.split('class="page"')[0]
    assert "PLANNED data — not metered" in first_page
    assert "Data gaps: 1 interval(s) (1.00 h)" in first_page
    assert "58.3 %" in first_page  # green-power ratio 70 / 120
    assert "MEE/NBS 公告2025年第47号" in first_page and "Fujian 2023" in first_page
    assert html.count("<svg") == 3 and "@page" in html and "@media print" in html
    assert not re.search(r"<(script|link)\b", html)  # self-contained: no scripts, no external CSS/CDN
    assert "10:00" in html.split("Data gaps</h2>")[1][:400]


def test_csv_is_one_tidy_table(report, tmp_path):
    path = tmp_path / "r.csv"
    write_csv(report, path)
    frame = pd.read_csv(path)
    assert list(frame.columns[:7]) == ["level", "period", "first_day", "last_day", "entity", "data_source",
                                       "coverage_pct"]
    assert sorted(set(frame["level"])) == ["day", "month", "total", "year"]
    assert set(frame["entity"]) == {"park", "factory"} and set(frame["data_source"]) == {"planned"}
    park_total = frame[(frame["level"] == "total") & (frame["entity"] == "park")].iloc[0]
    assert park_total["consumption_kwh"] == pytest.approx(120.0)
    assert park_total["import_flat_kwh"] == pytest.approx(50.0)
    assert park_total["coverage_pct"] == pytest.approx(100 * 23 / 24, abs=1e-3)


def test_xlsx_summary_first(report, tmp_path):
    path = tmp_path / "r.xlsx"
    write_xlsx(report, path)
    book = openpyxl.load_workbook(path)
    assert book.sheetnames == ["Summary", "Daily", "Monthly", "Yearly", "Targets", "Gaps", "Notes"]
    cells = [(r[0].value, r[1].value) for r in book["Summary"].iter_rows(min_row=2, max_row=8)]
    assert cells[3][0] == "data source" and cells[3][1].startswith("PLANNED")
    assert cells[4][0] == "WARNING" and cells[4][1].startswith("These figures are PLANNED")
    assert any(v == "WARNING" and str(t).startswith("Data gaps") for v, t in cells)
    assert book["Gaps"].max_row == 2


def test_html_for_customers_has_no_internal_references_and_local_time(report):
    html = render_html(report)
    assert re.search(r"DESIGN\.md|§\s*\d|microgrid\.[a-z]|\.py\b", html) is None
    local = report.meta.generated_at.astimezone(ZoneInfo(report.meta.timezone))
    assert f"generated {local:%Y-%m-%d %H:%M} local time" in html and " UTC" not in html
