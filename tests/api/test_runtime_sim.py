"""The API over the real controller runtime on the simulator (Modbus TCP on loopback): live values follow the
devices, an override reaches the battery and expires on the site clock, re-planning makes a new version,
measured intervals appear next to the plan, and every route keeps its role."""

from __future__ import annotations

import time
from datetime import datetime

import pytest

from tests.api.test_auth import RANK, ROUTES

pytestmark = pytest.mark.slow


def wait_for(fn, timeout_s: float = 60.0, every_s: float = 0.2):
    deadline = time.monotonic() + timeout_s
    while True:
        value = fn()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout_s} s: last value {value!r}")
        time.sleep(every_s)


def test_live_values_follow_the_simulator(sim_env):
    c = sim_env["clients"]["viewer"]
    first = wait_for(lambda: (lambda x: x if x["pcc_p_kw"] is not None and x["plan_version"] else None)(
        c.get("/api/v1/live").json()))
    assert first["mode"] == "normal" and first["plan_version"].startswith("intraday-")
    assets = {a["id"]: a for a in first["assets"]}
    assert {a["health"] for a in assets.values()} == {"online"}
    assert assets["pv_roof"]["p_kw"] > 0 and assets["bat_factory"]["soc_pct"] is not None
    assert assets["bat_factory"]["devices"][0]["device_id"] == "dev_bat_factory"
    # the park's consumption = PCC + PV + storage is a plausible factory load (the profile's, ~450 kW by day)
    assert 100 < first["consumption_kw"] < 900
    later = wait_for(lambda: (lambda x: x if x["at"] > first["at"] else None)(c.get("/api/v1/live").json()))
    assert datetime.fromisoformat(later["at"]) > datetime.fromisoformat(first["at"])  # site time moves
    metrics = c.get("/metrics").text
    assert 'microgrid_device_up{device="dev_pv_roof",role="pv_inverter"} 1.0' in metrics
    assert 'microgrid_mode{mode="normal"} 1.0' in metrics
    cycle = float(next(line.split()[-1] for line in metrics.splitlines()
                       if line.startswith("microgrid_control_cycle_seconds ")))
    assert 0 < cycle < 1
    telemetry = c.get("/api/v1/telemetry/meter_pcc", params={"quantity": "p_kw"}).json()
    assert telemetry["items"] and {i["source_id"] for i in telemetry["items"]} == {"meter_pcc"}


def test_override_reaches_the_battery_and_expires(sim_env):
    op, viewer = sim_env["clients"]["operator"], sim_env["clients"]["viewer"]
    r = op.put("/api/v1/assets/bat_factory/override", json={"value_kw": -120, "duration_min": 2,
                                                           "reason": "sim test"})
    assert r.status_code == 200, r.text
    override = r.json()
    assert override["user"] == "operator_user"
    measured = wait_for(lambda: (lambda a: a if a["p_kw"] is not None and abs(a["p_kw"] + 120) < 2 else None)(
        viewer.get("/api/v1/assets/bat_factory").json()))
    assert measured["override"]["value_kw"] == -120 and measured["setpoint_kw"] == pytest.approx(-120)
    # the store takes audit rows in batches (BufferedStore): wait for the batch with the override's writes
    held = wait_for(lambda: [w for w in viewer.get("/api/v1/audit/setpoints", params={
        "device_id": "dev_bat_factory", "limit": 200}).json()["items"]
        if w["user"] == "operator_user"])
    assert held, "the writes carrying out the override name the operator behind it, not 'controller'"
    assert all(w["asset_id"] == "bat_factory" for w in held)
    # expiry on the site clock (2 simulated minutes)
    wait_for(lambda: viewer.get("/api/v1/overrides").json()["items"] == [], timeout_s=60)
    live = viewer.get("/api/v1/live").json()
    assert datetime.fromisoformat(live["at"]) >= datetime.fromisoformat(override["expires_at"])
    expired = wait_for(lambda: viewer.get("/api/v1/events", params={"category": "override_expired"}).json()["items"])
    assert expired[0]["data"]["asset_id"] == "bat_factory"
    events = viewer.get("/api/v1/events", params={"limit": 200}).json()["items"]
    kinds = [(e["category"], e["user"]) for e in events]
    assert ("override_set", "operator_user") in kinds and ("api", "operator_user") in kinds


def test_replan_makes_a_new_version(sim_env):
    op, viewer = sim_env["clients"]["operator"], sim_env["clients"]["viewer"]
    before = len(viewer.get("/api/v1/schedules", params={"day": "2025-07-16"}).json()["versions"])
    r = op.post("/api/v1/schedules/replan", json={"reason": "sim test"})
    assert r.status_code == 202 and r.json()["accepted"] is True
    versions = wait_for(lambda: (lambda v: v if len(v) > before else None)(
        viewer.get("/api/v1/schedules", params={"day": "2025-07-16"}).json()["versions"]))
    assert versions[-1]["kind"] == "intraday" and versions[-1]["source"] == "optimizer"


def test_plan_vs_actual_gets_measured_intervals(sim_env):
    viewer = sim_env["clients"]["viewer"]
    body = wait_for(lambda: (lambda b: b if len(b["actual"]["index"]) >= 1 else None)(
        viewer.get("/api/v1/plan-vs-actual").json()), timeout_s=120)
    plan = body["plan"]
    assert plan["index"][0] == "2025-07-16T10:00:00+08:00" and plan["index"][-1] == "2025-07-16T23:45:00+08:00"
    assert len(plan["index"]) == 56  # the first plan from 10:00, re-plans overlaid from their own start
    actual = body["actual"]["series"]
    assert actual["pv_roof_kw"][0] > 0 and actual["grid_kw"][0] is not None
    # the green figures count only intervals with enough metered coverage (the first one may be partial)
    green = wait_for(lambda: (lambda g: g if g["today"]["intervals"] >= 1 else None)(
        viewer.get("/api/v1/green").json()), timeout_s=120)
    assert green["today"]["pv_generation_kwh"] > 0


@pytest.mark.parametrize("who", ["anonymous", "disabled", "viewer", "operator", "admin"])
def test_auth_matrix_on_the_real_runtime(sim_env, who):
    c = sim_env["clients"][who]
    for n, (method, template, needed, path, body) in enumerate(ROUTES):
        if body == "LOGIN":
            body = {"token": sim_env["tokens"]["viewer"]}
        elif body == "NEWUSER":
            body = {"name": f"sim_{who}_{n}", "role": "viewer"}
        r = c.request(method, path, json=body, follow_redirects=False)
        c.cookies.clear()
        where = f"{who} {method} {template}: {r.status_code} {r.text[:120]}"
        if RANK[who] >= needed:
            assert r.status_code not in (401, 403) and r.status_code < 500, where
        elif who in ("anonymous", "disabled"):
            assert r.status_code in (401, 303), where
        else:
            assert r.status_code == 403, where


def test_dashboard_override_round_trip_on_the_real_runtime(sim_env, browser):
    from playwright.sync_api import expect

    from tests.api.browser import login, new_page

    viewer = sim_env["clients"]["viewer"]
    with new_page(browser, timeout_ms=30_000) as page:
        login(page, sim_env["url"], sim_env["tokens"]["operator"])
        expect(page.locator("#t-pv")).to_contain_text("kW")
        expect(page.locator("#asset-table tbody tr")).to_have_count(2)
        page.click("a[data-nav=plan]")
        page.wait_for_selector("#power-chart[data-series]:not([data-series='0'])")
        assert page.locator("#power-chart path.area").count() >= 2
        page.click("a[data-nav=control]")
        expect(page.locator("#o-asset option")).to_have_count(2)
        page.select_option("#o-asset", "bat_factory")
        page.fill("#o-value", "80")
        page.fill("#o-duration", "5")
        page.fill("#o-reason", "browser on the real runtime")
        page.click("#o-submit")
        page.wait_for_selector("#override-table tr[data-override=bat_factory]")
        # the battery (a simulated PCS over Modbus) discharges 80 kW
        wait_for(lambda: abs((viewer.get("/api/v1/assets/bat_factory").json()["p_kw"] or 0) - 80) < 2)
        page.click("a[data-nav=overview]")
        expect(page.locator("#asset-table tr[data-asset=bat_factory]")).to_contain_text("80")
        page.click("a[data-nav=control]")
        before = max([e["id"] for e in viewer.get("/api/v1/events", params={"limit": 1}).json()["items"]] or [0])
        page.click("#override-table tr[data-override=bat_factory] button")
        expect(page.locator("#o-result")).to_contain_text("cleared")
        assert viewer.get("/api/v1/overrides").json()["items"] == []
        cleared = wait_for(lambda: [e for e in viewer.get("/api/v1/events", params={"category": "override_cleared"})
                                    .json()["items"] if e["id"] > before])
        assert cleared[0]["data"]["user"] == "operator_user"  # the runtime's own event names the operator
