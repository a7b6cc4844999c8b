"""Mode state machine and overrides: every change of mode is one event with its reason."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from microgrid.control.events import EventLog
from microgrid.control.modes import Condition, Mode, ModeMachine
from microgrid.control.overrides import Override, OverrideBook

TZ = ZoneInfo("Asia/Shanghai")
T0 = datetime(2025, 7, 16, 10, 0, tzinfo=TZ)


def test_priority_and_events_with_reasons():
    log = EventLog()
    m = ModeMachine(log.emit)
    assert m.mode == Mode.FALLBACK  # no plan yet at start-up
    m.set(Condition.NO_PLAN, False, "plan v1 accepted (optimal)", T0)
    m.set(Condition.MANUAL, True, "operator alice: commissioning", T0)
    m.set(Condition.PCC_LOST, True, "meter_pcc: no reading for 6.0 s (limit 5 s)", T0)
    m.set(Condition.NO_PLAN, True, "optimizer failed", T0)  # masked by safe: no event
    m.set(Condition.PCC_LOST, False, "meter_pcc fresh again", T0)
    m.set(Condition.MANUAL, False, "operator alice: done", T0)
    assert [(e.data["from"], e.data["to"], e.data["reason"]) for e in log.of_kind("mode_change")] == [
        ("fallback", "normal", "plan v1 accepted (optimal)"),
        ("normal", "manual", "operator alice: commissioning"),
        ("manual", "safe", "meter_pcc: no reading for 6.0 s (limit 5 s)"),
        ("safe", "manual", "meter_pcc fresh again"),
        ("manual", "fallback", "operator alice: done"),
    ]
    assert log.of_kind("mode_change")[2].severity == "alarm"


def test_pcc_lost_at_once_and_recovered_after_hysteresis():
    log = EventLog()
    m = ModeMachine(log.emit, recover_cycles=3, initial=set())
    assert m.mode == Mode.NORMAL
    assert m.pcc_reading(False, "stale", T0) == Mode.SAFE
    assert m.pcc_reading(True, "fresh", T0) == Mode.SAFE
    assert m.pcc_reading(True, "fresh", T0) == Mode.SAFE
    assert m.pcc_reading(False, "stale again", T0) == Mode.SAFE  # resets the count
    for _ in range(2):
        assert m.pcc_reading(True, "fresh", T0) == Mode.SAFE
    assert m.pcc_reading(True, "fresh for 3 cycles", T0) == Mode.NORMAL
    assert [e.message for e in log.of_kind("mode_change")] == [
        "normal -> safe: stale", "safe -> normal: fresh for 3 cycles"]


def test_override_book_expiry():
    book = OverrideBook()
    book.set(Override("bat", -100.0, T0 + timedelta(minutes=10), reason="test"))
    book.set(Override("pv", 50.0, T0 + timedelta(minutes=30)))
    assert book.values_kw(T0) == {"bat": -100.0, "pv": 50.0}
    gone = book.expire(T0 + timedelta(minutes=10))
    assert [o.asset_id for o in gone] == ["bat"]
    assert book.values_kw(T0 + timedelta(minutes=10)) == {"pv": 50.0}
    with pytest.raises(ValueError, match="timezone-aware"):
        book.set(Override("x", 1.0, datetime(2025, 1, 1)))
