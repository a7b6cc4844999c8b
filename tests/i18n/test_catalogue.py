"""The message catalogue: both languages have every key with the same placeholders, every key the dashboard
asks for exists, alarm codes decode (with a fallback for unknown ones), Accept-Language picks the language."""

from __future__ import annotations

import re

import pytest

from microgrid.i18n import LANGS, alarm_text, catalogue, lang_from_accept, placeholders, t
from tests.paths import ROOT

API = ROOT / "api"
_CJK = re.compile(r"[\u3400-\u9fff]")


def test_both_languages_have_the_same_keys_and_placeholders():
    en, zh = catalogue("en"), catalogue("zh-CN")
    assert sorted(set(en) ^ set(zh)) == []
    wrong = [k for k in en if placeholders(en[k]) != placeholders(zh[k])]
    assert wrong == []
    assert all(v.strip() for lang in LANGS for v in catalogue(lang).values())


def test_chinese_texts_are_chinese_and_english_texts_are_not():
    en, zh = catalogue("en"), catalogue("zh-CN")
    assert [k for k, v in en.items() if _CJK.search(v)] == []
    # a Chinese text without any Chinese character is an untranslated leftover (units and symbols excepted;
    # placeholders are filled by the caller, so "{where}：{detail}" is language-neutral)
    leftovers = [k for k, v in zh.items() if not _CJK.search(v) and re.search(r"[A-Za-z]{4,}", re.sub(r"\{\w+\}", "", v))]
    assert leftovers == []


def _keys_used_by_dashboard() -> set[str]:
    used = set()
    for path in (API / "templates").glob("*.html"):
        used |= set(re.findall(r'data-i18n="([^"]+)"', path.read_text(encoding="utf-8")))
    for path in [*(API / "static").glob("*.js"), *(API / "static" / "pages").glob("*.js")]:
        used |= set(re.findall(r'MG\.t\("([a-z_.]+)"', path.read_text(encoding="utf-8")))
    return used


def test_every_key_the_dashboard_uses_exists():
    used = _keys_used_by_dashboard()
    assert len(used) > 80
    assert sorted(k for k in used if not k.endswith(".") and k not in catalogue("en")) == []


@pytest.mark.parametrize("code", ["pcs_trip", "bms_alarm", "device_fault", "pcc_implausible", "inverter_fault",
                                  "hp_fault", "comm_loss", "device_offline", "store_unavailable", "limit"])
def test_fault_codes_raised_by_the_controller_decode_in_both_languages(code):
    en, zh = alarm_text(code, {"device": "dev_ess_pcs"}, "en"), alarm_text(code, {"device": "dev_ess_pcs"}, "zh-CN")
    assert en != zh and _CJK.search(zh) and not _CJK.search(en)
    assert en != alarm_text("no_such_code", {"device": "dev_ess_pcs"}, "en")  # decoded, not the fallback


def test_unknown_codes_fall_back_to_a_readable_text_naming_code_and_device():
    assert alarm_text("vendor_77", {"device": "dev_pv_roof"}, "en") == "Device alarm vendor_77 on dev_pv_roof"
    assert alarm_text("vendor_77", {"device": "dev_pv_roof"}, "zh-CN") == "设备告警 vendor_77（dev_pv_roof）"


@pytest.mark.parametrize(("header", "lang"), [
    (None, "en"), ("", "en"), ("zh-CN", "zh-CN"), ("zh", "zh-CN"), ("zh-Hans-CN,zh;q=0.9", "zh-CN"),
    ("en-GB,en;q=0.9,zh-CN;q=0.8", "en"), ("fr-FR,zh-CN;q=0.5", "zh-CN"), ("de", "en"), ("zh;q=0.2,en;q=0.9", "en"),
    ("en;q=abc,zh", "zh-CN"),
])
def test_accept_language(header, lang):
    assert lang_from_accept(header) == lang


def test_t_fills_placeholders_and_keeps_missing_ones():
    assert t("alarms.header", "zh-CN", n=3) == "3 条活动告警"
    assert t("alarm._unknown", "en", code="x") == "Device alarm x on {device}"
    assert t("no.such.key", "zh-CN") == "no.such.key"


def test_every_command_has_its_help_line_in_both_languages():
    from microgrid.cli import COMMANDS

    en = catalogue("en")
    assert [name for name in COMMANDS if f"cli.cmd.{name}" not in en] == []
    assert all(en[f"cli.cmd.{name}"] == text for name, text in COMMANDS.items())  # one English text
