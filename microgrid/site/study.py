"""Site-file block ``study:`` — what the annual study and the target planner need beyond the dispatch model.

Everything is optional; a site without the block gets a study with no shutdowns, no seasonal scaling and
no sizing options (the planner then only buys green power). Units are in the names; see docs/study.md.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

NonNeg = Annotated[float, Field(ge=0)]
Pct = Annotated[float, Field(ge=0, le=100)]
Ident = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]*$", max_length=64)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Shutdown(_Strict):
    """A tenant's Spring Festival shutdown: the days around the festival its production stops."""

    tenant: Ident
    days_before: Annotated[int, Field(ge=0, le=30)] = 0
    """Days before the first day of the Lunar New Year (正月初一) the shutdown starts."""
    days_after: Annotated[int, Field(ge=0, le=45)] = 6
    """Days after 正月初一 production is still stopped (初一 + ``days_after`` is the last shutdown day)."""
    load_pct: Pct = 15.0
    """Base load during the shutdown, percent of the tenant's weekend profile (security, cold stores, HVAC)."""


class Roof(_Strict):
    """Roof (or carport) area where the target planner may add PV."""

    tenant: Ident
    bus: Ident
    max_added_kwp: NonNeg
    """Largest PV capacity that fits on top of what is installed, kWp (DC, STC)."""
    tilt_deg: Annotated[float, Field(ge=0, le=90)] = 10.0
    azimuth_deg: Annotated[float, Field(ge=0, lt=360)] = 180.0
    dc_ac_ratio: Annotated[float, Field(ge=0.8, le=2.0)] = 1.2
    """DC kWp per AC kW of the added inverters."""


class StorageOption(_Strict):
    """Where the planner may add storage (shared at a 10 kV bay, or behind a tenant's meter)."""

    id: Ident
    bus: Ident
    tenant: Ident | None = None
    max_power_kw: NonNeg
    max_energy_kwh: NonNeg
    eta_charge: Annotated[float, Field(gt=0, le=1)] = 0.95
    eta_discharge: Annotated[float, Field(gt=0, le=1)] = 0.95
    soc_min_pct: Pct = 10.0
    soc_max_pct: Pct = 95.0


class FuelBaseline(_Strict):
    """A process heat demand served by fuel today, which an added heat pump could take over (electrification)."""

    id: Ident
    tenant: Ident
    bus: Ident
    heat_profile: str
    """Profile column with the heat demand, kW_th."""
    fuel: str = "natural gas"
    fuel_cost_cny_per_kwh_th: NonNeg
    """Fuel cost per kWh of useful heat (fuel price ÷ boiler efficiency), CNY."""
    max_heat_pump_kw: NonNeg
    """Largest electric rating of a heat pump that could be installed, kW_e."""
    supply_temp_c: float = 80.0
    eta_carnot: Annotated[float, Field(gt=0, le=1)] = 0.45
    cop_min: Annotated[float, Field(gt=0)] = 1.5
    cop_max: Annotated[float, Field(gt=0)] = 5.0


class StudySettings(_Strict):
    """The ``study:`` block of a site file."""

    shutdowns: list[Shutdown] = []
    seasonal_load_pct: dict[str, list[Annotated[float, Field(ge=0, le=300)]]] = {}
    """Profile column (``load_<tenant>_kw``, heat or flexible baselines) → 12 monthly factors, percent of the
    representative-day profile (a summer profile in June and a winter one in January already differ)."""
    roofs: list[Roof] = []
    storage: list[StorageOption] = []
    fuel_baselines: list[FuelBaseline] = []
