"""Faults an operator cannot miss, in English and in Chinese (real Chromium, real stack with a fault scenario).

The small factory runs with its battery's Modbus port refusing connections (a device fault the controller
sees) and with alarms raised by code as the fault layer raises them (``pcs_trip``, an unknown code). Every page
must show the active alarms in the header strip; the overview lists them at the top; the alarm list decodes them
in the page's language and an operator acknowledges one. Each page, in each language, is scanned for text of the
other language.
"""

from __future__ import annotations

import os
import re
import time
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import expect

from microgrid.i18n import catalogue
from sim.faults import FaultScenario, FaultSpec
from tests.api.browser import CHROMIUM, login, new_page
from tests.api.conftest import ROLES, client

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not os.path.exists(CHROMIUM), reason=f"Debian's chromium is not installed at {CHROMIUM}"),
]

START = datetime(2025, 7, 16, 10, 0, tzinfo=ZoneInfo("Asia/Shanghai"))
PAGES = ("/", "/plan", "/green", "/events", "/control")
_CJK = re.compile(r"[\u3400-\u9fff]")
_ENGLISH_WORDS = re.compile(r"\b[A-Za-z]{3,}\s+[a-z]{3,}\b")
TEXTS_JS = """() => {
  const out = [];
  const walk = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  while (walk.nextNode()) {
    const n = walk.currentNode, el = n.parentElement, text = n.textContent.trim();
    if (!text || !el || el.closest('script,style,cite,[data-other-lang],[translate=no]')) continue;  // switch, quoted sources, ids
    const st = getComputedStyle(el);
    if (st.display === 'none' || st.visibility === 'hidden' || el.closest('.hidden')) continue;
    out.push(text);
  }
  for (const el of document.querySelectorAll('input[placeholder]')) out.push(el.placeholder);
  return out;
}"""


@pytest.fixture(scope="module")
def fault_env(tmp_path_factory, small_site):
    from tests.api.sim_stack import SimStack

    faults = FaultScenario(faults=[FaultSpec(type="device_offline", target="dev_bat_factory", at_s=20,
                                             mode="refuse")])
    stack = SimStack(small_site, START, tmp_path_factory.mktemp("fault_stack"), pace_speed=30.0,
                     faults=faults).start()
    store = stack.store
    tokens = {role: store.create_user(f"{role}_user", role)[1] for role in ROLES}
    now = stack.call(lambda: stack.runtime.clock.now())
    store.raise_alarm("pcs_trip", "PCS trip: DC over-voltage (fault word 0x0004)", severity="critical",
                      source_id="dev_bat_factory", ts=now)
    store.raise_alarm("vendor_code_77", "vendor fault 77", severity="warning", source_id="dev_pv_roof", ts=now)
    api = client(stack.url, tokens["viewer"])
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:  # bounded: the refused port becomes an alarm within a few cycles
        codes = {a["code"] for a in api.get("/api/v1/alarms?active=true").json()["items"]}
        if "device_offline" in codes:
            break
        time.sleep(0.5)
    yield {"stack": stack, "url": stack.url, "tokens": tokens, "api": api, "store": store}
    api.close()
    stack.stop()


def _foreign(texts: list[str], lang: str) -> list[str]:
    """Texts of the other language: catalogue sentences of it, CJK in English, English phrases in Chinese."""
    other = catalogue("zh-CN" if lang == "en" else "en")
    mine = catalogue(lang)
    sentences = {v for k, v in other.items() if v != mine.get(k) and len(v) >= 4}
    found = []
    for text in texts:
        if text in sentences or lang == "en" and _CJK.search(text) or lang == "zh-CN" and _ENGLISH_WORDS.search(re.sub(r"\b\w*_\w*\b", "", text)):
            found.append(text)
    return found


def _set_lang(page, url: str, lang: str) -> None:
    page.evaluate(f"localStorage.setItem('mg.lang', '{'zh' if lang == 'zh-CN' else 'en'}')")
    page.goto(url + "/")


@pytest.mark.parametrize("lang", ["en", "zh-CN"])
def test_alarms_in_header_overview_and_list_and_no_other_language(browser, fault_env, lang):
    url = fault_env["url"]
    active = fault_env["api"].get("/api/v1/alarms?active=true").json()["items"]
    codes = {a["code"] for a in active}
    assert {"device_offline", "pcs_trip", "vendor_code_77"} <= codes
    with new_page(browser) as page:
        login(page, url, fault_env["tokens"]["operator"])
        _set_lang(page, url, lang)
        strip = page.locator("#alarm-strip")
        expect(strip).to_be_visible()
        header = catalogue(lang)["alarms.header"].split("{n}")[-1].strip()
        expect(strip).to_contain_text(header)
        pcs = catalogue(lang)["alarm.pcs_trip"].replace("{device}", "dev_bat_factory")
        expect(page.locator("#alarm-list")).to_contain_text(pcs)
        unknown = catalogue(lang)["alarm._unknown"].format(code="vendor_code_77", device="dev_pv_roof")
        expect(page.locator("#alarm-list")).to_contain_text(unknown)
        expect(page.locator("#mode-badge")).to_contain_text(catalogue(lang)["mode.degraded"])
        # the alarm list sits above the tiles: the first thing on the overview
        assert page.locator("#alarms-top").bounding_box()["y"] < page.locator("#tiles").bounding_box()["y"]

        for path in PAGES:
            page.goto(url + path)
            expect(page.locator("#alarm-strip")).to_be_visible()
            page.wait_for_timeout(800)  # let the page's first data arrive and render
            foreign = _foreign(page.evaluate(TEXTS_JS), lang)
            assert foreign == [], f"{path} in {lang} shows {foreign[:8]}"

        page.goto(url + "/events")
        row = page.locator("#alarm-table tbody tr", has_text=pcs)
        expect(row).to_have_count(1)
        expect(row).to_contain_text(catalogue(lang)["severity.critical"])
        row.locator("button[data-ack]").click()
        expect(page.locator("#alarm-table tbody tr", has_text=pcs).locator("button[data-ack]")).to_have_count(0)
        expect(page.locator("#alarm-table tbody tr", has_text=pcs)).to_contain_text("operator_user")
    acked = [a for a in fault_env["api"].get("/api/v1/alarms?active=true").json()["items"] if a["code"] == "pcs_trip"]
    assert acked[0]["acked_by"] == "operator_user"
    # the trip resets and happens again: a new, unacknowledged alarm for the next language
    fault_env["store"].clear_alarm("pcs_trip", "dev_bat_factory")
    fault_env["store"].raise_alarm("pcs_trip", "PCS trip again", severity="critical", source_id="dev_bat_factory")


def test_api_decodes_alarms_and_errors_in_the_asked_language(fault_env):
    api = fault_env["api"]
    zh = api.get("/api/v1/alarms?active=true", headers={"Accept-Language": "zh-CN,zh;q=0.9,en;q=0.5"}).json()
    pcs = next(a for a in zh["items"] if a["code"] == "pcs_trip")
    assert pcs["text"] == "储能变流器（PCS）dev_bat_factory 跳闸" == pcs["text_zh"]
    assert pcs["text_en"] == "Storage converter (PCS) dev_bat_factory tripped"
    en = api.get("/api/v1/alarms?active=true", headers={"Accept-Language": "en-GB"}).json()
    assert next(a for a in en["items"] if a["code"] == "pcs_trip")["text"] == pcs["text_en"]
    refused = api.post("/api/v1/alarms/1/acknowledge", json={}, headers={"Accept-Language": "zh-CN"})
    assert refused.status_code == 403
    assert refused.json()["detail"] == "角色“viewer”无权执行此操作：需要“operator”或更高权限"
    assert refused.json()["code"] == "role"
    english = api.post("/api/v1/alarms/1/acknowledge", json={})
    assert english.json()["detail"] == "role 'viewer' may not do this: needs 'operator' or higher"
