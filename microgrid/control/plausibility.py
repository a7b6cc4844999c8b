"""Measurement plausibility: the layer between the drivers' readings and the controllers.

The drivers say whether a value was *read* (fresh, device online); this layer says whether it can be
*true*. Every cycle it checks the PCC meter and the tenant meters against

- **physical bounds** from the site's ratings (:func:`meter_bounds`): the PCC within − (PV + storage
  discharge ratings) … + (transformer capacity + storage charge ratings), a tenant meter within
  − (its PV + storage) … + its transformer, plus ``bound_margin_pct``; non-finite values are invalid;
- **the physical envelope** of the park's load: the uncontrolled load behind a meter,
  ``meter − consumers + PV + storage``, cannot be negative (beyond the Kirchhoff tolerance);
- **frozen values**: a value unchanged (within ``frozen_floor_kw``) for ``frozen_cycles`` new samples
  while the value predicted from the other readings (the Kirchhoff estimate, or the assets behind the meter)
  moved by at least ``frozen_motion_kw`` and 3 steps of the meter's resolution;
- **redundancy** (Kirchhoff on the metering topology, :class:`MeteringTopology`): the PCC equals the sum of
  the tenant meters minus the injections of assets outside every tenant meter (shared storage at 10 kV…),
  within ``kirchhoff_abs_kw + kirchhoff_pct`` % of the gross metered flow (losses, meter classes, polling
  skew).

Which value the controllers get (:class:`PccVerdict`):

========================================== ===========================================================
PCC meter plausible, estimate agrees/none  the meter (``source = meter``)
PCC meter plausible, estimate disagrees    the estimate (``kirchhoff``): it rests on several independent
                                           meters and the device readings, each checked on its own;
                                           one wrong meter is likelier than several wrong in step.
                                           After ``disagree_cycles`` cycles in a row: alarm
                                           ``pcc_implausible`` naming both values, degraded mode.
PCC meter implausible or lost, estimate ok the estimate; alarm ``pcc_implausible`` / ``pcc_lost`` at
                                           once, degraded mode
no plausible value at all                  ``None``: the safe state (:mod:`...controllers.safe`)
========================================== ===========================================================

Signs as everywhere (DESIGN.md §3): meters import > 0; PV, storage discharge > 0 into the bus; heat pumps,
flexible loads and EV depots report consumption > 0. All powers kW.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Literal

from drivers.capabilities import MeterReading
from microgrid.control.fleet import FleetReadings
from microgrid.site.metering import MeteringTopology as SiteMetering
from microgrid.site.models import Site


@dataclass(frozen=True)
class PlausibilityConfig:
    """Tolerances of the plausibility checks (defaults documented in docs/control.md)."""

    bound_margin_pct: float = 10.0
    """Margin on the rating-derived bounds of every meter, %."""
    frozen_cycles: int = 3
    """Identical samples in a row that make a value frozen (when the others moved in between)."""
    frozen_floor_kw: float = 0.0
    """A change at or below this counts as no change (the meter's noise floor / resolution), kW."""
    frozen_motion_kw: float = 0.5
    """Change of the value predicted from the other readings (Kirchhoff estimate, or the assets behind the
    meter) over those samples that proves the value should have moved, kW; at least 3 steps of the meter's
    resolution."""
    kirchhoff_abs_kw: float = 10.0
    kirchhoff_pct: float = 2.0
    """Kirchhoff tolerance: ``abs + pct % × gross metered flow`` (losses, meter class, polling skew)."""
    disagree_cycles: int = 2
    """Cycles in a row of PCC/estimate disagreement before the alarm and the degraded mode."""
    agree_cycles: int = 3
    """Cycles in a row of a plausible, agreeing PCC meter before the alarm clears."""


def _finite(v: float | None) -> bool:
    return v is not None and isinstance(v, int | float) and math.isfinite(v)


def injection_kw(readings: FleetReadings, asset_id: str) -> float | None:
    """Power the asset injects into its bus now (PV, discharge > 0; consumers negative), or ``None``."""
    for group, sign in ((readings.pv, 1.0), (readings.storage, 1.0)):
        r = group.get(asset_id)
        if r is not None:
            return sign * float(r.p_kw) if r.valid and _finite(r.p_kw) else None
    hp = readings.heat_pumps.get(asset_id)
    if hp is not None:
        return -float(hp.p_el_kw) if hp.valid and _finite(hp.p_el_kw) else None
    fl = readings.flex.get(asset_id)
    if fl is not None:
        return -float(fl.p_kw) if fl.valid and _finite(fl.p_kw) else None
    return None


@dataclass(frozen=True)
class MeteringTopology:
    """Which meter sees which assets, and the physical bounds of every meter (from the site file)."""

    pcc_id: str
    tenant_meters: dict[str, tuple[str, ...]]
    """Tenant id → its tenant meter ids (a tenant behind two transformers has two)."""
    assets_of: dict[str, tuple[str, ...]]
    """Meter id → controllable assets downstream of it (the PCC: all of them)."""
    outside: tuple[str, ...]
    """Assets behind no tenant meter (their injection enters the Kirchhoff sum directly)."""
    complete: bool
    """Every tenant's base load is downstream of one of its tenant meters: the PCC can be estimated from
    the other readings."""
    bounds: dict[str, tuple[float, float]]
    """Meter id → (lowest, highest) physically possible reading, kW."""

    @property
    def meter_ids(self) -> tuple[str, ...]:
        """Every tenant meter id, each once."""
        return tuple(m for meters in self.tenant_meters.values() for m in meters)

    @classmethod
    def from_site(cls, site: Site, margin_pct: float = 10.0) -> MeteringTopology:
        """What each meter sees from :mod:`microgrid.site.metering` (the network walked from the grid), so
        a tenant with two meters counts both and each sees the assets on its own buses."""
        metering = SiteMetering(site)
        pcc = next(m.id for m in site.meters if m.scope == "pcc")
        tenant_meters = {t.id: tuple(m.id for m in metering.tenant_meters(t.id)) for t in site.tenants}
        tenant_meters = {t: ms for t, ms in tenant_meters.items() if ms}
        a = site.assets
        everything = [*a.pv, *a.batteries, *a.heat_pumps, *a.flexible_loads, *a.ev_depots]
        assets_of: dict[str, tuple[str, ...]] = {pcc: tuple(x.id for x in everything)}
        for meters in tenant_meters.values():
            for meter in meters:
                assets_of[meter] = metering.views[meter].assets
        behind = {x for meters in tenant_meters.values() for m in meters for x in assets_of[m]}
        outside = tuple(x.id for x in everything if x.id not in behind)
        complete = bool(tenant_meters) and all(
            any(t.id in metering.views[m].loads for m in tenant_meters.get(t.id, ())) for t in site.tenants)
        return cls(pcc, tenant_meters, assets_of, outside, complete, meter_bounds(site, margin_pct))


def _ratings(site: Site, ids: Iterable[str]) -> tuple[float, float]:
    """(largest injection, largest consumption) the assets ``ids`` can make, kW."""
    inject = consume = 0.0
    for asset_id in ids:
        x = site.asset(asset_id)
        inject += getattr(x, "inverter_ac_kw", 0.0) + getattr(x, "p_discharge_max_kw", 0.0)
        consume += (getattr(x, "p_charge_max_kw", 0.0) + getattr(x, "p_el_max_kw", 0.0)
                    + getattr(x, "p_max_kw", 0.0))
        if hasattr(x, "n_chargers"):
            consume += x.n_chargers * x.charger_kw  # type: ignore[union-attr]
    return inject, consume


def meter_bounds(site: Site, margin_pct: float = 10.0) -> dict[str, tuple[float, float]]:
    """Physically possible range of every PCC and tenant meter, kW (import > 0), with ``margin_pct``.

    Import is bounded by the transformers the meter feeds (their kVA bounds |P|) plus consumers outside any
    transformer; export by the PV inverters and storage discharge behind the meter. A tenant without a
    transformer is bounded by its typical load × 3 plus its consumers.
    """
    k = 1.0 + margin_pct / 100.0
    tx = {t.id: t.sn_kva for t in site.network.transformers}
    a = site.assets
    everything = [x.id for x in (*a.pv, *a.batteries, *a.heat_pumps, *a.flexible_loads, *a.ev_depots)]
    out: dict[str, tuple[float, float]] = {}
    tenant_import: dict[str, float] = {}
    for t in site.tenants:
        ids = [i for i in everything if getattr(site.asset(i), "tenant", None) == t.id]
        inject, consume = _ratings(site, ids)
        cap = tx.get(t.transformer or "", 0.0) or (3.0 * t.typical_load_kw + consume)
        tenant_import[t.id] = cap
        out[t.id] = (-inject * k, cap * k)
    shared = [i for i in everything if getattr(site.asset(i), "tenant", None) is None]
    inject_all, _ = _ratings(site, everything)
    _, consume_shared = _ratings(site, shared)
    pcc_hi = sum(tenant_import.values()) + consume_shared
    bounds: dict[str, tuple[float, float]] = {}
    for m in site.meters:
        if m.scope == "pcc":
            bounds[m.id] = (-inject_all * k, pcc_hi * k)
        elif m.scope == "tenant" and m.tenant in out:
            bounds[m.id] = out[m.tenant]
    return bounds


def meter_resolution_kw(site: Site) -> dict[str, float]:
    """Smallest step of each meter's active-power reading at the primary side, kW (0 for float registers).

    From the register map of the device serving the meter: the point's scale (W or kW) times the PT/CT
    ratios it is multiplied by. An integer register of 0.001 kW behind 100 × 80 ratios moves in 8 kW steps,
    so a steady value there says little about a frozen meter.
    """
    from drivers.registermap import load_map

    ratios = {m.id: {"pt_ratio": m.pt_ratio, "ct_ratio": m.ct_ratio} for m in site.meters}
    out: dict[str, float] = {}
    for device in site.devices:
        if device.serves not in ratios:
            continue
        point = next((p for p in load_map(device.map).points if p.id in ("p_kw", "p_w")), None)
        if point is None:
            continue
        step = 0.0 if point.type == "f32" else point.scale * (0.001 if point.unit == "W" else 1.0)
        for ref in point.multiply_by:
            step *= ratios[device.serves].get(ref, 1.0)
        out[device.serves] = step
    return out


@dataclass
class _Frozen:
    """Frozen-value watch of one meter: identical samples while the value predicted from the other
    readings moved."""

    last: float | None = None
    last_ts: object = None
    same: int = 0
    anchor_kw: float | None = None
    """Predicted value when the reading last changed."""
    moved_kw: float = 0.0

    def update(self, value: float, ts: object, predicted_kw: float | None, floor_kw: float) -> None:
        if ts == self.last_ts:
            return  # no new sample: nothing to judge
        self.last_ts = ts
        if self.last is not None and abs(value - self.last) <= floor_kw:
            self.same += 1
            if predicted_kw is not None and self.anchor_kw is not None:
                self.moved_kw = abs(predicted_kw - self.anchor_kw)
        else:
            self.same, self.anchor_kw, self.moved_kw = 0, predicted_kw, 0.0
        self.last = value

    def frozen(self, frozen_cycles: int, threshold_kw: float) -> bool:
        return self.same + 1 >= frozen_cycles and self.moved_kw >= threshold_kw


@dataclass(frozen=True)
class MeterCheck:
    """One meter's reading judged: its value if plausible, else why not."""

    meter_id: str
    value_kw: float | None
    """The reading as the driver gave it (may be non-finite or absurd); ``None`` if there is none."""
    plausible: bool
    problem: str = ""
    """English reason when not plausible (``no reading``, ``non-finite``, ``outside bounds``, ``frozen``…)."""


@dataclass(frozen=True)
class PccVerdict:
    """What the controllers may use as the PCC power this cycle, and why."""

    p_kw: float | None
    """PCC import for control, kW; ``None``: nothing plausible (safe state)."""
    source: Literal["meter", "kirchhoff", "none"]
    meter: MeterCheck
    estimate_kw: float | None
    """Kirchhoff estimate from the tenant meters and device readings, when complete and plausible."""
    disagree_kw: float | None = None
    """|meter − estimate| when both are plausible, kW."""
    tolerance_kw: float | None = None
    alarm: Literal["pcc_implausible", "pcc_lost"] | None = None
    """Alarm code to hold active this cycle (``None``: none)."""
    reason: str = ""
    proven_load_kw: float = 0.0
    """Uncontrolled load proven by the tenant meters that still read plausibly (lower bound), kW."""
    unproven_tenants: tuple[str, ...] = ()
    """Tenants whose load no plausible meter measures."""


@dataclass
class Plausibility:
    """Stateful checker, one per runtime: :meth:`pcc` once per cycle."""

    site: Site
    config: PlausibilityConfig = field(default_factory=PlausibilityConfig)

    def __post_init__(self) -> None:
        self.topology = MeteringTopology.from_site(self.site, self.config.bound_margin_pct)
        self._frozen: dict[str, _Frozen] = {}
        self.resolution = meter_resolution_kw(self.site)
        self._disagree = 0
        self._agree = 0
        self.degraded = False
        self.last: PccVerdict | None = None

    # ---- single readings ---------------------------------------------------------------------------
    def check_meter(self, meter_id: str, r: MeterReading | None, readings: FleetReadings,
                    predicted_kw: float | None) -> MeterCheck:
        """Bounds, non-finite, frozen and load-envelope checks of one meter."""
        if r is None or not r.valid or r.p_kw is None:
            why = "no reading" if r is None or r.timestamp is None else f"{r.health}"
            return MeterCheck(meter_id, None if r is None else r.p_kw, False, why)
        value = r.p_kw
        if not _finite(value):
            return MeterCheck(meter_id, value, False, f"non-finite value {value}")
        value = float(value)
        lo, hi = self.topology.bounds.get(meter_id, (-math.inf, math.inf))
        if not lo <= value <= hi:
            return MeterCheck(meter_id, value, False, f"{value:.1f} kW outside the physical range "
                                                      f"{lo:.0f} … {hi:.0f} kW")
        watch = self._frozen.setdefault(meter_id, _Frozen())
        behind = self.topology.assets_of.get(meter_id, ())
        res = self.resolution.get(meter_id, 0.0)
        if predicted_kw is None:
            inj = [injection_kw(readings, a) for a in behind]
            predicted_kw = -sum(inj) if inj and all(i is not None for i in inj) else None  # type: ignore[arg-type]
        watch.update(value, r.timestamp, predicted_kw, max(self.config.frozen_floor_kw, res / 2))
        if watch.frozen(self.config.frozen_cycles, max(self.config.frozen_motion_kw, 3 * res)):
            return MeterCheck(meter_id, value, False, f"frozen at {value:.1f} kW for {watch.same + 1} readings while "
                                                      f"the other readings say it moved {watch.moved_kw:.1f} kW")
        inj = [injection_kw(readings, a) for a in behind]
        if all(i is not None for i in inj):
            load = value + sum(inj)  # type: ignore[arg-type]
            tol = self.tolerance_kw([value, *inj])  # type: ignore[list-item]
            if load < -tol:
                return MeterCheck(meter_id, value, False,
                                  f"{value:.1f} kW implies a load of {load:.1f} kW behind the meter (< 0)")
        return MeterCheck(meter_id, value, True)

    def tolerance_kw(self, terms: Iterable[float]) -> float:
        return self.config.kirchhoff_abs_kw + self.config.kirchhoff_pct / 100.0 * sum(abs(t) for t in terms)

    # ---- the PCC -------------------------------------------------------------------------------------
    def _estimate(self, checks: Mapping[str, MeterCheck],
                  readings: FleetReadings) -> tuple[float | None, float, list[float]]:
        """(Kirchhoff PCC estimate or None, proven load kW, terms)."""
        topo = self.topology
        proven = 0.0
        terms: list[float] = []
        ok = topo.complete
        for meter in topo.meter_ids:
            c = checks[meter]
            if not c.plausible or c.value_kw is None:
                ok = False
                continue
            terms.append(c.value_kw)
            # Proven load in the safe state's sense: everything but the PV and storage the loop controls
            # (consumers behind the meter are part of it).
            ctl = [a for a in topo.assets_of.get(meter, ()) if a in readings.pv or a in readings.storage]
            inj = [injection_kw(readings, a) for a in ctl]
            if all(i is not None for i in inj):
                proven += max(c.value_kw + sum(inj), 0.0)  # type: ignore[arg-type]
        for asset_id in topo.outside:
            inj = injection_kw(readings, asset_id)
            if inj is None:
                ok = False
                continue
            terms.append(-inj)
        return (sum(terms) if ok else None), proven, terms

    def pcc(self, readings: FleetReadings, stale_s: float | None = None) -> PccVerdict:
        """Judge this cycle's PCC reading (``stale_s``: a reading older than this counts as lost)."""
        topo = self.topology
        pcc_id = topo.pcc_id
        checks = {m: self.check_meter(m, readings.meters.get(m), readings, None)
                  for m in topo.meter_ids}
        estimate, proven, terms = self._estimate(checks, readings)
        r = readings.meters.get(pcc_id)
        if r is not None and stale_s is not None and r.age_s is not None and r.age_s > stale_s:
            meter = MeterCheck(pcc_id, r.p_kw, False, f"last reading {r.age_s:.1f} s old (limit {stale_s:g} s)")
        else:
            meter = self.check_meter(pcc_id, r, readings, estimate)
        unproven = tuple(t.id for t in self.site.tenants if t.id not in topo.tenant_meters
                         or not all(checks[m].plausible for m in topo.tenant_meters[t.id]))
        lost = r is None or not r.valid or r.p_kw is None or (meter.problem.startswith("last reading"))
        if meter.plausible and estimate is None:
            verdict = self._agreeing(PccVerdict(meter.value_kw, "meter", meter, None, reason=f"{pcc_id}: plausible"))
        elif meter.plausible:
            tol = self.tolerance_kw([*terms, meter.value_kw or 0.0])
            diff = abs((meter.value_kw or 0.0) - estimate)  # type: ignore[operator]
            if diff <= tol:
                verdict = self._agreeing(PccVerdict(meter.value_kw, "meter", meter, estimate, diff, tol,
                                                    reason=f"{pcc_id}: agrees with the tenant meters"))
            else:
                self._disagree += 1
                self._agree = 0
                alarm = "pcc_implausible" if self._disagree >= self.config.disagree_cycles else None
                self.degraded = self.degraded or alarm is not None
                verdict = PccVerdict(estimate, "kirchhoff", meter, estimate, diff, tol,
                                     alarm if self.degraded else None,
                                     f"{pcc_id} reads {meter.value_kw:.1f} kW but the tenant meters and devices "
                                     f"sum to {estimate:.1f} kW (tolerance {tol:.1f} kW)")
        else:
            self._disagree += 1
            self._agree = 0
            code: Literal["pcc_implausible", "pcc_lost"] = "pcc_lost" if lost else "pcc_implausible"
            self.degraded = True
            what = f"{pcc_id}: {meter.problem}"
            if estimate is not None:
                verdict = PccVerdict(estimate, "kirchhoff", meter, estimate, None, None, code,
                                     f"{what}; using the tenant meters and devices: {estimate:.1f} kW")
            else:
                verdict = PccVerdict(None, "none", meter, None, None, None, code,
                                     f"{what}; no redundant measurement covers the park")
        verdict = PccVerdict(**{**verdict.__dict__, "proven_load_kw": proven, "unproven_tenants": unproven})
        self.last = verdict
        return verdict

    def _agreeing(self, verdict: PccVerdict) -> PccVerdict:
        self._disagree = 0
        self._agree += 1
        if self.degraded and self._agree >= self.config.agree_cycles:
            self.degraded = False
        if self.degraded:  # still within the recovery hysteresis: keep the alarm up
            prev = self.last.alarm if self.last is not None else None
            return PccVerdict(**{**verdict.__dict__, "alarm": prev or "pcc_implausible",
                                 "reason": verdict.reason + " (recovering)"})
        return verdict
