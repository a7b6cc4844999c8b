"""BufferedStore: a failing database (locked file, I/O errors) never stops the caller; data is kept and
written in order once it recovers; only telemetry is dropped, oldest first, when its queue is full."""

from __future__ import annotations

import sqlite3
from datetime import UTC, date, datetime, timedelta

import pandas as pd
import pytest
import sqlalchemy as sa

from microgrid.store import BufferedStore, EnergySource, SetpointWrite, Store

T0 = datetime(2025, 7, 1, tzinfo=UTC)


class FakeClock:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


def _frame() -> pd.DataFrame:
    return pd.DataFrame({"grid_kw": [1.0, 2.0]}, index=pd.date_range("2025-07-01", periods=2, freq="15min",
                                                                       tz="Asia/Shanghai"))


@pytest.fixture
def db(tmp_path):
    path = tmp_path / "store.sqlite"
    st = Store.open(f"sqlite:///{path}", site_id="s", busy_timeout_s=0.05,
                    energy_sources={"m": EnergySource("m", "meter")})
    yield st, path
    st.close()


def samples(first: int, n: int):
    return [(T0 + timedelta(seconds=i), "m", "p_kw", float(i)) for i in range(first, first + n)]


def test_a_locked_database_is_retried_with_back_off_and_recovers(db):
    st, path = db
    clock = FakeClock()
    alarms, recovered = [], []
    buf = BufferedStore(st, clock=clock, retry_initial_s=1, retry_max_s=4, roll_up_every_s=None,
                        on_alarm=alarms.append, on_recover=recovered.append)
    blocker = sqlite3.connect(path, timeout=0)
    blocker.execute("BEGIN EXCLUSIVE")  # another process holds the write lock
    buf.add_telemetry(samples(0, 10))
    buf.save_schedule(date(2025, 7, 1), _frame(), kpis={"cost": 1.0})
    buf.record_setpoint_writes([SetpointWrite(ts=T0, device_id="pcs", point="p_set_kw", new_value=-100.0,
                                              result="ok")])
    buf.record_event("mode", "normal operation", reason="start-up")

    report = buf.flush()
    assert not report.healthy and "database is locked" in report.error
    assert report.pending_records == 3 and report.pending_telemetry == 10 and report.retry_in_s == 1
    assert [a.code for a in alarms] == ["store_unavailable"] and alarms[0].severity == "critical"

    clock.t += 0.5
    assert buf.flush().retry_in_s == pytest.approx(0.5)  # still backing off: no attempt
    delays = []
    for _ in range(4):
        clock.t += 10
        delays.append(buf.flush().retry_in_s)
    assert delays == [2, 4, 4, 4]  # doubling, capped at retry_max_s
    assert len(alarms) == 1 and buf.alarm.count == 5

    blocker.rollback()
    blocker.close()
    clock.t += 10
    report = buf.flush()
    assert report.healthy and report.records_written == 3 and report.telemetry_written == 10
    assert report.pending_records == report.pending_telemetry == 0
    assert recovered[0].code == "store_unavailable" and recovered[0].cleared_at is not None

    assert st.current_schedule(date(2025, 7, 1)).kpis == {"cost": 1.0}
    assert st.last_setpoints()[("pcs", "p_set_kw")].new_value == -100.0
    assert [s.value for s in st.telemetry("m", limit=100).items] == [float(i) for i in range(10)]
    outage = st.alarms(active=False).items
    assert [a.code for a in outage] == ["store_unavailable"] and "database is locked" in outage[0].message
    events = st.events(category="store").items
    assert len(events) == 1 and events[0].message.startswith("store writable again after")
    assert events[0].data["dropped_telemetry"] == 0


def test_only_the_oldest_telemetry_is_dropped_when_the_buffer_is_full(db):
    st, path = db
    buf = BufferedStore(st, max_telemetry=10, clock=FakeClock(), roll_up_every_s=None)
    blocker = sqlite3.connect(path, timeout=0)
    blocker.execute("BEGIN EXCLUSIVE")
    for k in range(5):
        buf.add_telemetry(samples(k * 5, 5))
        buf.record_event("tick", f"event {k}")
        buf.flush(force=True)
    assert buf.dropped_telemetry == 15 and buf.pending_telemetry == 10 and buf.pending_records == 5
    blocker.rollback()
    blocker.close()
    report = buf.flush(force=True)
    assert report.healthy and report.dropped_telemetry_total == 15
    assert [s.value for s in st.telemetry("m", limit=100).items] == [float(i) for i in range(15, 25)]
    assert [e.message for e in st.events(category="tick").items] == [f"event {k}" for k in range(5)]
    assert st.events(category="store").items[0].data["dropped_telemetry"] == 15


def test_io_errors_are_buffered_and_the_roll_up_runs_after_recovery(db):
    st, _ = db
    clock = FakeClock()
    buf = BufferedStore(st, clock=clock, roll_up_every_s=0)

    def disk_error(conn, cursor, statement, *args):
        raise sa.exc.OperationalError(statement, {}, sqlite3.OperationalError("disk I/O error"))

    sa.event.listen(st.engine, "before_cursor_execute", disk_error)
    buf.add_telemetry((T0 + timedelta(seconds=s), "m", "p_kw", 100.0) for s in range(0, 1800, 2))
    report = buf.flush()
    assert not report.healthy and report.error == "OperationalError: disk I/O error"
    sa.event.remove(st.engine, "before_cursor_execute", disk_error)
    clock.t += 5
    report = buf.flush()
    assert report.healthy and report.rolled_up and report.telemetry_written == 900
    energies = st.interval_energies(T0, T0 + timedelta(minutes=30), quantities=["e_import_kwh"])
    assert [e.value for e in energies] == pytest.approx([25.0, 25.0])


def test_a_record_the_database_refuses_is_set_aside_with_an_alarm(db):
    st, _ = db
    alarms = []
    buf = BufferedStore(st, clock=FakeClock(), roll_up_every_s=None, on_alarm=alarms.append)

    def refuse_events(conn, cursor, statement, *args):
        if statement.startswith("INSERT INTO events"):
            raise sa.exc.IntegrityError(statement, {}, sqlite3.IntegrityError("CHECK constraint failed"))

    sa.event.listen(st.engine, "before_cursor_execute", refuse_events)
    buf.record_event("x", "refused")
    buf.record_setpoint_writes([SetpointWrite(ts=T0, device_id="d", point="p", new_value=1.0, result="ok")])
    report = buf.flush()
    sa.event.remove(st.engine, "before_cursor_execute", refuse_events)
    assert report.healthy and report.records_written == 2  # the audit record and the alarm about the event
    assert buf.rejected == [("event x", "IntegrityError: CHECK constraint failed")]
    assert [a.code for a in alarms] == ["store_write_rejected"]
    assert [a.code for a in st.active_alarms()] == ["store_write_rejected"]
    assert st.last_setpoints()[("d", "p")].new_value == 1.0


def test_a_malformed_schedule_fails_in_the_caller(db):
    st, _ = db
    buf = BufferedStore(st)
    with pytest.raises(ValueError, match="tz-aware"):
        buf.save_schedule(date(2025, 7, 1), _frame().tz_localize(None))
    assert buf.pending_records == 0


def test_non_finite_values_and_a_failing_roll_up_never_reach_the_caller(db, monkeypatch):
    st, _ = db
    alarms = []
    buf = BufferedStore(st, clock=FakeClock(), roll_up_every_s=0, on_alarm=alarms.append)
    buf.add_telemetry([(T0, "m", "p_kw", float("nan")), (T0, "m", "p_kw", 5.0), (T0, "m", "p_kw", float("inf"))])
    assert buf.invalid_telemetry == 2 and buf.pending_telemetry == 1

    def broken(*args, **kwargs):
        raise KeyError("bug in the roll-up")

    monkeypatch.setattr(st, "roll_up", broken)
    report = buf.flush()
    assert report.healthy and report.telemetry_written == 1 and not report.rolled_up
    assert [a.code for a in alarms] == ["store_write_rejected"]
    assert "roll-up of interval energies refused by the store: KeyError" in alarms[0].message
    with pytest.raises(ValueError, match="telemetry value of m.p_kw is nan"):
        st.write_telemetry([(T0, "m", "p_kw", float("nan"))])
