"""The command line's own sentences in Chinese: every option's help, the refusals of bad input (site files, arguments,
run/report/users commands, passwords, server settings), the ``run`` console lines and the ``users`` messages.
Each bad input is refused with exit 2, Chinese text and no traceback; the English texts stay as they were."""

from __future__ import annotations

import argparse
import io
import re
from datetime import datetime
from types import SimpleNamespace
from zoneinfo import ZoneInfo

import pytest

from microgrid.cli import COMMANDS, build_parser, main
from microgrid.i18n import set_lang
from tests.paths import SMALL_SITE

_CJK = re.compile(r"[\u3400-\u9fff]")


def _run(monkeypatch, capsys, argv, stdin_text=""):
    monkeypatch.setattr("sys.stdin", io.StringIO(stdin_text))
    try:
        code = main(argv)
    except SystemExit as exc:  # argparse refusals
        code = exc.code
    out = capsys.readouterr()
    return code, out.out, out.err


def _help_texts(parser: argparse.ArgumentParser, where: str = "microgrid"):
    """(where, text) of every description and option help of ``parser`` and its sub-parsers."""
    if parser.description:
        yield where, parser.description
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from _help_texts(sub, f"{where} {name}")
            for choice in action._choices_actions:
                yield f"{where} {choice.dest}", choice.help
        elif action.help not in (None, argparse.SUPPRESS) and action.dest != "help":
            yield f"{where} {action.option_strings or action.dest}", action.help


def test_every_help_text_of_every_command_is_chinese(monkeypatch):
    monkeypatch.delenv("MICROGRID_LANG", raising=False)
    set_lang("zh-CN")
    try:
        texts = list(_help_texts(build_parser()))
    finally:
        set_lang(None)
    assert len(texts) > 120
    assert {w.split()[1] for w, _ in texts if len(w.split()) > 1} >= set(COMMANDS)
    assert [(w, text) for w, text in texts if not _CJK.search(text)] == []
    english = dict(_help_texts(build_parser()))  # the default stays English
    assert english["microgrid optimize ['--day']"] == "local day to plan, YYYY-MM-DD (default: the next local day)"
    assert not any(_CJK.search(text) for text in english.values())


def test_run_help_in_chinese_from_the_environment(monkeypatch, capsys):
    monkeypatch.setenv("MICROGRID_LANG", "zh-CN")
    code, out, _ = _run(monkeypatch, capsys, ["run", "--help"])
    assert code == 0 and "只打印告警和结束时的汇总" in out and "启动仿真器并控制它" in out
    assert "print only alarms" not in out and "positional arguments" not in out


SITE = str(SMALL_SITE)


@pytest.mark.parametrize(("argv", "chinese", "english"), [
    # site files
    (["validate", "no/such/site"], "错误：找不到站点文件：no/such/site",
     "error: site file not found: no/such/site\n  no/such/site: no such file; pass a site directory or its site.yaml\n"),
    # command-line arguments (argparse types)
    (["optimize", SITE, "--day", "2025-13-01"], "错误：参数 --day：'2025-13-01' 不是日期（请使用 YYYY-MM-DD，如 2025-07-15）",
     "error: argument --day: '2025-13-01' is not a date (use YYYY-MM-DD, e.g. 2025-07-15)"),
    (["report", SITE, "--from", "2025-07-01", "--to", "2025-07-02", "--min-coverage", "200"],
     "错误：参数 --min-coverage：'200' 不是大于 0 且不超过 100 的百分比",
     "error: argument --min-coverage: '200' is not a percentage greater than 0 and at most 100"),
    (["users", "--store", "nope://x", "list"], "错误：参数 --store：存储 URL 'nope://x'：'nope' 不是存储可用的数据库",
     "error: argument --store: store URL 'nope://x': 'nope' is not a database the store can use"),
    # run
    (["run", SITE, "--until", "0s"], "错误：--until：'0s' 必须大于零", "error: --until: '0s' must be longer than zero"),
    (["run", SITE, "--speed", "2"], "错误：--speed 仅在使用 --sim 时有效", "error: --speed only applies with --sim"),
    (["run", SITE, "--sim", "--start", "2025-02-30"], "错误：--start：'2025-02-30' 不是 ISO 8601 时间",
     "error: --start: '2025-02-30' is not an ISO 8601 time (e.g. 2025-07-16 or 2025-07-16T06:00)"),
    # report
    (["report", SITE, "--from", "2010-01-01", "--to", "2025-01-01", "--out", "r.html"], "错误：--from/--to：时段超过 10 年，请拆分",
     "error: --from/--to: the period is longer than 10 years; split it"),
    (["report", SITE, "--from", "2025-07-08", "--to", "2025-07-01", "--out", "r.html"],
     "错误：--to：2025-07-01 早于 --from 2025-07-08", "error: --to: 2025-07-01 is before --from 2025-07-08; give the last"),
    # users
    (["users", "--site", SITE, "role", "nobody", "admin"], "错误：没有名为 'nobody' 的用户", "error: no user named 'nobody'"),
    (["users", "--site", SITE, "add", "li wei"], "错误：用户名 'li wei' 无效",
     "error: user name 'li wei' is not valid: use 1-64 letters, digits, '_', '.', '@' or '-'"),
    (["users", "list"], "错误：", "error: no site store in "),
])
def test_bad_input_is_one_chinese_line_with_exit_2(work, monkeypatch, capsys, argv, chinese, english):
    code, _, err = _run(monkeypatch, capsys, ["--lang", "zh-CN", *argv])
    lines = err.splitlines()
    assert code == 2 and lines[0].startswith(chinese), err
    assert "Traceback" not in err and all(_CJK.search(line) for line in lines), err
    assert len(lines) == 1 or argv[0] == "validate", err  # a site file's refusal lists its problems below
    code, _, err = _run(monkeypatch, capsys, argv)  # English as before, word for word
    assert code == 2 and err.startswith(english) and not _CJK.search(err), err


def test_password_rules_and_server_settings_in_chinese(work, monkeypatch, capsys):
    code, _, err = _run(monkeypatch, capsys, ["--lang", "zh-CN", "users", "--site", SITE, "add", "li.wei",
                                              "--password-stdin"], "short\n")
    assert code == 2 and err == "错误：密码太短：至少使用 10 个字符\n"
    pytest.importorskip("fastapi")
    code, _, err = _run(monkeypatch, capsys, ["--lang", "zh-CN", "run", SITE, "--sim", "--port", "1", "--store",
                                              "sqlite:///x.db"])
    lines = err.splitlines()
    assert code == 2 and lines[0] == "错误：设置不安全，拒绝启动（MICROGRID_DEV=1 只能在开发机器上设置）", err
    assert lines[1].startswith("  未设置 MICROGRID_SECRET：") and all(_CJK.search(line) for line in lines), err
    assert not list(work.glob("x.db*")) and not (work / "out").exists()  # refused before anything was made


def test_users_messages_in_chinese(work, monkeypatch, capsys):
    zh = ["--lang", "zh-CN", "users", "--site", SITE]
    code, out, _ = _run(monkeypatch, capsys, [*zh, "add", "li.wei", "--role", "operator", "--password-stdin"],
                        "Putian-ops-2026\n")
    assert code == 0 and out.splitlines()[:2] == ["已为 'li.wei' 设置看板密码", "用户 'li.wei'（operator）；令牌（只显示这一次，请保密）："]
    assert _run(monkeypatch, capsys, [*zh, "disable", "li.wei"])[1] == "用户 'li.wei' 已停用\n"
    assert _run(monkeypatch, capsys, [*zh, "role", "li.wei", "admin"])[1] == "用户 'li.wei' 的角色现为 admin\n"
    row = _run(monkeypatch, capsys, [*zh, "list"])[1].split()
    assert row[:4] == ["li.wei", "admin", "已停用", "密码"] and "创建于" in row
    row = _run(monkeypatch, capsys, ["users", "--site", SITE, "list"])[1].split()  # English as before
    assert row[:4] == ["li.wei", "admin", "disabled", "password"] and "created" in row


class _Rt:
    """What :class:`Printer` reads of a runtime for a progress line."""

    def __init__(self) -> None:
        now = datetime(2025, 7, 16, 10, 0, tzinfo=ZoneInfo("Asia/Shanghai"))
        self.clock = SimpleNamespace(now=lambda: now)
        self.mode = "degraded"
        self.last = SimpleNamespace(pcc_kw=412.4, plan_id="p1")
        storage = {"bat_factory": SimpleNamespace(p_kw=-50.0, valid=True, soc_pct=61.2)}
        self.readings = SimpleNamespace(pv={"pv_roof": SimpleNamespace(p_kw=230.0, valid=True)}, storage=storage)
        self.site = SimpleNamespace(id="small_factory", grid=SimpleNamespace(export_limit_kw=0.0, import_cap_kw=800.0))
        self.options = SimpleNamespace(cycle_s=2.0, controller=SimpleNamespace(export_margin_kw=20.0), day_ahead_at="14:00",
                                       intraday_every_min=15)


@pytest.mark.parametrize(("lang", "header", "alarm", "mode", "progress"), [
    ("en", "microgrid run small_factory: simulator, as fast as possible, cycle 2 s, start 2025-07-16 10:00 CST",
     "  10:00:05 [alarm] pcs_trip: bat_factory: PCS tripped (fault state); taken out of the plan",
     "  10:00:05 [alarm] mode_change: normal -> degraded: bat_factory out of service",
     "07-16 10:00 degraded PCC      412 kW  PV     230 kW  storage     -50 kW  bat_factory 61%  plan p1"),
    ("zh-CN", "microgrid run small_factory：仿真器，尽可能快，控制周期 2 秒，起始 2025-07-16 10:00 CST",
     "  10:00:05 [告警] 储能变流器（PCS）bat_factory 跳闸", "  10:00:05 [告警] 运行模式 正常 -> 降级运行：bat_factory out of service",
     "07-16 10:00 降级运行     并网点      412 kW  光伏     230 kW  储能     -50 kW  bat_factory 61%  计划 p1"),
])
def test_run_console_lines_in_both_languages(monkeypatch, capsys, lang, header, alarm, mode, progress):
    from microgrid.cli.run import Printer
    from microgrid.control.events import Event, Severity

    ts = datetime(2025, 7, 16, 10, 0, 5)
    set_lang(lang)
    try:
        printer = Printer(_Rt(), SimpleNamespace(quiet=False, progress_min=None, sim=True), None)
        printer.header("memory (nothing kept)", park=object())
        printer.event(Event(ts, "pcs_trip", "bat_factory: PCS tripped (fault state); taken out of the plan",
                            Severity.ALARM, "bat_factory", {"asset": "bat_factory", "cause": "fault state"}))
        printer.event(Event(ts, "mode_change", "normal -> degraded: bat_factory out of service", Severity.ALARM, "mode",
                            {"from": "normal", "to": "degraded", "reason": "bat_factory out of service"}))
        printer.progress(_Rt())
    finally:
        set_lang(None)
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == header and lines[3:5] == [alarm, mode]
    assert (lines[2].startswith("  限值：上网 0 kW（裕度 20），购电上限 800 kW") if lang != "en" else
            lines[2] == "  limits: export 0 kW (margin 20), import cap 800 kW; plans: day-ahead at 14:00, intraday every 15 min")
    assert lines[5].startswith(progress), lines[5]
