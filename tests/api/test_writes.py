"""Operator writes: overrides with expiry, 422 on bad bodies, re-planning, alarm acknowledgement; each write
recorded with its user."""

from __future__ import annotations

import time
from datetime import datetime, timedelta

import pytest

from tests.api.conftest import NOW

OVERRIDE = "/api/v1/assets/bat_factory/override"


def _api_events(env, action):
    items = env["clients"]["viewer"].get("/api/v1/events", params={"category": "api", "limit": 100}).json()["items"]
    return [e for e in items if e["data"]["action"] == action]


def test_override_round_trip_and_expiry(write_env):
    c, clock = write_env["clients"], write_env["clock"]
    before = c["viewer"].get("/api/v1/live").json()
    r = c["operator"].put(OVERRIDE, json={"value_kw": -150, "duration_min": 30, "reason": "absorb noon PV"})
    assert r.status_code == 200
    o = r.json()
    assert o["asset_id"] == "bat_factory" and o["value_kw"] == -150 and o["user"] == "operator_user"
    assert datetime.fromisoformat(o["expires_at"]) == clock.now() + timedelta(minutes=30)
    listed = c["viewer"].get("/api/v1/overrides").json()
    assert [i["asset_id"] for i in listed["items"]] == ["bat_factory"]
    asset = c["viewer"].get("/api/v1/assets/bat_factory").json()
    assert asset["override"]["value_kw"] == -150 and asset["p_kw"] == -150
    live = c["viewer"].get("/api/v1/live").json()
    planned = next(a for a in before["assets"] if a["id"] == "bat_factory")["p_kw"]
    assert live["pcc_p_kw"] == pytest.approx(before["pcc_p_kw"] + planned + 150, abs=1e-3)  # charging more imports more
    metrics = c["viewer"].get("/metrics").text
    assert "microgrid_overrides_active 1.0" in metrics
    recorded = _api_events(write_env, "override_set")[0]
    assert recorded["user"] == "operator_user" and recorded["source_id"] == "bat_factory"
    assert recorded["data"]["value_kw"] == -150 and recorded["reason"] == "absorb noon PV"
    clock.advance(minutes=29)
    assert len(c["viewer"].get("/api/v1/overrides").json()["items"]) == 1
    clock.advance(minutes=1, seconds=1)  # past the expiry
    assert c["viewer"].get("/api/v1/overrides").json()["items"] == []
    asset = c["viewer"].get("/api/v1/assets/bat_factory").json()
    assert asset["override"] is None and asset["p_kw"] == asset["planned_kw"]
    assert c["operator"].delete(OVERRIDE).status_code == 404  # nothing left to clear
    clock.t = NOW


def test_clear_override(write_env):
    c = write_env["clients"]
    assert c["admin"].put("/api/v1/assets/pv_roof/override", json={"value_kw": 100, "duration_min": 15}).status_code == 200
    r = c["operator"].delete("/api/v1/assets/pv_roof/override")
    assert r.status_code == 204
    assert c["viewer"].get("/api/v1/overrides").json()["items"] == []
    cleared = _api_events(write_env, "override_clear")[0]
    assert cleared["user"] == "operator_user" and cleared["data"]["value_kw"] == 100


@pytest.mark.parametrize(("body", "status", "detail", "problem"), [
    ({"duration_min": 30}, 422, "invalid request: body.value_kw: required field is missing", "body.value_kw"),
    ({"value_kw": -50, "duration_min": 0}, 422, "invalid request: body.duration_min: Input should be greater than 0",
     "body.duration_min"),
    ({"value_kw": -50, "duration_min": 1441}, 422, "invalid request: body.duration_min: Input should be less than or "
     "equal to 1440", "body.duration_min"),
    ({"value_kw": "lots", "duration_min": 5}, 422, "invalid request: body.value_kw: Input should be a valid number",
     "body.value_kw"),
    ({"value_kw": -50, "duration_min": 5, "until": "tomorrow"}, 422,
     "invalid request: body.until: Extra inputs are not permitted", "body.until"),
    ({"value_kw": -250, "duration_min": 5}, 422,
     "value_kw: -250 kW is outside the range of battery 'bat_factory' [-200, 200] kW", "body.value_kw"),
    ({"value_kw": 50, "duration_min": 5, "reason": "x" * 201}, 422,
     "invalid request: body.reason: String should have at most 200 characters", "body.reason"),
])
def test_bad_override_bodies_get_clear_422(write_env, body, status, detail, problem):
    r = write_env["clients"]["operator"].put(OVERRIDE, json=body)
    assert r.status_code == status
    assert r.json()["detail"].startswith(detail)
    assert r.json()["problems"][0].startswith(problem)


def test_unparseable_bodies(write_env):
    c = write_env["clients"]["operator"]
    r = c.put(OVERRIDE, content=b'{"value_kw": NaN, "duration_min": 5}', headers={"Content-Type": "application/json"})
    assert r.status_code == 422 and r.json()["problems"][0].startswith("body.value_kw")
    r = c.put(OVERRIDE, content=b"value_kw=5", headers={"Content-Type": "application/json"})
    assert r.status_code == 422 and "JSON" in r.json()["detail"]
    r = c.put(OVERRIDE, content=b"[1, 2]", headers={"Content-Type": "application/json"})
    assert r.status_code == 422
    r = c.put("/api/v1/assets/pv_roof/override", json={"value_kw": -1, "duration_min": 5})
    assert r.status_code == 422 and "[0, 420] kW (active-power limit)" in r.json()["detail"]
    r = c.put("/api/v1/assets/nope/override", json={"value_kw": 1, "duration_min": 5})
    assert r.status_code == 404
    assert write_env["clients"]["viewer"].get("/api/v1/overrides").json()["items"] == []


def test_replan_makes_a_new_intraday_version(write_env):
    c = write_env["clients"]
    r = c["operator"].post("/api/v1/schedules/replan", json={"reason": "cloud front"})
    assert r.status_code == 202 and r.json()["accepted"] is True
    deadline = time.monotonic() + 60
    while True:
        versions = c["viewer"].get("/api/v1/schedules", params={"day": "2025-07-16"}).json()["versions"]
        if len(versions) == 2 or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert [(v["version"], v["kind"]) for v in versions] == [(1, "day_ahead"), (2, "intraday")]
    assert versions[1]["created_by"] == "operator_user" and versions[1]["note"] == "cloud front"
    current = c["viewer"].get("/api/v1/schedules/current/kpis").json()
    assert current["version"] == 2 and current["kpis"]["cost_total_cny"] > 0
    recorded = _api_events(write_env, "replan")[0]
    assert recorded["user"] == "operator_user" and recorded["data"]["request_id"] == r.json()["request_id"]
    assert c["operator"].post("/api/v1/schedules/replan", json={"reason": 5}).status_code == 422


def test_acknowledge_alarm(write_env):
    c, alarm_id = write_env["clients"], write_env["alarm_id"]
    r = c["operator"].post(f"/api/v1/alarms/{alarm_id}/acknowledge", json={"comment": "crew on site"})
    assert r.status_code == 200
    acked = r.json()
    assert acked["acked_by"] == "operator_user" and acked["acked_at"].startswith("2025-07-16T06:07:30")
    again = c["admin"].post(f"/api/v1/alarms/{alarm_id}/acknowledge", json={})
    assert again.json()["acked_by"] == "operator_user"  # the first acknowledgement stands
    open_alarms = c["viewer"].get("/api/v1/alarms", params={"unacknowledged": True, "active": True}).json()["items"]
    assert alarm_id not in [a["id"] for a in open_alarms]
    assert c["viewer"].get("/api/v1/live").json()["active_alarms"] == 1
    assert c["operator"].post("/api/v1/alarms/999/acknowledge", json={}).status_code == 404
    assert c["operator"].post("/api/v1/alarms/0/acknowledge", json={}).status_code == 422
    recorded = _api_events(write_env, "acknowledge")
    assert len(recorded) == 1 and recorded[0]["user"] == "operator_user" and recorded[0]["reason"] == "crew on site"
