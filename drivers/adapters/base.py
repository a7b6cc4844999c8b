"""Base of the capability adapters: polling classes, freshness, limits and the shared write helpers.

An adapter binds one or more devices (register maps) to one capability of one asset. It declares which
points it reads

- ``FAST``: every poll (what control needs: power, SoC, live limits). Setpoint registers are read back at
  every write; adapters of slow devices (large per-request intervals) re-read them in the background
  only, to keep the number of requests per cycle small;
- ``SLOW``: every ``options.slow_poll_s`` (energies, temperatures, voltages);
- ``STATIC``: at start and every ``options.static_poll_s`` (ratings, ratios, SunSpec scale factors of
  settings, watchdog periods),

and converts them, in exactly one place per map family, to the park units and sign convention of
:mod:`drivers.capabilities`. Setpoints go through :class:`drivers.safewrite.SafeWriter` with the limits the
device reports at run time intersected with the site file's limits (:class:`AssetLimits`).
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

from drivers.capabilities import CapabilityKind, PVReading, Reading
from drivers.device import ModbusDevice
from drivers.health import Health, worst
from drivers.safewrite import SafeWriter, Step, WriteResult, WriteStatus, clamp


@dataclass(frozen=True)
class AssetLimits:
    """Limits of the asset from the site file (magnitudes, kW; ``None`` = no limit from the site)."""

    p_max_kw: float | None = None
    """PV: inverter AC rating; heat pump / flexible load: maximum consumption."""
    p_min_kw: float | None = None
    """Heat pump / flexible load: minimum consumption when running under remote control."""
    p_charge_max_kw: float | None = None
    p_discharge_max_kw: float | None = None
    soc_min_pct: float | None = None
    """Storage: no discharge at or below this SoC."""
    soc_max_pct: float | None = None
    """Storage: no charge at or above this SoC."""
    ramp_kw_per_s: float | None = None
    """Storage: ramp rate, used to size the settle time of the response check."""
    pt_ratio: float | None = None
    """Meter: voltage transformer ratio from the site file (checked against the device)."""
    ct_ratio: float | None = None


@dataclass(frozen=True)
class ControlOptions:
    """How the adapters drive devices (one set per fleet)."""

    revert_timer_s: float = 60.0
    """Device revert timer written with SunSpec setpoints (WSetRvrtTms, WMaxLimPctRvrtTms), s."""
    refresh_fraction: float = 1 / 3
    """Re-write setpoints / heartbeats after this fraction of their revert or watchdog period."""
    pv_fallback_limit_pct: float = 100.0
    """PV limit a device with a revert timer falls back to when the controller goes silent, %."""
    deadband_pct: float = 0.2
    """Power setpoints within this percentage of the asset rating of the held value are not re-sent."""
    slow_poll_s: float = 10.0
    static_poll_s: float = 600.0
    forced_period_min: int = 2
    """Huawei forced charge/discharge period (self-expiring command), minutes."""
    response_settle_s: float = 10.0
    """Time a device gets to follow a new setpoint before the response check compares, s (plus ramp time)."""
    response_tolerance_pct: float = 5.0
    """Response check tolerance, % of the asset rating (at least 2 kW)."""


class Adapter:
    """Common machinery of all adapters (see the module docstring)."""

    kind: ClassVar[CapabilityKind]
    maps: ClassVar[dict[str, str]]
    """Role -> register-map name this adapter drives (``{"main": "sungrow_sg"}``, ``{"pcs": .., "bms": ..}``)."""
    FAST: ClassVar[dict[str, tuple[str, ...]]] = {}
    SLOW: ClassVar[dict[str, tuple[str, ...]]] = {}
    STATIC: ClassVar[dict[str, tuple[str, ...]]] = {}
    CONTROL: ClassVar[dict[str, tuple[str, ...]]] = {}
    """Points whose freshness decides ``stale`` (default: all FAST points)."""

    def __init__(
        self,
        asset_id: str,
        devices: Mapping[str, ModbusDevice],
        writers: Mapping[str, SafeWriter],
        limits: AssetLimits | None = None,
        options: ControlOptions | None = None,
    ) -> None:
        missing = set(self.maps) - set(devices)
        if missing:
            raise ValueError(f"{type(self).__name__} for {asset_id} needs devices for roles {sorted(missing)}")
        self.asset_id = asset_id
        self.by_role: dict[str, ModbusDevice] = dict(devices)
        self.writers: dict[str, SafeWriter] = dict(writers)
        self.limits = limits or AssetLimits()
        self.options = options or ControlOptions()
        self._expect: _Expectation | None = None
        self._queue: dict[tuple[str, str], list[list[str]]] = {}
        self._round_t: dict[str, float] = {}
        self.control_started = False

    # ------------------------------------------------------------------ structure

    def on_map_changed(self) -> None:
        """A device got another map (discovered SunSpec chain): adapters that derive point sets override."""

    @property
    def devices(self) -> tuple[ModbusDevice, ...]:
        return tuple(self.by_role.values())

    @property
    def clock(self) -> Any:
        return next(iter(self.by_role.values())).clock

    def dev(self, role: str = "main") -> ModbusDevice:
        return self.by_role[role]

    def writer(self, role: str = "main") -> SafeWriter:
        return self.writers[role]

    def __repr__(self) -> str:
        devs = ", ".join(f"{r}={d.device_id}" for r, d in self.by_role.items())
        return f"{type(self).__name__}({self.asset_id}: {devs})"

    # ------------------------------------------------------------------ polling

    def due_points(self, *, force_all: bool = False) -> dict[str, set[str]]:
        """Points to read now, per role.

        FAST points every time. SLOW and STATIC points are read in rounds (every ``slow_poll_s`` /
        ``static_poll_s``); a round adds at most one planned read block per device to each poll, so
        background reads never pile up in one control cycle (like OpenEMS's low-priority tasks).
        Static points never read yet, and everything with ``force_all``, are added at once.
        """
        now = self.clock.monotonic()
        out: dict[str, set[str]] = {role: set(self.FAST.get(role, ())) for role in self.by_role}
        if force_all:
            for table in (self.SLOW, self.STATIC):
                for role, ps in table.items():
                    out[role].update(ps)
            self._queue.clear()
            self._round_t = {"slow": now, "static": now}
            return out
        for role, ps in self.STATIC.items():
            d = self.dev(role)
            out[role].update(p for p in ps if d.sample(p) is None and p not in d.unsupported)
        for name, table, period in (
            ("static", self.STATIC, self.options.static_poll_s),
            ("slow", self.SLOW, self.options.slow_poll_s),
        ):
            started = self._round_t.get(name)
            if started is not None and now - started < period:
                continue
            if any(self._queue.get((name, role)) for role in table):
                continue
            self._round_t[name] = now
            for role, ps in table.items():
                blocks = self.dev(role).plan(ps)
                self._queue[(name, role)] = [[p.id for p in b.points] for b in blocks]
        for role in self.by_role:
            for name in ("static", "slow"):
                queue = self._queue.get((name, role))
                if queue:
                    out[role].update(queue.pop(0))
                    break
        return out

    async def poll(self, *, force_all: bool = False) -> None:
        """Read the due points of every device of this asset (devices on different links in parallel)."""
        due = self.due_points(force_all=force_all)
        await asyncio.gather(*(self.dev(role).poll_in_cycle(ids) for role, ids in due.items() if ids))

    # ------------------------------------------------------------------ reading helpers

    def num(self, pid: str, role: str = "main") -> float | None:
        return self.dev(role).number(pid)

    def fresh_num(self, pid: str, role: str = "main") -> float | None:
        """The value only if it is fresh (within the device's stale limit), else ``None``."""
        d = self.dev(role)
        return d.number(pid) if d.fresh(pid) else None

    def control_points(self) -> dict[str, tuple[str, ...]]:
        return self.CONTROL or self.FAST

    def meta(self, extra_problems: Iterable[str] = ()) -> dict[str, Any]:
        """The common :class:`Reading` fields: timestamp and age of the oldest control value, health."""
        now = self.clock.monotonic()
        oldest = None
        stale = False
        for role, pids in self.control_points().items():
            d = self.dev(role)
            for pid in pids:
                if pid in d.unsupported:
                    continue
                s = d.sample(pid)
                if s is None or s.value is None:
                    stale = True
                    continue
                if oldest is None or s.t < oldest.t:
                    oldest = s
                if now - s.t > d.health.stale_after_s:
                    stale = True
        health = worst([d.health_state() for d in self.devices])
        problems = [p for d in self.devices for p in d.health.problems.values()]
        problems.extend(extra_problems)
        return {
            "asset_id": self.asset_id,
            "device_ids": tuple(d.device_id for d in self.devices),
            "timestamp": oldest.time if oldest else None,
            "age_s": (now - oldest.t) if oldest else None,
            "stale": stale or oldest is None,
            "health": health,
            "problems": tuple(problems),
        }

    def reading(self) -> Reading:  # pragma: no cover - every adapter overrides
        raise NotImplementedError

    # ------------------------------------------------------------------ response check

    def expect(self, target_kw: float, *, at_most: bool, rating_kw: float | None, from_kw: float | None) -> None:
        """After a confirmed setpoint: the measured power should reach ``target_kw`` (or stay below it
        with ``at_most``) within the settle time. A new target restarts the wait; the same one does not."""
        if self._expect is not None and abs(self._expect.target_kw - target_kw) < 1e-9:
            return
        o = self.options
        ramp = self.limits.ramp_kw_per_s
        settle = o.response_settle_s
        if ramp and from_kw is not None:
            settle += abs(target_kw - from_kw) / ramp
        tol = max(2.0, (rating_kw or 0.0) * o.response_tolerance_pct / 100.0)
        self._expect = _Expectation(target_kw, self.clock.monotonic(), settle, tol, at_most)

    def check_response(self, measured_kw: float | None, role: str = "main", point_id: str | None = None) -> str | None:
        """Compare the measured power with the expected response; a standing ``response`` problem (the
        device turns ``degraded``) when it does not follow: a wrong scale, a sign error or a device that
        ignores its setpoint. Returns the problem or ``None``."""
        exp = self._expect
        d = self.dev(role)
        if exp is None or measured_kw is None:
            return d.health.problems.get("response")
        if point_id is not None:
            s = d.sample(point_id)
            if s is None or s.t < exp.since_t + exp.settle_s or not d.fresh(point_id):
                return d.health.problems.get("response")
        elif self.clock.monotonic() < exp.since_t + exp.settle_s:
            return d.health.problems.get("response")
        if exp.at_most:
            bad = measured_kw > exp.target_kw + exp.tol_kw
            what = f"measured {measured_kw:.1f} kW above the {exp.target_kw:.1f} kW limit"
        else:
            bad = abs(measured_kw - exp.target_kw) > exp.tol_kw
            what = f"measured {measured_kw:.1f} kW for a {exp.target_kw:.1f} kW setpoint"
        if bad:
            msg = f"response mismatch: {what} after {exp.settle_s:.0f} s (wrong scale, sign or device not following)"
            d.health.set_problem("response", msg)
            return msg
        d.health.clear_problem("response")
        return None

    # ------------------------------------------------------------------ writing helpers

    def deadband_kw(self, rating_kw: float | None) -> float:
        return (rating_kw or 0.0) * self.options.deadband_pct / 100.0

    def refuse(self, message: str, point_id: str = "-", role: str = "main", requested: Any = None) -> WriteResult:
        """A refused result (audited) for a capability-level refusal."""
        w = self.writer(role)
        result = WriteResult(
            self.dev(role).device_id, point_id, None, None, WriteStatus.REFUSED, self.clock.now(), requested,
            reason="setpoint", message=message,
        )
        return w.emit(result)

    def pv_reading(
        self,
        meta: Mapping[str, Any],
        *,
        p_kw: float | None,
        limit_pct: float | None,
        limit_active: bool,
        state: str | None,
        e_total_kwh: float | None,
        p_available_kw: float | None = None,
    ) -> PVReading:
        """A PV reading from the plant's power and active limit; while a limit is active the available power
        is unknown (``None``) unless the device reports it (``p_available_kw``)."""
        rated = self.rated_kw()
        if p_available_kw is None and not limit_active:
            p_available_kw = p_kw
        return PVReading(
            **meta,
            p_kw=p_kw,
            p_rated_kw=rated,
            p_limit_pct=limit_pct,
            p_limit_kw=None if limit_pct is None or rated is None else rated * limit_pct / 100.0,
            limit_active=limit_active,
            p_available_kw=p_available_kw,
            state=state,
            e_total_kwh=e_total_kwh,
        )

    def pv_limit_pct(
        self, p_limit_kw: float | None, point_id: str, rating: str
    ) -> tuple[float, float, float] | WriteResult:
        """A PV limit in kW as (percent to write, highest percent allowed, rated kW), or the refusal.

        ``None`` means 100 %; the percent is quantised down to the register's step so the plant never
        exceeds the limit; the highest percent is the rating ∩ the site/device limit. ``rating`` names the
        rating register in the refusal message when it has not been read yet.
        """
        rated = self.rated_kw()
        if rated is None:
            return self.refuse(f"{rating} unknown: not read yet", point_id, requested=p_limit_kw)
        if p_limit_kw is not None and p_limit_kw < 0:
            return self.refuse(f"a PV limit cannot be negative ({p_limit_kw} kW)", point_id, requested=p_limit_kw)
        hi_kw = min_opt(rated, self.limits.p_max_kw) or rated
        pct = 100.0 if p_limit_kw is None else quantize_down(self.dev(), point_id, 100.0 * p_limit_kw / rated)
        return pct, 100.0 * hi_kw / rated, rated

    def expect_pv_limit(self, results: list[WriteResult], point_id: str, rated_kw: float) -> bool:
        """After a limit write: expect the plant at or below the held limit; True when every write succeeded."""
        ok = all(r.ok for r in results)
        if all(r.applied for r in results) and (held := result_value(results, point_id)) is not None:
            self.expect(rated_kw * held / 100.0, at_most=True, rating_kw=rated_kw, from_kw=None)
        return ok

    async def refresh(self) -> list[WriteResult]:
        """Due heartbeats and keep-alive re-writes of all devices of this asset."""
        out: list[WriteResult] = []
        for w in self.writers.values():
            out.extend(await w.refresh_due())
        return out

    def refresh_period(self, period_s: float | None, default_s: float) -> float:
        """Re-write period for a device timer of ``period_s`` (``default_s`` if unknown or 0)."""
        base = period_s if period_s and period_s > 0 else default_s
        return max(0.5, base * self.options.refresh_fraction)

    async def write_raw(self, role: str, point_id: str, value: Any) -> list[WriteResult]:
        """A commissioning write of one point; capability adapters route setpoint points through
        their own sequence and limits (override :meth:`raw_write_plan`)."""
        plan = self.raw_write_plan(role, point_id, value)
        if plan is not None:
            return await plan
        return [await self.writer(role).write(point_id, value, reason="manual")]

    def raw_write_plan(self, role: str, point_id: str, value: Any) -> Any:
        """An awaitable doing a raw write the capability way (sequence, limits), or ``None``."""
        return None


@dataclass
class _Expectation:
    target_kw: float
    since_t: float
    settle_s: float
    tol_kw: float
    at_most: bool


def result_value(results: list[WriteResult], point_id: str) -> float | None:
    """The value written (or held unchanged) for ``point_id`` in a list of results, if it went well."""
    for r in results:
        if r.point_id == point_id and r.applied and isinstance(r.new, int | float):
            return float(r.new)
    return None


def quantize_down(device: ModbusDevice, point_id: str, value: float) -> float:
    """``value`` rounded down to the point's raw step (a limit never rounds up past what was asked)."""
    point = device.point(point_id)
    step = point.scale * (10.0 ** (device.sf_value(point) or 0) if point.scale_sf else 1.0)
    if step <= 0 or point.type == "f32":
        return value
    return math.floor(value / step + 1e-9) * step


def neg(value: float | None) -> float | None:
    """``-value`` without producing ``-0.0``."""
    return None if value is None else (-value) + 0.0


def w_to_kw(w: float | None) -> float | None:
    """A power in W as kW (``None`` stays ``None``)."""
    return None if w is None else w / 1000.0


def min_opt(*values: float | None) -> float | None:
    vals = [v for v in values if v is not None]
    return min(vals) if vals else None


def soc_gate(
    cha: float | None,
    dis: float | None,
    soc: float | None,
    soc_min: float | None,
    soc_max: float | None,
    notes: list[str],
) -> tuple[float, float]:
    """Charge/discharge limits (kW ≥ 0) after the SoC rules: no power on a stale SoC, no charge at or above
    ``soc_max``, no discharge at or below ``soc_min``; ``None`` limits become 0 (unknown = not allowed)."""
    cha = max(0.0, cha or 0.0)
    dis = max(0.0, dis or 0.0)
    if soc is None:
        notes.append("blocked: SoC unknown or stale")
        return 0.0, 0.0
    if soc_max is not None and soc >= soc_max and cha > 0:
        cha = 0.0
        notes.append(f"charge blocked: SoC {soc:g} % >= {soc_max:g} %")
    if soc_min is not None and soc <= soc_min and dis > 0:
        dis = 0.0
        notes.append(f"discharge blocked: SoC {soc:g} % <= {soc_min:g} %")
    return cha, dis


def enum_name(device: ModbusDevice, pid: str) -> str:
    """Meaning of an enum point's value (``""`` if unknown, ``"0x..."`` if not listed)."""
    v = device.value(pid)
    if v is None:
        return ""
    point = device.point(pid)
    if isinstance(v, int) and v in point.enum:
        return point.enum[v]
    return f"0x{int(v):04X}" if isinstance(v, int | float) else str(v)


def bit_list(device: ModbusDevice, pid: str) -> tuple[str, ...]:
    from drivers.registermap import bit_names

    v = device.value(pid)
    if not isinstance(v, int) or v == 0:
        return ()
    return tuple(bit_names(device.point(pid), v))


def worst_health(devices: Iterable[ModbusDevice]) -> Health:
    return worst([d.health_state() for d in devices])


__all__ = [
    "Adapter",
    "AssetLimits",
    "ControlOptions",
    "Step",
    "bit_list",
    "clamp",
    "enum_name",
    "min_opt",
    "neg",
    "quantize_down",
    "result_value",
    "soc_gate",
    "worst_health",
]
