"""``microgrid sim --utility …``: the simulator's utility mode from the command line (a HIL rig's way to run it).

The simulator runs as its own process and sends DR targets over real Modbus TCP on 127.0.0.1 to the real
controller's northbound server (in this process, on a free port); the controller's grid caps show what it
accepted. Bad flags and schedule files are one error line, exit 2, before anything starts."""

from __future__ import annotations

import asyncio
import os
import sys
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from microgrid.cli import main
from microgrid.gridside.service import Northbound
from tests.control.aio import async_test
from tests.control.simloop import close_loop, open_loop
from tests.paths import ROOT, SMALL_SITE

TZ = ZoneInfo("Asia/Shanghai")
START = datetime(2026, 7, 15, 9, 0, tzinfo=TZ)


@pytest.mark.slow
@async_test
async def test_sim_sends_scheduled_and_random_dr_targets_to_the_controller(small_site, tmp_path):
    site = small_site.model_copy(update={"gridside": small_site.gridside.model_copy(
        update={"modbus": small_site.gridside.modbus.model_copy(update={"writes_enabled": True})})})
    cap = site.grid.import_cap_kw
    schedule = tmp_path / "utility.yaml"
    schedule.write_text(f'- {{at: "2026-07-15T09:01", target_kw: {0.5 * cap}}}\n'
                        f'- {{at: "2026-07-15T09:02:30", target_kw: {2 * cap}}}\n', encoding="utf-8")
    loop = await open_loop(site, START, tmp_path)
    north = Northbound(loop.runtime, modbus=True, iec104=False, modbus_port=0)
    try:
        await loop.runtime.start()
        await north.start()
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "microgrid", "sim", str(SMALL_SITE), "--auto-ports", "--speed", "300",
            "--duration", "240", "--start", "2026-07-15T09:00", "--utility", f"127.0.0.1:{north.modbus.port}",
            "--utility-schedule", str(schedule), "--utility-random", "2000", "--utility-target-kw", "300:400",
            "--utility-seed", "5", cwd=ROOT, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
            env={**os.environ, "MICROGRID_LANG": "en"})
        talk = asyncio.create_task(proc.communicate())
        rt = loop.runtime
        for _ in range(3000):  # bounded: the simulator stops by itself after --duration (about 1 s of wall time)
            if talk.done():
                break
            # the controller's own (stepped) time moves on, one cycle per turn: each DR target is its own event
            await rt.run(until=rt.clock.now() + timedelta(seconds=rt.options.cycle_s))
            await asyncio.sleep(0.02)
        out, err = await asyncio.wait_for(talk, timeout=60)
        assert proc.returncode == 0, err.decode()[-2000:]
    finally:
        await north.stop()
        await close_loop(loop)
    lines = [x for x in out.decode().splitlines() if x.startswith("utility: ")]
    assert any(x.startswith("utility mode: DR targets to 127.0.0.1:") for x in out.decode().splitlines())

    def sent(line: str) -> tuple[datetime, float, str]:
        stamp, rest = line.removeprefix("utility: ").split(" DR target ")
        kw, outcome = rest.split(" kW ")
        return datetime.fromisoformat(stamp).replace(tzinfo=TZ), float(kw), outcome

    events = [sent(x) for x in lines]
    # the schedule, each when due or at the first step after (the simulator's clock runs on while it starts)
    first = next(e for e in events if e[1] == 0.5 * cap)
    second = next(e for e in events if e[1] == 2 * cap)
    assert first[0] >= datetime(2026, 7, 15, 9, 1, tzinfo=TZ) and first[2] == "accepted", events
    assert second[0] >= datetime(2026, 7, 15, 9, 2, 30, tzinfo=TZ) and second[2] == "refused", events  # > cap
    randoms = [e for e in events if e[1] not in (0.5 * cap, 2 * cap)]
    assert randoms and all(300 <= e[1] <= 400 and e[2] == "accepted" for e in randoms), events
    # what the controller holds is what the simulator sent (a write the client repeated after a slow reply may
    # hold twice: compare the targets, not the count)
    caps = {round(e.cap_kw, 1) for e in loop.runtime.gridcaps.events.values() if e.source == "modbus"}
    assert caps == {e[1] for e in events if e[2] == "accepted"}, (lines, sorted(loop.runtime.gridcaps.events))


@pytest.mark.parametrize(("extra", "schedule", "message"), [
    (["--utility-random", "5"], None, "--utility-random: needs --utility HOST:PORT"),
    (["--utility", "127.0.0.1:70000", "--utility-random", "5"], None, "not HOST:PORT"),
    (["--utility", "127.0.0.1:1502"], None, "nothing to send"),
    (["--utility", "127.0.0.1:1502", "--utility-random", "-1"], None, "events per day between 0 and 86400"),
    (["--utility", "127.0.0.1:1502", "--utility-random", "5", "--utility-target-kw", "600:300"], None,
     "is not LO:HI in kW with 0 <= LO <= HI"),
    (["--utility", "127.0.0.1:1502", "--utility-schedule", "missing.yaml"], None, "cannot read"),
    (["--utility", "127.0.0.1:1502", "--utility-schedule", "u.yaml"], "- {at: soon, target_kw: 5}\n",
     "entry 1, at:"),
    (["--utility", "127.0.0.1:1502", "--utility-schedule", "u.yaml"], "- {at: 2026-07-15T09:00, target_kw: nan}\n",
     "entry 1, target_kw:"),
    (["--utility", "127.0.0.1:1502", "--utility-schedule", "u.yaml"], "at: 2026-07-15T09:00\n", "expected a list"),
])
def test_bad_utility_flags_are_one_line_exit_2(tmp_path, monkeypatch, capsys, extra, schedule, message):
    monkeypatch.chdir(tmp_path)
    if schedule is not None:
        (tmp_path / "u.yaml").write_text(schedule, encoding="utf-8")
    try:
        code = main(["sim", str(SMALL_SITE), "--auto-ports", "--duration", "1", *extra])
    except SystemExit as exc:  # argparse refuses a bad value itself
        code = exc.code
    assert code == 2
    captured = capsys.readouterr()
    err = captured.err.strip().splitlines()
    assert len(err) == 1 and message in err[0], captured.err
    assert "simulating" not in captured.out  # nothing started
