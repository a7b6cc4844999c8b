"""Plans, plan-vs-actual series and key figures."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from pydantic import Field

from api.schemas.common import Out
from microgrid.store.models import ScheduleSummary


class SeriesOut(Out):
    """Columnar interval data: ``index`` holds interval starts, each series one value per interval."""

    index: list[datetime]
    step_min: int
    series: dict[str, list[float | None]] = Field(
        description="schedule columns (see optimizer.results): grid_kw, <pv>_kw, <bat>_kw, <bat>_soc_pct, "
        "<hp>_p_el_kw, <hp>_tank_kwh, <tenant>_load_kw, price_import_cny_per_kwh, ...",
        examples=[{"grid_kw": [812.5, 790.0], "pv_shoes_kw": [0.0, 12.4]}],
    )
    tou_period: list[str] | None = Field(default=None, description="valley / flat / peak / critical per interval")


class ScheduleOut(Out):
    """A stored plan version: its summary (id, day, version, kind, source, KPIs, ...) and its intervals."""

    meta: ScheduleSummary
    assets: dict[str, str] = Field(description="asset or tenant id -> kind", examples=[{"bess_shared": "battery"}])
    data: SeriesOut


class ScheduleVersionsOut(Out):
    day: date
    versions: list[ScheduleSummary]


class KpiOut(Out):
    """Key figures of a plan (optimizer.kpis.KPI_DOCS documents every key)."""

    schedule_id: int
    version: int
    kpis: dict[str, Any] = Field(examples=[{"cost_total_cny": 61234.5, "green_power_ratio": 0.312}])


class AssetGroup(Out):
    """How the dashboard stacks a column: its label, group and whether it is drawn below zero."""

    column: str
    asset_id: str
    kind: str
    label: str
    label_zh: str
    sign: int = Field(description="+1: source (PV, discharge), -1: consumption")


class PlanVsActualOut(Out):
    """One local day: in each interval the plan that was in force then (versions overlaid from their start on),
    and the measured interval averages on the same intervals; ``schedule_id``/``version``: the newest plan."""

    day: date
    schedule_id: int | None = Field(description="store id of the plan shown (null: no plan for the day)")
    version: int | None = None
    plan: SeriesOut | None
    actual: SeriesOut
    stack: list[AssetGroup]
    price_bands: list[dict[str, Any]] = Field(
        description="TOU periods as [start, end) with price", examples=[[{"start": "2025-07-16T00:00:00+08:00",
                                                                             "end": "2025-07-16T08:00:00+08:00",
                                                                             "period": "valley", "price": 0.36}]],
    )


class EnergyFigures(Out):
    """Figures of a period from :func:`microgrid.reports.figures.period_figures` (docs/reports.md)."""

    start: datetime
    end: datetime
    consumption_kwh: float
    import_kwh: float
    export_kwh: float
    pv_generation_kwh: float
    pv_exported_kwh: float = 0.0
    green_energy_kwh: float
    green_power_ratio: float | None = Field(description="0-1 (绿电占比)")
    green_label: str = Field("", description="what the ratio contains (PARTIAL when some parts are missing)")
    green_parts_kwh: dict[str, float] = Field(default_factory=dict,
                                              description="onsite_pv, trading, certificates, direct, unused")
    location_renewable_share: float | None = Field(None, description="0-1, kept apart from the ratio")
    co2_kg: float
    cost_energy_cny: float = Field(description="energy import cost at TOU prices (demand charge not included)")
    cost_energy_by_period_cny: dict[str, float] = Field(default_factory=dict)
    month_peak_kw: float = 0.0
    demand_charge_month_to_date_cny: float = Field(0.0, description="the month's demand charge so far (105 %/x2)")
    storage_losses_kwh: float = 0.0
    coverage_pct: float = 0.0
    partial: bool = Field(False, description="metered data cover less than 99 % of the period")
    intervals: int


class GreenOut(Out):
    """Green-power ratio, CO2 and energy cost today and month to date, from measured interval energies."""

    day: date
    today: EnergyFigures
    month_to_date: EnergyFigures
    emission_factor_kg_per_kwh: float
    emission_factor_source: str
    target_ratio_pct: float | None = None
    method: str = Field(description="how the ratio is counted")
