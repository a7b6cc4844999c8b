"""Fujian TOU prices from the site tariff, per planning interval.

Periods come from the site file (``tariff.seasons``: months → windows of ``valley``/``flat``/``peak``/
``critical``), which encodes 闽发改规〔2023〕8号: peak 10–12, 15–20, 21–22 h; valley 0–8 h; flat otherwise;
critical peak 11–12 and 17–18 h in July–September. Prices per period are the site's
``tariff.prices_cny_per_kwh`` (illustrative until replaced by the monthly State Grid Fujian table).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from microgrid.site.models import Site, tariff_period_at

SAMPLE_MIN = 5


def tou_prices(site: Site, index: pd.DatetimeIndex) -> tuple[np.ndarray, np.ndarray]:
    """Import price (CNY/kWh) and TOU period label per interval of ``index``.

    The price is the time-weighted average over the interval (sampled every 5 min), so a step that
    straddles a period boundary pays the right blend; the label is the period at the interval start.
    """
    tariff = site.tariff
    step_min = (index[1] - index[0]).total_seconds() / 60 if len(index) > 1 else 15
    local = index.tz_convert(site.timezone)
    n_samples = max(int(step_min // SAMPLE_MIN), 1)
    prices = np.zeros(len(index))
    labels = []
    for i, ts in enumerate(local):
        total = 0.0
        for k in range(n_samples):
            sample = ts + pd.Timedelta(minutes=k * SAMPLE_MIN)
            period = tariff_period_at(tariff, sample.month, sample.hour * 60 + sample.minute)
            total += tariff.prices_cny_per_kwh[period]
        prices[i] = total / n_samples
        labels.append(tariff_period_at(tariff, ts.month, ts.hour * 60 + ts.minute))
    return prices, np.asarray(labels, dtype=object)


def export_price(site: Site, index: pd.DatetimeIndex) -> np.ndarray:
    """Price received for exported energy, CNY/kWh (the site's ``tariff.feed_in_cny_per_kwh``)."""
    return np.full(len(index), float(site.tariff.feed_in_cny_per_kwh))


def demand_charge_cny_per_kw_month(site: Site) -> float:
    """Demand charge that dispatch can influence: the maximum-demand charge, or 0 under capacity billing
    (a charge on transformer kVA does not depend on the plan)."""
    tariff = site.tariff
    return float(tariff.demand_charge_cny_per_kw_month) if tariff.basic_charge == "demand" else 0.0
