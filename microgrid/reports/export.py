"""The report as CSV (one tidy table) and XLSX (a summary sheet first, then one sheet per level)."""

from __future__ import annotations

from pathlib import Path
from zoneinfo import ZoneInfo

import pandas as pd

from microgrid.i18n import t
from microgrid.reports.dr import DR_HEAD, dr_rows, dr_rule
from microgrid.reports.model import Accounts, Report
from microgrid.reports.periods import PERIODS
from microgrid.reports.targets import target_name


def accounts_frame(rows: list[Accounts], data_source: str) -> pd.DataFrame:
    """One row per (level, period, entity); dict fields become ``import_<period>_kwh`` / ``cost_<period>_cny``."""
    records = []
    for a in rows:
        rec = a.model_dump()
        by_import = rec.pop("import_by_period_kwh")
        by_cost = rec.pop("cost_energy_by_period_cny")
        for p in PERIODS:
            rec[f"import_{p}_kwh"] = by_import[p]
            rec[f"cost_energy_{p}_cny"] = by_cost[p]
        rec["data_source"] = data_source
        records.append(rec)
    frame = pd.DataFrame.from_records(records)
    if frame.empty:
        return frame
    first = ["level", "period", "first_day", "last_day", "entity", "data_source", "coverage_pct"]
    return frame[first + [c for c in frame.columns if c not in first]]


def report_frame(report: Report) -> pd.DataFrame:
    rows = [*report.total, *report.yearly, *report.monthly, *report.daily]
    return accounts_frame(rows, report.meta.data_source)


def write_csv(report: Report, path: str | Path) -> None:
    report_frame(report).to_csv(path, index=False, float_format="%.4f", encoding="utf-8")


def summary_rows(report: Report, lang: str = "en") -> list[tuple[str, str]]:
    """Label and text of the summary sheet's first rows, in ``lang``."""
    def L(key: str, **params: object) -> str:  # noqa: N802 - reads like the text it is
        return t(key, lang, **params)

    zh = lang != "en"
    m = report.meta
    note = (m.data_note_zh or m.data_note) if zh else m.data_note
    source = L(f"source.{m.data_source}") if zh else m.data_source.upper()
    name = (m.site_name_zh or m.site_name) if zh else m.site_name
    rows = [(L("xl.report"), L("rep.title", site=f"{name} ({m.site_id})")),
            (L("xl.period"), L("xl.period_text", first=m.first_day, last=m.last_day, tz=m.timezone)),
            (L("xl.entity"), m.tenant or L("rep.who_all")),
            (L("xl.data_source"), f"{source}: {note}")]
    rows += [(L("xl.warning"), w) for w in (m.warnings_zh if zh and m.warnings_zh else m.warnings)]
    rows += [(L("xl.data_quality"), f) for f in m.data_quality]
    loc, mkt = m.factor_location, m.factor_market
    rows += [(L("xl.coverage"), f"{m.coverage_pct:.2f}"),
             (L("xl.location_factor"), f"{loc.kg_co2_per_kwh} kgCO2/kWh, {loc.region} {loc.year}, {loc.document}"),
             (L("xl.market_factor"), f"{mkt.kg_co2_per_kwh} kgCO2/kWh ({mkt.id}): "
                                   f"{(m.factor_market_note_zh or m.factor_market_note) if zh else m.factor_market_note}"),
             (L("xl.tariff"), f"{m.tariff_name}{L('rep.illustrative') if m.tariff_illustrative else ''}: "
                              f"{m.tariff_source}"),
             (L("xl.allocation"), L(f"rule.{m.allocation_rule}") if zh else m.allocation_rule),
             (L("xl.generated"), L("xl.generated_text", ts=m.generated_at.astimezone(ZoneInfo(m.timezone))
                                   .isoformat(timespec="seconds"), tz=m.timezone))]
    for tp in report.targets:
        actual = "–" if tp.actual_pct is None else f"{tp.actual_pct:.2f} %"
        status = L("rep.met") if tp.met else (L("rep.not_met") if tp.met is not None else "–")
        source = L("target.site_source") if tp.id == "site" else tp.source
        rows.append((L("xl.target", name=target_name(tp, lang)),
                     L("xl.target_text", target=f"{tp.target_pct:g}", actual=actual, status=status, source=source)))
    return rows


def _labelled(frame: pd.DataFrame, lang: str) -> pd.DataFrame:
    """``frame`` with every column named by its catalogue label ``col.<name>`` in ``lang``."""
    return frame.rename(columns={c: t(f"col.{c}", lang) for c in frame.columns})


def write_xlsx(report: Report, path, lang: str = "en") -> None:
    """The workbook: a summary sheet, then one sheet per level, targets, gaps and notes; sheet names and
    column headers in ``lang`` (the CSV keeps the machine-readable names)."""
    def L(key: str) -> str:  # noqa: N802 - reads like the text it is
        return t(key, lang)

    zh = lang != "en"
    m = report.meta
    summary = pd.DataFrame(summary_rows(report, lang), columns=[L("col.item"), L("col.value")])
    totals = _labelled(accounts_frame(report.total, m.data_source), lang)
    with pd.ExcelWriter(path, engine="openpyxl") as xl:
        summary.to_excel(xl, sheet_name=L("sheet.summary"), index=False)
        totals.to_excel(xl, sheet_name=L("sheet.summary"), index=False, startrow=len(summary) + 2)
        for name, rows in (("daily", report.daily), ("monthly", report.monthly), ("yearly", report.yearly)):
            _labelled(accounts_frame(rows, m.data_source), lang).to_excel(xl, sheet_name=L(f"sheet.{name}"),
                                                                           index=False)
        targets = pd.DataFrame([tp.model_dump() | {"name": target_name(tp, lang)} for tp in report.targets])
        _labelled(targets, lang).to_excel(xl, sheet_name=L("sheet.targets"), index=False)
        tz = ZoneInfo(m.timezone)
        gaps = pd.DataFrame([{"entity": g.entity, "start": g.start.astimezone(tz).isoformat(),
                              "end": g.end.astimezone(tz).isoformat(), "intervals": g.intervals} for g in m.gaps],
                            columns=["entity", "start", "end", "intervals"])
        _labelled(gaps, lang).to_excel(xl, sheet_name=L("sheet.gaps"), index=False)
        if report.demand_response_terms is not None:
            dr = pd.DataFrame(dr_rows(report, lang), columns=[L(f"rep.dr.{k}") for k in DR_HEAD])
            dr.to_excel(xl, sheet_name=L("sheet.dr"), index=False)
            pd.DataFrame({L("col.definition"): [dr_rule(report, lang)]}).to_excel(
                xl, sheet_name=L("sheet.dr"), index=False, startrow=len(dr) + 2)
        notes = m.notes_zh if zh and m.notes_zh else m.notes
        pd.DataFrame({L("col.definition"): notes}).to_excel(xl, sheet_name=L("sheet.notes"), index=False)
        sheet = xl.sheets[L("sheet.summary")]
        sheet.column_dimensions["A"].width = 34
        sheet.column_dimensions["B"].width = 120
