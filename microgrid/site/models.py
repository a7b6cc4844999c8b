"""Pydantic v2 models of a park site file (``site_configs/<site>/site.yaml``).

Field-level rules (types, ranges) live here; rules that relate fields to each other (references,
duplicates, coverage of the tariff day) live in :mod:`microgrid.site.checks` so that every problem of a
file is reported at once with its exact path.

Sign convention (DESIGN.md §3): power flowing *into the park bus from the asset* is positive. Ratings in
this file are magnitudes (always >= 0); the sign comes from the role of the asset.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from microgrid.site.gridside import GridSideSettings
from microgrid.site.study import StudySettings

PositiveFloat = Annotated[float, Field(gt=0)]
NonNegFloat = Annotated[float, Field(ge=0)]
Pct = Annotated[float, Field(ge=0, le=100)]
Fraction = Annotated[float, Field(gt=0, le=1)]
Identifier = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]*$", max_length=64)]

WATER_KWH_PER_M3_K = 1.163
"""Heat capacity of water, kWh per m³ per kelvin (4.186 kJ/kg·K × 1000 kg / 3600)."""


class Strict(BaseModel):
    """Base for site models: unknown keys are errors, so typos do not pass silently."""

    model_config = ConfigDict(extra="forbid", frozen=True)


def minutes_of(hhmm: str) -> int:
    """Minutes after local midnight of an ``HH:MM`` string (``24:00`` → 1440)."""
    hours, minutes = hhmm.split(":")
    return int(hours) * 60 + int(minutes)


def in_window(seconds_of_day: float, start_hhmm: str, end_hhmm: str) -> tuple[bool, float]:
    """Whether a local time is inside a daily window that may cross midnight, and the seconds left in it."""
    start, end = minutes_of(start_hhmm) * 60.0, minutes_of(end_hhmm) * 60.0
    if start <= end:
        inside = start <= seconds_of_day < end
        left = end - seconds_of_day
    else:
        inside = seconds_of_day >= start or seconds_of_day < end
        left = (end + 86400.0 - seconds_of_day) if seconds_of_day >= start else end - seconds_of_day
    return inside, (left if inside else 0.0)


HHMM = Annotated[str, Field(pattern=r"^([01][0-9]|2[0-3]):[0-5][0-9]$|^24:00$")]


def energy_still_owed_kwh(energy_kwh: float, p_max_kw: float, hours_left: float, eta: float = 1.0,
                          window_h: float | None = None) -> float:
    """Energy a window job still needs when it is already under way at the start, kWh (delivered side).

    The plan and the simulator use this one rule. An EV session (``window_h`` None): what was delivered
    before is the least the previous plan had to deliver, so the session still needs everything the time
    left can deliver at full power, up to the whole ``energy_kwh``. A deferrable batch (``window_h`` given):
    it has progressed pro rata to the window elapsed, so it needs ``energy_kwh × hours_left / window_h``,
    at most what the time left can deliver.
    """
    deliverable = max(0.0, eta * p_max_kw * hours_left)
    if window_h:
        return min(energy_kwh * max(hours_left, 0.0) / window_h, deliverable)
    return min(energy_kwh, deliverable)


class Location(Strict):
    latitude_deg: Annotated[float, Field(ge=-90, le=90)]
    longitude_deg: Annotated[float, Field(ge=-180, le=180)]
    altitude_m: float = 0.0
    timezone: str = "Asia/Shanghai"


class SiteInfo(Strict):
    id: Identifier
    name: str
    name_zh: str | None = None
    description: str = ""
    location: Location
    resolution_min: Annotated[int, Field(ge=5, le=60)] = 15
    """Planning resolution in minutes; must divide 60 (5, 10, 15, 20, 30, 60)."""

    @field_validator("resolution_min")
    @classmethod
    def _divides_hour(cls, value: int) -> int:
        if 60 % value:
            raise ValueError("must divide 60 (5, 10, 15, 20, 30 or 60)")
        return value


class GridConnection(Strict):
    """Connection to the public grid at the point of common coupling (PCC)."""

    bus: Identifier
    voltage_kv: PositiveFloat
    short_circuit_mva: PositiveFloat
    r_x_ratio: NonNegFloat = 0.1
    declared_demand_kw: PositiveFloat
    """Declared (contracted) maximum demand, kW; exceeding it by more than 5 % is billed at double rate."""
    import_limit_kw: PositiveFloat | None = None
    """Hard import cap at the PCC, kW; defaults to the declared demand."""
    export_limit_kw: NonNegFloat = 0.0
    """Maximum export at the PCC, kW; 0 means zero export (anti-backflow)."""

    @property
    def import_cap_kw(self) -> float:
        """Effective import cap at the PCC, kW."""
        return self.import_limit_kw if self.import_limit_kw is not None else self.declared_demand_kw


class Bus(Strict):
    id: Identifier
    vn_kv: PositiveFloat
    name: str = ""
    tenant: Identifier | None = None


class Line(Strict):
    """A cable or overhead line between two buses of the same voltage."""

    id: Identifier
    from_bus: Identifier
    to_bus: Identifier
    std_type: str
    length_km: PositiveFloat
    parallel: Annotated[int, Field(ge=1)] = 1
    max_loading_pct: Annotated[float, Field(gt=0, le=200)] = 100.0


class Transformer(Strict):
    """A two-winding transformer; impedances in percent of rating on its own base."""

    id: Identifier
    hv_bus: Identifier
    lv_bus: Identifier
    sn_kva: PositiveFloat
    vn_hv_kv: PositiveFloat
    vn_lv_kv: PositiveFloat
    vector_group: str = "Dyn11"
    vk_percent: Annotated[float, Field(gt=0, le=30)] = 6.0
    vkr_percent: Annotated[float, Field(ge=0, le=10)] = 1.0
    pfe_kw: NonNegFloat = 0.0
    i0_percent: Annotated[float, Field(ge=0, le=10)] = 0.0
    std_type: str | None = None
    max_loading_pct: Annotated[float, Field(gt=0, le=200)] = 100.0


class Switch(Strict):
    """A bus-bus switch (e.g. the open tie between feeders) or a switch at one end of a line."""

    id: Identifier
    bus: Identifier
    element: Identifier
    """Other bus id for a bus-bus switch, or the id of a line that ends at ``bus``."""
    kind: Literal["bus", "line"] = "bus"
    closed: bool = True


class Network(Strict):
    buses: list[Bus]
    lines: list[Line] = []
    transformers: list[Transformer] = []
    switches: list[Switch] = []


class Tenant(Strict):
    id: Identifier
    name: str
    name_zh: str | None = None
    industry: str = ""
    bus: Identifier
    """Bus where the tenant's base load is connected (usually the transformer's LV bus)."""
    transformer: Identifier | None = None
    typical_load_kw: NonNegFloat = 0.0
    shifts: str = ""


class PVPlant(Strict):
    """Rooftop or carport PV plant. Output is positive (into the bus)."""

    id: Identifier
    tenant: Identifier | None = None
    bus: Identifier
    kwp: PositiveFloat
    """DC nameplate, kWp at STC."""
    inverter_ac_kw: PositiveFloat
    """Sum of inverter AC ratings, kW; output clips here."""
    tilt_deg: Annotated[float, Field(ge=0, le=90)] = 10.0
    azimuth_deg: Annotated[float, Field(ge=0, lt=360)] = 180.0
    """Compass azimuth, degrees (180 = south)."""
    temp_coeff_pct_per_c: Annotated[float, Field(le=0, ge=-1)] = -0.35
    system_losses_pct: Pct = 14.0
    noct_c: float = 45.0
    curtailable: bool = True
    shared: bool = False
    """Park (shared) plant even on a tenant's bus; otherwise it belongs to ``tenant`` or its bus's tenant."""


class Battery(Strict):
    """Battery storage with its power conversion system; power limits are AC-side at the PCS terminals."""

    id: Identifier
    tenant: Identifier | None = None
    """Owning tenant; ``None``: the tenant of its bus, or the park's when the bus has no tenant."""
    bus: Identifier
    shared: bool = False
    """Shared (park) storage even on a tenant's bus."""
    p_charge_max_kw: PositiveFloat
    p_discharge_max_kw: PositiveFloat
    e_kwh: PositiveFloat
    """Usable nameplate energy, kWh (SoC 0–100 % maps onto it)."""
    soc_min_pct: Pct = 10.0
    soc_max_pct: Pct = 95.0
    soc_initial_pct: Pct = 50.0
    eta_charge: Fraction = 0.94
    eta_discharge: Fraction = 0.94
    throughput_cost_cny_per_kwh: NonNegFloat = 0.03
    """Degradation cost per kWh of AC throughput (charge + discharge)."""
    ramp_kw_per_s: PositiveFloat | None = None
    chemistry: str = "LFP"

    @property
    def round_trip_efficiency(self) -> float:
        return self.eta_charge * self.eta_discharge

    def deliverable_kwh(self, soc_pct: float) -> float:
        """Energy it can still deliver at the AC side from ``soc_pct`` down to ``soc_min_pct``, kWh."""
        return max(soc_pct - self.soc_min_pct, 0.0) / 100 * self.e_kwh * self.eta_discharge


class CopModel(Strict):
    """Coefficient of performance from ambient and supply temperature.

    ``carnot``: COP = eta_carnot * T_supply,K / (T_supply - T_ambient), clipped to [cop_min, cop_max].
    """

    model: Literal["carnot"] = "carnot"
    eta_carnot: Fraction = 0.45
    supply_temp_c: float = 55.0
    cop_min: PositiveFloat = 1.5
    cop_max: PositiveFloat = 6.0


class HeatPump(Strict):
    """Electric heat pump charging a hot-water tank; electric power is consumption (> 0)."""

    id: Identifier
    tenant: Identifier
    bus: Identifier
    p_el_max_kw: PositiveFloat
    p_el_min_kw: NonNegFloat = 0.0
    cop: CopModel = CopModel()
    tank_volume_m3: PositiveFloat
    tank_temp_min_c: float
    tank_temp_max_c: float
    tank_temp_initial_c: float | None = None
    tank_loss_pct_per_h: Annotated[float, Field(ge=0, le=20)] = 0.5
    """Standing loss, percent of stored heat (above ``tank_temp_min_c``) per hour."""
    min_run_min: Annotated[float, Field(ge=0, le=240)] = 0.0
    """Minimum run time once started, minutes (compressor protection); the real-time loop keeps it on."""
    min_stop_min: Annotated[float, Field(ge=0, le=240)] = 0.0
    """Minimum stop time once stopped, minutes; the real-time loop keeps it off (unless the tank runs cold)."""
    heat_demand_profile: str
    """Profile column with the heat drawn from the tank, kW_th."""

    @property
    def tank_capacity_kwh_th(self) -> float:
        """Usable tank energy between min and max temperature, kWh_th."""
        return self.tank_volume_m3 * WATER_KWH_PER_M3_K * (self.tank_temp_max_c - self.tank_temp_min_c)


class FlexibleLoad(Strict):
    """A load whose consumption (> 0) can move.

    - ``deferrable``: ``energy_kwh`` must be consumed between ``window_start`` and ``window_end``
      (local time) at up to ``p_max_kw``.
    - ``curtailable``: follows ``baseline_profile`` but may be reduced by up to ``max_curtail_pct`` at
      ``penalty_cny_per_kwh`` per kWh not served.
    - ``shiftable``: follows ``baseline_profile`` shifted by up to ``max_shift_h`` hours earlier or later
      (energy conserved), power within ``p_max_kw``.
    """

    id: Identifier
    tenant: Identifier
    bus: Identifier
    kind: Literal["deferrable", "curtailable", "shiftable"]
    name: str = ""
    p_max_kw: PositiveFloat
    p_min_kw: NonNegFloat = 0.0
    energy_kwh: PositiveFloat | None = None
    window_start: HHMM | None = None
    window_end: HHMM | None = None
    baseline_profile: str | None = None
    max_curtail_pct: Pct = 0.0
    penalty_cny_per_kwh: NonNegFloat = 0.0
    max_shift_h: Annotated[float, Field(ge=0, le=12)] = 0.0


class EVDepot(Strict):
    """Truck charging depot: vehicles arrive at ``arrival`` and need ``energy_kwh`` in total by ``departure``.

    The window may cross midnight (arrival 18:00, departure 07:00 next day).
    """

    id: Identifier
    tenant: Identifier
    bus: Identifier
    n_chargers: Annotated[int, Field(ge=1)]
    charger_kw: PositiveFloat
    energy_kwh: PositiveFloat
    arrival: HHMM
    departure: HHMM
    eta_charge: Fraction = 0.95

    @property
    def p_max_kw(self) -> float:
        """All chargers at full power, kW."""
        return self.n_chargers * self.charger_kw


class Assets(Strict):
    pv: list[PVPlant] = []
    batteries: list[Battery] = []
    heat_pumps: list[HeatPump] = []
    flexible_loads: list[FlexibleLoad] = []
    ev_depots: list[EVDepot] = []


class Meter(Strict):
    """A revenue or sub-meter measuring everything downstream of its point (:mod:`microgrid.site.metering`).

    ``scope`` pcc meters the whole park; a tenant meter part (or all) of one tenant: a tenant may have any
    number of meters, which together must see its load and its assets, and nothing twice.
    """

    id: Identifier
    scope: Literal["pcc", "tenant", "asset"]
    bus: Identifier
    """Bus at the meter's point; without ``transformer``/``line`` it sees this bus and all fed through it."""
    transformer: Identifier | None = None
    """Meter on this transformer (at ``bus``, one of its ends): it sees the transformer's downstream side."""
    line: Identifier | None = None
    """Feeder meter on this line (at ``bus``, one of its ends): it sees the line's far end and beyond."""
    tenant: Identifier | None = None
    asset: Identifier | None = None
    pt_ratio: PositiveFloat = 1.0
    """Voltage transformer ratio (primary/secondary), e.g. 10 kV/100 V = 100."""
    ct_ratio: PositiveFloat = 1.0
    """Current transformer ratio, e.g. 400/5 A = 80."""


DeviceRole = Literal["meter", "pv_inverter", "storage", "pcs", "bms", "heat_pump", "flexible_load"]


class Device(Strict):
    """A Modbus device and the asset or meter it serves."""

    id: Identifier
    serves: Identifier
    """Id of the asset or meter this device measures or controls."""
    role: DeviceRole
    map: str
    """Register-map name: a file stem in ``drivers/maps/``."""
    host: str | None = None
    """TCP host (Modbus TCP, or RTU over TCP with ``framer: rtu``); omit for a serial port."""
    port: Annotated[int, Field(ge=1, le=65535)] = 502
    unit_id: Annotated[int, Field(ge=0, le=255)] = 1
    framer: Literal["socket", "rtu"] = "socket"
    serial_port: str | None = None
    """Serial device (``/dev/ttyUSB0``) for RS-485 RTU; every device on the same port shares one bus."""
    baudrate: Literal[1200, 2400, 4800, 9600, 19200, 38400, 57600, 115200] = 9600
    parity: Literal["N", "E", "O"] = "N"
    stopbits: Literal[1, 2] = 1
    bytesize: Literal[7, 8] = 8
    inter_frame_gap_ms: Annotated[float, Field(ge=0, le=5000)] = 0.0
    """Bus silence between two requests on this device's link (RS-485 pacing), ms; the largest on a bus wins."""
    map_options: dict[str, str] = {}
    """Firmware/variant choices the register map offers (``options`` in the map file)."""
    expect: dict[str, str | float] = {}
    """Identity the device must report, by map point id (``{model_name: SUN2000-100KTL-M1}``): checked by
    ``microgrid devices SITE --check``."""
    poll_s: Annotated[float, Field(gt=0, le=3600)] = 1.0
    timeout_s: Annotated[float, Field(gt=0, le=60)] = 1.0
    retries: Annotated[int, Field(ge=0, le=10)] = 1

    @model_validator(mode="after")
    def _one_link(self) -> Device:
        if (self.host is None) == (self.serial_port is None):
            raise ValueError("give either 'host' (Modbus TCP / RTU over TCP) or 'serial_port' (serial RTU)")
        return self

    @property
    def link_key(self) -> str:
        """Identity of the link this device is on: devices with the same key share one bus/connection."""
        return f"serial:{self.serial_port}" if self.serial_port else f"{self.host}:{self.port}"


TouPeriod = Literal["critical", "peak", "flat", "valley"]


class TouWindow(Strict):
    period: TouPeriod
    start: HHMM
    end: HHMM
    """End of the window, exclusive; ``24:00`` for the end of the day."""


class TouSeason(Strict):
    months: list[Annotated[int, Field(ge=1, le=12)]]
    windows: list[TouWindow]


class Tariff(Strict):
    """Time-of-use energy prices plus the basic (demand or capacity) charge."""

    name: str
    illustrative: bool = True
    source: str
    currency: Literal["CNY"] = "CNY"
    prices_cny_per_kwh: dict[TouPeriod, NonNegFloat]
    seasons: list[TouSeason]
    basic_charge: Literal["demand", "capacity"] = "demand"
    demand_charge_cny_per_kw_month: NonNegFloat = 0.0
    capacity_charge_cny_per_kva_month: NonNegFloat = 0.0
    demand_excess_threshold_pct: Annotated[float, Field(ge=100, le=200)] = 105.0
    """Demand above this percent of the declared demand is billed at ``demand_excess_factor``."""
    demand_excess_factor: Annotated[float, Field(ge=1)] = 2.0
    feed_in_cny_per_kwh: float = 0.0


class EmissionFactor(Strict):
    id: Identifier
    scope: Literal["location", "national", "compliance", "residual"]
    region: str
    year: Annotated[int, Field(ge=2000, le=2100)]
    kg_co2_per_kwh: Annotated[float, Field(ge=0, le=2)]
    document: str
    url: str | None = None


class Emissions(Strict):
    default: Identifier
    """Factor used for location-based Scope 2."""
    secondary: Identifier | None = None
    factors: list[EmissionFactor]


class GreenPower(Strict):
    """Green-power instruments and targets (DESIGN.md §5, 绿电占比)."""

    onsite_certificates_retained_pct: Pct = 100.0
    """Share of on-site renewable MWh whose certificates (GEC) the park keeps; sold ones do not count."""
    green_trading_mwh_per_month: NonNegFloat = 0.0
    certificates_retired_mwh_per_year: NonNegFloat = 0.0
    unbundled_certificates_accepted: bool = False
    direct_green_supply_mwh_per_month: NonNegFloat = 0.0
    target_ratio_pct: Pct | None = None
    grid_renewable_share_pct: Pct | None = None
    """Renewable share of the grid's electricity, for the separate location-based share (never mixed into
    the green-power ratio); ``None`` when no published figure is at hand."""
    grid_renewable_share_source: str | None = None


class ProfileFiles(Strict):
    """Representative-day profiles (15-min CSVs, local time) and the rule choosing one for a date."""

    dir: str = "profiles"
    summer_months: list[Annotated[int, Field(ge=1, le=12)]] = [6, 7, 8, 9]
    days: dict[Literal["summer_weekday", "winter_weekday", "weekend"], str]
    """Day type → CSV file name inside ``dir``."""


class ControlSettings(Strict):
    cycle_s: Annotated[float, Field(ge=0.2, le=60)] = 2.0
    day_ahead_at: HHMM = "15:00"
    intraday_every_min: Annotated[int, Field(ge=5, le=240)] = 15
    export_margin_kw: NonNegFloat = 5.0
    """Headroom kept below the export limit by the real-time loop, kW."""
    import_margin_kw: NonNegFloat | None = None
    """Headroom kept below the import cap by the real-time loop, kW (default 1 % of the cap: the load moves
    and the meter steps between two cycles, so a loop aiming exactly at the cap sits above it half the time)."""
    meter_stale_s: Annotated[float, Field(gt=0, le=600)] = 5.0
    solver_time_limit_s: Annotated[float, Field(gt=0, le=600)] = 20.0
    auto_reset: bool = False
    """Try the reset a device's map defines (PCS ``fault_reset``, BMS ``alarm_reset``) after a latched fault."""
    auto_reset_attempts: Annotated[int, Field(ge=0, le=10)] = 3
    """Automatic reset attempts per latched fault (then it waits for the operator)."""
    auto_reset_delay_s: Annotated[float, Field(ge=1, le=3600)] = 30.0
    """Wait before the first automatic reset, s; each further attempt waits twice as long (back-off)."""
    safe_min_load_kw: NonNegFloat = 0.0
    """Load the park is known to draw at all times (commissioning figure), kW: the safe state may let PV
    and storage cover it without a PCC measurement."""
    safe_load_rise_kw: NonNegFloat | None = None
    """Safe state: load rise over the last known load assumed possible while the PCC is not measured, kW
    (default 10 % of the import cap)."""


class Site(Strict):
    """A whole park: the single validated input of every command."""

    site: SiteInfo
    grid: GridConnection
    network: Network
    tenants: list[Tenant]
    assets: Assets = Assets()
    meters: list[Meter] = []
    devices: list[Device] = []
    tariff: Tariff
    emissions: Emissions
    green_power: GreenPower = GreenPower()
    profiles: ProfileFiles
    control: ControlSettings = ControlSettings()
    study: StudySettings = StudySettings()
    """Annual study and target-planner options (docs/study.md)."""
    gridside: GridSideSettings = GridSideSettings()
    """IEC 104 / Modbus northbound servers, grid commands and demand response (docs/gridside.md)."""

    # Filled by the loader: the directory of the site file, for resolving profile paths.
    base_dir: str = Field(default="", exclude=True)

    @property
    def id(self) -> str:
        return self.site.id

    @property
    def timezone(self) -> str:
        return self.site.location.timezone

    def tenant(self, tenant_id: str) -> Tenant:
        return next(t for t in self.tenants if t.id == tenant_id)

    def bus(self, bus_id: str) -> Bus:
        return next(b for b in self.network.buses if b.id == bus_id)

    def emission_factor(self, factor_id: str | None = None) -> EmissionFactor:
        wanted = factor_id or self.emissions.default
        return next(f for f in self.emissions.factors if f.id == wanted)

    def all_asset_ids(self) -> list[str]:
        a = self.assets
        groups: list[list] = [a.pv, a.batteries, a.heat_pumps, a.flexible_loads, a.ev_depots]
        return [item.id for group in groups for item in group]

    def asset(self, asset_id: str) -> PVPlant | Battery | HeatPump | FlexibleLoad | EVDepot:
        a = self.assets
        for group in (a.pv, a.batteries, a.heat_pumps, a.flexible_loads, a.ev_depots):
            for item in group:
                if item.id == asset_id:
                    return item
        raise KeyError(asset_id)

    def devices_serving(self, target_id: str) -> list[Device]:
        return [d for d in self.devices if d.serves == target_id]

    def pv_kwp_total(self) -> float:
        return sum(p.kwp for p in self.assets.pv)


def tariff_period_at(tariff: Tariff, month: int, minute_of_day: int) -> TouPeriod:
    """TOU period in force in ``month`` (1–12) at ``minute_of_day`` (0–1439, local time)."""
    for season in tariff.seasons:
        if month in season.months:
            for window in season.windows:
                if minutes_of(window.start) <= minute_of_day < minutes_of(window.end):
                    return window.period
    raise KeyError(f"no tariff period for month {month} minute {minute_of_day}")


__all__ = [
    "Assets",
    "Battery",
    "Bus",
    "ControlSettings",
    "CopModel",
    "Device",
    "EVDepot",
    "EmissionFactor",
    "Emissions",
    "FlexibleLoad",
    "GreenPower",
    "GridConnection",
    "HeatPump",
    "Line",
    "Location",
    "Meter",
    "Network",
    "PVPlant",
    "ProfileFiles",
    "Site",
    "SiteInfo",
    "Switch",
    "Tariff",
    "Tenant",
    "TouSeason",
    "TouWindow",
    "Transformer",
    "minutes_of",
    "tariff_period_at",
]
