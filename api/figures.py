"""Day figures the dashboard needs from measured interval averages: TOU bands, green ratio, CO2, cost.

Measured data arrive as a frame in :class:`optimizer.results.Schedule` column names (interval averages,
kW, indexed by interval start). Green-power ratio (绿电占比, DESIGN.md §5) over a period =
(on-site PV consumed on site × share of certificates retained + green-power purchases and direct green
supply, pro rata over the period) / total consumption; consumption = import + PV − export. Exported PV
never counts. CO2 = import × the site's default location-based emission factor.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd

from microgrid.site import Site, tariff_period_at

METHOD = ("(on-site PV consumed on site x certificate share + green purchases pro rata) / consumption; "
          "consumption = import + PV - export; CO2 = import x location-based factor")


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


def import_prices(site: Site, index: pd.DatetimeIndex) -> np.ndarray:
    """Energy price of each interval start, CNY/kWh."""
    tz = ZoneInfo(site.timezone)
    out = []
    for ts in index:
        local = ts.tz_convert(tz) if ts.tzinfo else ts.tz_localize(tz)
        period = tariff_period_at(site.tariff, local.month, local.hour * 60 + local.minute)
        out.append(site.tariff.prices_cny_per_kwh.get(period, 0.0))
    return np.asarray(out, dtype=float)


def _import_export(frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    if "grid_import_kw" in frame and "grid_export_kw" in frame:
        return frame["grid_import_kw"].fillna(0).to_numpy(), frame["grid_export_kw"].fillna(0).to_numpy()
    grid = frame["grid_kw"].fillna(0).to_numpy() if "grid_kw" in frame else np.zeros(len(frame))
    return np.maximum(grid, 0.0), np.maximum(-grid, 0.0)


def energy_figures(site: Site, frame: pd.DataFrame, start: datetime, end: datetime, step_min: int) -> dict:
    """Energies, green ratio, CO2 and import cost of measured intervals in ``[start, end)``."""
    if len(frame):
        frame = frame[(frame.index >= start) & (frame.index < end)]
    dt = step_min / 60.0
    imp, exp = _import_export(frame)
    pv_ids = [p.id for p in site.assets.pv]
    pv = sum((frame[f"{p}_kw"].fillna(0).to_numpy() for p in pv_ids if f"{p}_kw" in frame), np.zeros(len(frame)))
    import_kwh, export_kwh = float(imp.sum() * dt), float(exp.sum() * dt)
    pv_kwh = float(np.clip(pv, 0, None).sum() * dt)
    consumption = import_kwh + pv_kwh - export_kwh
    g = site.green_power
    share = g.onsite_certificates_retained_pct / 100.0
    covered_h = len(frame) * dt
    month_h = _hours_in_month(start)
    purchased = (g.green_trading_mwh_per_month + g.direct_green_supply_mwh_per_month) * 1000 * covered_h / month_h
    green = share * max(pv_kwh - export_kwh, 0.0) + purchased
    factor = site.emission_factor().kg_co2_per_kwh
    cost = float((import_prices(site, frame.index) * imp).sum() * dt) if len(frame) else 0.0
    return {
        "start": start, "end": end, "intervals": int(len(frame)),
        "consumption_kwh": round(consumption, 1), "import_kwh": round(import_kwh, 1),
        "export_kwh": round(export_kwh, 1), "pv_generation_kwh": round(pv_kwh, 1),
        "green_energy_kwh": round(green, 1),
        "green_power_ratio": round(min(green / consumption, 1.0), 4) if consumption > 0 else None,
        "co2_kg": round(import_kwh * factor, 1), "cost_energy_cny": round(cost, 2),
    }


def _hours_in_month(start: datetime) -> float:
    first = start.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    nxt = (first + timedelta(days=32)).replace(day=1)
    return (nxt - first).total_seconds() / 3600


def emission_source(site: Site) -> str:
    f = site.emission_factor()
    return f"{f.region} {f.year} ({f.scope}), {f.document}"
