"""The report as CSV (one tidy table) and XLSX (a summary sheet first, then one sheet per level)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from microgrid.reports.model import Accounts, Report
from microgrid.reports.periods import PERIODS


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


def summary_rows(report: Report) -> list[tuple[str, str]]:
    m = report.meta
    rows = [("report", f"green power, carbon and cost — {m.site_name} ({m.site_id})"),
            ("period", f"{m.first_day} to {m.last_day} ({m.timezone})"),
            ("entity", m.tenant or "park and tenants"),
            ("data source", f"{m.data_source.upper()}: {m.data_note}")]
    rows += [("WARNING", w) for w in m.warnings]
    rows += [("DATA QUALITY", f) for f in m.data_quality]
    rows += [("coverage (park) %", f"{m.coverage_pct:.2f}"),
             ("location factor", f"{m.factor_location.kg_co2_per_kwh} kgCO2/kWh, {m.factor_location.region} "
                                 f"{m.factor_location.year}, {m.factor_location.document}"),
             ("market factor", f"{m.factor_market.kg_co2_per_kwh} kgCO2/kWh ({m.factor_market.id}): "
                               f"{m.factor_market_note}"),
             ("tariff", f"{m.tariff_name}{' (illustrative)' if m.tariff_illustrative else ''}: {m.tariff_source}"),
             ("allocation rule", m.allocation_rule),
             ("generated", m.generated_at.isoformat(timespec="seconds"))]
    for t in report.targets:
        actual = "–" if t.actual_pct is None else f"{t.actual_pct:.2f} %"
        status = "met" if t.met else ("not met" if t.met is not None else "–")
        rows.append((f"target: {t.name}", f"{t.target_pct:g} % — actual {actual} — {status} ({t.source})"))
    return rows


def write_xlsx(report: Report, path: str | Path) -> None:
    summary = pd.DataFrame(summary_rows(report), columns=["item", "value"])
    totals = accounts_frame(report.total, report.meta.data_source)
    with pd.ExcelWriter(path, engine="openpyxl") as xl:
        summary.to_excel(xl, sheet_name="Summary", index=False)
        totals.to_excel(xl, sheet_name="Summary", index=False, startrow=len(summary) + 2)
        for name, rows in (("Daily", report.daily), ("Monthly", report.monthly), ("Yearly", report.yearly)):
            accounts_frame(rows, report.meta.data_source).to_excel(xl, sheet_name=name, index=False)
        pd.DataFrame([t.model_dump() for t in report.targets]).to_excel(xl, sheet_name="Targets", index=False)
        gaps = pd.DataFrame([{"entity": g.entity, "start": g.start.isoformat(), "end": g.end.isoformat(),
                              "intervals": g.intervals} for g in report.meta.gaps],
                            columns=["entity", "start", "end", "intervals"])
        gaps.to_excel(xl, sheet_name="Gaps", index=False)
        pd.DataFrame({"definition": report.meta.notes}).to_excel(xl, sheet_name="Notes", index=False)
        sheet = xl.sheets["Summary"]
        sheet.column_dimensions["A"].width = 34
        sheet.column_dimensions["B"].width = 120
