"""Green-power, carbon and cost reports from metered interval energies (DESIGN.md §5).

``table_from_store`` (metered) or ``simulated_table`` (simulation or plans, said so) → ``IntervalTable`` →
``build_report`` → ``Report`` (pydantic) → ``render_html`` / ``write_csv`` / ``write_xlsx``. The
accounting is pure functions over the interval table; see docs/reports.md for every definition.
"""

from microgrid.reports.accounting import GreenInstruments, entity_ledgers
from microgrid.reports.build import ReportError, ReportOptions, build_report
from microgrid.reports.export import report_frame, write_csv, write_xlsx
from microgrid.reports.html import render_html
from microgrid.reports.model import Accounts, Gap, Report, ReportMeta, TargetProgress
from microgrid.reports.service import MEDIA_TYPES, make_report, render
from microgrid.reports.simulated import planned_table, simulated_table
from microgrid.reports.sources import table_from_schedules, table_from_store
from microgrid.reports.table import PARK, IntervalTable, expected_index

__all__ = [
    "MEDIA_TYPES",
    "PARK",
    "Accounts",
    "Gap",
    "GreenInstruments",
    "IntervalTable",
    "Report",
    "ReportError",
    "ReportMeta",
    "ReportOptions",
    "TargetProgress",
    "build_report",
    "entity_ledgers",
    "expected_index",
    "make_report",
    "planned_table",
    "render",
    "render_html",
    "report_frame",
    "simulated_table",
    "table_from_schedules",
    "table_from_store",
    "write_csv",
    "write_xlsx",
]
