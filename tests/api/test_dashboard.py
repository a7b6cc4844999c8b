"""The dashboard in headless Chromium (Debian's /usr/bin/chromium driven by Playwright): the pages show charts
with data, labels switch between English and 中文, and an operator's override round-trips through the UI."""

from __future__ import annotations

import os

import pytest
from playwright.sync_api import expect

from tests.api.browser import CHROMIUM, fill_token, login, new_page

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not os.path.exists(CHROMIUM), reason=f"Debian's chromium is not installed at {CHROMIUM}"),
]


@pytest.fixture
def page(browser, write_env):
    with new_page(browser) as pg:
        yield pg


def test_overview_plan_and_green_pages_show_data(page, write_env):
    url = write_env["url"]
    live = write_env["clients"]["viewer"].get("/api/v1/live").json()
    login(page, url, write_env["tokens"]["viewer"])
    expect(page.locator("#t-pcc")).to_contain_text("kW")
    assert page.inner_text("#t-pcc") == f"{round(live['pcc_p_kw'])} kW"
    expect(page.locator("#t-alarms")).to_have_text("2")
    assert page.inner_text("#clock") == "2025-07-16 14:07:30"  # site time, browser in UTC
    assert page.locator("#flow-chart svg rect.bar").count() >= 2
    expect(page.locator("#asset-table tbody tr")).to_have_count(2)
    expect(page.locator("#alarm-list li[data-alarm]")).to_have_count(2)
    assert page.locator("a[data-nav=control]").is_hidden()  # viewers cannot override

    page.click("a[data-nav=plan]")
    page.wait_for_selector("#power-chart[data-series]:not([data-series='0'])")
    power = page.locator("#power-chart")
    assert power.locator("path.area").count() >= 4  # PV, discharge, import above; loads, charge below
    assert power.locator("path.line").count() == 3  # grid plan, grid measured, PV measured
    assert power.locator("rect.band").count() == 11  # July TOU periods incl. two critical-peak hours
    assert power.locator("rect.band-critical").count() == 2
    ticks = power.locator(".axis.x text").all_text_contents()
    assert "08:00" in ticks and "12:00" in ticks
    expect(page.locator("#soc-chart path.line")).to_have_count(2)
    assert page.inner_text("#plan-version") == "version 1"
    expect(page.locator("#plan-kpis div")).to_have_count(10)
    assert "Cost (CNY)" in page.inner_text("#plan-kpis")
    box = power.locator("svg").bounding_box()
    page.mouse.move(box["x"] + box["width"] * 0.55, box["y"] + box["height"] * 0.4)
    assert "Grid, measured" in page.inner_text("#power-chart .chart-tip") or "Grid, plan" in page.inner_text(
        "#power-chart .chart-tip")

    green = write_env["clients"]["viewer"].get("/api/v1/green").json()
    page.click("a[data-nav=green]")
    page.wait_for_selector("#tiles-today-ratio")
    ratio = page.inner_text("#tiles-today-ratio .tile-value")
    assert ratio == f"{green['today']['green_power_ratio'] * 100:.1f} %"
    expect(page.locator("#green-chart rect.bar")).to_have_count(4)
    href = page.get_attribute("#report-csv", "href")
    assert href == "/api/v1/reports?from=2025-07-01&to=2025-07-16&format=csv"

    page.click("#lang-toggle")
    expect(page.locator("a[data-nav=overview]")).to_have_text("总览")
    # re-rendered from a fresh /green answer in the new language (a busy machine may take a while)
    expect(page.locator("#tiles-today-ratio .tile-label")).to_have_text("绿电占比", timeout=20_000)
    page.click("#lang-toggle")
    expect(page.locator("a[data-nav=overview]")).to_have_text("Overview")


def test_operator_override_round_trip_through_the_ui(page, write_env):
    url, api = write_env["url"], write_env["clients"]["viewer"]
    login(page, url, write_env["tokens"]["operator"], "/control")
    expect(page.locator("#o-asset option")).to_have_count(2)
    page.select_option("#o-asset", "bat_factory")
    assert "-200 … 200 kW" in page.inner_text("#o-range")
    page.fill("#o-value", "-300")
    page.fill("#o-duration", "20")
    page.click("#o-submit")
    expect(page.locator("#o-result")).to_contain_text("outside the range")
    assert "outside the range of battery 'bat_factory' [-200, 200] kW" in page.inner_text("#o-result")
    assert api.get("/api/v1/overrides").json()["items"] == []

    page.fill("#o-value", "-120")
    page.fill("#o-reason", "UI test")
    page.click("#o-submit")
    page.wait_for_selector("#override-table tr[data-override=bat_factory]")
    expect(page.locator("#o-result")).to_contain_text("bat_factory -120 kW")
    items = api.get("/api/v1/overrides").json()["items"]
    assert [(o["asset_id"], o["value_kw"], o["user"], o["reason"]) for o in items] == [
        ("bat_factory", -120.0, "operator_user", "UI test")]
    page.click("#override-table tr[data-override=bat_factory] button")
    expect(page.locator("#o-result")).to_contain_text("cleared")
    assert api.get("/api/v1/overrides").json()["items"] == []
    actions = [e["data"]["action"] for e in api.get("/api/v1/events", params={"category": "api"}).json()["items"]]
    assert actions[:2] == ["override_clear", "override_set"]

    page.click("a[data-nav=events]")
    page.wait_for_selector("#alarm-table tr[data-alarm] button[data-ack]")
    first = page.locator("#alarm-table button[data-ack]").first
    alarm_id = first.get_attribute("data-ack")
    first.click()
    expect(page.locator(f"#alarm-table button[data-ack='{alarm_id}']")).to_have_count(0)
    alarm = next(a for a in api.get("/api/v1/alarms").json()["items"] if str(a["id"]) == alarm_id)
    assert alarm["acked_by"] == "operator_user"


def test_viewer_cannot_open_the_override_page(page, write_env):
    login(page, write_env["url"], write_env["tokens"]["viewer"], "/")
    response = page.goto(write_env["url"] + "/control")
    assert response.status == 403
    assert page.inner_text("h1") == "Operators only"


def test_login_never_redirects_off_site(page, write_env):
    url = write_env["url"]
    for evil in ("//evil.example/x", "/%5Cevil.example", "https://evil.example"):
        page.goto(f"{url}/login?next={evil}")
        fill_token(page, write_env["tokens"]["viewer"])
        page.click("#login-form button[type=submit]")
        page.wait_for_url(url + "/")
    page.goto(f"{url}/login")
    fill_token(page, "mgs_AAAAAAAAAAAA_" + "B" * 43)
    page.click("#login-form button[type=submit]")
    expect(page.locator("#login-error")).to_contain_text("Sign-in failed: unknown, rotated or disabled token")


def test_password_sign_in_in_both_languages(page, write_env):
    """The sign-in form takes a user name and password; a wrong one is refused in the page's language (the API
    answers in the Accept-Language the dashboard sends), the right one opens the session."""
    url, store = write_env["url"], write_env["store"]
    store.set_password("operator_user", "Browser-pass-2026")
    page.goto(f"{url}/login")
    page.click("#lang-toggle")  # 中文
    expect(page.locator("label[for=password]")).to_have_text("密码")
    page.fill("#user", "operator_user")
    page.fill("#password", "wrong-password-1")
    page.click("#login-form button[type=submit]")
    expect(page.locator("#login-error")).to_contain_text("登录失败: 用户名或密码错误")
    page.click("#lang-toggle")  # English again
    page.goto(f"{url}/login?next=/control")
    page.fill("#user", "operator_user")
    page.fill("#password", "Browser-pass-2026")
    page.click("#login-form button[type=submit]")
    page.wait_for_url(url + "/control")
    me = page.evaluate("fetch('/api/v1/auth/me').then(r => r.json())")
    assert (me["user"], me["auth"]) == ("operator_user", "session")


def test_overview_energy_flow_and_plan_chart_at_a_glance(page, write_env, tmp_path):
    """The overview draws the park's energy flow from the live values (each box's kW, arrows the way the power
    flows by the sign convention) and today's grid plan against the measurement, in both languages."""
    url = write_env["url"]
    live = write_env["clients"]["viewer"].get("/api/v1/live").json()
    login(page, url, write_env["tokens"]["viewer"])
    flow = page.locator("#energy-flow")
    expect(flow.locator("[data-node]")).to_have_count(4)  # grid, PV, storage; one tenant (small site)
    pcc, pv, st = live["pcc_p_kw"], live["pv_kw"], live["storage_kw"]
    assert flow.locator("[data-node=grid]").get_attribute("data-kw") == str(round(abs(pcc)))
    assert flow.locator("[data-node=pv]").get_attribute("data-kw") == str(round(pv))
    assert flow.locator("[data-node=storage]").get_attribute("data-kw") == str(round(abs(st)))
    assert f"{round(abs(pcc))} kW" in flow.locator("[data-node=grid]").text_content()
    # arrows: import flows down into the bus, export up; discharge down, charge up; loads are fed from the bus
    grid_arrow = "grid-down" if pcc > 0 else "grid-up"
    assert flow.locator(f"[data-arrow={grid_arrow}]").count() == 1
    if abs(st) > 0.5:
        assert flow.locator(f"[data-arrow=storage-{'down' if st > 0 else 'up'}]").count() == 1
    tenant = live["tenants"][0]
    assert tenant["meter_kw"] is None  # the small site's factory has no own meter: its box is an estimate
    load = live["consumption_kw"] - tenant["flexible_kw"]
    node = flow.locator(f"[data-node=tenant-{tenant['tenant']}]")
    assert node.get_attribute("data-kw") == str(round(load))
    assert flow.locator(f"[data-arrow=tenant-{tenant['tenant']}-down]").count() == 1
    assert "Garment factory" in node.text_content() and "estimated (no own meter)" in node.text_content()
    # what flows into the bus (grid, PV, storage) is what the boxes below it draw
    assert abs(pcc + pv + st - load - tenant["flexible_kw"]) < 1.0
    mini = page.locator("#plan-mini")
    expect(mini.locator("path.line")).to_have_count(2)  # grid plan (dashed) and grid measured
    page.screenshot(path=str(tmp_path / "overview_en.png"), full_page=True)
    page.click("#lang-toggle")
    expect(flow.locator("[data-node=grid] .flow-label")).to_have_text("电网")
    assert "服装厂" in node.text_content() and "购电" in flow.locator("[data-node=grid]").text_content() or pcc < 0
    expect(page.locator("#plan-mini").locator("xpath=..").locator("h2 span")).to_have_text("今日：电网计划与实测（kW）")
    page.screenshot(path=str(tmp_path / "overview_zh.png"), full_page=True)
    page.click("#lang-toggle")


def test_one_date_format_per_language_whatever_the_browser_locale(browser, write_env):
    """English pages write days as 2025-07-16 and Chinese ones as 2025年7月16日, in the clock, the day picker and
    the tables, even in a browser set to US English (whose native date input would show 07/16/2025)."""
    url = write_env["url"]
    context = browser.new_context(locale="en-US", timezone_id="America/New_York")
    try:
        page = context.new_page()
        login(page, url, write_env["tokens"]["viewer"], "/plan")
        expect(page.locator("#day-label")).to_have_text("2025-07-16")
        expect(page.locator("#clock")).to_have_text("2025-07-16 14:07:30")
        page.click("#day-label + input + button")  # next day
        expect(page.locator("#day-label")).to_have_text("2025-07-17")
        assert page.input_value("#day") == "2025-07-17"
        page.click("button.btn-day >> nth=0")
        page.click("button.btn-day >> nth=0")
        expect(page.locator("#day-label")).to_have_text("2025-07-15")
        page.click("#lang-toggle")
        expect(page.locator("#day-label")).to_have_text("2025年7月15日")
        expect(page.locator("#clock")).to_have_text("2025年7月16日 14:07:30")
        assert page.get_attribute("button.btn-day >> nth=0", "title") == "前一天"
        page.goto(url + "/events")
        first = page.locator("table tbody tr td").first
        expect(first).to_contain_text("2025年7月16日")
        page.click("#lang-toggle")
    finally:
        context.close()
