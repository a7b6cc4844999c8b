"""Serial RTU from a site file: one RS-485 bus (a socat pty pair) shared by two unit ids at 19200 8N1 (some kernels refuse parity on a pty).

The simulator serves the bus on one end of the pair (``ModbusSerialServer``), the fleet talks to the other
end through ``devices[].serial_port`` — the same code path as a USB RS-485 adapter on site.
"""

from __future__ import annotations

import asyncio
import shutil
import subprocess
from pathlib import Path

import pytest

from drivers.capabilities import PVSetpoint
from drivers.fleet import Fleet
from microgrid.clock import SteppedClock
from microgrid.site import load_site
from tests.conftest import debian_tool
from tests.drivers.conftest import NOON, run
from tests.paths import SMALL_SITE

SERIAL_DEVICES = """devices:
  - {id: dev_meter_pcc, serves: meter_pcc, role: meter, map: acrel_dtsd1352, serial_port: BUS, baudrate: 19200, parity: N, unit_id: 1, poll_s: 1, inter_frame_gap_ms: 5}
  - {id: dev_pv_roof, serves: pv_roof, role: pv_inverter, map: sunspec_inverter, serial_port: BUS, baudrate: 19200, parity: N, unit_id: 2, poll_s: 1}
  - {id: dev_bat_factory, serves: bat_factory, role: storage, map: sunspec_battery, host: 127.0.0.1, port: 15122, unit_id: 1, poll_s: 1}
"""


@pytest.fixture
def pty_pair(tmp_path: Path):
    """Two linked pseudo-terminals (driver end, simulator end), torn down after the test."""
    socat = debian_tool("socat")
    a, b = tmp_path / "bus_driver", tmp_path / "bus_sim"
    proc = subprocess.Popen(
        [socat, f"pty,raw,echo=0,link={a}", f"pty,raw,echo=0,link={b}"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        for _ in range(100):  # bounded: socat creates the links within milliseconds
            if a.exists() and b.exists():
                break
            subprocess.run(["sleep", "0.02"], check=True)
        assert a.exists() and b.exists(), "socat did not create the pty pair"
        yield str(a), str(b)
    finally:
        proc.terminate()
        proc.wait(timeout=5)


def _serial_site(tmp_path: Path, bus: str):
    site_dir = tmp_path / "site"
    shutil.copytree(SMALL_SITE, site_dir)
    text = (site_dir / "site.yaml").read_text(encoding="utf-8")
    start = text.index("devices:")
    end = text.index("\n\n", start) + 1
    (site_dir / "site.yaml").write_text(text[:start] + SERIAL_DEVICES.replace("BUS", bus) + text[end:], encoding="utf-8")
    return load_site(site_dir)


@pytest.mark.slow
def test_serial_rtu_bus_from_a_site_file(tmp_path, pty_pair):
    driver_end, sim_end = pty_pair
    site = _serial_site(tmp_path, driver_end)

    async def body():
        from sim.park import Park

        clock = SteppedClock(start=NOON)
        park = Park.from_site(site, clock, bind="auto", load_noise_pct=0.0, serial_ports={driver_end: sim_end})
        await park.start(run=False)
        fleet = Fleet.from_site(park.client_site(), clock=clock, connect_delay_s=0.0)
        try:
            link = fleet.transports[f"serial:{driver_end}"]
            assert link.endpoint.kind == "serial RTU" and link.endpoint.baudrate == 19200
            assert link.settings.inter_frame_gap_s == pytest.approx(0.005)
            await fleet.start()
            clock.advance(1.0)
            await park.advance(1.0)
            readings = await fleet.read_all()
            state = park.state()
            assert readings["meter_pcc"].valid and readings["pv_roof"].valid
            assert readings["meter_pcc"].p_kw == pytest.approx(state.pcc_import_kw, abs=4.0)  # 1 W secondary x PT x CT
            assert readings["pv_roof"].p_kw == pytest.approx(state.pv_kw["pv_roof"], abs=0.5)
            assert set(link.stats.by_unit) == {1, 2}  # one bus, two unit ids
            limit = round(state.pv_kw["pv_roof"] / 2)
            results = await fleet.apply({"pv_roof": PVSetpoint(p_limit_kw=limit)})
            assert all(r.ok for r in results["pv_roof"]), results["pv_roof"]
            clock.advance(1.0)
            await park.advance(1.0)
            assert park.state().pv_kw["pv_roof"] <= limit + 0.5
        finally:
            await fleet.close()
            await park.stop()
            await asyncio.sleep(0)

    run(body())
