"""Numeric data of the model, computed from :class:`~optimizer.inputs.DispatchInputs`.

Every value that may change between two intraday solves (prices, forecasts, COP, windows, measured
state) is computed here, keyed exactly as the model's Params are indexed. :func:`build_model` uses it to
create the model (as mutable Params for the persistent intraday model, as plain numbers otherwise) and
:meth:`DispatchModel.update` uses it to refresh the Params without rebuilding.

Keys: ``t`` for per-interval values, ``(asset_id, t)`` for per-asset series, ``asset_id`` for scalars,
``(slot_key, t)`` / ``slot_key`` for EV sessions, where ``slot_key = "<depot_id>:<k>"`` (see
:func:`slot_key`; Pyomo would flatten tuple keys).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from optimizer.errors import StructureError
from optimizer.inputs import DispatchInputs, EndRule, as_array


def slot_key(depot_id: str, k: int) -> str:
    """Key of session slot ``k`` of an EV depot."""
    return f"{depot_id}:{k}"


def slot_depot(key: str) -> str:
    return key.rsplit(":", 1)[0]


def slot_index(key: str) -> int:
    return int(key.rsplit(":", 1)[1])


RECOVERY_MARGIN = 0.98
"""Fraction of full power assumed when a measured state outside its bounds is brought back inside."""


@dataclass(frozen=True)
class Structure:
    """What the model is built of; two inputs with the same structure can share one persistent model."""

    n_steps: int
    step_h: float
    pv: tuple[str, ...]
    pv_must_take: tuple[str, ...]
    batteries: tuple[str, ...]
    heat_pumps: tuple[str, ...]
    hp_min_load: tuple[str, ...]
    loads: tuple[str, ...]
    deferrable: tuple[str, ...]
    shiftable: tuple[str, ...]
    curtailable: tuple[str, ...]
    ev_depots: tuple[str, ...]
    ev_slots: tuple[str, ...]
    """``"<depot_id>:<k>"`` for each session slot (see :func:`slot_key`)."""
    transformers: tuple[str, ...]
    export_allowed: bool
    demand_charge: bool
    green: bool
    peak_reserve: bool = False
    """Reserve rows for the day's remaining demand peaks (:class:`~optimizer.inputs.PeakReserve`)."""

    @classmethod
    def of(cls, inp: DispatchInputs, ev_slots: dict[str, int] | None = None) -> Structure:
        slots = []
        for depot in inp.ev_depots:
            n = max(len(depot.sessions), (ev_slots or {}).get(depot.id, 0))
            slots.extend(slot_key(depot.id, k) for k in range(n))
        return cls(
            n_steps=inp.n_steps,
            step_h=round(inp.step_h, 9),
            pv=tuple(p.id for p in inp.pv),
            pv_must_take=tuple(p.id for p in inp.pv if not p.curtailable),
            batteries=tuple(b.id for b in inp.batteries),
            heat_pumps=tuple(h.id for h in inp.heat_pumps),
            hp_min_load=tuple(h.id for h in inp.heat_pumps if h.p_el_min_kw > 0),
            loads=tuple(x.id for x in inp.loads),
            deferrable=tuple(x.id for x in inp.deferrable),
            shiftable=tuple(x.id for x in inp.shiftable),
            curtailable=tuple(x.id for x in inp.curtailable),
            ev_depots=tuple(x.id for x in inp.ev_depots),
            ev_slots=tuple(slots),
            transformers=tuple(x.id for x in inp.transformers),
            export_allowed=inp.grid.export_limit_kw > 0,
            demand_charge=inp.tariff.demand_charge_cny_per_kw_month * inp.tariff.demand_charge_share > 0,
            green=inp.green is not None and inp.green.min_ratio is not None,
            peak_reserve=(inp.peak_reserve is not None and bool(inp.batteries)
                          and inp.tariff.demand_charge_cny_per_kw_month * inp.tariff.demand_charge_share > 0),
        )

    def compatible(self, other: Structure) -> list[str]:
        """Differences that prevent reusing a model built for ``self`` with inputs of ``other``."""
        diffs = []
        for name in self.__dataclass_fields__:
            if name == "ev_slots":
                mine = {d: sum(1 for s in self.ev_slots if slot_depot(s) == d) for d in self.ev_depots}
                theirs = {d: sum(1 for s in other.ev_slots if slot_depot(s) == d) for d in other.ev_depots}
                for depot, count in theirs.items():
                    if count > mine.get(depot, 0):
                        diffs.append(f"EV depot '{depot}' has {count} sessions; the model has {mine.get(depot, 0)} slots")
            elif getattr(self, name) != getattr(other, name):
                diffs.append(f"{name}: model has {getattr(self, name)!r}, inputs have {getattr(other, name)!r}")
        return diffs


def check_compatible(built: Structure, new: Structure) -> None:
    diffs = built.compatible(new)
    if diffs:
        raise StructureError("inputs do not match the persistent model: " + "; ".join(diffs))


@dataclass
class ModelData:
    """Values of every data item, keyed like the model's Params (see module docstring)."""

    values: dict[str, dict] = field(default_factory=dict)
    constants: dict[str, float] = field(default_factory=dict)
    """Per-asset numbers fixed for the life of a model (ratings, efficiencies)."""

    def __getitem__(self, name: str) -> dict:
        return self.values[name]


def overlap_fraction(index: pd.DatetimeIndex, step_h: float, start: pd.Timestamp, end: pd.Timestamp) -> np.ndarray:
    """Fraction (0–1) of each interval ``[t, t + step)`` that lies inside ``[start, end)``."""
    t0 = index.asi8.astype(np.float64)
    t1 = t0 + step_h * 3600e9
    lo = np.maximum(t0, float(pd.Timestamp(start).value))
    hi = np.minimum(t1, float(pd.Timestamp(end).value))
    return np.clip((hi - lo) / (t1 - t0), 0.0, 1.0)


def energy_window(index: pd.DatetimeIndex, step_h: float, start: pd.Timestamp, end: pd.Timestamp,
                  p_max_kw: float, remaining_kwh: float, eta: float = 1.0) -> tuple[np.ndarray, float, float]:
    """Power cap per interval, energy owed by the horizon end and energy allowed, for an energy window.

    The window ``[start, end)`` may begin before or end after the horizon. Energy that can still be
    delivered after the horizon ends (at ``p_max_kw`` and efficiency ``eta``) is not owed within it:
    ``owed = max(0, remaining − eta · p_max · hours_after_horizon)``; at most ``remaining`` may be delivered.
    """
    frac = overlap_fraction(index, step_h, start, end)
    horizon_end = index[-1] + pd.Timedelta(hours=step_h)
    after_h = max(0.0, (pd.Timestamp(end) - max(horizon_end, pd.Timestamp(start))).total_seconds() / 3600)
    remaining = max(0.0, remaining_kwh)
    owed = max(0.0, remaining - eta * p_max_kw * after_h)
    return frac * p_max_kw, owed, remaining


def _series(d: dict, key: str, values: np.ndarray) -> None:
    for t, v in enumerate(values):
        d[(key, t)] = float(v)


SHIFT_MARGIN = 0.02
"""Share of a shiftable load's allowed backlog (and lead) the plan leaves unused, at every interval end."""


def _baseline_by(cum: np.ndarray, back: np.ndarray, j: int) -> float:
    """Baseline energy by the end of interval ``j`` counted from the horizon start, kWh: ``cum[j]`` inside the
    horizon; before it (``j < 0``) minus the energy of intervals ``j+1 .. -1`` as far as the history reaches
    (``back``: cumulative energy of the intervals before the start, most recent first)."""
    if j >= 0:
        return float(cum[j])
    m = min(-j - 1, len(back))
    return -float(back[m - 1]) if m > 0 else 0.0

def compute_data(inp: DispatchInputs, structure: Structure) -> ModelData:  # noqa: C901 - one block per family
    """All data items for ``inp`` (validated) laid out for ``structure``."""
    n, dt = inp.n_steps, inp.step_h
    steps = np.arange(1, n + 1)
    md = ModelData()
    v = md.values
    tariff, carbon = inp.tariff, inp.carbon
    carbon_cny_per_kwh = carbon.carbon_price_cny_per_t * carbon.emission_factor_kg_per_kwh / 1000.0
    imp = as_array(tariff.import_price_cny_per_kwh, n)
    exp = inp.export_price()
    v["c_import"] = {t: float((imp[t] + carbon_cny_per_kwh) * dt) for t in range(n)}
    v["c_export"] = {t: float(exp[t] * dt) for t in range(n)}
    v["month_peak"] = {None: float(tariff.month_peak_kw)}

    v["pv_avail"] = {}
    for pv in inp.pv:
        _series(v["pv_avail"], pv.id, np.maximum(as_array(pv.p_avail_kw, n), 0.0))

    v["load"] = {}
    for ld in inp.loads:
        _series(v["load"], ld.id, np.maximum(as_array(ld.p_kw, n), 0.0))

    v["bat_e0"], v["bat_lo"], v["bat_hi"], v["bat_end"] = {}, {}, {}, {}
    for b in inp.batteries:
        cap = b.e_capacity_kwh
        e0, e_min, e_max = b.soc_initial_pct * cap / 100, b.soc_min_pct * cap / 100, b.soc_max_pct * cap / 100
        lo = np.full(n, e_min)
        hi = np.full(n, e_max)
        if e0 < e_min:  # measured below the floor: climb back at (almost) full charge power
            lo = np.minimum(e_min, e0 + RECOVERY_MARGIN * b.eta_charge * b.p_charge_max_kw * dt * steps)
        if e0 > e_max:
            hi = np.maximum(e_max, e0 - RECOVERY_MARGIN * b.p_discharge_max_kw / b.eta_discharge * dt * steps)
        if b.end_rule == EndRule.INITIAL:
            end = min(max(e0, e_min), e_max)
        elif b.end_rule == EndRule.TARGET:
            end = min(max(float(b.end_soc_pct) * cap / 100, e_min), e_max)
        else:
            end = e_min
        v["bat_e0"][b.id] = float(e0)
        v["bat_end"][b.id] = float(end)
        _series(v["bat_lo"], b.id, lo)
        _series(v["bat_hi"], b.id, hi)

    v["hp_cop"], v["hp_heat"], v["hp_t0"], v["hp_lo"], v["hp_hi"], v["hp_end"] = {}, {}, {}, {}, {}, {}
    for h in inp.heat_pumps:
        cop = as_array(h.cop, n)
        heat = as_array(h.heat_demand_kw_th, n)
        t0, t_min, t_max = float(h.tank_initial_kwh), float(h.tank_min_kwh), float(h.tank_capacity_kwh)
        lo, hi = np.full(n, t_min), np.full(n, t_max)
        if t0 < t_min:
            surplus = np.maximum(cop * h.p_el_max_kw - heat, 0.0) * dt * RECOVERY_MARGIN
            lo = np.minimum(t_min, t0 + np.cumsum(surplus))
        if t0 > t_max:
            hi = np.maximum(t_max, t0 - np.cumsum(heat) * dt)
        if h.end_rule == EndRule.INITIAL:
            end = min(max(t0, t_min), t_max)
        elif h.end_rule == EndRule.TARGET:
            end = min(max(float(h.end_tank_kwh), t_min), t_max)
        else:
            end = t_min
        v["hp_t0"][h.id] = t0
        v["hp_end"][h.id] = float(end)
        _series(v["hp_cop"], h.id, cop)
        _series(v["hp_heat"], h.id, np.maximum(heat, 0.0))
        _series(v["hp_lo"], h.id, lo)
        _series(v["hp_hi"], h.id, hi)

    v["def_cap"], v["def_floor"], v["def_owed"], v["def_max"] = {}, {}, {}, {}
    for d in inp.deferrable:
        cap, owed, most = energy_window(inp.index, dt, d.window_start, d.window_end, d.p_max_kw,
                                        d.energy_kwh - d.delivered_kwh)
        floor = cap / d.p_max_kw * d.p_min_kw if d.p_max_kw > 0 else cap * 0
        _series(v["def_cap"], d.id, cap)
        _series(v["def_floor"], d.id, floor)
        v["def_owed"][d.id] = owed
        v["def_max"][d.id] = most

    v["sh_lo"], v["sh_hi"] = {}, {}
    for s in inp.shiftable:
        base = np.maximum(as_array(s.baseline_kw, n), 0.0)
        cum = np.cumsum(base) * dt  # baseline energy by the end of each interval
        k = int(round(s.max_shift_h / dt))
        back = np.cumsum(np.maximum(np.asarray(s.before_kw, dtype=float), 0.0)[::-1]) * dt
        later = np.array([_baseline_by(cum, back, t - k) for t in range(n)])
        earlier = np.array([cum[min(t + k, n - 1)] for t in range(n)])
        # the plan keeps SHIFT_MARGIN of the allowed shift in hand: a process that reaches its own limit runs
        # whatever the setpoint, and a measured baseline never matches the forecast exactly
        lo = later - s.ahead_kwh + SHIFT_MARGIN * (cum - later)
        hi = earlier - s.ahead_kwh - SHIFT_MARGIN * (earlier - cum)
        lo[-1] = hi[-1] = cum[-1] - s.ahead_kwh  # energy conserved over the horizon
        reach_hi = s.p_max_kw * dt * steps
        reach_lo = s.p_min_kw * dt * steps
        lo = np.minimum(np.maximum(lo, reach_lo), reach_hi)  # a backlog is caught up as fast as possible
        hi = np.maximum(np.minimum(hi, reach_hi), lo)
        _series(v["sh_lo"], s.id, lo)
        _series(v["sh_hi"], s.id, hi)

    v["cu_base"], v["cu_shed_max"] = {}, {}
    for c in inp.curtailable:
        base = c.base_kw(n)
        _series(v["cu_base"], c.id, base)
        _series(v["cu_shed_max"], c.id, base * c.max_curtail_pct / 100)

    if structure.peak_reserve:
        need = peak_reserve_need(inp)
        v["res_need"] = {t: float(x) for t, x in enumerate(need)}
        # before the first interval that can be a peak (need above the month-to-date peak, which the plan's
        # peak cannot undercut) the storage may still charge: the reserve rows start one interval earlier
        first = np.flatnonzero(need > inp.tariff.month_peak_kw)
        start = int(first[0]) - 1 if len(first) else n
        room = sum(b.eta_discharge * b.e_capacity_kwh for b in inp.batteries)
        v["res_credit"] = {t: float(room) if t < start else 0.0 for t in range(n)}

    v["ev_cap"], v["ev_owed"], v["ev_max"] = {}, {}, {}
    depots = {x.id: x for x in inp.ev_depots}
    for key in structure.ev_slots:
        depot_id, k = slot_depot(key), slot_index(key)
        depot = depots[depot_id]
        if k < len(depot.sessions):
            s = depot.sessions[k]
            p_max = min(s.p_max_kw or depot.p_max_kw, depot.p_max_kw)
            cap, owed, most = energy_window(inp.index, dt, s.arrival, s.departure, p_max,
                                            s.energy_kwh - s.delivered_kwh, depot.eta_charge)
        else:  # unused slot of the persistent model
            cap, owed, most = np.zeros(n), 0.0, 0.0
        _series(v["ev_cap"], key, cap)
        v["ev_owed"][key] = owed
        v["ev_max"][key] = most
    return md


def peak_reserve_need(inp: DispatchInputs) -> np.ndarray:
    """Must-serve net load per interval the reserve is sized on, kW (0 after ``peak_reserve.until``).

    ``(1 + margin) · (base loads + curtailable loads at their most shed) − PV forecast`` before ``until``.
    """
    n = inp.n_steps
    load = sum((np.maximum(as_array(x.p_kw, n), 0.0) for x in inp.loads), np.zeros(n))
    load = load + sum((x.base_kw(n) * (1 - x.max_curtail_pct / 100) for x in inp.curtailable), np.zeros(n))
    pv = sum((np.maximum(as_array(p.p_avail_kw, n), 0.0) for p in inp.pv), np.zeros(n))
    res = inp.peak_reserve
    need = (1 + res.load_margin_pct / 100) * load - pv
    return np.where(inp.index < pd.Timestamp(res.until), need, 0.0)


def session_labels(inp: DispatchInputs, structure: Structure) -> dict[str, str]:
    """Slot key → session id (or ``""`` for an unused slot)."""
    depots = {x.id: x for x in inp.ev_depots}
    out = {}
    for key in structure.ev_slots:
        sessions = depots[slot_depot(key)].sessions
        k = slot_index(key)
        out[key] = sessions[k].id if k < len(sessions) else ""
    return out
