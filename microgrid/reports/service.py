"""One call from a site and a period to a rendered report, for the CLI and the API."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Literal

import sqlalchemy as sa

from microgrid.reports.build import ReportError, ReportOptions, build_report
from microgrid.reports.export import report_frame, write_xlsx
from microgrid.reports.html import render_html
from microgrid.reports.model import Report
from microgrid.reports.simulated import simulated_table
from microgrid.reports.sources import SiteLayout, table_from_store
from microgrid.reports.table import IntervalTable
from microgrid.site.models import Site
from microgrid.store import Store, default_url, energy_sources_from_site

Simulate = Literal["auto", "never", "always"]
FORMATS = ("html", "csv", "xlsx")
MEDIA_TYPES = {"html": "text/html; charset=utf-8", "csv": "text/csv; charset=utf-8",
               "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"}


def _sqlite_missing(url: str) -> bool:
    parsed = sa.make_url(url)
    return (parsed.get_backend_name() == "sqlite" and bool(parsed.database)
            and parsed.database != ":memory:" and not parsed.database.startswith("file:")
            and not Path(parsed.database).exists())


def metered_table(site: Site, store: Store, first_day: date, last_day: date, *, min_coverage: float = 0.5
                  ) -> tuple[IntervalTable | None, str]:
    """The metered table, or ``(None, reason)`` when the store has no PCC interval energy for the period."""
    layout = SiteLayout(site)
    if layout.pcc is None:
        raise ReportError.of("uerr.report_no_pcc", site=site.id)
    start, _ = store.day_bounds(first_day)
    _, end = store.day_bounds(last_day)
    rows = store.interval_frame(start, end, source_ids=[layout.pcc.id], quantities=["e_import_kwh"])
    if rows["value"].notna().sum() == 0:
        return None, f"no metered interval energies of {layout.pcc.id} for {first_day}..{last_day} in {store.url}"
    return table_from_store(store, site, first_day, last_day, min_coverage=min_coverage), ""


def make_report(site: Site, first_day: date, last_day: date, *, tenant: str | None = None,
                options: ReportOptions | None = None, store: Store | None = None, store_url: str | None = None,
                data_dir: str | None = None, simulate: Simulate = "auto", roll_up: bool = False,
                progress: Callable[[str], None] | None = None) -> Report:
    """Report of ``[first_day, last_day]`` from the store (``store``, or opened from ``store_url`` / the site's
    default file); when the period has no metered data, simulated (``simulate="auto"``) or an error
    (``"never"``). ``roll_up`` first rolls raw telemetry up (only when no controller writes to the store)."""
    options = options or ReportOptions()
    say = progress or (lambda _msg: None)
    if last_day < first_day:
        raise ReportError.of("uerr.report_to_before_from", last=str(last_day), first=str(first_day))
    if tenant is not None and tenant not in [t.id for t in site.tenants]:
        raise ReportError.of("uerr.report_tenant_unknown", tenant=tenant, site=site.id,
                             tenants=", ".join(t.id for t in site.tenants))
    table, reason, settled = None, "simulation requested", None
    if simulate != "always":
        own = store is None
        url = store_url or default_url(site.id, data_dir)
        if own and _sqlite_missing(url):
            reason = f"no store at {url}"
        else:
            st = store or Store.open(url, site_id=site.id, timezone=site.timezone,
                                     energy_sources=energy_sources_from_site(site))
            try:
                if roll_up:
                    st.roll_up()
                table, reason = metered_table(site, st, first_day, last_day, min_coverage=options.min_coverage)
                if table is not None and tenant is None:  # DR settles the park's PCC import
                    settled = dr_settlements(site, st, first_day, last_day)
            finally:
                if own:
                    st.close()
    if table is None:
        if simulate == "never":
            raise ReportError.of("uerr.report_no_data", reason=reason).with_problem("uerr.report_no_data_hint")
        say(f"note: {reason}; simulating {first_day}..{last_day} instead (the report says so)")
        table = simulated_table(site, first_day, last_day, min_coverage=options.min_coverage,
                                progress=lambda msg: say(f"  {msg}"))
    report = build_report(site, table, tenant=tenant, options=options)
    if settled is None:
        return report
    return report.model_copy(update={"demand_response": settled,
                                     "demand_response_terms": site.gridside.demand_response})


def dr_settlements(site: Site, store: Store, first_day: date, last_day: date) -> list:
    """The period's DR events settled from the store (:mod:`microgrid.gridside.ledger`)."""
    from microgrid.gridside.ledger import settlements

    return settlements(site, store, first_day, last_day)


def render(report: Report, fmt: str, lang: str = "en") -> bytes:
    """The report as ``html``, ``csv`` or ``xlsx`` bytes (see :data:`MEDIA_TYPES`); HTML and XLSX read in
    ``lang``, the CSV keeps its machine-readable column names."""
    if fmt == "html":
        return render_html(report, lang).encode("utf-8")
    if fmt == "csv":
        return report_frame(report).to_csv(index=False, float_format="%.4f").encode("utf-8")
    if fmt == "xlsx":
        import io

        buf = io.BytesIO()
        write_xlsx(report, buf, lang)
        return buf.getvalue()
    raise ReportError.of("uerr.report_format", format=fmt)
