"""Latched device states: trip, fault, protection and "not ready" states taken out of the plan at once.

Each cycle :meth:`LatchedStates.update` decodes the capability readings (the drivers have already decoded
the register maps' fault words, status enums and alarm bits into ``state`` / ``status`` / ``alarms``):

=================== ====================================================================================
code                when
=================== ====================================================================================
``bms_alarm``       storage: the BMS reports a fatal (level-3) alarm, or forbids both charge and discharge
                    (contactor open, "not ready")
``pcs_trip``        storage: the PCS / storage inverter is in its fault state (trip, latched fault word)
``device_fault``    PV inverter or heat pump reporting a fault / trip state
=================== ====================================================================================

A latched asset is *out of service*: the runtime stops dispatching it (0 kW / no setpoint), starts an
intraday re-plan without it, and holds an alarm whose params carry the asset, the decoded cause (the fault
bits' names) and the attempt counter; the English text is in ``message``. It returns to service after
``clear_cycles`` cycles in a row without the state (hysteresis), with another re-plan.

Automatic reset (site ``control.auto_reset``): where the asset's map defines a reset point
(``fault_reset`` on a PCS, ``alarm_reset`` on a BMS) the runtime writes it, at most
``auto_reset_attempts`` times per latch, the first after ``auto_reset_delay_s`` and each further one after
twice the previous wait (back-off). Attempts are counted in the alarm's params and in events.
"""

from __future__ import annotations

import copy
import dataclasses
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import numpy as np

from drivers.capabilities import HeatPumpReading, PVReading, StorageReading, StorageState
from microgrid.control.fleet import FleetReadings
from optimizer.inputs import DispatchInputs

TEXTS = {
    "bms_alarm": "{asset}: BMS protection ({cause}); taken out of the plan",
    "pcs_trip": "{asset}: PCS tripped ({cause}); taken out of the plan",
    "device_fault": "{asset}: device fault ({cause}); taken out of the plan",
}
"""English alarm texts by code (the operator UI translates by code)."""


def _is_bms_fatal(alarm: str) -> bool:
    return alarm in ("bms_fatal_fault", "bms_discharge_not_allowed+bms_charge_not_allowed") or "level 3" in alarm


def decode_storage(r: StorageReading) -> tuple[str, str] | None:
    """(code, cause) of a latched storage state, or ``None`` if it is ready to run."""
    alarms = tuple(r.alarms)
    bms = [a for a in alarms if a.startswith("bms")]
    if any(_is_bms_fatal(a) for a in alarms):
        return "bms_alarm", ", ".join(bms) or "fatal alarm"
    blocked = {"bms_charge_not_allowed", "bms_discharge_not_allowed"} <= set(alarms)
    if blocked and r.state != StorageState.RUNNING:
        return "bms_alarm", "charge and discharge not allowed (not ready)"
    if r.state == StorageState.FAULT:
        others = [a for a in alarms if not a.startswith("bms")]
        return "pcs_trip", ", ".join(others) or "fault state"
    return None


def decode_pv(r: PVReading) -> tuple[str, str] | None:
    state = (r.state or "").lower()
    if any(word in state for word in ("fault", "trip")):
        return "device_fault", r.state
    return None


def decode_heat_pump(r: HeatPumpReading) -> tuple[str, str] | None:
    status = (r.status or "").lower()
    if "fault" in status:
        return "device_fault", ", ".join(r.alarms) or r.status
    return None


@dataclass
class Latch:
    """One asset out of service."""

    asset_id: str
    code: str
    cause: str
    since: datetime
    attempts: int = 0
    next_reset: datetime | None = None
    wait_s: float = 0.0
    clear_count: int = 0

    def params(self) -> dict:
        return {"asset": self.asset_id, "cause": self.cause, "reset_attempts": self.attempts,
                "since": self.since.isoformat()}

    def text(self) -> str:
        return TEXTS[self.code].format(asset=self.asset_id, cause=self.cause)


@dataclass(frozen=True)
class LatchChanges:
    """What changed this cycle."""

    latched: tuple[Latch, ...] = ()
    cleared: tuple[Latch, ...] = ()
    resets_due: tuple[Latch, ...] = ()

    @property
    def replan(self) -> bool:
        return bool(self.latched or self.cleared)


@dataclass
class LatchedStates:
    """Tracks latched device states across cycles (see the module docstring)."""

    auto_reset: bool = False
    reset_attempts: int = 3
    reset_delay_s: float = 30.0
    clear_cycles: int = 3
    active: dict[str, Latch] = field(default_factory=dict)

    @property
    def out_of_service(self) -> frozenset[str]:
        return frozenset(self.active)

    def _decode(self, readings: FleetReadings) -> dict[str, tuple[str, str] | None]:
        out: dict[str, tuple[str, str] | None] = {}
        for k, r in readings.storage.items():
            out[k] = decode_storage(r) if r.timestamp is not None else None
        for k, r in readings.pv.items():
            out[k] = decode_pv(r) if r.timestamp is not None else None
        for k, r in readings.heat_pumps.items():
            out[k] = decode_heat_pump(r) if r.timestamp is not None else None
        return out

    def update(self, readings: FleetReadings, now: datetime) -> LatchChanges:
        latched, cleared, due = [], [], []
        for asset_id, found in self._decode(readings).items():
            latch = self.active.get(asset_id)
            if found is not None:
                code, cause = found
                if latch is None:
                    latch = Latch(asset_id, code, cause, now, wait_s=self.reset_delay_s,
                                  next_reset=now + timedelta(seconds=self.reset_delay_s))
                    self.active[asset_id] = latch
                    latched.append(latch)
                else:
                    latch.clear_count = 0
                    if code == latch.code and cause != latch.cause and cause != "fault state":
                        latch.cause = cause  # the detailed fault words arrive with the slower poll
                if (self.auto_reset and latch.attempts < self.reset_attempts and latch.next_reset is not None
                        and now >= latch.next_reset):
                    latch.attempts += 1
                    latch.wait_s *= 2
                    latch.next_reset = now + timedelta(seconds=latch.wait_s)
                    due.append(latch)
            elif latch is not None:
                latch.clear_count += 1
                if latch.clear_count >= self.clear_cycles:
                    cleared.append(self.active.pop(asset_id))
        return LatchChanges(tuple(latched), tuple(cleared), tuple(due))


def without_assets(inputs: DispatchInputs, asset_ids: frozenset[str]) -> DispatchInputs:
    """Planning inputs with the out-of-service batteries at 0 kW both ways and the PV plants at no output.

    Heat pumps stay in the plan (their tank must still meet the heat demand); the runtime stops commanding
    them while they are latched.
    """
    if not asset_ids:
        return inputs
    new = copy.copy(inputs)
    new.batteries = [dataclasses.replace(b, p_charge_max_kw=0.0, p_discharge_max_kw=0.0) if b.id in asset_ids
                     else b for b in inputs.batteries]
    new.pv = [dataclasses.replace(p, p_avail_kw=np.zeros_like(p.p_avail_kw)) if p.id in asset_ids else p
              for p in inputs.pv]
    return new
