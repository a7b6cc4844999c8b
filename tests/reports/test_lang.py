"""Reports in Chinese: the HTML, the XLSX headers and sheet names and the charts read in zh-CN; any Latin word
left in the Chinese HTML comes from the site's own data (names, documents, units), never from our texts."""

from __future__ import annotations

import html as htmllib
import re

import openpyxl
import pytest

from microgrid.i18n import catalogue
from microgrid.reports import build_report, render_html, report_frame, write_xlsx
from microgrid.reports.targets import TARGETS_FILE as TARGETS
from tests.paths import SMALL_SITE
from tests.reports.conftest import hand_table
from tests.reports.test_output import (  # the same hand-written day: a gap, PV, export, evening import
    DAY,
    ROWS,
)

_CJK = re.compile(r"[\u3400-\u9fff]")
UNITS = {"MWh", "kWh", "tCO", "kgCO", "kW", "kV", "MVA", "CNY", "Asia", "Shanghai", "csv", "xlsx", "CSV",
         "XLSX"}


@pytest.fixture(scope="module")
def report(small_site):
    from microgrid.i18n import both

    table = hand_table(DAY, ROWS, tenants=("factory",), source="planned",
                       source_note=both("rep.src.planned")[0])
    table.source_note_zh = both("rep.src.planned")[1]
    return build_report(small_site, table)


def _visible_text(page: str) -> str:
    body = re.sub(r"<style>.*?</style>", "", page[page.index("<body>"):], flags=re.S)
    body = re.sub(r"<svg.*?</svg>", lambda m: " ".join(re.findall(r"<text[^>]*>([^<]*)</text>", m.group(0))),
                  body, flags=re.S)  # chart labels only, not the SVG's markup and metadata
    return htmllib.unescape(" ".join(re.findall(r">([^<]+)<", body)))


def test_chinese_html_has_no_english_of_ours(report):
    page = render_html(report, "zh-CN")
    assert page.startswith('<!DOCTYPE html>\n<html lang="zh-CN">')
    text = _visible_text(page)
    for heading in ("绿电、碳排放与电费报告", "每日电量", "各月绿电占比", "绿电构成（整个期间）", "定义", "数据缺口",
                    "计划数据 —— 非计量", "绿电占比 =", "小型工厂（测试站点）"):
        assert heading in text, heading
    site_words = set(re.findall(r"[A-Za-z]{3,}", (SMALL_SITE / "site.yaml").read_text(encoding="utf-8")))
    english = {w for w in re.findall(r"[A-Za-z]{3,}", text)} - site_words - UNITS
    assert english == set()
    # and the English report has no Chinese beyond the term 绿电占比 and the names of documents and the site
    en_text = _visible_text(render_html(report, "en"))
    data = (SMALL_SITE / "site.yaml").read_text(encoding="utf-8") + TARGETS.read_text(encoding="utf-8")
    assert set(_CJK.findall(en_text)) <= set("绿电占比") | set(_CJK.findall(data))


def test_xlsx_headers_and_sheets_in_both_languages(report, tmp_path):
    columns = list(report_frame(report).columns)
    assert len(columns) > 50
    en, zh = catalogue("en"), catalogue("zh-CN")
    assert [c for c in columns if f"col.{c}" not in en] == []  # every column has a label
    for lang, sheets in (("en", ["Summary", "Daily", "Monthly", "Yearly", "Targets", "Gaps", "Notes"]),
                         ("zh-CN", ["汇总", "按日", "按月", "按年", "目标", "数据缺口", "说明"])):
        path = tmp_path / f"r_{lang}.xlsx"
        write_xlsx(report, path, lang)
        book = openpyxl.load_workbook(path)
        assert book.sheetnames == sheets
        head = [c.value for c in book[sheets[1]][1]]
        labels = en if lang == "en" else zh
        assert head == [labels[f"col.{c}"] for c in columns]
        if lang == "zh-CN":
            assert all(_CJK.search(h) for h in head), head
            notes = [r[0].value for r in book[sheets[-1]].iter_rows(min_row=2)]
            assert notes and all(_CJK.search(n) for n in notes)
            summary = {r[0].value: r[1].value for r in book[sheets[0]].iter_rows(min_row=2, max_row=6)}
            assert summary["数据来源"].startswith("计划: ") or summary["数据来源"].startswith("计划:")
        else:
            assert not any(_CJK.search(h) for h in head)


def test_csv_keeps_machine_readable_columns(report):
    assert "green_ratio_pct" in report_frame(report).columns
