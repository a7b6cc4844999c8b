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

import math
from dataclasses import dataclass, field
from enum import StrEnum

import numpy as np
import pandas as pd

from optimizer.errors import InputError
from optimizer.network_limits import NetworkLimit, check_network_limits


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

    min_ratio: float
    """Required ratio 0–1 of green energy to total consumption."""
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


@dataclass
class CurtailableLoad:
    """A baseline consumption that may be reduced by up to ``max_curtail_pct`` at a penalty."""

    id: str
    baseline_kw: np.ndarray
    max_curtail_pct: float
    penalty_cny_per_kwh: float


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
    interface: str = "appsi"
    """Pyomo persistent HiGHS interface: ``appsi`` (``pyomo.contrib.appsi``) or ``contrib`` (``pyomo.contrib.solver``)."""
    simultaneous_tol_kw: float = 1e-3
    """Charge and discharge (or import and export) both above this in one interval count as simultaneous."""
    slack_penalty_cny_per_kwh: float = 1000.0
    """Penalty on each kWh of constraint violation when diagnosing an infeasible problem."""


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
        problems = _check(self)
        if problems:
            raise InputError(f"{len(problems)} problem(s) in the dispatch inputs", problems)
        return self


def _check_series(problems: list[str], where: str, values: object, n: int, lower: float | None = 0.0) -> None:
    arr = np.asarray(values, dtype=float)
    if arr.ndim == 0:
        arr = np.full(n, float(arr))
    if arr.shape != (n,):
        problems.append(f"{where}: expected {n} values (one per interval), got shape {arr.shape}")
        return
    if not np.all(np.isfinite(arr)):
        bad = int(np.flatnonzero(~np.isfinite(arr))[0])
        problems.append(f"{where}: value at interval {bad} is not a finite number")
    elif lower is not None and np.any(arr < lower - 1e-9):
        bad = int(np.flatnonzero(arr < lower - 1e-9)[0])
        problems.append(f"{where}: {arr[bad]:g} at interval {bad} is below {lower:g}")


def _check_range(problems: list[str], where: str, value: float, lo: float, hi: float = math.inf) -> None:
    if not (lo <= value <= hi) or math.isnan(value):
        upper = "" if math.isinf(hi) else f" and {hi:g}"
        problems.append(f"{where}: {value:g} must lie between {lo:g}{upper}")


def _check_index(problems: list[str], index: pd.DatetimeIndex) -> None:
    if not isinstance(index, pd.DatetimeIndex) or len(index) < 2:
        problems.append("index: needs a DatetimeIndex with at least 2 intervals")
        return
    if index.tz is None:
        problems.append("index: timestamps must be timezone-aware (e.g. Asia/Shanghai)")
    steps = np.diff(index.asi8)
    if np.any(steps != steps[0]):
        problems.append("index: intervals must be equally spaced")
    minutes = steps[0] / 60e9
    if not 5 <= minutes <= 60:
        problems.append(f"index: step of {minutes:g} min is outside 5–60 min")


def _check(inp: DispatchInputs) -> list[str]:  # noqa: C901 - a flat list of checks reads best
    problems: list[str] = []
    _check_index(problems, inp.index)
    if problems:
        return problems
    n = inp.n_steps
    t = inp.tariff
    _check_series(problems, "tariff.import_price_cny_per_kwh", t.import_price_cny_per_kwh, n, lower=None)
    _check_series(problems, "tariff.export_price_cny_per_kwh", t.export_price_cny_per_kwh, n, lower=None)
    _check_range(problems, "tariff.demand_charge_cny_per_kw_month", t.demand_charge_cny_per_kw_month, 0)
    _check_range(problems, "tariff.demand_charge_share", t.demand_charge_share, 0, 1)
    _check_range(problems, "tariff.month_peak_kw", t.month_peak_kw, 0)
    _check_range(problems, "grid.import_limit_kw", inp.grid.import_limit_kw, 0)
    _check_range(problems, "grid.export_limit_kw", inp.grid.export_limit_kw, 0)
    ids = inp.asset_ids()
    dupes = sorted({i for i in ids if ids.count(i) > 1})
    if dupes:
        problems.append(f"assets: duplicate ids {dupes}")
    if "grid" in ids:
        problems.append("assets: 'grid' is reserved for the PCC")
    for i, pv in enumerate(inp.pv):
        _check_series(problems, f"pv[{i}] ('{pv.id}').p_avail_kw", pv.p_avail_kw, n)
    for i, b in enumerate(inp.batteries):
        w = f"batteries[{i}] ('{b.id}')"
        _check_range(problems, f"{w}.e_capacity_kwh", b.e_capacity_kwh, 1e-6)
        _check_range(problems, f"{w}.p_charge_max_kw", b.p_charge_max_kw, 0)
        _check_range(problems, f"{w}.p_discharge_max_kw", b.p_discharge_max_kw, 0)
        _check_range(problems, f"{w}.eta_charge", b.eta_charge, 1e-3, 1)
        _check_range(problems, f"{w}.eta_discharge", b.eta_discharge, 1e-3, 1)
        _check_range(problems, f"{w}.soc_min_pct", b.soc_min_pct, 0, b.soc_max_pct)
        _check_range(problems, f"{w}.soc_max_pct", b.soc_max_pct, b.soc_min_pct, 100)
        _check_range(problems, f"{w}.soc_initial_pct", b.soc_initial_pct, 0, 100)
        _check_range(problems, f"{w}.throughput_cost_cny_per_kwh", b.throughput_cost_cny_per_kwh, 0)
        if b.end_rule == EndRule.TARGET and b.end_soc_pct is None:
            problems.append(f"{w}.end_soc_pct: required with end_rule 'target'")
    for i, h in enumerate(inp.heat_pumps):
        w = f"heat_pumps[{i}] ('{h.id}')"
        _check_range(problems, f"{w}.p_el_max_kw", h.p_el_max_kw, 0)
        _check_range(problems, f"{w}.p_el_min_kw", h.p_el_min_kw, 0, h.p_el_max_kw)
        _check_series(problems, f"{w}.cop", h.cop, n, lower=0.5)
        _check_series(problems, f"{w}.heat_demand_kw_th", h.heat_demand_kw_th, n)
        _check_range(problems, f"{w}.tank_capacity_kwh", h.tank_capacity_kwh, 0)
        _check_range(problems, f"{w}.tank_min_kwh", h.tank_min_kwh, 0, h.tank_capacity_kwh)
        _check_range(problems, f"{w}.tank_initial_kwh", h.tank_initial_kwh, 0)
        _check_range(problems, f"{w}.tank_loss_pct_per_h", h.tank_loss_pct_per_h, 0, 100)
        if h.end_rule == EndRule.TARGET and h.end_tank_kwh is None:
            problems.append(f"{w}.end_tank_kwh: required with end_rule 'target'")
    for i, ld in enumerate(inp.loads):
        _check_series(problems, f"loads[{i}] ('{ld.id}').p_kw", ld.p_kw, n)
    for i, d in enumerate(inp.deferrable):
        w = f"deferrable[{i}] ('{d.id}')"
        _check_range(problems, f"{w}.p_max_kw", d.p_max_kw, 0)
        _check_range(problems, f"{w}.p_min_kw", d.p_min_kw, 0, d.p_max_kw)
        _check_range(problems, f"{w}.energy_kwh", d.energy_kwh, 0)
        _check_range(problems, f"{w}.delivered_kwh", d.delivered_kwh, 0)
        if d.window_end <= d.window_start:
            problems.append(f"{w}.window_end: must be after window_start")
    for i, s in enumerate(inp.shiftable):
        w = f"shiftable[{i}] ('{s.id}')"
        _check_series(problems, f"{w}.baseline_kw", s.baseline_kw, n)
        _check_range(problems, f"{w}.max_shift_h", s.max_shift_h, 0)
        _check_range(problems, f"{w}.p_min_kw", s.p_min_kw, 0, s.p_max_kw)
        if np.asarray(s.baseline_kw).shape == (n,) and np.any(np.asarray(s.baseline_kw) > s.p_max_kw + 1e-6):
            problems.append(f"{w}.baseline_kw: exceeds p_max_kw {s.p_max_kw:g} kW")
    for i, c in enumerate(inp.curtailable):
        w = f"curtailable[{i}] ('{c.id}')"
        _check_series(problems, f"{w}.baseline_kw", c.baseline_kw, n)
        _check_range(problems, f"{w}.max_curtail_pct", c.max_curtail_pct, 0, 100)
        _check_range(problems, f"{w}.penalty_cny_per_kwh", c.penalty_cny_per_kwh, 0)
    for i, ev in enumerate(inp.ev_depots):
        w = f"ev_depots[{i}] ('{ev.id}')"
        _check_range(problems, f"{w}.p_max_kw", ev.p_max_kw, 0)
        _check_range(problems, f"{w}.eta_charge", ev.eta_charge, 1e-3, 1)
        for k, s in enumerate(ev.sessions):
            if s.departure <= s.arrival:
                problems.append(f"{w}.sessions[{k}] ('{s.id}').departure: must be after arrival")
            _check_range(problems, f"{w}.sessions[{k}] ('{s.id}').energy_kwh", s.energy_kwh, 0)
            _check_range(problems, f"{w}.sessions[{k}] ('{s.id}').delivered_kwh", s.delivered_kwh, 0)
    known = set(ids)
    for i, tr in enumerate(inp.transformers):
        unknown = sorted(set(tr.asset_ids) - known)
        if unknown:
            problems.append(f"transformers[{i}] ('{tr.id}').asset_ids: unknown ids {unknown}")
        _check_range(problems, f"transformers[{i}] ('{tr.id}').s_kva", tr.s_kva, 0)
        _check_range(problems, f"transformers[{i}] ('{tr.id}').power_factor", tr.power_factor, 0.01, 1)
    if inp.green is not None:
        _check_range(problems, "green.min_ratio", inp.green.min_ratio, 0, 1)
        _check_range(problems, "green.onsite_certificate_share", inp.green.onsite_certificate_share, 0, 1)
    problems.extend(check_network_limits(inp.network_limits, n, ids))
    return problems
