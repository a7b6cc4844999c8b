"""The rest of the command line in Chinese: forecast-file, schedule-column, sweep override-path, register-map and
driver refusals, and the console lines of ``sim``, ``devices``, ``study`` and ``sweep``. Each is a real invocation
in ``--lang zh-CN``; the English texts stay word for word as they were (checked on the same input)."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from microgrid.cli import main
from tests.i18n.test_cli_messages_lang import _CJK, _run
from tests.paths import SMALL_SITE

SITE = str(SMALL_SITE)
ZH = ["--lang", "zh-CN"]


def _both(monkeypatch, capsys, argv, code=2):
    """(Chinese stderr lines, English stderr) of one refused invocation; both exit with ``code``."""
    got, _, zh = _run(monkeypatch, capsys, [*ZH, *argv])
    assert got == code and "Traceback" not in zh, zh
    got, _, en = _run(monkeypatch, capsys, argv)
    assert got == code and not _CJK.search(en), en
    return zh.splitlines(), en


def test_forecast_file_problems_in_chinese(work, monkeypatch, capsys):
    (work / "f.csv").write_text("timestamp,load_factory_kw\n2025-07-15T00:00:00+08:00,1\n", encoding="utf-8")
    zh, en = _both(monkeypatch, capsys, ["optimize", SITE, "--day", "2025-07-15", "--out", "o", "--no-network",
                                         "--forecast", "f.csv"])
    assert zh == ["错误：f.csv：覆盖 2025-07-15T00:00:00+08:00 至 2025-07-15T00:15:00+08:00，但计划需要 "
                  "2025-07-15T00:00:00+08:00 至 2025-07-16T00:00:00+08:00"]
    assert en == ("error: f.csv: covers 2025-07-15T00:00:00+08:00 to 2025-07-15T00:15:00+08:00, but the plan needs "
                  "2025-07-15T00:00:00+08:00 to 2025-07-16T00:00:00+08:00\n")
    # a library's refusal put in context by the study (--weather: ...): both parts in the reader's language
    zh, en = _both(monkeypatch, capsys, ["study", SITE, "--year", "2026", "--weather", "no-such.csv", "--quiet"])
    assert zh == ["错误：--weather：找不到预测文件：no-such.csv"]
    assert en == "error: --weather: forecast file not found: no-such.csv\n"
    (work / "loads.csv").write_text("timestamp,load_factory_kw\n2026-01-01T00:00:00+08:00,1\n"
                                    "2026-01-01T00:00:00+08:00,2\n", encoding="utf-8")
    zh, en = _both(monkeypatch, capsys, ["study", SITE, "--year", "2026", "--loads", "loads.csv", "--quiet"])
    assert zh == ["错误：--loads：loads.csv：时间戳 2026-01-01T00:00:00+08:00 出现了不止一次"]
    assert en == "error: --loads: loads.csv: timestamp 2026-01-01T00:00:00+08:00 appears more than once\n"


def test_schedule_column_checks_in_chinese(work, monkeypatch, capsys):
    (work / "s.csv").write_text("timestamp,pv_roof_kw\n2025-07-15T00:00:00+08:00,0\n2025-07-15T00:15:00+08:00,0\n",
                                encoding="utf-8")
    zh, en = _both(monkeypatch, capsys, ["check", SITE, "--schedule", "s.csv", "--out", "n.csv"])
    assert zh[0].startswith("错误：计划表缺少电网计算所需的 ") and len(zh) > 1, zh
    assert all(line.startswith("  缺少列 '") and "（kW，见 docs/network.md）" in line for line in zh[1:]), zh
    assert en.startswith("error: schedule lacks ") and "  column 'bat_factory_kw' is missing (kW, see docs/network.md)" in en
    (work / "s.csv").write_text("timestamp,pv_roof_kw\n2025-07-15T00:15:00+08:00,0\n2025-07-15T00:00:00+08:00,0\n",
                                encoding="utf-8")
    zh, en = _both(monkeypatch, capsys, ["check", SITE, "--schedule", "s.csv", "--out", "n.csv"])
    assert zh == ["错误：计划表的时间戳必须递增", "  index：请按时间排序各行，不得重复"]
    assert en == "error: schedule timestamps must increase\n  index: sort the rows by time, no duplicates\n"
    # a usable schedule: the check's own summary
    from microgrid.planning import build_dispatch_inputs, horizon_for_day
    from microgrid.site import load_site
    from optimizer.baseline import baseline_schedule

    site = load_site(SMALL_SITE)
    baseline_schedule(build_dispatch_inputs(site, horizon_for_day(site, date(2025, 7, 15)))).frame.to_csv(work / "s.csv")
    code, out, _ = _run(monkeypatch, capsys, [*ZH, "check", SITE, "--schedule", "s.csv", "--out", "n.csv"])
    lines = out.splitlines()
    assert code == 0 and lines[0].startswith("small_factory 的交流潮流校核：自 2025-07-15T00:00:00+08:00 起 96 个时段，96 个收敛")
    assert lines[1].startswith("线路最大负载率 ") and lines[2:] == ["没有越限", "已写入 n.csv"]


@pytest.mark.parametrize(("change", "chinese", "english"), [
    # a path that leads nowhere in the site: found when the scenario is applied to it
    ('set: {"assets.pv[zz].kwp": 1}', "sc.yaml：场景 'x'（站点 'small_factory'）：assets.pv[zz].kwp：没有 id 为 'zz' 的项（已有 id：pv_roof）",
     "sc.yaml: scenario 'x' on site 'small_factory': assets.pv[zz].kwp: no item with id 'zz' (ids: pv_roof)"),
    # a value no field could take: refused while the file is read
    ('scale: {"assets.pv[*].kwp": -1}', "sc.yaml: scenarios[0] (x)：assets.pv[*].kwp：缩放系数 -1.0 不是 >= 0 的有限数值",
     "sc.yaml: scenarios[0] (x): assets.pv[*].kwp: scale factor -1.0 is not a finite number >= 0"),
])
def test_sweep_override_paths_in_chinese(work, monkeypatch, capsys, change, chinese, english):
    (work / "sc.yaml").write_text(f"scenarios:\n  - name: x\n    {change}\n", encoding="utf-8")
    zh, en = _both(monkeypatch, capsys, ["sweep", SITE, "--scenarios", "sc.yaml", "--year", "2026",
                                         "--scheduler", "in-process"])
    assert zh == [f"错误：{chinese}"]
    assert en == f"error: {english}\n"


def test_driver_and_register_map_refusals_in_chinese(work, monkeypatch, capsys):
    zh, en = _both(monkeypatch, capsys, ["devices", SITE, "--device", "nope"])
    assert zh == ["错误：未知的设备 'nope'", "  设备：dev_bat_factory, dev_meter_pcc, dev_pv_roof"]
    assert en == "error: unknown device 'nope'\n  devices: dev_bat_factory, dev_meter_pcc, dev_pv_roof\n"
    # a site file names only maps and options that exist (its checks say so first); the map layer's own
    # refusals reach operators through custom map files and the map documentation
    from drivers.registermap import RegisterMapError, load_map, load_map_file

    with pytest.raises(RegisterMapError) as err:
        load_map("no_such_map")
    assert err.value.message == "unknown register map 'no_such_map'"
    assert err.value.text("zh-CN") == "未知的寄存器表 'no_such_map'"
    assert err.value.problems_in("zh-CN")[0].startswith("可用的寄存器表：acrel_adl400, ")
    (work / "m.yaml").write_text("- not a mapping\n", encoding="utf-8")
    with pytest.raises(RegisterMapError) as err:
        load_map_file(work / "m.yaml")
    assert (err.value.message, err.value.text("zh-CN")) == (f"register map {work / 'm.yaml'}: not a mapping",
                                                            f"寄存器表 {work / 'm.yaml'}：不是映射")


def test_sim_console_in_chinese(capsys):
    code = main([*ZH, "sim", SITE, "--speed", "600", "--duration", "60", "--auto-ports", "--start", "2025-07-16T12:00"])
    lines = capsys.readouterr().out.splitlines()
    assert code == 0
    assert lines[0].startswith("正在仿真 small_factory：600 倍速，自 2025-07-16 12:00:00 ")
    assert lines[1].split() == ["设备", "类型", "主机:端口", "单元号", "寄存器表"]
    assert len(lines[1]) < len(lines[2])  # the header is aligned by terminal columns (a Chinese character is two)
    assert "按 Ctrl-C 停止" in lines and lines[-1].startswith("已停止于 2025-07-16 12:01")


def test_devices_console_in_chinese(tmp_path, capsys):
    from tests.drivers.test_cli_devices import served_site

    with served_site(tmp_path) as (site_dir, _park):
        code = main([*ZH, "devices", str(site_dir), "--device", "dev_meter_pcc"])
    lines = capsys.readouterr().out.splitlines()
    assert code == 0
    assert lines[0] == "站点 small_factory：1 台设备"
    assert lines[2].startswith("dev_meter_pcc  [在线]  acrel_dtsd1352 单元 1 @ ") and "服务于 meter_pcc（main），" in lines[2]
    assert lines[3].split() == ["测点", "数值", "单位", "时长", "状态", "寄存器"]
    assert " 正常 " in lines[4] and " ok " not in lines[4], lines[4]  # the first point's status
    assert lines[-1] == "所有设备均已应答"


@pytest.mark.slow
def test_study_and_sweep_consoles_in_chinese(work, monkeypatch, capsys):
    """One month at 60 min: the study's summary and the sweep's progress, summary and reuse lines."""
    import microgrid.study

    real = microgrid.study.run_study
    monkeypatch.setattr(microgrid.study, "run_study", lambda *a, **kw: real(*a, **kw, months=(7, 7)))
    code, out, err = _run(monkeypatch, capsys, [*ZH, "study", SITE, "--year", "2026", "--resolution", "60",
                                                "--out", "st"])
    lines = out.splitlines()
    assert code == 0, err
    assert lines[0].startswith("small_factory 2026 年：绿电占比 ") and "，光伏弃电 " in lines[0]
    assert lines[1].endswith("秒内规划了 31 天") and lines[2].startswith("已写入 ")
    assert "已规划 31/31 天（截至 2026-07-31）" in err  # progress on a non-terminal stderr
    (work / "sc.yaml").write_text("scenarios:\n  - name: pv2\n    scale: {\"assets.pv[*].kwp\": 2}\n", encoding="utf-8")
    argv = [*ZH, "sweep", SITE, "--scenarios", "sc.yaml", "--year", "2026", "--resolution", "60", "--months", "7",
            "--scheduler", "in-process", "--out", "sw"]
    code, out, err = _run(monkeypatch, capsys, argv)
    assert code == 0, err
    assert "上运行 1 个算例" in err and "[1/1] small_factory/pv2：成功（绿电 " in err, err
    assert out.splitlines()[0].startswith("1 个算例：1 个成功，0 个有错误或回退日；") and "已写入 " in out
    code, out, err = _run(monkeypatch, capsys, argv)  # rerun: nothing computed, the stored row reused
    assert code == 0 and "复用了 " in err and "中已保存的 1 行" in err, err


def test_check_violation_table_in_chinese(work, monkeypatch, capsys):
    """A loading limit of 1 % is violated by every loaded line: the table's headers and wording in Chinese, element
    ids and numbers as they are; the English table is the same table word for word."""
    from microgrid.planning import build_dispatch_inputs, horizon_for_day
    from microgrid.site import load_site
    from optimizer.baseline import baseline_schedule

    site = load_site(SMALL_SITE)
    baseline_schedule(build_dispatch_inputs(site, horizon_for_day(site, date(2025, 7, 15)))).frame.to_csv(work / "s.csv")
    argv = ["check", SITE, "--schedule", "s.csv", "--out", "n.csv", "--max-loading", "1", "--max-rows", "3"]
    code, zh, _ = _run(monkeypatch, capsys, [*ZH, *argv])
    code_en, en, _ = _run(monkeypatch, capsys, argv)
    assert code == code_en == 1
    zh, en = zh.splitlines(), en.splitlines()
    at = next(i for i, line in enumerate(en) if line.startswith("time "))
    assert en[at].split() == ["time", "element", "quantity", "value", "limit"]
    assert zh[at].split() == ["时间", "元件", "量", "数值", "限值"]
    assert len(zh[at]) < len(zh[at + 1])  # aligned by terminal columns: a Chinese character is two
    rows_en, rows_zh = en[at + 2:at + 5], zh[at + 2:at + 5]
    for row_en, row_zh in zip(rows_en, rows_zh, strict=True):
        day, hhmm, kind, element, quantity, value, limit = row_en.split()
        assert kind in ("line", "trafo") and quantity == "loading_pct" and float(value) > float(limit) == 1
        chinese = {"line": "线路", "trafo": "变压器"}[kind]
        assert row_zh.split() == [day, hhmm, chinese, element, "负载率", "%", value, limit], row_zh
    more = int(en[at + 5].split()[1])
    assert en[at + 5] == f"... {more} more rows (see network.csv)" and zh[at + 5] == f"……另有 {more} 行（见 network.csv）"


def test_devices_write_and_check_in_chinese(tmp_path, capsys):
    """``devices --write`` (result, read-back, keep-alive note, refusals) and ``--check`` findings against the
    simulator on loopback: Chinese words, ids, values and units as they are; English word for word as before."""
    from tests.drivers.test_cli_devices import served_site

    def both(argv, code):
        assert main([*ZH, *argv]) == code
        zh = capsys.readouterr().out.splitlines()
        assert main(argv) == code
        return zh, capsys.readouterr().out.splitlines()

    with served_site(tmp_path) as (site_dir, _park):
        site = str(site_dir)
        zh = both(["devices", site, "--write", "dev_pv_roof.m704_w_max_lim_pct=50"], 0)[0]
        assert "dev_pv_roof.m704_w_max_lim_pct：成功 100.0 -> 50.0，读回 50.0" in zh
        assert "dev_pv_roof.m704_w_max_lim_pct_ena：成功 0 -> 1，读回 1" in zh, zh  # enable after the value
        assert "dev_pv_roof.m704_w_max_lim_pct 现在读数为 50.0 %" in zh
        assert any(line.startswith("注意：设备要求定期重写这些测点（") for line in zh), zh
        zh, en = both(["devices", site, "--write", "dev_pv_roof.m704_w_max_lim_pct=-5"], 2)
        assert zh == ["dev_pv_roof.m704_w_max_lim_pct：被拒绝：无法表示：测点 m704_w_max_lim_pct 为无符号"
                      "（u16，0 .. 6553.5 %）；负值绝不回绕"], zh
        assert en == ["dev_pv_roof.m704_w_max_lim_pct: refused: cannot be represented: point m704_w_max_lim_pct is "
                      "unsigned (u16, 0 .. 6553.5 %); a negative value is never wrapped"], en
        zh, en = both(["devices", site, "--write", "dev_meter_pcc.p_kw=1"], 2)
        assert (zh, en) == (["dev_meter_pcc.p_kw：被拒绝：测点 p_kw 为只读"], ["dev_meter_pcc.p_kw: refused: point p_kw is read-only"])

        text = (site_dir / "site.yaml").read_text(encoding="utf-8").replace("ct_ratio: 20}", "ct_ratio: 40}")
        (site_dir / "site.yaml").write_text(text, encoding="utf-8")
        zh, en = both(["devices", site, "--check", "--device", "dev_meter_pcc"], 2)
    assert zh == ["站点 small_factory：已检查 1 台设备",
                  "dev_meter_pcc：变比：设备上的 CT 变比为 20，但站点文件为 40：请修改电表设置或 meters[].ct_ratio"], zh
    assert en == ["site small_factory: checked 1 device(s)",
                  "dev_meter_pcc: ratio: CT ratio on the device is 20 but the site file says 40: fix the meter setting "
                  "or meters[].ct_ratio"], en


def test_sim_status_and_utility_lines_in_chinese(work, capsys):
    """``--status-every`` lines and the utility mode's lines; the controller's address is a closed loopback port,
    so the target is "not sent" with the library's reason after it."""
    import socket

    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    (work / "u.yaml").write_text('- {at: "2025-07-16T12:00:20", target_kw: 300}\n', encoding="utf-8")
    code = main([*ZH, "sim", SITE, "--speed", "300", "--duration", "60", "--auto-ports", "--start", "2025-07-16T12:00",
                 "--status-every", "0.05", "--utility", f"127.0.0.1:{port}", "--utility-schedule", "u.yaml"])
    lines = capsys.readouterr().out.splitlines()
    assert code == 0
    assert f"电网公司模式：需求响应目标发往 127.0.0.1:{port} 单元 1（计划 1 个，每天随机 0 个）" in lines, lines
    sent = [line for line in lines if line.startswith("电网公司：")]
    assert len(sent) == 1 and sent[0].startswith("电网公司：2025-07-16 12:") and " 需求响应目标 300 kW 未发送：" in sent[0]
    status = [line for line in lines if " 并网点 " in line]
    assert status, lines
    assert all(line.startswith("12:0") and " kW  光伏 " in line and "bat_factory=" in line for line in status), status


def test_sweep_interrupted_line_and_case_errors_in_chinese(work, monkeypatch, capsys):
    import microgrid.sweep.runner
    from microgrid.sweep.task import case_error

    def interrupted(*_a, **_kw):
        raise KeyboardInterrupt

    monkeypatch.setattr(microgrid.sweep.runner, "run_sweep", interrupted)
    (work / "sc.yaml").write_text("scenarios:\n  - name: x\n    scale: {\"assets.pv[*].kwp\": 2}\n", encoding="utf-8")
    code, _, err = _run(monkeypatch, capsys, [*ZH, "sweep", SITE, "--scenarios", "sc.yaml", "--year", "2026",
                                              "--scheduler", "in-process", "--out", "sw"])
    assert code == 130
    assert err.splitlines()[-1] == f"已中断：已完成的场景在 {Path('sw') / 'rows'} 中；再次运行同一命令即可只计算其余部分"
    # a case's error text: the stored English fallback note in the reader's language, an exception's text as raised
    row = {"status": "fallback", "error": "no optimised plan on 2 day(s) (2026-07-01, 2026-07-02); their rule-based "
                                          "fallback is in the figures"}
    assert case_error(row, "en") == row["error"]
    assert case_error(row, "zh-CN") == "2 天没有优化计划（2026-07-01, 2026-07-02）；数据中为这些天基于规则的回退方案"
    failed = {"status": "error", "error": "RuntimeError: solver crashed"}
    assert case_error(failed, "zh-CN") == case_error(failed) == "RuntimeError: solver crashed"


def test_read_only_map_finding_in_both_languages():
    """The ``control`` finding of ``devices --check`` (a map option without remote control): the same words as the
    adapter's refusal in English, Chinese around the map's label."""
    from drivers.check import Finding
    from drivers.readonly import control_gap, control_gap_wording
    from drivers.registermap import load_map

    regmap = load_map("sinexcel_pcs", {"remote_control": "disabled"})
    key, params = control_gap_wording(regmap)
    finding = Finding.of("dev_pcs", "control", key, **params)
    assert finding.message == control_gap(regmap)
    assert finding.line("en") == ("dev_pcs: control: map sinexcel_pcs (remote_control=disabled) takes no power "
                                  "setpoint (read-only): setpoints are refused")
    assert finding.line("zh-CN") == ("dev_pcs：控制：寄存器表 sinexcel_pcs (remote_control=disabled) 不接受功率设定值"
                                     "（只读）：设定值均被拒绝")
