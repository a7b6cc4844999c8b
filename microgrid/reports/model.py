"""The report as data (pydantic, declared once): reused by the renderers, the CLI and the API."""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict

from microgrid.gridside.settlement import Settlement
from microgrid.site.gridside import DemandResponseSettings

Level = Literal["day", "month", "year", "total"]


class Model(BaseModel):
    model_config = ConfigDict(frozen=True)


class Accounts(Model):
    """Energy, green power, CO2 and cost of one entity (``park`` or a tenant) over one period.

    Energies in kWh over the *valid* intervals only (gaps are excluded, never counted as zero); see
    ``coverage_pct``. Sign: every figure is a magnitude (>= 0) except savings (> 0 = saved).
    """

    entity: str
    level: Level
    period: str
    """``2025-07-01`` (day), ``2025-07`` (month), ``2025`` (year) or ``2025-07-01..2025-07-07`` (total)."""
    first_day: date
    last_day: date
    intervals_expected: int
    intervals_valid: int
    intervals_partial: int
    """Valid intervals estimated from partly covered data."""
    coverage_pct: float
    """Share of the expected intervals that is usable, percent."""
    estimated: bool = False
    """The entity's consumption is derived, not metered (e.g. a tenant without its own meter)."""

    consumption_kwh: float
    """Electricity consumed: import − export + PV generation (incl. storage losses)."""
    load_kwh: float
    """End-use consumption (consumption without storage)."""
    grid_import_kwh: float
    grid_export_kwh: float
    import_by_period_kwh: dict[str, float]
    """Grid import by TOU period (``critical``, ``peak``, ``flat``, ``valley``)."""
    peak_import_kw: float | None
    pv_generated_kwh: float
    pv_self_consumed_kwh: float
    """Generated and consumed in the park (not exported)."""
    pv_exported_kwh: float
    pv_curtailed_kwh: float
    storage_charge_kwh: float
    storage_discharge_kwh: float
    storage_losses_kwh: float
    """Charge − discharge − increase of stored energy (park: from SoC; tenants: park losses by throughput)."""

    green_onsite_physical_kwh: float
    """On-site renewable energy in this consumption, before certificates."""
    green_onsite_kwh: float
    """… of which the certificates are retained: counts as green."""
    onsite_certificates_sold_kwh: float
    """… of which the certificates were sold: consumed, but not green."""
    green_direct_kwh: float
    green_trading_kwh: float
    green_certificates_kwh: float
    """Retired unbundled certificates (only where the claim scheme accepts them)."""
    green_total_kwh: float
    """Green energy claimed: the sum above, capped at consumption."""
    green_unused_kwh: float
    """Purchases beyond consumption (not claimed, never counted twice)."""
    green_ratio_pct: float | None
    """绿电占比 = green_total / consumption (DESIGN.md §5)."""
    onsite_physical_share_pct: float | None
    """On-site renewable energy / consumption, regardless of certificates."""
    location_renewable_share_pct: float | None
    """Location-based: on-site renewables plus the grid's renewable share of the grid energy consumed;
    ``None`` when no grid renewable share is configured. Never mixed into the green-power ratio."""

    co2_location_kg: float
    co2_location_secondary_kg: float | None
    co2_market_kg: float

    cost_energy_by_period_cny: dict[str, float]
    cost_energy_cny: float
    cost_export_revenue_cny: float
    cost_basic_charge_cny: float
    """Demand or capacity charge, pro rata to the days of the period in each month."""
    cost_total_cny: float
    """Energy + basic charge − export revenue."""
    month_peak_kw: float | None = None
    """Park: the month-to-date peak (highest interval-average import since the 1st of the month, metered data
    before the report included) at the end of the period; ``None`` for tenants."""
    demand_charge_month_to_date_cny: float | None = None
    """Park: the month's demand charge on ``month_peak_kw`` with the 105 %/×2 rule (what the bill says so far)."""

    counterfactual_import_kwh: float
    counterfactual_export_kwh: float
    counterfactual_pv_curtailed_kwh: float
    counterfactual_cost_cny: float
    counterfactual_green_ratio_pct: float | None
    savings_cny: float
    """Counterfactual cost − cost (> 0: storage and optimisation saved money)."""


class FactorInfo(Model):
    id: str
    scope: str
    region: str
    year: int
    kg_co2_per_kwh: float
    document: str
    url: str | None = None


class TargetProgress(Model):
    id: str
    name: str
    year: int | None
    target_pct: float
    actual_pct: float | None
    """Green-power ratio of the report period (or of the year, when the report has that year)."""
    basis: str
    """Which period ``actual_pct`` covers."""
    met: bool | None
    gap_pp: float | None
    """Percentage points still missing (0 when met)."""
    source: str
    note: str = ""


class Gap(Model):
    """Consecutive intervals without usable data."""

    entity: str
    start: datetime
    end: datetime
    intervals: int


class ReportMeta(Model):
    site_id: str
    site_name: str
    site_name_zh: str = ""
    first_day: date
    last_day: date
    timezone: str
    interval_min: int
    tenant: str | None = None
    """The tenant the report is about (``None``: the park and all tenants)."""
    data_source: Literal["metered", "simulated", "planned"]
    data_note: str
    data_note_zh: str = ""
    """``data_note`` in Chinese (empty: not translated)."""
    generated_at: datetime
    allocation_rule: str
    min_coverage_pct: float
    coverage_pct: float
    """Park coverage over the whole period."""
    gaps: list[Gap]
    factor_location: FactorInfo
    factor_secondary: FactorInfo | None
    factor_market: FactorInfo
    factor_market_note: str
    factor_market_note_zh: str = ""
    tariff_name: str
    tariff_illustrative: bool
    tariff_source: str
    certificates_retained_pct: float
    grid_renewable_share_pct: float | None
    warnings: list[str]
    """First-page notices: gaps, simulated data, estimated tenants, unconfirmed targets."""
    warnings_zh: list[str] = []
    """The same notices in Chinese."""
    data_quality: list[str] = []
    """Data-quality findings: physically impossible intervals, naming meter (or entity) and interval."""
    notes: list[str]
    """Definitions and caveats."""
    notes_zh: list[str] = []
    """The same in Chinese."""


class Report(Model):
    meta: ReportMeta
    total: list[Accounts]
    """One row per entity over the whole period (park first)."""
    daily: list[Accounts]
    monthly: list[Accounts]
    yearly: list[Accounts]
    targets: list[TargetProgress]
    demand_response: list[Settlement] = []
    """Every DR event of the period, settled from the metered PCC import (none for simulated reports)."""
    demand_response_terms: DemandResponseSettings | None = None
    """The site's baseline rule and prices the events were settled with (``None``: not settled)."""

    def rows(self, level: str, entity: str | None = None) -> list[Accounts]:
        source = {"total": self.total, "day": self.daily, "month": self.monthly, "year": self.yearly}[level]
        return [a for a in source if entity is None or a.entity == entity]
