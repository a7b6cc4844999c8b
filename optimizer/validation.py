"""Validation of :class:`~optimizer.inputs.DispatchInputs`: shapes, ranges and references, all at once."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from optimizer.inputs import DispatchInputs, EndRule
from optimizer.network_limits import check_network_limits


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


def _naive(ts: object) -> bool:
    return getattr(ts, "tzinfo", None) is None


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


def check_inputs(inp: DispatchInputs) -> list[str]:  # noqa: C901 - a flat list of checks reads best
    """Every problem with ``inp`` as ``field: what is wrong`` lines (empty = usable)."""
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
        if _naive(d.window_start) or _naive(d.window_end):
            problems.append(f"{w}.window_start/window_end: must be timezone-aware timestamps")
        elif d.window_end <= d.window_start:
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
            if _naive(s.arrival) or _naive(s.departure):
                problems.append(f"{w}.sessions[{k}] ('{s.id}').arrival/departure: must be timezone-aware timestamps")
            elif s.departure <= s.arrival:
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
        if inp.green.min_ratio is not None:
            _check_range(problems, "green.min_ratio", inp.green.min_ratio, 0, 1)
        _check_range(problems, "green.green_purchased_kwh", inp.green.green_purchased_kwh, 0)
        _check_range(problems, "green.onsite_certificate_share", inp.green.onsite_certificate_share, 0, 1)
    if inp.peak_reserve is not None:
        if _naive(inp.peak_reserve.until):
            problems.append("peak_reserve.until: must be a timezone-aware timestamp")
        _check_range(problems, "peak_reserve.load_margin_pct", inp.peak_reserve.load_margin_pct, 0, 100)
    problems.extend(check_network_limits(inp.network_limits, n, ids))
    return problems
