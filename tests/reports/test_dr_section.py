"""The park report's demand-response section: the period's stored DR events with their settlement, in the
HTML (both languages), the XLSX sheet, the JSON model and the CLI; figures checked against the rule
recomputed independently (tests/gridside/dr_store.py)."""

from __future__ import annotations

import re
from datetime import date

import openpyxl
import pytest

from microgrid.cli import main
from microgrid.i18n import t
from microgrid.reports import make_report, render
from tests.gridside.dr_store import expected, site_with_gridside, write_store

FIRST, LAST = date(2026, 7, 13), date(2026, 7, 15)


@pytest.fixture(scope="module")
def stored(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("dr_report")
    site = site_with_gridside(tmp)
    url = f"sqlite:///{tmp / 'run.sqlite'}"
    write_store(site, url).close()
    return site, url, tmp


@pytest.fixture(scope="module")
def report(stored):
    site, url, _ = stored
    return make_report(site, FIRST, LAST, store_url=url, simulate="never")


def test_the_report_settles_every_event_of_the_period(report):
    want = expected(FIRST, LAST)
    got = report.demand_response
    assert [s.event_id for s in got] == [w["event_id"] for w in want] == ["dr-mon13", "dr-gap14", "dr-am15",
                                                                          "dr-pm15", "dr-eve15"]
    for s, w in zip(got, want, strict=True):
        for name in ("metered_kwh", "baseline_kwh", "requested_kwh", "delivered_kwh", "shortfall_kwh",
                     "compensation_cny", "penalty_cny"):
            if name in w:
                assert getattr(s, name) == pytest.approx(w[name], abs=1e-9), (s.event_id, name)
    assert report.demand_response_terms.compensation_cny_per_kwh == 2.5
    data = report.model_dump(mode="json")  # the API's format=json answers this
    assert data["demand_response"][2]["event_id"] == "dr-am15"
    assert data["demand_response"][2]["baseline_days"] == ["2026-07-10", "2026-07-09", "2026-07-08", "2026-07-06"]


@pytest.mark.parametrize("lang", ["en", "zh-CN"])
def test_html_shows_the_section_in_both_languages(report, lang):
    html = render(report, "html", lang).decode("utf-8")
    assert t("rep.h.dr", lang) in html
    for key in ("rep.dr.baseline", "rep.dr.shortfall", "rep.dr.compensation", "rep.dr.penalty"):
        assert t(f"rep.dr.{key.split('.')[-1]}", lang) in html
    section = html[html.index(t("rep.h.dr", lang)):]
    am = next(w for w in expected(FIRST, LAST) if w["event_id"] == "dr-am15")
    assert f"{am['compensation_cny']:,.2f}" in section and f"{am['baseline_kwh']:,.1f}" in section
    total = sum(w.get("compensation_cny", 0.0) for w in expected(FIRST, LAST))
    assert f"{total:,.2f}" in section
    assert t("rep.dr.note.not_metered", lang) in section  # dr-gap14
    other = "zh-CN" if lang == "en" else "en"
    assert t("rep.dr.note.not_metered", other) not in html
    text = re.sub(r"<[^>]+>", " ", section[:section.index("</table>") + 300])
    if lang == "zh-CN":  # no English of ours: only the event ids (data) and units
        assert set(re.findall(r"[A-Za-z]{3,}", text)) <= {"dr", "mon", "gap", "eve", "CNY", "kWh", "MWh"}
    else:
        assert not re.search(r"[\u3400-\u9fff]", text)


def test_xlsx_has_a_demand_response_sheet(report, tmp_path):
    path = tmp_path / "r.xlsx"
    path.write_bytes(render(report, "xlsx", "zh-CN"))
    sheet = openpyxl.load_workbook(path)[t("sheet.dr", "zh-CN")]
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0][0] == t("rep.dr.event", "zh-CN") and rows[0][-1] == t("rep.dr.note", "zh-CN")
    by_id = {r[0]: r for r in rows[1:6]}
    pm = next(w for w in expected(FIRST, LAST) if w["event_id"] == "dr-pm15")
    assert by_id["dr-pm15"][11] == pytest.approx(pm["penalty_cny"])  # unrounded numbers
    assert by_id["dr-pm15"][6] == pytest.approx(100.0)


def test_cli_prints_the_settlement_and_refuses_a_reversed_period(stored, capsys):
    site, url, tmp = stored
    args = ["report", str(tmp / "site"), "--store", url, "--simulate", "never", "--out", str(tmp / "r.html")]
    assert main([*args, "--from", "2026-07-13", "--to", "2026-07-15"]) == 0
    comp = sum(w.get("compensation_cny", 0.0) for w in expected(FIRST, LAST))
    assert f"demand response: 5 event(s), compensation {comp:,.2f} CNY" in capsys.readouterr().out
    assert main([*args, "--from", "2026-07-15", "--to", "2026-07-13"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "is before --from" in err[0], err


def test_a_report_of_days_without_events_says_so(stored):
    site, url, _ = stored
    report = make_report(site, date(2026, 7, 11), date(2026, 7, 12), store_url=url, simulate="never")
    assert report.demand_response == []
    assert t("rep.dr.none", "en") in render(report, "html", "en").decode("utf-8")
