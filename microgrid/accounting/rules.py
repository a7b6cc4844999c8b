"""The definitions every figure of the product uses: demand charge, green-power ratio, Scope 2, losses.

Plan KPIs (:func:`optimizer.compute_kpis`), the per-interval ledgers and period accounts of the reports
(:mod:`microgrid.reports`), and through them the ``microgrid run`` summary, the API's figures and the
Prometheus gauges all call these functions; none restates a formula. docs/reports.md gives the maths.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd


# ---- demand (basic) charge -----------------------------------------------------------------------------
@dataclass(frozen=True)
class DemandRule:
    """Demand charge of one month: ``rate × P + rate × (factor − 1) × max(P − threshold% × declared, 0)``.

    ``P`` is the month's highest interval-average import (kW). Demand above ``threshold_pct`` (105 %) of the
    declared demand is billed at ``factor`` (2×) the rate (发改办价格〔2016〕1583号), whatever the import
    cap: a cap at or below the threshold only makes the excess unlikely, not free.
    """

    rate_cny_per_kw_month: float
    declared_kw: float | None
    threshold_pct: float = 105.0
    excess_factor: float = 2.0

    @classmethod
    def from_tariff(cls, tariff, declared_kw: float | None) -> DemandRule:
        rate = tariff.demand_charge_cny_per_kw_month if tariff.basic_charge == "demand" else 0.0
        return cls(rate, declared_kw, tariff.demand_excess_threshold_pct, tariff.demand_excess_factor)

    @property
    def threshold_kw(self) -> float | None:
        """Import above which the excess rate applies, kW (``None`` without a declared demand)."""
        if self.declared_kw is None or self.excess_factor <= 1:
            return None
        return self.declared_kw * self.threshold_pct / 100.0

    def excess_kw(self, peak_kw: float) -> float:
        threshold = self.threshold_kw
        return 0.0 if threshold is None else max(peak_kw - threshold, 0.0)

    def charge_cny(self, peak_kw: float) -> float:
        """The month's demand charge at peak ``peak_kw`` (CNY)."""
        peak = max(float(peak_kw), 0.0)
        return self.rate_cny_per_kw_month * (peak + (self.excess_factor - 1) * self.excess_kw(peak))

    def increase_cny(self, before_kw: float, after_kw: float) -> float:
        """Month-to-date logic: what raising the month's peak from ``before_kw`` to ``after_kw`` adds (CNY, >= 0)."""
        before = max(float(before_kw), 0.0)
        return self.charge_cny(max(before, float(after_kw))) - self.charge_cny(before)


# ---- green power ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class GreenInstruments:
    """Green-power purchases, spread evenly over the intervals of their month or year (kWh per interval)."""

    trading_mwh_per_month: float = 0.0
    direct_mwh_per_month: float = 0.0
    certificates_mwh_per_year: float = 0.0
    """Retired unbundled certificates (1 GEC = 1 MWh); counted only where the claim scheme accepts them."""

    @classmethod
    def from_site(cls, green_power) -> GreenInstruments:
        certs = green_power.certificates_retired_mwh_per_year if green_power.unbundled_certificates_accepted else 0.0
        return cls(trading_mwh_per_month=green_power.green_trading_mwh_per_month,
                   direct_mwh_per_month=green_power.direct_green_supply_mwh_per_month,
                   certificates_mwh_per_year=certs)

    @property
    def any(self) -> bool:
        return bool(self.trading_mwh_per_month or self.direct_mwh_per_month or self.certificates_mwh_per_year)

    def per_interval(self, index: pd.DatetimeIndex, interval_min: float) -> pd.DataFrame:
        """kWh per interval: a month's volume over the intervals of that (whole) month, a year's over the year."""
        per_hour = 60.0 / interval_min
        n_month = index.days_in_month.to_numpy() * 24 * per_hour
        n_year = np.where(index.is_leap_year, 366, 365) * 24 * per_hour
        return pd.DataFrame({
            "trading_kwh": self.trading_mwh_per_month * 1000.0 / n_month,
            "direct_kwh": self.direct_mwh_per_month * 1000.0 / n_month,
            "certificates_kwh": self.certificates_mwh_per_year * 1000.0 / n_year,
        }, index=index)

    def total_kwh(self, index: pd.DatetimeIndex, interval_min: float) -> float:
        """All purchases attributed to the intervals of ``index``, kWh."""
        return float(self.per_interval(index, interval_min).to_numpy().sum()) if self.any else 0.0


@dataclass(frozen=True)
class GreenParts:
    """The green-power ratio (绿电占比, DESIGN.md §5) and its parts over a period, kWh.

    ratio = min(on-site renewable consumed × retained share + trading + certificates + direct supply,
    consumption) / consumption. Exported PV never counts; purchases beyond consumption are *unused*.
    """

    consumption_kwh: float
    onsite_physical_kwh: float
    """On-site renewable energy consumed on site, before certificates (exported PV excluded)."""
    onsite_kwh: float
    """… whose certificates are retained (counts as green)."""
    certificates_sold_kwh: float
    trading_kwh: float
    certificates_kwh: float
    direct_kwh: float
    total_kwh: float
    unused_kwh: float
    partial: bool = False
    """Only some parts are known (e.g. on-site PV only): the label says so."""

    @property
    def bought_kwh(self) -> float:
        return self.trading_kwh + self.certificates_kwh + self.direct_kwh

    @property
    def bought_used_kwh(self) -> float:
        return max(self.total_kwh - self.onsite_kwh, 0.0)

    @property
    def ratio(self) -> float | None:
        return self.total_kwh / self.consumption_kwh if self.consumption_kwh > 1e-9 else None

    @property
    def label(self) -> str:
        if self.partial:
            return "green-power ratio (PARTIAL: on-site PV only; trading, certificates and direct supply not included)"
        return "green-power ratio (on-site PV kept + trading + certificates + direct supply)"


def green_parts(consumption_kwh: float, onsite_physical_kwh: float, *, retained_share: float,
                trading_kwh: float = 0.0, certificates_kwh: float = 0.0, direct_kwh: float = 0.0,
                partial: bool = False) -> GreenParts:
    """:class:`GreenParts` from the period's sums (see its docstring)."""
    onsite_phys = max(float(onsite_physical_kwh), 0.0)
    onsite = retained_share * onsite_phys
    raw = onsite + trading_kwh + certificates_kwh + direct_kwh
    total = min(raw, max(float(consumption_kwh), 0.0))
    return GreenParts(consumption_kwh=float(consumption_kwh), onsite_physical_kwh=onsite_phys, onsite_kwh=onsite,
                      certificates_sold_kwh=onsite_phys - onsite, trading_kwh=trading_kwh,
                      certificates_kwh=certificates_kwh, direct_kwh=direct_kwh, total_kwh=total,
                      unused_kwh=raw - total, partial=partial)


def location_share(consumption_kwh: float, onsite_physical_kwh: float, grid_share: float | None) -> float | None:
    """Location-based renewable share 0–1: on-site renewables + the grid's share of the grid energy consumed.
    Kept apart from the green-power ratio; ``None`` without a published grid share."""
    if grid_share is None or consumption_kwh <= 1e-9:
        return None
    onsite = max(onsite_physical_kwh, 0.0)
    return (onsite + grid_share * max(consumption_kwh - onsite, 0.0)) / consumption_kwh


# ---- carbon, storage -----------------------------------------------------------------------------------
def scope2_location_kg(import_kwh: float, kg_per_kwh: float) -> float:
    """Location-based Scope 2 = grid import × grid emission factor, kg CO2."""
    return float(import_kwh) * kg_per_kwh


def scope2_market_kg(import_kwh: float, parts: GreenParts, kg_per_kwh: float) -> float:
    """Market-based Scope 2: (import + on-site PV whose certificates were sold − purchases claimed) × residual
    factor, kg CO2 (GHG Protocol Scope 2 guidance)."""
    return max(import_kwh + parts.certificates_sold_kwh - parts.bought_used_kwh, 0.0) * kg_per_kwh


def storage_losses_kwh(charge_kwh, discharge_kwh, stored_start_kwh=None, stored_end_kwh=None):
    """Energy lost in storage, kWh, a positive loss: AC charge − AC discharge − increase of stored energy.
    Scalars or aligned arrays/Series; where the stored-energy change is unknown it is left out."""
    losses = charge_kwh - discharge_kwh
    if stored_start_kwh is not None and stored_end_kwh is not None:
        delta = stored_end_kwh - stored_start_kwh
        losses = losses - np.where(np.isfinite(delta), delta, 0.0)
    return losses


def energy_cost_cny(import_kwh, price_cny_per_kwh) -> float:
    """Energy cost = Σ import × TOU price of its interval, CNY."""
    return float(np.nansum(np.asarray(import_kwh, dtype=float) * np.asarray(price_cny_per_kwh, dtype=float)))


__all__ = ["DemandRule", "GreenInstruments", "GreenParts", "energy_cost_cny", "green_parts", "location_share",
           "scope2_location_kg", "scope2_market_kg", "storage_losses_kwh"]
