"""``microgrid sim`` command and the clocks."""

from __future__ import annotations

import asyncio
import threading
from datetime import datetime, timedelta

import pytest

from microgrid.cli import main
from microgrid.clock import Clock, RealClock, ScaledClock, SteppedClock
from tests.paths import SMALL_SITE
from tests.sim.simtools import TZ


def test_sim_prints_endpoints_and_stops_after_duration(capsys):
    code = main(
        [
            "sim",
            str(SMALL_SITE),
            "--speed",
            "600",
            "--duration",
            "120",
            "--auto-ports",
            "--start",
            "2025-07-16T12:00",
        ]
    )
    out = capsys.readouterr().out
    assert code == 0
    lines = out.splitlines()
    header = next(line for line in lines if line.startswith("device"))
    assert header.split() == ["device", "kind", "host:port", "unit", "map"]
    assert any(
        line.split()[:2] == ["dev_pv_roof", "pv_inverter"] and line.split()[-1] == "sunspec_inverter"
        for line in lines
    )
    assert any(line.startswith("dev_meter_pcc ") and "acrel_dtsd1352" in line for line in lines)
    assert "simulating small_factory at 600x from 2025-07-16 12:00:00" in out
    assert "stopped at 2025-07-16 12:02" in out


def test_sim_bad_arguments_are_user_errors(capsys, tmp_path):
    with pytest.raises(SystemExit) as exc:
        main(["sim", str(SMALL_SITE), "--speed", "0"])
    assert exc.value.code == 2
    assert "error: argument --speed: '0' is not a speed factor greater than 0" in capsys.readouterr().err
    assert main(["sim", str(SMALL_SITE), "--faults", str(tmp_path / "missing.yaml")]) == 2
    assert "error: cannot read fault scenario" in capsys.readouterr().err
    assert main(["sim", str(SMALL_SITE), "--start", "noon"]) == 2
    assert "is not an ISO 8601 time" in capsys.readouterr().err
    assert main(["sim", str(tmp_path)]) == 2
    assert "site file not found" in capsys.readouterr().err


def test_sim_reports_a_busy_port(capsys):
    import socket

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen()
    try:
        busy = sock.getsockname()[1]
        from microgrid.site import load_site

        site = load_site(SMALL_SITE)
        devices = [d.model_copy(update={"port": busy}) if d.id == "dev_pv_roof" else d for d in site.devices]
        site = site.model_copy(update={"devices": devices})
        from sim.park import Park, SimError

        async def scenario():
            park = Park.from_site(site, SteppedClock())
            with pytest.raises(SimError, match=f"cannot listen on 127.0.0.1:{busy}"):
                await park.start()
            assert all(not e.running for e in park.endpoints.values())

        asyncio.run(scenario())
    finally:
        sock.close()


def test_clocks_share_one_protocol(monkeypatch):
    start = datetime(2025, 1, 1, 8, 0, tzinfo=TZ)
    for clock in (RealClock(), ScaledClock(60, start), SteppedClock(start)):
        assert isinstance(clock, Clock)
        assert clock.now().tzinfo is not None
    wall = [1000.0]
    monkeypatch.setattr("microgrid.clock.time.monotonic", lambda: wall[0])
    scaled = ScaledClock(600, start)
    wall[0] += 2.0
    assert scaled.monotonic() == pytest.approx(1200.0)
    assert scaled.now() == start + timedelta(seconds=1200)
    slept = []

    async def fake_sleep(seconds):
        # asyncio.sleep is patched process-wide: event loops other tests left in other threads call it too
        if threading.current_thread() is threading.main_thread():
            slept.append(seconds)
        else:
            await real_sleep(seconds)

    real_sleep = asyncio.sleep

    monkeypatch.setattr("microgrid.clock.asyncio.sleep", fake_sleep)
    asyncio.run(scaled.sleep(60.0))
    assert slept == [pytest.approx(0.1)]
    with pytest.raises(ValueError):
        ScaledClock(0)
    naive = ScaledClock(1, datetime(2025, 1, 1, 8, 0))
    assert naive.now().tzinfo is not None
    stepped = SteppedClock(start)
    stepped.advance(90)
    assert stepped.now() == start + timedelta(seconds=90) and stepped.monotonic() == 90
    with pytest.raises(ValueError):
        stepped.advance(-1)
