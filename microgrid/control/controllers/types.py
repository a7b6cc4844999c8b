"""Typed inputs and outputs of the real-time controllers (OpenEMS style: data in, setpoints out).

Sign convention (DESIGN.md §3): power flowing *into the park bus from the asset* is positive. PCC power
``p_kw`` > 0 is import, < 0 export; PV output > 0; storage discharge > 0, charge < 0. Ratings and limits
(``rating_kw``, ``p_charge_max_kw``, ``export_limit_kw``) are magnitudes (>= 0).

Every dataclass is frozen: a controller is a pure function ``inputs -> Setpoints`` and can be tested
cycle by cycle with tables.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field


@dataclass(frozen=True)
class ControllerConfig:
    """Tuning of the PCC balancing controller (defaults documented in docs/control.md)."""

    export_margin_kw: float = 5.0
    """Headroom kept below the export limit, kW (zero export: the loop holds >= this much import)."""
    import_margin_kw: float = 0.0
    """Headroom kept below the import cap, kW."""
    pv_ramp_up_pct_per_s: float = 5.0
    """Maximum rise of a PV limit, percent of the plant rating per second (decreases are immediate)."""
    release_gain: float = 0.7
    """Fraction (0–1] of the measured headroom used per cycle when *raising* PV limits (reductions use 1)."""
    absorb_export_with_storage: bool = True
    """Charge storage beyond its plan before curtailing PV when the export limit would be crossed."""
    absorb_offset_kw: float = 5.0
    """While PV is being curtailed, storage charges beyond its plan until the PCC is this much above the
    export band (so the curtailment is released into the battery), kW."""
    limited_tol_pct: float = 1.0
    """A PV plant producing within this percent of its rating below its limit counts as curtailed."""
    safe_min_load_kw: float = 0.0
    """Load the park is known to draw at all times, kW; the safe state lets PV cover it (0 = none)."""

    def __post_init__(self) -> None:
        if not 0 < self.release_gain <= 1:
            raise ValueError("release_gain must be in (0, 1]")
        if self.export_margin_kw < 0 or self.import_margin_kw < 0:
            raise ValueError("margins must be >= 0")


@dataclass(frozen=True)
class GridLimits:
    """Limits the real-time loop holds at the PCC, kW (magnitudes)."""

    export_limit_kw: float
    """Maximum export; 0 = zero export (anti-backflow)."""
    import_cap_kw: float
    """Hard import cap (declared demand or transformer / contract limit)."""
    demand_target_kw: float | None = None
    """Soft import target for storage only (peak shaving against the month's peak); ``None`` = cap only."""


@dataclass(frozen=True)
class PVUnit:
    """A PV inverter (or plant controller) as seen this cycle."""

    id: str
    rating_kw: float
    """AC rating, kW (limit at 100 %)."""
    p_kw: float = 0.0
    """Measured output, kW (>= 0)."""
    limit_kw: float | None = None
    """Active-power limit in force (last written), kW; ``None`` = unknown / not limited (rating)."""
    online: bool = True
    """Readable and writable this cycle."""
    curtailable: bool = True

    @property
    def limit_or_rating_kw(self) -> float:
        return self.rating_kw if self.limit_kw is None else self.limit_kw


@dataclass(frozen=True)
class StorageUnit:
    """A battery (PCS + BMS) as seen this cycle. Power limits are AC-side, magnitudes."""

    id: str
    p_charge_max_kw: float
    """Charge power allowed now (rating, reduced by the BMS current limit), kW >= 0."""
    p_discharge_max_kw: float
    p_kw: float = 0.0
    """Measured AC power, discharge > 0 / charge < 0."""
    setpoint_kw: float | None = None
    """Last commanded setpoint; ``None`` = none yet (the measured power is used for ramping)."""
    soc_pct: float = 50.0
    soc_min_pct: float = 0.0
    soc_max_pct: float = 100.0
    charge_allowed: bool = True
    """BMS flag: charging permitted."""
    discharge_allowed: bool = True
    """BMS flag: discharging permitted."""
    ramp_kw_per_s: float | None = None
    """Maximum setpoint change per second; ``None`` = no ramp limit."""
    online: bool = True

    def bounds_kw(self) -> tuple[float, float]:
        """Allowed setpoint range (lo <= 0 <= hi) from BMS flags, SoC window and power limits."""
        lo = -self.p_charge_max_kw if self.charge_allowed and self.soc_pct < self.soc_max_pct else 0.0
        hi = self.p_discharge_max_kw if self.discharge_allowed and self.soc_pct > self.soc_min_pct else 0.0
        return min(lo, 0.0), max(hi, 0.0)


@dataclass(frozen=True)
class ControlInputs:
    """Everything one real-time cycle of the balancing controller needs."""

    dt_s: float
    """Time since the previous cycle, s (ramp limits scale with it)."""
    pcc_p_kw: float | None
    """Measured PCC power, import > 0; ``None`` when the meter is stale or lost."""
    limits: GridLimits
    pv: tuple[PVUnit, ...] = ()
    storage: tuple[StorageUnit, ...] = ()
    plan_storage_kw: Mapping[str, float] = field(default_factory=dict)
    """Planned storage setpoint per unit for the current interval (discharge > 0); missing = 0."""
    overrides_kw: Mapping[str, float] = field(default_factory=dict)
    """Manual overrides in force: storage id → setpoint kW, PV id → limit kW."""
    config: ControllerConfig = field(default_factory=ControllerConfig)
    storage_for_cap_only: bool = False
    """The storage's energy is needed for the import cap later (:mod:`microgrid.control.cap_reserve`): planned
    discharge is trimmed to what keeps the PCC at ``pcc_max`` now."""


@dataclass(frozen=True)
class Setpoints:
    """Result of one cycle: what to write, what the PCC is expected to do, and why."""

    pv_limit_kw: dict[str, float]
    """Active-power limit per online curtailable PV unit, kW (rating = not curtailed)."""
    storage_kw: dict[str, float]
    """Setpoint per online storage unit, kW (discharge > 0)."""
    pcc_expected_kw: float | None = None
    """PCC power expected after the setpoints take effect (same sign as the meter), if measured."""
    notes: tuple[str, ...] = ()
    """Conditions worth an event, e.g. ``"import cap: no storage headroom (short 120.0 kW)"``."""
