"""The report's demand-response section as data: one row per settled DR event (HTML and XLSX render it)."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from microgrid.gridside.settlement import Settlement
from microgrid.i18n import t
from microgrid.reports.model import Report
from microgrid.site.gridside import DemandResponseSettings

DR_HEAD = ["event", "window", "cap", "baseline_days", "baseline", "metered", "requested", "delivered", "shortfall",
           "delivery", "compensation", "penalty", "note"]
"""Catalogue keys ``rep.dr.<name>`` of the section's columns (powers kW, energies kWh, money CNY)."""


def dr_note(s: Settlement, terms: DemandResponseSettings, lang: str) -> str:
    """The settlement's note in ``lang`` (empty when it settled normally)."""
    if not s.note_code:
        return ""
    return t(f"rep.dr.note.{s.note_code}", lang, found=len(s.baseline_days), needed=terms.baseline.min_days)


def dr_rows(report: Report, lang: str) -> list[list]:
    """One row per event in :data:`DR_HEAD` order: texts, and numbers unrounded (``None``: no figure)."""
    terms = report.demand_response_terms
    if terms is None:
        return []
    tz = ZoneInfo(report.meta.timezone)
    rows = []
    for s in report.demand_response:
        start, end = s.start.astimezone(tz), s.end.astimezone(tz)
        window = f"{start:%Y-%m-%d %H:%M}–" + (f"{end:%H:%M}" if start.date() == end.date() else f"{end:%Y-%m-%d %H:%M}")
        rows.append([s.event_id, window, s.cap_kw, ", ".join(d.isoformat() for d in s.baseline_days),
                     s.baseline_kwh, s.metered_kwh, s.requested_kwh, s.delivered_kwh, s.shortfall_kwh,
                     s.delivery_pct, s.compensation_cny, s.penalty_cny, dr_note(s, terms, lang)])
    return rows


def dr_rule(report: Report, lang: str) -> str:
    """The baseline rule and prices the events were settled with, in ``lang``."""
    terms = report.demand_response_terms
    if terms is None:
        return ""
    rule = terms.baseline
    return t("rep.dr.rule", lang, days=rule.days, lookback=rule.lookback_days, min_days=rule.min_days,
             rate=f"{terms.compensation_cny_per_kwh:g}", penalty=f"{terms.shortfall_penalty_cny_per_kwh:g}")
