"""Day figures the dashboard needs: TOU price bands, and green ratio, CO2, cost and demand charge of a period
from the one accounting (:mod:`microgrid.reports.figures`, definitions in docs/reports.md)."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from microgrid.site import Site, tariff_period_at

METHOD = ("(on-site PV consumed on site with certificates kept + green trading + accepted certificates + direct "
          "supply, pro rata to the period) / consumption; consumption = import + PV - export; exported PV never "
          "counts; CO2 = import x location-based factor (docs/reports.md)")


def day_bounds(site: Site, day: date) -> tuple[datetime, datetime]:
    tz = ZoneInfo(site.timezone)
    start = datetime.combine(day, time(), tz)
    return start, datetime.combine(day + timedelta(days=1), time(), tz)


def local_day(site: Site, now: datetime) -> date:
    return now.astimezone(ZoneInfo(site.timezone)).date()


def price_bands(site: Site, day: date) -> list[dict]:
    """Consecutive TOU periods of ``day`` as ``{start, end, period, price}`` (end exclusive)."""
    start, _ = day_bounds(site, day)
    bands: list[dict] = []
    for minute in range(0, 24 * 60, 15):
        period = tariff_period_at(site.tariff, day.month, minute)
        at = start + timedelta(minutes=minute)
        if bands and bands[-1]["period"] == period:
            bands[-1]["end"] = at + timedelta(minutes=15)
        else:
            bands.append({"start": at, "end": at + timedelta(minutes=15), "period": period,
                          "price": site.tariff.prices_cny_per_kwh.get(period)})
    return bands


def measured_figures(ctx_store, site: Site, start: datetime, end: datetime) -> dict:
    """Figures of ``[start, end)`` from the store's metered interval energies, computed by the one accounting
    (:func:`microgrid.reports.figures.period_figures`), so the dashboard, ``/metrics``, the run summary and a
    report over the same period agree."""
    from microgrid.reports.figures import period_figures

    return period_figures(site, ctx_store, start, max(end, start))


def emission_source(site: Site) -> str:
    f = site.emission_factor()
    return f"{f.region} {f.year} ({f.scope}), {f.document}"
