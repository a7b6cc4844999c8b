"""The runtime's store adapter over a real SQLite store: what goes in, and what a restart gets back."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from microgrid.control.events import Event, Severity
from microgrid.control.fleet import WriteOutcome
from microgrid.control.planner import PlanningService
from microgrid.control.store_adapter import StoreAdapter
from microgrid.control.telemetry import TelemetryPoint
from microgrid.store import Store, energy_sources_from_site
from optimizer import MeasuredState
from tests.control.aio import async_test

TZ = ZoneInfo("Asia/Shanghai")
T0 = datetime(2025, 7, 16, 10, 0, tzinfo=TZ)


@pytest.fixture
def store(small_site, tmp_path):
    s = Store.open(f"sqlite:///{tmp_path}/a.db", site_id=small_site.id, energy_sources=energy_sources_from_site(small_site))
    yield s
    s.close()


@async_test
async def test_plan_round_trip_and_resume(small_site, store):
    planner = PlanningService(small_site, inline=True)
    outcome = await planner.intraday(T0, T0, MeasuredState(soc_pct={"bat_factory": 60.0}, month_peak_kw=300.0))
    adapter = StoreAdapter(store, small_site, now=lambda: T0)
    adapter.save_plan(outcome.record, outcome.inputs, outcome.state)
    adapter.flush()
    [summary] = store.schedule_versions(date(2025, 7, 16))
    assert (summary.kind.value, summary.source, summary.note) == ("intraday", "optimizer", outcome.record.plan_id)
    stored = store.schedule(summary.id)
    assert stored.inputs["state"]["soc_pct"] == {"bat_factory": 60.0}
    assert stored.inputs["summary"]["soc_initial_pct"] == {"bat_factory": 60.0}
    resume = adapter.resume(T0 + timedelta(hours=2))
    [plan] = resume.plans
    assert plan.plan_id == outcome.record.plan_id
    now = T0 + timedelta(hours=2, minutes=7)
    assert plan.interval(now).storage_kw == outcome.record.interval(now).storage_kw
    assert plan.interval(now).grid_kw == pytest.approx(outcome.record.interval(now).grid_kw)
    assert adapter.resume(T0 + timedelta(days=1, hours=1)).plans == []  # horizon over


def test_operator_state_replayed_from_events(small_site, store):
    adapter = StoreAdapter(store, small_site, now=lambda: T0)
    expires = (T0 + timedelta(hours=1)).isoformat()
    for event in [
        Event(T0, "override_set", "bat held", Severity.WARNING, "operator",
              {"asset_id": "bat_factory", "value_kw": -50.0, "expires_at": expires, "reason": "test", "user": "ann"}),
        Event(T0, "override_set", "pv held", Severity.WARNING, "operator",
              {"asset_id": "pv_roof", "value_kw": 100.0, "expires_at": expires}),
        Event(T0 + timedelta(minutes=1), "override_cleared", "pv released", Severity.INFO, "operator",
              {"asset_id": "pv_roof"}),
        Event(T0 + timedelta(minutes=2), "manual_set", "manual on", Severity.WARNING, "operator",
              {"active": True, "reason": "ann: commissioning"}),
    ]:
        adapter.add_event(event)
    adapter.flush()
    state = adapter.resume(T0 + timedelta(minutes=5)).controller_state
    assert [o["asset_id"] for o in state["overrides"]] == ["bat_factory"]
    assert state["manual"] is True and state["manual_reason"] == "ann: commissioning"
    assert adapter.resume(T0 + timedelta(hours=2)).controller_state["overrides"] == []


def test_telemetry_audit_and_month_peak(small_site, store):
    clock = [T0]
    adapter = StoreAdapter(store, small_site, now=lambda: clock[0], roll_up_every_s=0)
    rows = [TelemetryPoint(T0 + timedelta(seconds=10 * i), "meter_pcc", "p_kw", 400.0 if i < 90 else 100.0)
            for i in range(180)]
    adapter.add_telemetry(rows)
    adapter.add_writes(T0, [WriteOutcome("bat_factory", "dev_bat_factory", "m704_w_set", 50.0, 0.0, 50000.0, "ok",
                                         reason="sequence:p_set"),
                            WriteOutcome("pv_roof", "dev_pv_roof", "limit", None, None, None, "refused")])
    clock[0] = T0 + timedelta(minutes=32)
    adapter.flush()
    [write] = store.setpoint_writes(limit=10).items
    assert (write.device_id, write.new_value, write.detail) == ("dev_bat_factory", 50000.0,
                                                               "sequence:p_set: requested 50 kW")
    assert store.month_peak_kw("meter_pcc", clock[0]) == pytest.approx(400.0)
    assert adapter.resume(clock[0]).month_peak_kw == pytest.approx(400.0)


def test_close_rolls_up_the_last_interval_of_the_run(small_site, store):
    """A run that ends exactly at an interval boundary leaves nothing unrolled (no grace at the end)."""
    end = T0 + timedelta(minutes=30)
    clock = [T0]
    adapter = StoreAdapter(store, small_site, now=lambda: clock[0], roll_up_every_s=0)
    adapter.add_telemetry([TelemetryPoint(T0 + timedelta(seconds=10 * i), "meter_pcc", "p_kw", 200.0)
                           for i in range(180)])
    clock[0] = end
    adapter.flush()  # the periodic roll-up keeps a grace for late samples: 10:15 is not closed yet
    frame = store.interval_frame(T0, end, source_ids=["meter_pcc"], quantities=["e_import_kwh"])
    assert list(frame["ts"].dt.tz_convert(TZ).dt.strftime("%H:%M")) == ["10:00"]
    adapter.close()
    frame = store.interval_frame(T0, end, source_ids=["meter_pcc"], quantities=["e_import_kwh"])
    assert list(frame["ts"].dt.tz_convert(TZ).dt.strftime("%H:%M")) == ["10:00", "10:15"]
    assert frame["value"].tolist() == pytest.approx([50.0, 50.0], rel=0.01)
