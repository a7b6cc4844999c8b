"""The command line in Chinese: ``--lang zh-CN`` or ``MICROGRID_LANG=zh-CN`` switches help, error lines and the
outputs of validate/optimize/report; English stays the default; the choice does not leak into the next call."""

from __future__ import annotations

import re

import pytest

from microgrid.cli import COMMANDS, main
from microgrid.i18n import catalogue
from tests.paths import SMALL_SITE

_CJK = re.compile(r"[\u3400-\u9fff]")


def _run(argv, capsys):
    try:
        code = main(argv)
    except SystemExit as exc:  # --help
        code = exc.code
    out = capsys.readouterr()
    return code, out.out, out.err


def test_help_lists_every_command_in_chinese(capsys, monkeypatch):
    monkeypatch.delenv("MICROGRID_LANG", raising=False)
    code, out, _ = _run(["--lang", "zh-CN", "--help"], capsys)
    assert code == 0 and out.startswith("用法：microgrid")
    zh = catalogue("zh-CN")
    for name in COMMANDS:
        assert zh[f"cli.cmd.{name}"] in out, name
    assert "工业园区绿色微电网优化与控制系统。" in out and "选项" in out
    code, out, _ = _run(["--help"], capsys)
    assert out.startswith("usage: microgrid") and not _CJK.search(out.split("options:")[0])


def test_validate_in_chinese_by_flag_and_by_environment(capsys, monkeypatch):
    monkeypatch.delenv("MICROGRID_LANG", raising=False)
    code, out, _ = _run(["--lang", "zh-CN", "validate", str(SMALL_SITE)], capsys)
    assert code == 0 and out.splitlines()[-1] == "通过：站点文件有效"
    assert "  申报需量        800 kW（购电上限 800 kW）" in out and "服装厂" in out
    labels = [line[2:16] for line in out.splitlines()[1:] if line.startswith("  ") and not line.startswith("    ")]
    assert labels and all(_CJK.search(label) for label in labels), labels
    code, out, _ = _run(["validate", str(SMALL_SITE)], capsys)  # no leak from the call before
    assert out.splitlines()[-1] == "OK: site is valid"
    monkeypatch.setenv("MICROGRID_LANG", "zh_CN.UTF-8")
    code, out, _ = _run(["validate", str(SMALL_SITE)], capsys)
    assert out.splitlines()[-1] == "通过：站点文件有效"
    code, out, _ = _run(["--lang", "en", "validate", str(SMALL_SITE)], capsys)  # the flag wins
    assert out.splitlines()[-1] == "OK: site is valid"


@pytest.mark.parametrize(("argv", "first_words"), [
    (["--lang", "zh-CN", "validate", "no/such/site"], "错误："),
    (["--lang", "zh-CN", "validate"], "错误：缺少必需的参数：PATH（参见 'microgrid validate --help'）"),
])
def test_errors_in_chinese_keep_the_exit_code(capsys, argv, first_words):
    code, _, err = _run(argv, capsys)
    assert code == 2 and err.startswith(first_words) and "Traceback" not in err


def test_optimize_summary_in_chinese(capsys, tmp_path):
    code, out, _ = _run(["--lang", "zh-CN", "optimize", str(SMALL_SITE), "--day", "2025-07-15", "--out",
                         str(tmp_path), "--no-network"], capsys)
    lines = out.splitlines()
    assert code == 0 and lines[0].startswith("small_factory 自 2025-07-15T00:00:00+08:00 起的计划（96 × 15 分钟）")
    assert lines[1].startswith("费用 ") and lines[3].startswith("绿电占比 ") and lines[-1].startswith("已写入 ")
    assert (tmp_path / "schedule.png").exists()


@pytest.mark.slow
def test_run_summary_in_chinese(capsys, tmp_path, monkeypatch):
    """A short simulated run with ``--quiet``: the closing KPI summary reads in Chinese, label by label."""
    monkeypatch.chdir(tmp_path)
    code, out, _ = _run(["--lang", "zh-CN", "run", str(SMALL_SITE), "--sim", "--speed", "max", "--until", "5m",
                         "--quiet", "--auto-ports", "--store", "memory"], capsys)
    assert code == 0
    summary = out[out.index("KPI 汇总"):].splitlines()
    labels = [line[2:14].strip() for line in summary[1:]]
    assert labels[0].startswith("数据来源：")
    for word in ("绿电", "二氧化碳", "电度电费", "需量电费", "储能", "光伏", "计划与实际", "跟踪", "限值"):
        assert any(line.startswith(word) for line in labels), word
    assert "KPI summary" not in out and "green power" not in out
