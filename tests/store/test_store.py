"""Store: schema, telemetry paging, roll-up and retention, schedules, audit, events, alarms, users, resume."""

from __future__ import annotations

import sqlite3
import uuid
from datetime import UTC, date, datetime, timedelta

import pandas as pd
import pytest
import sqlalchemy as sa

from microgrid.errors import UserError
from microgrid.store import (
    EnergySource,
    NotFound,
    Retention,
    SetpointWrite,
    Store,
    StoreError,
    TelemetrySample,
    WriteResult,
    schema,
)

T0 = datetime(2025, 7, 1, 0, 0, tzinfo=UTC)


def test_sqlite_store_is_created_in_wal_mode_with_a_schema_version(sqlite_url, tmp_path):
    with Store.open(sqlite_url, site_id="s") as st, st.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert schema.current_version(conn) == schema.SCHEMA_VERSION
    con = sqlite3.connect(tmp_path / "store.sqlite")
    assert con.execute("select version, description from schema_migrations").fetchall()[0][0] == 1
    con.close()


def test_default_url_uses_the_data_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("MICROGRID_DATA_DIR", str(tmp_path / "data"))
    with Store.open(None, site_id="park") as st:
        assert st.url.endswith("data/park.sqlite")
    assert (tmp_path / "data" / "park.sqlite").exists()


def test_interval_length_is_fixed_at_creation(sqlite_url):
    Store.open(sqlite_url, site_id="s", interval_min=5).close()
    with Store.open(sqlite_url, site_id="s") as st:
        assert st.interval_min == 5
    with pytest.raises(StoreError, match="interval_min: the store holds 5-min intervals, not 15"):
        Store.open(sqlite_url, site_id="s", interval_min=15)


def test_a_newer_schema_is_refused(sqlite_url):
    Store.open(sqlite_url, site_id="s").close()
    con = sqlite3.connect(sqlite_url.removeprefix("sqlite:///"))
    con.execute("insert into schema_migrations values (99, 0, 'future')")
    con.commit()
    con.close()
    with pytest.raises(StoreError, match="schema version 99 is newer"):
        Store.open(sqlite_url, site_id="s")


def test_bad_url_and_missing_driver_are_user_errors():
    with pytest.raises(StoreError, match="not a database URL"):
        Store.open("nonsense", site_id="s")
    with pytest.raises(StoreError, match="needs the database driver"):
        Store.open("postgresql+pg8000://u@127.0.0.1:1/x", site_id="s")  # a driver that is not installed
    with pytest.raises(StoreError, match="cannot open the store"):
        Store.open("postgresql+psycopg://u@127.0.0.1:1/x", site_id="s")  # nothing listens on port 1


def test_telemetry_pages_by_source_and_time(store):
    samples = [TelemetrySample(ts=T0 + timedelta(seconds=i), source_id="dev", quantity="p_kw", value=float(i))
               for i in range(25)]
    store.write_telemetry(samples)
    store.write_telemetry([(T0, "other", "p_kw", 1.0), (int(T0.timestamp() * 1000) + 5, "dev", "soc_pct", 50.0, 1)])
    page = store.telemetry("dev", "p_kw", start=T0 + timedelta(seconds=5), end=T0 + timedelta(seconds=20), limit=10)
    assert [s.value for s in page.items] == [float(i) for i in range(5, 15)]
    page2 = store.telemetry("dev", "p_kw", start=T0 + timedelta(seconds=5), end=T0 + timedelta(seconds=20), limit=10,
                            cursor=page.next_cursor)
    assert [s.value for s in page2.items] == [float(i) for i in range(15, 20)] and page2.next_cursor is None
    newest = store.telemetry("dev", "p_kw", limit=2, newest_first=True)
    assert [s.value for s in newest.items] == [24.0, 23.0]
    latest = store.latest_telemetry("dev")
    assert latest[("dev", "p_kw")].value == 24.0 and latest[("dev", "soc_pct")].quality == 1
    with pytest.raises(StoreError, match="cursor 'x' is not valid"):
        store.telemetry("dev", cursor="x")


def test_naive_timestamps_are_refused(store):
    with pytest.raises(ValueError, match="has no time zone"):
        store.write_telemetry([(datetime(2025, 7, 1), "dev", "p_kw", 1.0)])


def _meter_samples(start: datetime, seconds: int, p_kw: float, step_s: int = 2, source: str = "dev_meter"):
    return [(start + timedelta(seconds=t), source, "p_kw", p_kw) for t in range(0, seconds, step_s)]


def test_roll_up_writes_intervals_and_minutes_and_applies_retention(sqlite_url):
    sources = {"dev_meter": EnergySource("meter_pcc", "meter")}
    st = Store.open(sqlite_url, site_id="s", energy_sources=sources,
                    retention=Retention(raw=timedelta(hours=1), minute=timedelta(hours=2)))
    st.write_telemetry(_meter_samples(T0, 3 * 3600, 400.0))
    result = st.roll_up(T0 + timedelta(hours=3, minutes=5))
    assert result.rolled_until == T0 + timedelta(hours=3)
    energies = st.interval_energies(T0, T0 + timedelta(hours=3), quantities=["e_import_kwh"])
    assert len(energies) == 12
    assert all(e.value == pytest.approx(100.0) and e.flag == "ok" for e in energies)
    minutes = st.telemetry_minutes("dev_meter", "p_kw", start=T0, end=T0 + timedelta(hours=3))
    # minutes kept 2 h back from "now" (T0+3h05): 1h05 .. 3h00
    assert len(minutes) == 115 and minutes[0].ts == T0 + timedelta(hours=1, minutes=5)
    assert minutes[0].mean == 400.0 and minutes[0].n == 30
    # raw kept 1 h back from "now" (T0+3h05) → samples before T0+2h05 deleted; minutes kept 2 h
    assert result.raw_deleted == pytest.approx((2 * 3600 + 300) / 2, abs=1)
    assert st.telemetry("dev_meter", start=T0, end=T0 + timedelta(hours=2), limit=5).items == []
    assert st.month_peak_kw("meter_pcc", T0 + timedelta(hours=3)) == pytest.approx(400.0)
    st.close()


def test_late_samples_are_rolled_up_again(sqlite_url):
    sources = {"m": EnergySource("m", "meter")}
    st = Store.open(sqlite_url, site_id="s", energy_sources=sources)
    st.write_telemetry(_meter_samples(T0, 450, 200.0, source="m"))  # first half of the interval only
    st.roll_up(T0 + timedelta(minutes=20))
    first = st.interval_energies(T0, T0 + timedelta(minutes=15), quantities=["e_import_kwh"])[0]
    # the last sample (448 s) holds 15 s: 463 of 900 s covered
    assert first.flag == "partial" and first.coverage_pct == pytest.approx(463 / 9, abs=1e-3)
    st.write_telemetry(_meter_samples(T0 + timedelta(seconds=450), 450, 200.0, source="m"))  # arrives late
    st.roll_up(T0 + timedelta(minutes=21))
    again = st.interval_energies(T0, T0 + timedelta(minutes=15), quantities=["e_import_kwh"])[0]
    assert again.flag == "ok" and again.value == pytest.approx(50.0)
    st.close()


def test_a_restarted_store_continues_the_roll_up(sqlite_url):
    sources = {"m": EnergySource("m", "meter")}
    st = Store.open(sqlite_url, site_id="s", energy_sources=sources)
    st.write_telemetry(_meter_samples(T0, 1800, 100.0, source="m"))
    st.roll_up(T0 + timedelta(minutes=16))
    st.close()
    st = Store.open(sqlite_url, site_id="s", energy_sources=sources)
    st.roll_up(T0 + timedelta(minutes=31))
    values = [e.value for e in st.interval_energies(T0, T0 + timedelta(hours=1), quantities=["e_import_kwh"])]
    assert values == pytest.approx([25.0, 25.0])
    st.close()


def test_month_peak_uses_the_local_month(sqlite_url):
    from microgrid.store import IntervalEnergy

    st = Store.open(sqlite_url, site_id="s", timezone="Asia/Shanghai")
    # 2025-06-30 16:00 UTC is 2025-07-01 00:00 in Shanghai: the first interval of July.
    rows = [IntervalEnergy(ts=datetime(2025, 6, 30, 15, 45, tzinfo=UTC), interval_min=15, source_id="pcc",
                           quantity="e_import_kwh", value=900.0, coverage_pct=100, flag="ok", method="counter"),
            IntervalEnergy(ts=datetime(2025, 6, 30, 16, 0, tzinfo=UTC), interval_min=15, source_id="pcc",
                           quantity="e_import_kwh", value=300.0, coverage_pct=100, flag="ok", method="counter"),
            IntervalEnergy(ts=datetime(2025, 6, 30, 16, 15, tzinfo=UTC), interval_min=15, source_id="pcc",
                           quantity="e_import_kwh", value=None, coverage_pct=0, flag="missing", method="counter")]
    st.write_interval_energies(rows)
    assert st.month_peak_kw("pcc", datetime(2025, 7, 1, 12, tzinfo=UTC)) == pytest.approx(1200.0)
    assert st.month_peak_kw("pcc", datetime(2025, 6, 30, 16, 0, tzinfo=UTC)) is None  # July has nothing yet
    assert st.month_peak_kw("pcc", datetime(2025, 6, 30, 15, 59, tzinfo=UTC)) == pytest.approx(3600.0)
    st.close()


def _frame(day_start: datetime, value: float) -> pd.DataFrame:
    index = pd.date_range(day_start, periods=4, freq="15min")
    return pd.DataFrame({"grid_kw": [value] * 4, "tou_period": ["valley"] * 4, "x": [1.0, None, 2.0, 3.0]},
                        index=index)


def test_schedule_versions_and_current(store):
    day = date(2025, 7, 1)
    start = pd.Timestamp("2025-07-01 00:00", tz="Asia/Shanghai")
    first = store.save_schedule(day, _frame(start, 10.0), kind="day_ahead", inputs={"n": 96},
                                kpis={"cost_total_cny": 123.4, "cost_breakdown_cny": {"energy_import": 100.0},
                                      "source": "optimizer", "ratio": None})
    second = store.save_schedule(day, _frame(start, 20.0), kind="intraday", source="baseline", note="meter stale")
    assert (first.version, second.version) == (1, 2)
    assert first.kpis == {"cost_total_cny": 123.4, "cost_breakdown_cny": {"energy_import": 100.0},
                          "source": "optimizer", "ratio": None}
    assert first.horizon_end - first.horizon_start == timedelta(hours=1) and first.step_min == 15
    current = store.current_schedule(day)
    assert current.id == second.id and current.kind == "intraday" and current.note == "meter stale"
    frame = current.frame_df("Asia/Shanghai")
    assert frame.index[0] == start and frame["grid_kw"].tolist() == [20.0] * 4
    assert pd.isna(frame["x"].iloc[1]) and frame["tou_period"].iloc[0] == "valley"
    assert [v.version for v in store.schedule_versions(day)] == [1, 2]
    assert store.schedule(first.id).inputs == {"n": 96}
    assert store.current_schedule(date(2025, 7, 2)) is None
    with pytest.raises(NotFound, match="no schedule with id 999"):
        store.schedule(999)


def test_a_schedule_and_its_kpis_are_written_atomically(sqlite_url):
    st = Store.open(sqlite_url, site_id="s")

    def fail_on_kpis(conn, cursor, statement, *args):
        if statement.startswith("INSERT INTO schedule_kpis"):
            raise sa.exc.OperationalError(statement, {}, Exception("disk I/O error"))

    sa.event.listen(st.engine, "before_cursor_execute", fail_on_kpis)
    start = pd.Timestamp("2025-07-01", tz="Asia/Shanghai")
    with pytest.raises(sa.exc.OperationalError):
        st.save_schedule(date(2025, 7, 1), _frame(start, 1.0), kpis={"cost": 1.0})
    sa.event.remove(st.engine, "before_cursor_execute", fail_on_kpis)
    assert st.schedule_versions(date(2025, 7, 1)) == []
    with pytest.raises(ValueError, match="KPI name 'a.b' appears twice"):
        st.save_schedule(date(2025, 7, 1), _frame(start, 1.0), kpis={"a.b": 1, "a": {"b": 2}})
    with pytest.raises(ValueError, match="tz-aware"):
        st.save_schedule(date(2025, 7, 1), _frame(start, 1.0).tz_localize(None))
    st.close()


def test_setpoint_audit_and_last_setpoints(store):
    w = [SetpointWrite(ts=T0 + timedelta(seconds=i), device_id="dev_pcs", point="p_set_kw", old_value=float(i - 1),
                       new_value=float(i), result=WriteResult.OK) for i in range(3)]
    w.append(SetpointWrite(ts=T0 + timedelta(seconds=9), device_id="dev_pcs", point="p_set_kw", new_value=99.0,
                           result=WriteResult.FAILED, detail="timeout"))
    w.append(SetpointWrite(ts=T0 + timedelta(seconds=5), device_id="dev_pv", point="w_max_lim_pct", new_value=60.0,
                           result=WriteResult.OK, user="alice", asset_id="pv_roof"))
    store.record_setpoint_writes(w)
    last = store.last_setpoints()
    assert last[("dev_pcs", "p_set_kw")].new_value == 2.0
    assert last[("dev_pv", "w_max_lim_pct")].user == "alice"
    assert store.last_setpoints(only_ok=False)[("dev_pcs", "p_set_kw")].result == "failed"
    page = store.setpoint_writes(start=T0, end=T0 + timedelta(seconds=6), limit=3)
    assert [x.new_value for x in page.items] == [0.0, 1.0, 2.0] and page.next_cursor
    rest = store.setpoint_writes(start=T0, end=T0 + timedelta(seconds=6), limit=3, cursor=page.next_cursor)
    assert [x.device_id for x in rest.items] == ["dev_pv"]
    assert len(store.setpoint_writes(device_id="dev_pv").items) == 1


def test_events_with_reasons(store):
    store.record_event("mode", "fallback to rule-based control", reason="solver time limit", data={"s": 20})
    store.record_event("override", "battery setpoint held", user="bob", source_id="ess")
    page = store.events(newest_first=True)
    assert [e.category for e in page.items] == ["override", "mode"]
    assert page.items[1].reason == "solver time limit" and page.items[1].data == {"s": 20}
    assert [e.user for e in store.events(category="override").items] == ["bob"]


def test_alarms_raise_once_clear_and_acknowledge(store):
    a = store.raise_alarm("meter_stale", "no data for 10 s", severity="critical", source_id="dev_meter_pcc", ts=T0)
    b = store.raise_alarm("meter_stale", "no data for 20 s", severity="critical", source_id="dev_meter_pcc",
                          ts=T0 + timedelta(seconds=10))
    assert a.id == b.id and b.count == 2 and b.message == "no data for 20 s" and b.active
    other = store.raise_alarm("meter_stale", source_id="dev_meter_shoes", ts=T0)
    acked = store.acknowledge_alarm(a.id, "alice", ts=T0 + timedelta(seconds=30))
    assert acked.acked_by == "alice" and acked.active
    assert [x.id for x in store.alarms(unacknowledged=True).items] == [other.id]
    cleared = store.clear_alarm("meter_stale", "dev_meter_pcc", ts=T0 + timedelta(minutes=1))
    assert not cleared.active and store.clear_alarm("meter_stale", "dev_meter_pcc") is None
    assert [x.id for x in store.active_alarms()] == [other.id]
    again = store.raise_alarm("meter_stale", source_id="dev_meter_pcc", ts=T0 + timedelta(minutes=2))
    assert again.id != a.id and again.count == 1
    assert len(store.alarms(active=False).items) == 1
    with pytest.raises(NotFound):
        store.acknowledge_alarm(12345, "alice")


def test_users_and_tokens(store):
    name = f"op_{uuid.uuid4().hex[:6]}"
    user, token = store.create_user(name, "operator")
    assert user.role == "operator" and not user.disabled
    assert store.authenticate(token).name == name
    assert store.authenticate(token[:-1] + ("A" if token[-1] != "A" else "B")) is None
    assert store.authenticate("garbage") is None
    new = store.rotate_token(name)
    assert store.authenticate(token) is None and store.authenticate(new).id == user.id
    store.set_user_disabled(name)
    assert store.authenticate(new) is None
    assert store.set_user_role(name, "admin").role == "admin"
    with pytest.raises(UserError, match="already exists"):
        store.create_user(name, "viewer")
    with pytest.raises(UserError, match="role 'root' is not valid"):
        store.create_user(f"x{name}", "root")
    assert name in [u.name for u in store.users()]


def test_resume_state_after_a_restart(sqlite_url):
    sources = {"dev_meter_pcc": EnergySource("meter_pcc", "meter")}
    st = Store.open(sqlite_url, site_id="s", energy_sources=sources)
    local_start = pd.Timestamp("2025-07-01 00:00", tz="Asia/Shanghai")
    st.save_schedule(date(2025, 7, 1), _frame(local_start, 5.0))
    st.save_schedule(date(2025, 7, 1), _frame(local_start, 6.0), kind="intraday")
    st.write_telemetry(_meter_samples(local_start.to_pydatetime(), 1800, 800.0, source="dev_meter_pcc"))
    st.write_telemetry(_meter_samples(local_start.to_pydatetime() + timedelta(minutes=30), 900, 1200.0,
                                      source="dev_meter_pcc"))
    now = (local_start + pd.Timedelta(hours=1)).to_pydatetime()
    st.roll_up(now)
    st.record_setpoint_writes([SetpointWrite(ts=now, device_id="dev_pcs", point="p_set_kw", new_value=-250.0,
                                             result="ok")])
    st.raise_alarm("pv_comm", source_id="dev_pv_roof")
    st.close()

    st = Store.open(sqlite_url, site_id="s", energy_sources=sources)
    state = st.resume_state(now, pcc_meter_id="meter_pcc")
    assert state.day == date(2025, 7, 1)
    assert state.schedule.version == 2 and state.schedule.frame_df()["grid_kw"].iloc[0] == 6.0
    assert state.month_peak_kw == pytest.approx(1200.0)
    assert state.last_setpoints[("dev_pcs", "p_set_kw")].new_value == -250.0
    assert [a.code for a in state.active_alarms] == ["pv_comm"]
    st.close()


def test_roll_up_and_upserts_on_any_backend(any_url, site_id):
    st = Store.open(any_url, site_id=site_id, energy_sources={"m": EnergySource("m", "meter")})
    st.write_telemetry(_meter_samples(T0, 900, -40.0, source="m"))
    st.roll_up(T0 + timedelta(minutes=16))
    st.roll_up(T0 + timedelta(minutes=17))  # idempotent
    rows = st.interval_energies(T0, T0 + timedelta(minutes=15))
    assert {r.quantity: r.value for r in rows} == {"e_export_kwh": pytest.approx(10.0), "e_import_kwh": 0.0}
    st.close()


def test_token_keys_may_contain_underscores():
    from microgrid.store.users import split_token

    assert split_token("mgs_ab_cd-ef_gh1_secret_with_underscores") == ("ab_cd-ef_gh1", "secret_with_underscores")
    assert split_token("mgs_short_x") is None and split_token("xyz_abcdefghijkl_s") is None


def test_saved_state_survives_a_restart(sqlite_url):
    with Store.open(sqlite_url, site_id="s") as st:
        assert st.load_state("controller") is None
        st.save_state("controller", {"mode": "manual", "overrides": {"ess": -100.0}, "nan": float("nan")})
        st.save_state("controller", {"mode": "auto"})
    with Store.open(sqlite_url, site_id="s") as st:
        assert st.load_state("controller") == {"mode": "auto"}
