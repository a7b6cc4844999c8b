"""Alarms from setpoint writes that did not give the device the value wanted (no silent overflow).

A write whose status is ``clamped`` (the wanted value does not fit the register or the device's documented
range, so the device holds its own limit) or ``readback_mismatch`` is a failed write: the runtime does not
count the setpoint as commanded, and this book raises one alarm per (asset, register) naming device,
register, wanted and written value — code ``setpoint_clamped`` or ``readback_mismatch`` — and clears it at
the first good write of the same register.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime

from microgrid.control.fleet import WriteOutcome

FAILED_STATUSES = frozenset({"failed", "refused", "rate_limited", "clamped", "readback_mismatch"})
"""Write statuses after which the setpoint is not in force as wanted."""

ALARM_CODES = {"clamped": "setpoint_clamped", "readback_mismatch": "readback_mismatch"}

AlarmSink = Callable[[str, bool, str, str, datetime], None]
"""``(code, active, message, source, ts)`` — the store's ``set_alarm``."""

EventSink = Callable[[str, str, str, dict], None]
"""``(kind, message, source, data)`` — raises a runtime event (severity alarm)."""


def failed(outcomes: Iterable[WriteOutcome]) -> bool:
    """True when any of one setpoint's writes did not leave the wanted value in the device."""
    return any(w.status in FAILED_STATUSES for w in outcomes)


def audited(outcomes: Iterable[WriteOutcome]) -> list[WriteOutcome]:
    """Writes worth an audit row: sent or refused (a clamp already held and not sent again is not)."""
    return [w for w in outcomes if w.status != "unchanged" and not (w.status == "clamped" and "already held" in w.message)]


@dataclass
class WriteAlarms:
    """Raised / cleared alarms per (asset, device, register)."""

    set_alarm: AlarmSink
    event: EventSink
    active: dict[tuple[str, str, str], str] = field(default_factory=dict)

    def update(self, outcomes: Iterable[WriteOutcome], now: datetime) -> None:
        for w in outcomes:
            key = (w.asset_id, w.device_id, w.point)
            code = ALARM_CODES.get(w.status)
            if code is not None:
                if self.active.get(key) == code:
                    continue
                self.active[key] = code
                text = (f"{w.asset_id}: {w.message or w.status}" if w.message
                        else f"{w.asset_id}: {w.device_id} register {w.point} {w.status} (wanted {w.requested}, written {w.new})")
                self.event(code, text, w.asset_id, {"device": w.device_id, "register": w.point,
                                                    "wanted": w.requested, "written": w.new})
                self.set_alarm(code, True, text, w.asset_id, now)
            elif w.status in ("ok", "unchanged") and key in self.active:
                code = self.active.pop(key)
                self.set_alarm(code, False, f"{w.asset_id}: {w.device_id} register {w.point} written as wanted", w.asset_id, now)
