"""Every read endpoint against the running app: real values (energy balances, paging without gaps)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from tests.api.conftest import NOW

pytestmark = pytest.mark.usefixtures("base_url")

EF_FUJIAN_2023 = 0.4211


def test_health_is_public(clients):
    r = clients["anonymous"].get("/health")
    assert r.status_code == 200 and r.json()["status"] == "ok"


def test_site_and_topology(clients):
    r = clients["viewer"].get("/api/v1/site")
    site = r.json()
    assert site["id"] == "small_factory" and site["timezone"] == "Asia/Shanghai"
    assert site["pv_kwp"] == 500 and site["storage_kwh"] == 400 and site["export_limit_kw"] == 0
    assert site["tenants"][0]["assets"] == ["pv_roof", "bat_factory"]
    assert site["emission_factor_kg_per_kwh"] == EF_FUJIAN_2023
    topo = clients["viewer"].get("/api/v1/site/topology").json()
    assert topo["pcc_bus"] == "grid_10kv"
    assert [(b["id"], b["kind"], b["rating"]) for b in topo["branches"]] == [("tx_factory", "transformer", "1000 kVA Dyn11")]
    bat = next(a for a in topo["assets"] if a["id"] == "bat_factory")
    assert (bat["min_kw"], bat["max_kw"], bat["e_kwh"]) == (-200, 200, 400)
    assert {d["id"] for d in topo["devices"]} == {"dev_meter_pcc", "dev_pv_roof", "dev_bat_factory"}


def test_live_view_balances(clients, api_env):
    live = clients["viewer"].get("/api/v1/live").json()
    assert live["at"] == NOW.isoformat() and live["mode"] == "normal"
    assets = {a["id"]: a for a in live["assets"]}
    pv, bat = assets["pv_roof"]["p_kw"], assets["bat_factory"]["p_kw"]
    assert live["pv_kw"] == pytest.approx(pv, abs=1e-3) and live["storage_kw"] == pytest.approx(bat, abs=1e-3)
    # consumption = PCC + PV + storage (discharge > 0): equals the plan's tenant load at 14:00
    plan = api_env["plan"].result.schedule.frame
    row = plan.loc[plan.index[14 * 4]]
    assert live["consumption_kw"] == pytest.approx(row["factory_load_kw"], abs=0.01)
    assert live["pcc_p_kw"] == pytest.approx(row["grid_kw"], abs=0.01)
    assert live["soc_pct"] == pytest.approx(row["bat_factory_soc_pct"], abs=0.01)
    assert live["active_alarms"] == 2  # two raised, one cleared earlier
    assert assets["pv_roof"]["health"] == "online" and assets["pv_roof"]["devices"][0]["device_id"] == "dev_pv_roof"
    tenant = live["tenants"][0]
    assert tenant["tenant"] == "factory" and tenant["meter_kw"] is None  # the small site has no tenant meter
    assert tenant["pv_kw"] == pytest.approx(pv, abs=1e-3)


def test_assets(clients):
    assets = clients["viewer"].get("/api/v1/assets").json()
    assert [a["id"] for a in assets] == ["pv_roof", "bat_factory"]
    one = clients["viewer"].get("/api/v1/assets/bat_factory").json()
    assert one["kind"] == "battery" and one["override_meaning"].startswith("AC setpoint")
    r = clients["viewer"].get("/api/v1/assets/nope")
    assert r.status_code == 404 and r.json()["detail"].startswith("asset 'nope' not found")


def test_current_schedule_balances(clients, api_env):
    body = clients["viewer"].get("/api/v1/schedules/current").json()
    assert body["meta"]["id"] == api_env["schedule_id"] and body["meta"]["kind"] == "day_ahead"
    data = body["data"]
    assert len(data["index"]) == 96 and data["step_min"] == 15 and data["tou_period"][0] == "valley"
    s = data["series"]
    for i in range(96):
        balance = s["grid_kw"][i] + s["pv_roof_kw"][i] + s["bat_factory_kw"][i] - s["factory_load_kw"][i]
        assert abs(balance) < 1e-3
    assert body["assets"] == {"pv_roof": "pv", "bat_factory": "battery", "factory": "load"}


def test_versions_by_day_and_kpis(clients, api_env):
    v = clients["viewer"].get("/api/v1/schedules", params={"day": "2025-07-16"}).json()
    assert v["day"] == "2025-07-16" and v["versions"][0]["version"] == 1
    assert clients["viewer"].get("/api/v1/schedules", params={"day": "2025-07-10"}).json()["versions"] == []
    by_day = clients["viewer"].get("/api/v1/schedules/day/2025-07-16").json()
    assert by_day["meta"]["day"] == "2025-07-16"
    sid = api_env["schedule_id"]
    kpis = clients["viewer"].get(f"/api/v1/schedules/versions/{sid}/kpis").json()
    expected = api_env["plan"].kpis()
    assert kpis["kpis"]["cost_total_cny"] == expected["cost_total_cny"]
    assert kpis["kpis"]["savings_vs_baseline_cny"] == expected["savings_vs_baseline_cny"] > 0
    assert clients["viewer"].get("/api/v1/schedules/current/kpis").json()["schedule_id"] == sid
    assert clients["viewer"].get("/api/v1/schedules/versions/999").status_code == 404
    assert clients["viewer"].get("/api/v1/schedules/day/2025-07-01").status_code == 404
    bad = clients["viewer"].get("/api/v1/schedules/day/2025-13-01")
    assert bad.status_code == 422 and bad.json()["problems"][0].startswith("path.day:")
    far = clients["viewer"].get("/api/v1/schedules", params={"day": "9999-12-31"})
    assert far.status_code == 422 and "between 2000-01-01 and 2100-12-31" in far.json()["detail"]


def test_plan_vs_actual(clients):
    body = clients["viewer"].get("/api/v1/plan-vs-actual").json()
    assert body["day"] == "2025-07-16" and body["version"] == 1
    plan, actual = body["plan"], body["actual"]
    assert len(plan["index"]) == 96
    n = len(actual["index"])
    assert n == 14 * 4  # intervals closed before 14:07:30 (the 14:00 one is still open)
    # measured = plan + small noise, interval by interval
    for i in range(n):
        assert actual["series"]["grid_kw"][i] == pytest.approx(plan["series"]["grid_kw"][i], abs=3.0)
        assert actual["series"]["bat_factory_soc_pct"][i] == pytest.approx(plan["series"]["bat_factory_soc_pct"][i],
                                                                           abs=0.5)
    bands = body["price_bands"]
    assert [b["period"] for b in bands] == ["valley", "flat", "peak", "critical", "flat", "peak", "critical", "peak",
                                            "flat", "peak", "flat"]
    assert bands[3]["price"] == 0.956 and bands[3]["start"].startswith("2025-07-16T11:00")
    assert {g["column"] for g in body["stack"]} == {"pv_roof_kw", "bat_factory_kw", "factory_load_kw"}


def test_green_figures_are_consistent(clients):
    g = clients["viewer"].get("/api/v1/green").json()
    today, mtd = g["today"], g["month_to_date"]
    assert today["intervals"] == 56 and mtd["start"] == "2025-07-01T00:00:00+08:00"
    # the month holds only today's data: the same figures, over a longer (so more partly covered) period
    window = {"start", "coverage_pct", "partial", "green_label"}
    assert {k: v for k, v in mtd.items() if k not in window} == {k: v for k, v in today.items() if k not in window}
    assert not today["partial"] and mtd["partial"] and mtd["green_label"].startswith("PARTIAL")
    assert today["consumption_kwh"] == pytest.approx(today["import_kwh"] + today["pv_generation_kwh"]
                                                     - today["export_kwh"], abs=0.2)
    assert today["green_energy_kwh"] == pytest.approx(today["pv_generation_kwh"] - today["export_kwh"], abs=0.2)
    assert today["green_power_ratio"] == pytest.approx(today["green_energy_kwh"] / today["consumption_kwh"], abs=1e-3)
    assert today["co2_kg"] == pytest.approx(today["import_kwh"] * EF_FUJIAN_2023, abs=0.2)
    assert 0.2 < today["green_power_ratio"] < 0.8 and today["cost_energy_cny"] > 0
    assert "Fujian 2023" in g["emission_factor_source"]
    old = clients["viewer"].get("/api/v1/green", params={"day": "2025-07-15"}).json()
    assert old["today"]["intervals"] == 0 and old["today"]["green_power_ratio"] is None


def test_telemetry_paging_has_no_gaps(clients, api_env):
    start = (NOW - timedelta(hours=1)).isoformat()
    seen, cursor, pages = [], None, 0
    while True:
        params = {"quantity": "p_kw", "start": start, "end": NOW.isoformat(), "limit": 7}
        if cursor:
            params["cursor"] = cursor
        page = clients["viewer"].get("/api/v1/telemetry/meter_pcc", params=params).json()
        seen += page["items"]
        pages += 1
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert len(seen) == 60 and pages == 9  # one sample a minute
    stamps = [s["ts"] for s in seen]
    assert stamps == sorted(stamps) and len(set(stamps)) == 60
    assert {s["source_id"] for s in seen} == {"meter_pcc"}
    default = clients["viewer"].get("/api/v1/telemetry/meter_pcc", params={"quantity": "p_kw", "limit": 5000}).json()
    assert len(default["items"]) == 60 and default["next_cursor"] is None  # default range: the last hour
    assert "meter_pcc" in clients["viewer"].get("/api/v1/telemetry").json()
    assert clients["viewer"].get("/api/v1/telemetry/unknown_dev").status_code == 404
    r = clients["viewer"].get("/api/v1/telemetry/meter_pcc", params={"start": NOW.isoformat(), "end": start})
    assert r.status_code == 422 and r.json()["detail"] == "start: must be before end"
    r = clients["viewer"].get("/api/v1/telemetry/meter_pcc", params={"cursor": "garbage"})
    assert r.status_code == 422 and "cursor" in r.json()["detail"]
    naive = clients["viewer"].get("/api/v1/telemetry/meter_pcc",
                                  params={"start": "2025-07-16T13:07:30", "end": "2025-07-16T14:07:30"}).json()
    assert naive["items"] == seen  # a time without offset is site local time


def test_events_alarms_and_audit_paging(clients, api_env):
    first = clients["viewer"].get("/api/v1/events", params={"limit": 12, "category": "plan"}).json()
    assert len(first["items"]) == 12 and first["next_cursor"]
    ts = [e["ts"] for e in first["items"]]
    assert ts == sorted(ts, reverse=True)
    ids = [e["id"] for e in first["items"]]
    rest = []
    cursor = first["next_cursor"]
    while cursor:
        page = clients["viewer"].get("/api/v1/events", params={"limit": 12, "category": "plan", "cursor": cursor}).json()
        rest += [e["id"] for e in page["items"]]
        cursor = page["next_cursor"]
    assert len(ids + rest) == 27 and not set(ids) & set(rest)  # 30 seeded, 3 of category mode_change
    alarms = clients["viewer"].get("/api/v1/alarms", params={"active": True}).json()["items"]
    assert {a["code"] for a in alarms} == {"meter_stale", "device_offline"}
    cleared = clients["viewer"].get("/api/v1/alarms", params={"active": False}).json()["items"]
    assert [a["code"] for a in cleared] == ["limit"] and cleared[0]["cleared_at"]
    audit = clients["viewer"].get("/api/v1/audit/setpoints", params={"limit": 10}).json()
    assert len(audit["items"]) == 10 and audit["next_cursor"]
    assert audit["items"][0]["new_value"] == -50.0 and audit["items"][0]["user"] == "controller"
    more = clients["viewer"].get("/api/v1/audit/setpoints", params={"limit": 10, "cursor": audit["next_cursor"]}).json()
    assert len(more["items"]) == 5 and more["next_cursor"] is None


def test_reports(clients):
    day = {"from": "2025-07-16", "to": "2025-07-16"}
    report = clients["viewer"].get("/api/v1/reports", params=day).json()
    assert report["meta"]["data_source"] == "metered" and report["meta"]["tenant"] is None
    assert report["meta"]["first_day"] == report["meta"]["last_day"] == "2025-07-16"
    tenant = clients["viewer"].get("/api/v1/reports", params={**day, "tenant": "factory"}).json()
    assert tenant["meta"]["tenant"] == "factory"
    html = clients["viewer"].get("/api/v1/reports", params={**day, "format": "html"})
    assert html.headers["content-type"].startswith("text/html") and "<style>" in html.text
    assert "script-src" not in html.headers["content-security-policy"]
    assert "'unsafe-inline'" in html.headers["content-security-policy"]  # the report's own stylesheet only
    csv = clients["viewer"].get("/api/v1/reports", params={**day, "format": "csv"})
    assert csv.text.startswith("level,period,first_day") and "attachment" in csv.headers["content-disposition"]
    xlsx = clients["viewer"].get("/api/v1/reports", params={**day, "format": "xlsx"})
    assert xlsx.content[:2] == b"PK" and xlsx.headers["content-disposition"].endswith('.xlsx"')
    none = clients["viewer"].get("/api/v1/reports", params={"from": "2025-07-10", "to": "2025-07-10"})
    assert none.status_code == 422 and none.json()["detail"].startswith("no metered data")
    assert clients["viewer"].get("/api/v1/reports", params={**day, "tenant": "x"}).status_code == 404
    back = clients["viewer"].get("/api/v1/reports", params={"from": "2025-07-16", "to": "2025-07-15"})
    assert back.status_code == 422 and back.json()["detail"] == "to: 2025-07-15 is before from 2025-07-16"
    long_sim = clients["viewer"].get("/api/v1/reports", params={"from": "2025-07-01", "to": "2025-07-16",
                                                                 "simulate": True})
    assert long_sim.status_code == 422 and long_sim.json()["detail"].startswith("simulate: a simulated report")


def test_metrics(clients):
    live = clients["viewer"].get("/api/v1/live").json()
    text = clients["viewer"].get("/metrics").text
    values = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            name, _, value = line.rpartition(" ")
            values[name] = float(value)
    assert values["microgrid_pcc_power_kw"] == pytest.approx(live["pcc_p_kw"])
    assert values['microgrid_pv_power_kw{asset="pv_roof",tenant="factory"}'] == pytest.approx(live["pv_kw"])
    assert values['microgrid_storage_soc_pct{asset="bat_factory"}'] == pytest.approx(live["soc_pct"], abs=0.01)
    assert values['microgrid_device_health{device="dev_pv_roof",role="pv_inverter"}'] == 0
    assert values['microgrid_device_up{device="dev_meter_pcc",role="meter"}'] == 1
    assert 0 < values["microgrid_green_power_ratio_today"] < 1
    assert values["microgrid_energy_cost_today_cny"] > 0 and values["microgrid_co2_today_kg"] > 0
    assert values["microgrid_control_cycle_seconds"] == pytest.approx(0.0125)
    assert values["microgrid_solver_seconds"] == pytest.approx(0.4)
    assert values['microgrid_mode{mode="normal"}'] == 1 and values['microgrid_mode{mode="safe"}'] == 0
    assert values["microgrid_active_alarms"] == 2
    assert any(k.startswith("microgrid_api_requests_total{") for k in values)


def test_openapi_has_examples_and_security(clients):
    spec = clients["viewer"].get("/api/v1/openapi.json").json()
    assert spec["info"]["title"].startswith("Park microgrid API")
    assert {"HTTPBearer", "APIKeyCookie"} <= set(spec["components"]["securitySchemes"])
    body = spec["components"]["schemas"]["OverrideRequest"]["properties"]
    assert body["value_kw"]["examples"] == [-250.0]
    put = spec["paths"]["/api/v1/assets/{asset_id}/override"]["put"]
    assert put["responses"]["422"]["content"]["application/json"]["schema"]["$ref"].endswith("/ErrorOut")
    assert "/health" in spec["paths"] and "/metrics" in spec["paths"]
    assert clients["anonymous"].get("/api/v1/openapi.json").status_code == 401
    assert clients["anonymous"].get("/docs").status_code == 404  # no CDN-hosted Swagger UI
