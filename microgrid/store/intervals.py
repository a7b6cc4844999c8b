"""Interval energies from telemetry samples: pure functions over arrays, tested with hand-made samples.

Each measured source is attributed to a *target* (a meter or asset id of the site) of one *kind*; the rules
of the kind say which telemetry quantities give which interval energies (docs/store.md):

======== ========================================== =======================================================
kind     counters (preferred, revenue registers)    power samples (sign)
======== ========================================== =======================================================
meter    ``e_import_kwh``, ``e_export_kwh``          ``p_kw``: import into the metered installation > 0
pv       ``e_total_kwh`` → ``e_pv_kwh``              ``p_kw`` output > 0; ``p_avail_kw`` → ``e_curtailed_kwh``
battery  ``e_charge_kwh``, ``e_discharge_kwh``       ``p_kw``: discharge > 0, charge < 0; ``soc_pct`` → ``soc_end_pct``
load     ``e_import_kwh`` → ``e_load_kwh``           ``p_kw`` / ``p_el_kw`` / ``load_kw``: consumption > 0
======== ========================================== =======================================================

Counter energy over ``[a, b)`` is ``C(b) - C(a)`` with ``C`` interpolated linearly between the samples
around each edge (at most ``counter_max_gap_s`` apart), so it is exact however the samples fall. Power is
integrated holding each sample until the next one, for at most ``max_hold_s``; the covered share of the
interval is its coverage, and a partly covered interval is reported as mean power × interval length, flagged
``partial``. Samples of quality STALE or BAD are not used.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd

from microgrid.store.models import EnergyMethod, IntervalFlag, Quality

SourceKind = Literal["meter", "pv", "battery", "load"]

MS_PER_H = 3_600_000.0
OK_COVERAGE = 0.99
"""Power samples covering at least this share of an interval make it ``ok``."""


@dataclass(frozen=True)
class EnergySource:
    """Where telemetry of one source id goes: the site's meter or asset id and its kind."""

    target_id: str
    kind: SourceKind


@dataclass(frozen=True)
class RollUpSettings:
    interval_min: int = 15
    max_hold_s: float = 15.0
    """A power sample stands for at most this long (then the data counts as missing)."""
    counter_max_gap_s: float = 900.0
    """Counter samples around an interval edge may be at most this far apart for interpolation."""


@dataclass(frozen=True)
class _Counter:
    quantities: tuple[str, ...]
    out: str


@dataclass(frozen=True)
class _Integral:
    quantities: tuple[str, ...]
    pos: str | None
    neg: str | None = None


@dataclass(frozen=True)
class _Last:
    quantities: tuple[str, ...]
    out: str


@dataclass(frozen=True)
class _Rules:
    counters: tuple[_Counter, ...] = ()
    integrals: tuple[_Integral, ...] = ()
    lasts: tuple[_Last, ...] = ()
    curtailment: bool = False


RULES: dict[str, _Rules] = {
    "meter": _Rules(
        counters=(_Counter(("e_import_kwh",), "e_import_kwh"), _Counter(("e_export_kwh",), "e_export_kwh")),
        integrals=(_Integral(("p_kw",), "e_import_kwh", "e_export_kwh"),),
    ),
    "pv": _Rules(
        counters=(_Counter(("e_total_kwh", "e_pv_kwh"), "e_pv_kwh"),),
        integrals=(_Integral(("p_kw",), "e_pv_kwh"), _Integral(("p_avail_kw",), "e_avail_kwh")),
        curtailment=True,
    ),
    "battery": _Rules(
        counters=(_Counter(("e_charge_kwh",), "e_charge_kwh"), _Counter(("e_discharge_kwh",), "e_discharge_kwh")),
        integrals=(_Integral(("p_kw",), "e_discharge_kwh", "e_charge_kwh"),),
        lasts=(_Last(("soc_pct",), "soc_end_pct"),),
    ),
    "load": _Rules(
        counters=(_Counter(("e_import_kwh", "e_load_kwh"), "e_load_kwh"),),
        integrals=(_Integral(("p_kw", "p_el_kw", "load_kw"), "e_load_kwh"),),
    ),
}


def energy_sources_from_site(site) -> dict[str, EnergySource]:
    """Source id → target for every meter and asset of ``site`` and every device serving one."""
    sources: dict[str, EnergySource] = {}
    for meter in site.meters:
        sources[meter.id] = EnergySource(meter.id, "meter")
    a = site.assets
    for kind, group in (("pv", a.pv), ("battery", a.batteries), ("load", a.heat_pumps),
                        ("load", a.flexible_loads), ("load", a.ev_depots)):
        for asset in group:
            sources[asset.id] = EnergySource(asset.id, kind)
    for device in site.devices:
        if device.serves in sources:
            sources[device.id] = sources[device.serves]
    return sources


# ---- integration kernels ---------------------------------------------------------------------------------
def _dedupe(ts: np.ndarray, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Sort by time; samples at the same millisecond are averaged."""
    order = np.argsort(ts, kind="stable")
    ts, values = ts[order], values[order]
    if len(ts) > 1 and np.any(ts[1:] == ts[:-1]):
        frame = pd.DataFrame({"ts": ts, "v": values}).groupby("ts", sort=True)["v"].mean()
        return frame.index.to_numpy(dtype=np.int64), frame.to_numpy(dtype=float)
    return ts, values


def hold_integrals(ts_ms: np.ndarray, values: np.ndarray, edges_ms: np.ndarray, max_hold_ms: float
                   ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Integrals of the positive and negative parts of held samples between consecutive ``edges_ms``.

    Returns ``(pos_kwh, neg_kwh, covered_ms)`` per interval (values in kW → kWh; ``neg_kwh`` >= 0).
    """
    n_int = len(edges_ms) - 1
    if len(ts_ms) == 0:
        zeros = np.zeros(n_int)
        return zeros, zeros.copy(), zeros.copy()
    ts_ms, values = _dedupe(np.asarray(ts_ms, dtype=np.int64), np.asarray(values, dtype=float))
    starts = ts_ms.astype(float)
    nxt = np.append(starts[1:], np.inf)
    dur = np.minimum(nxt, starts + max_hold_ms) - starts
    edges = np.asarray(edges_ms, dtype=float)
    k = np.searchsorted(starts, edges, side="right") - 1
    kk = np.clip(k, 0, None)
    partial = np.where(k >= 0, np.clip(edges - starts[kk], 0.0, dur[kk]), 0.0)

    def cumulative(weights: np.ndarray) -> np.ndarray:
        c = np.concatenate([[0.0], np.cumsum(weights * dur)])
        return np.where(k >= 0, c[kk] + weights[kk] * partial, 0.0)

    pos = np.diff(cumulative(np.maximum(values, 0.0))) / MS_PER_H
    neg = np.diff(cumulative(np.maximum(-values, 0.0))) / MS_PER_H
    covered = np.diff(cumulative(np.ones_like(values)))
    return pos, neg, covered


def counter_differences(ts_ms: np.ndarray, values: np.ndarray, edges_ms: np.ndarray, max_gap_ms: float
                        ) -> tuple[np.ndarray, np.ndarray]:
    """Energy per interval from a cumulative register: ``(kwh, ok)``; ``ok`` False where an edge cannot be
    interpolated (no samples around it within ``max_gap_ms``) or the register went backwards (reset)."""
    n_int = len(edges_ms) - 1
    if len(ts_ms) == 0:
        return np.full(n_int, np.nan), np.zeros(n_int, dtype=bool)
    ts, vals = _dedupe(np.asarray(ts_ms, dtype=np.int64), np.asarray(values, dtype=float))
    edges = np.asarray(edges_ms, dtype=np.int64)
    at = np.interp(edges.astype(float), ts.astype(float), vals)
    j = np.searchsorted(ts, edges, side="left")
    jc = np.clip(j, 0, len(ts) - 1)
    exact = (j < len(ts)) & (ts[jc] == edges)
    inside = (j > 0) & (j < len(ts))
    gap = np.where(inside, ts[jc] - ts[np.clip(j - 1, 0, None)], np.inf)
    edge_ok = exact | (inside & (gap <= max_gap_ms))
    kwh = np.diff(at)
    ok = edge_ok[1:] & edge_ok[:-1] & (kwh >= -1e-9)
    # A register that went backwards inside an interval also makes it unusable.
    drops = np.flatnonzero(np.diff(vals) < -1e-9)
    for d in drops:
        bad = np.searchsorted(edges, ts[d + 1], side="right") - 1
        if 0 <= bad < n_int:
            ok[bad] = False
    return np.where(ok, np.maximum(kwh, 0.0), np.nan), ok


def last_values(ts_ms: np.ndarray, values: np.ndarray, edges_ms: np.ndarray) -> np.ndarray:
    """Last sample value inside each interval (NaN where there is none)."""
    n_int = len(edges_ms) - 1
    out = np.full(n_int, np.nan)
    if len(ts_ms) == 0:
        return out
    ts, vals = _dedupe(np.asarray(ts_ms, dtype=np.int64), np.asarray(values, dtype=float))
    j = np.searchsorted(ts, np.asarray(edges_ms[1:], dtype=np.int64), side="left") - 1
    jc = np.clip(j, 0, None)
    has = (j >= 0) & (ts[jc] >= np.asarray(edges_ms[:-1]))
    out[has] = vals[jc[has]]
    return out


def _count(ts_ms: np.ndarray, edges_ms: np.ndarray) -> np.ndarray:
    return np.histogram(ts_ms, bins=np.asarray(edges_ms, dtype=float))[0] if len(ts_ms) else np.zeros(len(edges_ms) - 1, int)


# ---- interval rows ---------------------------------------------------------------------------------------
def compute_interval_rows(samples: pd.DataFrame, sources: dict[str, EnergySource], edges_ms: np.ndarray,
                          settings: RollUpSettings) -> list[dict]:
    """Interval-energy rows (``source_id`` = target, ``ts_ms`` = interval start) for ``edges_ms``.

    ``samples`` has columns ``ts_ms, source_id, quantity, value, quality`` and should reach a little before
    the first edge and after the last one (for held samples and counter interpolation). Targets with no
    usable sample of a rule's quantities in ``samples`` get no row for that output; those with some get a row
    for every interval, ``missing`` where the data does not cover it.
    """
    if samples.empty:
        return []
    usable = samples[samples["quality"].astype(int) <= int(Quality.UNCERTAIN)]
    usable = usable[usable["source_id"].isin(sources.keys())]
    if usable.empty:
        return []
    targets = usable["source_id"].map({k: v.target_id for k, v in sources.items()})
    kinds = usable["source_id"].map({k: v.kind for k, v in sources.items()})
    usable = usable.assign(target=targets.to_numpy(), kind=kinds.to_numpy())
    interval_ms = float(edges_ms[1] - edges_ms[0])
    rows: list[dict] = []
    for (target, kind), group in usable.groupby(["target", "kind"], sort=True):
        rows.extend(_target_rows(str(target), RULES[str(kind)], group, edges_ms, interval_ms, settings))
    return rows


def _series(group: pd.DataFrame, quantities: Iterable[str]) -> tuple[np.ndarray, np.ndarray]:
    sel = group[group["quantity"].isin(tuple(quantities))]
    return sel["ts_ms"].to_numpy(dtype=np.int64), sel["value"].to_numpy(dtype=float)


def _target_rows(target: str, rules: _Rules, group: pd.DataFrame, edges_ms: np.ndarray, interval_ms: float,
                 settings: RollUpSettings) -> list[dict]:
    n_int = len(edges_ms) - 1
    results: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray, str]] = {}
    """output → (value, coverage 0-1, n_samples, method)."""
    for rule in rules.integrals:
        ts, vals = _series(group, rule.quantities)
        if not len(ts):
            continue
        pos, neg, covered = hold_integrals(ts, vals, edges_ms, settings.max_hold_s * 1000)
        cov = np.clip(covered / interval_ms, 0.0, 1.0)
        n = _count(ts, edges_ms)
        with np.errstate(invalid="ignore", divide="ignore"):
            for out, e in ((rule.pos, pos), (rule.neg, neg)):
                if out:
                    results[out] = (np.where(cov > 0, e / np.where(cov > 0, cov, 1.0), np.nan), cov, n,
                                    EnergyMethod.INTEGRATED)
    for rule in rules.counters:
        ts, vals = _series(group, rule.quantities)
        if not len(ts):
            continue
        kwh, ok = counter_differences(ts, vals, edges_ms, settings.counter_max_gap_s * 1000)
        n = _count(ts, edges_ms)
        if rule.out in results:  # counter wins where it is usable, power integration fills the rest
            value, cov, n_int_samples, _ = results[rule.out]
            method = np.where(ok, EnergyMethod.COUNTER.value, EnergyMethod.INTEGRATED.value)
            results[rule.out] = (np.where(ok, kwh, value), np.where(ok, 1.0, cov), np.where(ok, n, n_int_samples),
                                 method)
        else:
            results[rule.out] = (kwh, ok.astype(float), n, EnergyMethod.COUNTER)
    if rules.curtailment and "e_avail_kwh" in results and "e_pv_kwh" in results:
        avail, cov_a, n_a, _ = results.pop("e_avail_kwh")
        pv, cov_p, _, _ = results["e_pv_kwh"]
        results["e_curtailed_kwh"] = (np.maximum(avail - pv, 0.0), np.minimum(cov_a, cov_p), n_a,
                                      EnergyMethod.INTEGRATED)
    results.pop("e_avail_kwh", None)
    for rule in rules.lasts:
        ts, vals = _series(group, rule.quantities)
        if not len(ts):
            continue
        last = last_values(ts, vals, edges_ms)
        results[rule.out] = (last, np.isfinite(last).astype(float), _count(ts, edges_ms), EnergyMethod.LAST)

    rows = []
    interval_min = int(round(interval_ms / 60000))
    for out, (value, cov, n, method) in results.items():
        methods = np.broadcast_to(np.asarray(method, dtype=object), (n_int,))
        for i in range(n_int):
            c = float(cov[i])
            v = float(value[i])
            if not np.isfinite(v) or c <= 0:
                flag, v, c = IntervalFlag.MISSING, None, 0.0
            elif c >= OK_COVERAGE:
                flag = IntervalFlag.OK
            else:
                flag = IntervalFlag.PARTIAL
            rows.append({"source_id": target, "quantity": out, "ts_ms": int(edges_ms[i]),
                         "interval_min": interval_min, "value": v, "coverage_pct": round(c * 100, 3),
                         "flag": flag.value, "method": str(methods[i]), "n_samples": int(n[i])})
    return rows


def minute_rows(samples: pd.DataFrame, start_ms: int, end_ms: int) -> list[dict]:
    """1-minute mean/min/max/n per source and quantity for samples in ``[start_ms, end_ms)`` (BAD excluded)."""
    sel = samples[(samples["ts_ms"] >= start_ms) & (samples["ts_ms"] < end_ms)
                  & (samples["quality"].astype(int) < int(Quality.BAD))]
    if sel.empty:
        return []
    sel = sel.assign(minute=sel["ts_ms"] - sel["ts_ms"] % 60000)
    agg = sel.groupby(["source_id", "quantity", "minute"], sort=True).agg(
        mean=("value", "mean"), min=("value", "min"), max=("value", "max"), n=("value", "size"),
        quality=("quality", "max"))
    agg = agg.reset_index()
    columns = [agg["source_id"].astype(str).tolist(), agg["quantity"].astype(str).tolist(),
               agg["minute"].astype("int64").tolist(), agg["mean"].astype(float).tolist(),
               agg["min"].astype(float).tolist(), agg["max"].astype(float).tolist(), agg["n"].astype(int).tolist(),
               agg["quality"].astype(int).tolist()]
    keys = ("source_id", "quantity", "ts_ms", "mean", "min", "max", "n", "quality")
    return [dict(zip(keys, values, strict=True)) for values in zip(*columns, strict=True)]
