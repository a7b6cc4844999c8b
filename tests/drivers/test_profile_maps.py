"""Brands added by data file alone (a map with a ``profile``): the fleet reads and limits each one through the
generic adapter, and the simulator's physics (not a register echo) confirms the effect."""

from __future__ import annotations

import pytest

from drivers.capabilities import PVSetpoint, StorageSetpoint
from drivers.registermap import available_maps, load_map
from drivers.safewrite import WriteStatus
from tests.drivers.conftest import cycle, run, sim_fleet, with_devices

PV_PROFILE_MAPS = ["goodwe_dt", "solis_string", "growatt_tl3", "huawei_smartlogger"]


def test_every_profile_map_is_listed_here():
    profiled = {n for n in available_maps() if load_map(n).profile is not None}
    assert profiled == {*PV_PROFILE_MAPS, "acrel_adl400", "sinexcel_pcs"}


@pytest.mark.slow
def test_profile_pv_inverters_read_and_limit(small_site):
    async def body():
        for name in PV_PROFILE_MAPS:
            unit = load_map(name).default_unit_id
            site = with_devices(small_site, dev_pv_roof={"map": name, "unit_id": unit})
            async with sim_fleet(site) as (park, fleet, clock):
                readings, _ = await cycle(park, fleet, clock)
                pv = readings["pv_roof"]
                true_kw = park.state().pv_kw["pv_roof"]
                assert pv.valid, (name, pv.problems)
                assert true_kw > 20 and pv.p_kw == pytest.approx(true_kw, rel=0.01, abs=0.2), name
                rated = pv.p_rated_kw
                assert rated == pytest.approx(site.asset("pv_roof").inverter_ac_kw), name
                limit = round(true_kw / 2)
                _, results = await cycle(park, fleet, clock, setpoints={"pv_roof": PVSetpoint(p_limit_kw=limit)})
                assert all(r.status is WriteStatus.OK for r in results["pv_roof"]), (name, results["pv_roof"])
                readings, _ = await cycle(park, fleet, clock)
                assert park.state().pv_kw["pv_roof"] <= limit + 0.5, name  # the simulator's true output
                assert readings["pv_roof"].limit_active and readings["pv_roof"].p_limit_kw <= limit, name

    run(body())


def test_adl400_meter_reads_the_true_flow(small_site):
    async def body():
        site = with_devices(small_site, dev_meter_pcc={"map": "acrel_adl400"})
        async with sim_fleet(site) as (park, fleet, clock):
            readings, _ = await cycle(park, fleet, clock)
            meter = readings["meter_pcc"]
            assert meter.valid
            assert meter.p_kw == pytest.approx(park.meter("meter_pcc").p_kw, abs=0.5)
            assert meter.v_v == pytest.approx(park.meter("meter_pcc").u_ll_v / 3**0.5, rel=0.01)

            # raw reads at the addresses of Acrel's ADL400 address table (float32, high word first, primary):
            # 0x0800 U a (V), 0x0818 P c (kW), 0x081A P total (kW) -- not the map's table
            import struct

            from pymodbus.client import AsyncModbusTcpClient

            client = AsyncModbusTcpClient("127.0.0.1", port=fleet.devices["dev_meter_pcc"].transport.endpoint.port,
                                          timeout=2, retries=0)
            await client.connect()
            try:
                f32 = {}
                for address in (0x0800, 0x0818, 0x081A):
                    rr = await client.read_holding_registers(address, count=2, device_id=1)
                    assert not rr.isError(), (hex(address), rr)
                    f32[address] = struct.unpack(">f", struct.pack(">HH", *rr.registers))[0]
            finally:
                client.close()
            true_kw = park.meter("meter_pcc").p_kw
            assert abs(true_kw) > 50
            assert f32[0x081A] == pytest.approx(true_kw, rel=1e-4) == pytest.approx(meter.p_kw, rel=1e-4)
            assert f32[0x0818] == pytest.approx(true_kw / 3, rel=1e-4)  # phase C of a balanced load, not the total
            assert f32[0x0800] == pytest.approx(meter.v_v, rel=1e-4)

    run(body())


def test_sinexcel_pcs_reads_and_refuses_power_without_a_soc(small_site):
    async def body():
        site = with_devices(small_site, dev_bat_factory={"map": "sinexcel_pcs"})
        async with sim_fleet(site) as (park, fleet, clock):
            readings, results = await cycle(park, fleet, clock, setpoints={"bat_factory": StorageSetpoint(30.0)})
            bat = readings["bat_factory"]
            assert bat.p_kw == pytest.approx(park.state().battery_kw["bat_factory"], abs=0.05)
            # no SoC on a PCS: no power allowed (the SoC window cannot be enforced), nothing reaches the device
            assert bat.p_discharge_max_kw == 0 and bat.p_charge_max_kw == 0
            assert park.device("dev_bat_factory").writes == []
            assert park.state().battery_kw["bat_factory"] == 0.0

    run(body())


@pytest.mark.slow
def test_smartlogger_at_unit_0_and_a_sun2000_behind_it_at_unit_1(small_site):
    """One gateway endpoint: the SmartLogger's plant registers at unit 0, a SUN2000 (with its LUNA2000) at its
    own unit id; each answers only its own id and map."""
    port = next(d.port for d in small_site.devices if d.id == "dev_pv_roof")
    site = with_devices(
        small_site,
        dev_pv_roof={"map": "huawei_smartlogger", "unit_id": 0},
        dev_bat_factory={"map": "huawei_sun2000", "unit_id": 1, "port": port},
    )

    async def body():
        async with sim_fleet(site) as (park, fleet, clock):
            assert fleet.devices["dev_pv_roof"].transport is fleet.devices["dev_bat_factory"].transport
            readings, _ = await cycle(park, fleet, clock, setpoints={"bat_factory": StorageSetpoint(-50.0)})
            readings, _ = await cycle(park, fleet, clock)
            state = park.state()
            assert readings["pv_roof"].p_kw == pytest.approx(state.pv_kw["pv_roof"], abs=0.5)
            assert readings["bat_factory"].p_kw == pytest.approx(state.battery_kw["bat_factory"], abs=0.5)
            assert state.battery_kw["bat_factory"] == pytest.approx(-50.0, abs=1.0)
            link = fleet.devices["dev_pv_roof"].transport
            assert set(link.stats.by_unit) == {0, 1}
            sl = fleet.devices["dev_pv_roof"]
            assert (await sl.read_now(["esn"]))["esn"] == "SLSIM0000001"

    run(body())


READ_ONLY_PCS = {"map": "sinexcel_pcs", "map_options": {"remote_control": "disabled"}}


def test_sinexcel_read_only_firmware_is_read_and_every_write_refused(small_site):
    """remote_control=disabled: the PCS is read as usual; the driver refuses setpoints naming the option, the
    point check reports it, and the simulated firmware itself refuses FC6 (illegal function)."""
    from pymodbus.client import AsyncModbusTcpClient

    from drivers.check import check_fleet

    site = with_devices(small_site, dev_bat_factory=READ_ONLY_PCS)

    async def body():
        async with sim_fleet(site) as (park, fleet, clock):
            readings, results = await cycle(park, fleet, clock, setpoints={"bat_factory": StorageSetpoint(30.0)})
            assert readings["bat_factory"].p_kw == pytest.approx(park.state().battery_kw["bat_factory"], abs=0.05)
            [refused] = results["bat_factory"]
            assert refused.status is WriteStatus.REFUSED
            assert "sinexcel_pcs (remote_control=disabled) takes no power setpoint (read-only)" in refused.message
            findings = await check_fleet(fleet, ["dev_bat_factory"], {}, {})
            assert [f.kind for f in findings] == ["control"], findings
            port = fleet.devices["dev_bat_factory"].transport.endpoint.port
            client = AsyncModbusTcpClient("127.0.0.1", port=port, timeout=2, retries=0)
            await client.connect()
            try:
                rr = await client.write_register(135, 300, device_id=1)  # 30 kW in 0.1 kW, as OpenEMS writes it
                assert rr.isError() and rr.exception_code == 1
                rr = await client.read_holding_registers(122, count=1, device_id=1)
                assert not rr.isError()
            finally:
                client.close()
            assert park.device("dev_bat_factory").writes == []

    run(body())


def test_validate_refuses_a_dispatched_asset_on_read_only_firmware(tmp_path, capsys):
    import re
    import shutil

    from microgrid.cli import main
    from tests.paths import SMALL_SITE

    site_dir = tmp_path / "site"
    shutil.copytree(SMALL_SITE, site_dir)
    text = (site_dir / "site.yaml").read_text(encoding="utf-8")
    text = re.sub(r"(id: dev_bat_factory,.*?)map: sunspec_battery,", r"\1map: sinexcel_pcs, map_options: {remote_control: disabled},", text)
    (site_dir / "site.yaml").write_text(text, encoding="utf-8")
    assert main(["validate", str(site_dir)]) == 2
    err = capsys.readouterr().err
    assert "devices[2] ('dev_bat_factory'): map sinexcel_pcs (remote_control=disabled) takes no power setpoint" in err
    assert "asset 'bat_factory' is dispatched" in err
    text = text.replace("remote_control: disabled", "remote_control: enabled")
    (site_dir / "site.yaml").write_text(text, encoding="utf-8")
    assert main(["validate", str(site_dir)]) == 0
