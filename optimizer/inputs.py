"""Typed inputs of the dispatch problem: components as data (PyPSA style), arrays per interval.

Everything here is plain dataclasses holding numbers and numpy arrays of length ``N`` (one value per
interval of :attr:`DispatchInputs.index`); the optimizer never reads a site file. Units are in the
field names; power is in kW, energy in kWh, prices in CNY.

Sign convention (DESIGN.md §3): ratings and forecasts here are magnitudes (>= 0). In the model and the
:class:`~optimizer.results.Schedule`, power flowing into the park bus from an asset is positive: PV
output > 0, battery discharge > 0 / charge < 0, grid import > 0; loads are reported as consumption > 0
in ``*_load_kw`` / ``*_p_el_kw`` columns and enter the balance with a minus sign.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

import numpy as np
import pandas as pd

from optimizer.errors import InputError
from optimizer.network_limits import NetworkLimit


def as_array(values: object, n: int | None = None) -> np.ndarray:
    """``values`` as a float64 array (a scalar is broadcast to ``n`` values)."""
    arr = np.asarray(values, dtype=float)
    if arr.ndim == 0 and n is not None:
        arr = np.full(n, float(arr))
    return arr


class EndRule(StrEnum):
    """What the state of charge (or tank energy) must be at the end of the horizon."""

    INITIAL = "initial"
    """At least the initial value (no net discharge over the horizon; default)."""
    TARGET = "target"
    """At least a given target value."""
    FREE = "free"
    """No rule (the plan may empty the store; only sensible when the next horizon is planned anyway)."""


@dataclass
class Tariff:
    """Energy prices per interval and the monthly demand (maximum-demand) charge."""

    import_price_cny_per_kwh: np.ndarray
    """Price of energy imported at the PCC in each interval, CNY/kWh."""
    export_price_cny_per_kwh: np.ndarray | float = 0.0
    """Price received for energy exported in each interval, CNY/kWh (0 = no feed-in revenue)."""
    period: np.ndarray | None = None
    """Optional TOU period label per interval (``valley``/``flat``/``peak``/``critical``) for reports."""
    demand_charge_cny_per_kw_month: float = 0.0
    """Basic charge on the month's maximum 15-min demand, CNY per kW and month."""
    demand_charge_share: float = 1.0
    """Share of the monthly demand charge weighed in this horizon (0–1). With 1 and the month-to-date peak
    carried, the demand term is the exact increase of the month's bill; lower it (e.g. 1/days in month)
    when later days are expected to set the month's peak anyway."""
    month_peak_kw: float = 0.0
    """Highest 15-min import already metered this billing month, kW (the incumbent peak)."""
    declared_demand_kw: float | None = None
    """Declared (contract) demand, kW; import above ``demand_excess_threshold_pct`` of it costs extra."""
    demand_excess_threshold_pct: float = 105.0
    demand_excess_factor: float = 2.0
    """Demand above the threshold is billed at this multiple of the demand charge (发改办价格〔2016〕1583号)."""


@dataclass
class GridConnection:
    """Point of common coupling: hard import and export limits, kW."""

    import_limit_kw: float
    """Maximum import at the PCC, kW (declared demand or contract cap)."""
    export_limit_kw: float = 0.0
    """Maximum export at the PCC, kW; 0 = zero export (anti-backflow)."""


@dataclass
class Carbon:
    """Emission factor for location-based Scope 2 and an optional carbon price."""

    emission_factor_kg_per_kwh: float = 0.4211
    """Grid emission factor applied to imported energy, kgCO2/kWh (default Fujian 2023)."""
    emission_factor_label: str = "Fujian 2023 (MEE/NBS 公告2025年第47号)"
    """Which factor, year and document were used; copied into the KPIs."""
    carbon_price_cny_per_t: float = 0.0
    """Internal carbon price added to the objective, CNY per tCO2 (0 = none)."""


@dataclass
class GreenTarget:
    """Minimum green-power ratio (绿电占比) over the horizon, DESIGN.md §5."""

    min_ratio: float | None = None
    """Required ratio 0–1 of green energy to total consumption; ``None`` = accounting only, no constraint."""
    onsite_certificate_share: float = 1.0
    """Share of on-site PV energy whose certificates are retained (sold ones do not count)."""
    green_purchased_kwh: float = 0.0
    """Green energy bought for the horizon (green trading, retired certificates, direct supply), kWh."""


@dataclass
class PVPlant:
    """A PV plant with its available AC power forecast (after clipping); output may be curtailed."""

    id: str
    p_avail_kw: np.ndarray
    """Available AC power per interval, kW (>= 0)."""
    curtailable: bool = True
    """False = must-take: output equals the forecast (no curtailment possible)."""


@dataclass
class Battery:
    """Battery with its PCS. Power limits are AC-side at the PCS terminals; efficiencies AC→DC and DC→AC."""

    id: str
    e_capacity_kwh: float
    p_charge_max_kw: float
    p_discharge_max_kw: float
    eta_charge: float = 0.95
    eta_discharge: float = 0.95
    soc_min_pct: float = 10.0
    soc_max_pct: float = 95.0
    soc_initial_pct: float = 50.0
    throughput_cost_cny_per_kwh: float = 0.03
    """Cost per kWh of AC throughput (charge + discharge): degradation, and it removes ghost cycling."""
    end_rule: EndRule = EndRule.INITIAL
    end_soc_pct: float | None = None
    """Target for :attr:`EndRule.TARGET`."""


@dataclass
class HeatPump:
    """Heat pump charging a hot-water tank that must always cover the heat demand."""

    id: str
    p_el_max_kw: float
    cop: np.ndarray
    """Coefficient of performance per interval (heat out / electricity in), from ambient and supply temperature."""
    heat_demand_kw_th: np.ndarray
    """Heat drawn from the tank per interval, kW_th."""
    tank_capacity_kwh: float
    """Usable tank energy between its minimum and maximum temperature, kWh_th."""
    tank_initial_kwh: float
    tank_min_kwh: float = 0.0
    tank_loss_pct_per_h: float = 0.5
    """Standing loss, percent of stored energy per hour."""
    p_el_min_kw: float = 0.0
    """Minimum electric power while running; enforced only in the binary formulation (relaxed in the LP)."""
    end_rule: EndRule = EndRule.INITIAL
    end_tank_kwh: float | None = None


@dataclass
class FixedLoad:
    """Must-serve consumption (a tenant's base load), kW > 0. ``id`` is the tenant id."""

    id: str
    p_kw: np.ndarray


@dataclass
class DeferrableLoad:
    """Energy to consume within a time window at bounded power (e.g. a batch process)."""

    id: str
    energy_kwh: float
    """Energy the window needs in total (including what is already consumed)."""
    window_start: pd.Timestamp
    window_end: pd.Timestamp
    """End of the window (exclusive), tz-aware; may lie beyond the horizon."""
    p_max_kw: float
    p_min_kw: float = 0.0
    """Floor in every interval of the window (on/off operation is not modelled)."""
    delivered_kwh: float = 0.0
    """Energy already consumed in this window before the horizon starts (measured state)."""


@dataclass
class ShiftableLoad:
    """A baseline consumption that may run up to ``max_shift_h`` earlier or later, energy conserved."""

    id: str
    baseline_kw: np.ndarray
    max_shift_h: float
    p_max_kw: float
    p_min_kw: float = 0.0
    ahead_kwh: float = 0.0
    """Energy consumed ahead (> 0) or behind (< 0) of the baseline when the horizon starts (measured)."""
    before_kw: np.ndarray = field(default_factory=lambda: np.zeros(0))
    """Baseline of the intervals just before the horizon (oldest first), kW. With it an energy owed at the start
    may wait as long as its age allows (up to ``max_shift_h`` after the baseline it belongs to); without it the
    plan catches it up as fast as it can."""


@dataclass
class CurtailableLoad:
    """A baseline consumption that may be reduced by up to ``max_curtail_pct`` at a penalty."""

    id: str
    baseline_kw: np.ndarray
    max_curtail_pct: float
    penalty_cny_per_kwh: float
    p_max_kw: float | None = None
    """Rating of the load, kW; the baseline (a forecast) is capped here, so no plan runs it above."""

    def base_kw(self, n: int) -> np.ndarray:
        """Baseline the plan starts from: the forecast within ``[0, p_max_kw]``, kW."""
        base = np.maximum(np.asarray(self.baseline_kw, dtype=float) * np.ones(n), 0.0)
        return base if self.p_max_kw is None else np.minimum(base, self.p_max_kw)


@dataclass
class EVSession:
    """Vehicles at the depot between ``arrival`` and ``departure`` needing ``energy_kwh`` (battery side)."""

    id: str
    arrival: pd.Timestamp
    departure: pd.Timestamp
    energy_kwh: float
    delivered_kwh: float = 0.0
    """Energy already delivered to the vehicles before the horizon starts (measured state)."""
    p_max_kw: float | None = None
    """AC power limit of the chargers serving this session (default: the whole depot)."""


@dataclass
class EVDepot:
    """EV charging depot: charger power limit shared by its sessions."""

    id: str
    p_max_kw: float
    """All chargers at full power, AC, kW."""
    sessions: list[EVSession] = field(default_factory=list)
    eta_charge: float = 0.95
    """Charger + on-board efficiency (energy into vehicles / AC energy)."""


@dataclass
class PeakReserve:
    """Storage energy kept for the demand peaks still ahead in the day (intraday re-planning).

    For every interval :math:`\tau` before ``until`` the storage must be able to hold the plan's peak
    against the must-serve net load raised by ``load_margin_pct`` (tenant base loads and the part of
    curtailable loads that cannot be shed, minus the PV forecast), without recharging in between: the
    real-time loop, which holds the planned peak, then finds the energy it needs when the load comes in
    above its forecast. The plan may raise its peak instead of keeping a reserve the storage cannot
    hold; that peak is then the one it pays for. Needs a demand charge and at least one battery.
    """

    until: pd.Timestamp
    """End of the reserved window, tz-aware (normally the local midnight after the horizon start)."""
    load_margin_pct: float = 5.0
    """Forecast error of the must-serve load held in reserve, percent of the forecast."""


@dataclass
class TransformerLimit:
    """A tenant transformer: the net power of its assets must stay within ``s_kva · power_factor``."""

    id: str
    s_kva: float
    asset_ids: tuple[str, ...]
    """Assets (and tenant base loads) on the transformer's LV side."""
    power_factor: float = 1.0
    """Assumed power factor (1 = the kVA rating is available as kW)."""

    @property
    def limit_kw(self) -> float:
        return self.s_kva * self.power_factor


class BinaryMode(StrEnum):
    """When the mixed-integer formulation is used (see docs/optimizer.md, "LP or MILP")."""

    AUTO = "auto"
    """LP first; MILP only when prices allow profitable simultaneous flows or the LP result shows them."""
    NEVER = "never"
    ALWAYS = "always"


@dataclass
class SolverOptions:
    """How to solve: time limit, MIP gap, binaries and interface."""

    time_limit_s: float = 20.0
    mip_rel_gap: float = 1e-3
    binaries: BinaryMode = BinaryMode.AUTO
    threads: int = 1
    interface: str = "auto"
    """How Pyomo talks to HiGHS: ``direct`` (standard-form compile, one-shot), ``appsi`` or ``contrib``
    (persistent interfaces); ``auto`` = ``direct`` for one-shot solves, ``appsi`` for the intraday planner."""
    simultaneous_tol_kw: float = 1e-3
    """Charge and discharge (or import and export) both above this in one interval count as simultaneous."""
    slack_penalty_cny_per_kwh: float = 1000.0
    """Penalty on each kWh of constraint violation in the elastic solve of an infeasible problem."""
    elastic_retry: bool = True
    """Use the elastic solve's plan (the relaxed plan, named limits broken) for an infeasible problem instead
    of the rule-based schedule; the diagnosis message is the same either way."""


@dataclass
class DispatchInputs:
    """Everything the dispatch model needs for one horizon."""

    index: pd.DatetimeIndex
    """Start of each interval, tz-aware, equally spaced (5–60 min)."""
    tariff: Tariff
    grid: GridConnection
    pv: list[PVPlant] = field(default_factory=list)
    batteries: list[Battery] = field(default_factory=list)
    heat_pumps: list[HeatPump] = field(default_factory=list)
    loads: list[FixedLoad] = field(default_factory=list)
    deferrable: list[DeferrableLoad] = field(default_factory=list)
    shiftable: list[ShiftableLoad] = field(default_factory=list)
    curtailable: list[CurtailableLoad] = field(default_factory=list)
    ev_depots: list[EVDepot] = field(default_factory=list)
    transformers: list[TransformerLimit] = field(default_factory=list)
    network_limits: list[NetworkLimit] = field(default_factory=list)
    carbon: Carbon = field(default_factory=Carbon)
    green: GreenTarget | None = None
    peak_reserve: PeakReserve | None = None
    """Energy kept for the day's remaining demand peaks (``None`` = none; the intraday planner sets it)."""
    name: str = "dispatch"

    # ---- derived -------------------------------------------------------------------------
    @property
    def n_steps(self) -> int:
        return len(self.index)

    @property
    def step_h(self) -> float:
        """Interval length, hours."""
        return (self.index[1] - self.index[0]).total_seconds() / 3600 if len(self.index) > 1 else 0.25

    @property
    def end(self) -> pd.Timestamp:
        """End of the last interval."""
        return self.index[-1] + pd.Timedelta(hours=self.step_h)

    def asset_ids(self) -> list[str]:
        """Every asset id that has a net injection (tenant ids for base loads), in model order."""
        groups = (self.pv, self.batteries, self.heat_pumps, self.loads, self.deferrable, self.shiftable,
                  self.curtailable, self.ev_depots)
        return [item.id for group in groups for item in group]

    def asset_kinds(self) -> dict[str, str]:
        """Asset id → kind (``pv``, ``battery``, ``heat_pump``, ``load``, ``deferrable``, ...)."""
        kinds = {}
        for kind, group in (("pv", self.pv), ("battery", self.batteries), ("heat_pump", self.heat_pumps),
                            ("load", self.loads), ("deferrable", self.deferrable), ("shiftable", self.shiftable),
                            ("curtailable", self.curtailable), ("ev_depot", self.ev_depots)):
            for item in group:
                kinds[item.id] = kind
        return kinds

    def export_price(self) -> np.ndarray:
        return as_array(self.tariff.export_price_cny_per_kwh, self.n_steps)

    # ---- validation ----------------------------------------------------------------------
    def validate(self) -> DispatchInputs:
        """Check shapes, ranges and references; raise :class:`InputError` listing every problem."""
        from optimizer.validation import check_inputs

        problems = check_inputs(self)
        if problems:
            raise InputError(f"{len(problems)} problem(s) in the dispatch inputs", problems)
        return self
