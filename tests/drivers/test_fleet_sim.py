"""The fleet against the simulator over loopback TCP: every map reads and writes, park signs, clamping,
the no-wrap rule, ordered sequences, EEPROM budget, revert-timer refresh and the fallback without it."""

from __future__ import annotations

import pytest

from drivers.capabilities import (
    FlexLoadSetpoint,
    HeatPumpSetpoint,
    PVSetpoint,
    StorageSetpoint,
    StorageState,
)
from drivers.health import Health
from drivers.registermap import available_maps, load_map
from drivers.safewrite import WriteStatus
from tests.drivers.conftest import cycle, run, sim_fleet, with_devices


def _writes(park, device_id: str) -> list[str]:
    return [w.point_id for w in park.device(device_id).writes]


def test_reference_park_reads_every_device_with_park_signs(reference_site):
    async def body():
        async with sim_fleet(reference_site) as (park, fleet, clock):
            readings, _ = await cycle(park, fleet, clock)
            state = park.state()
            assert set(readings) == {d.serves for d in reference_site.devices}
            assert all(r.valid for r in readings.values()), {a: r.problems for a, r in readings.items() if not r.valid}
            assert set(fleet.health().values()) == {Health.ONLINE}
            # meters: import through the meter > 0, primary side (PT x CT applied)
            # resolution: 1 W secondary x PT 100 x CT 80 = 8 kW primary
            assert readings["meter_pcc"].p_kw == pytest.approx(state.pcc_import_kw, abs=4.0)
            for tenant in ("shoes", "electronics", "food"):
                assert readings[f"meter_{tenant}"].p_kw == pytest.approx(state.meter_kw[f"meter_{tenant}"], abs=0.5)
            assert readings["meter_pcc"].v_v == pytest.approx(10_000 / 3**0.5, rel=0.02)
            # PV: output > 0 at noon, equal to the physics
            for pv in ("pv_shoes", "pv_electronics", "pv_food"):
                assert readings[pv].p_kw > 50
                assert readings[pv].p_kw == pytest.approx(state.pv_kw[pv], abs=1.0)
            assert readings["ess_shared"].soc_pct == pytest.approx(state.soc_pct["ess_shared"], abs=0.1)
            assert readings["hp_food"].tank_temp_c == pytest.approx(state.tank_temp_c["hp_food"], abs=0.1)
            assert readings["ev_logistics"].p_kw == pytest.approx(state.flex_kw["ev_logistics"], abs=0.1)
            used = {d.map for d in reference_site.devices}
            profiled = {n for n in available_maps() if load_map(n).profile is not None}  # test_profile_maps.py
            # sungrow_sh: see the next test; growatt_sph: test_growatt_sph.py; sunspec_battery_legacy: test_sunspec_peer.py
            own_tests = {"sungrow_sh", "growatt_sph", "sunspec_battery_legacy"}
            assert used | own_tests | profiled == set(available_maps())

    run(body())


def test_every_capability_writes_and_the_park_follows(reference_site):
    setpoints = {
        "pv_shoes": PVSetpoint(300.0),
        "pv_electronics": PVSetpoint(250.0),
        "pv_food": PVSetpoint(200.0),
        "bat_electronics": StorageSetpoint(-150.0),
        "ess_shared": StorageSetpoint(600.0),
        "hp_food": HeatPumpSetpoint(250.0),
        "air_coatings": FlexLoadSetpoint(100.0),
        "ev_logistics": FlexLoadSetpoint(300.0),
    }

    async def body():
        async with sim_fleet(reference_site) as (park, fleet, clock):
            _, results = await cycle(park, fleet, clock, setpoints=setpoints)
            assert all(r.ok for rs in results.values() for r in rs), [r.describe() for rs in results.values() for r in rs if not r.ok]
            for _ in range(5):
                readings, _ = await cycle(park, fleet, clock, setpoints=setpoints)
            state = park.state()
            for pv in ("pv_shoes", "pv_electronics", "pv_food"):
                limit = setpoints[pv].p_limit_kw
                assert state.pv_kw[pv] <= limit + 0.5 and readings[pv].p_kw <= limit + 0.5
                assert readings[pv].limit_active and readings[pv].p_limit_kw == pytest.approx(limit, abs=0.7)
            # storage signs: charge < 0, discharge > 0, in the readings and in the physics
            assert state.battery_kw["bat_electronics"] == pytest.approx(-150.0, abs=0.5)
            assert readings["bat_electronics"].p_kw == pytest.approx(-150.0, abs=0.5)
            assert state.battery_kw["ess_shared"] == pytest.approx(600.0, abs=0.5)
            assert readings["ess_shared"].p_kw == pytest.approx(600.0, abs=0.5)
            assert readings["ess_shared"].state is StorageState.RUNNING
            assert park.device("dev_ess_pcs").values["p_set_kw"] == pytest.approx(-600.0)  # PCS: + = charge
            assert readings["hp_food"].mode == "power setpoint" and state.heat_pump_kw["hp_food"] == pytest.approx(250.0, abs=0.5)
            assert readings["ev_logistics"].remote and state.flex_kw["ev_logistics"] <= 300.5
            # unchanged setpoints: nothing new is sent
            before = {d: len(park.device(d).writes) for d in ("dev_ess_pcs", "dev_pv_electronics", "dev_hp_food")}
            await cycle(park, fleet, clock, setpoints=setpoints)
            assert {d: len(park.device(d).writes) for d in before} == before

    run(body())


def test_setpoints_are_clamped_to_device_and_site_limits(reference_site):
    async def body():
        async with sim_fleet(reference_site) as (park, fleet, clock):
            _, results = await cycle(
                park,
                fleet,
                clock,
                setpoints={"ess_shared": StorageSetpoint(9000.0), "pv_food": PVSetpoint(5000.0), "hp_shoes": HeatPumpSetpoint(900.0)},
            )
            ess = next(r for r in results["ess_shared"] if r.point_id == "p_set_kw")
            # PCS allows 2475 kW now (site file: 2500): the tighter one wins; PCS sign: discharge < 0
            assert (ess.status, ess.new, ess.clamped) == (WriteStatus.OK, -2475.0, True)
            pv = next(r for r in results["pv_food"] if r.point_id == "m704_w_max_lim_pct")
            assert (pv.new, pv.clamped) == (100.0, True)
            hp = next(r for r in results["hp_shoes"] if r.point_id == "p_el_set_kw")
            assert (hp.new, hp.clamped) == (300.0, True)
            # the BMS forbids charging: the charge setpoint is clamped to 0
            park.faults.inject("charge_not_allowed", "dev_ess_bms")
            readings, results = await cycle(park, fleet, clock, setpoints={"ess_shared": StorageSetpoint(-800.0)})
            readings, results = await cycle(park, fleet, clock, setpoints={"ess_shared": StorageSetpoint(-800.0)})
            assert readings["ess_shared"].p_charge_max_kw == 0.0
            assert park.device("dev_ess_pcs").values["p_set_kw"] == 0.0

    run(body())


def test_values_a_register_cannot_hold_are_refused_and_never_sent(reference_site):
    async def body():
        async with sim_fleet(reference_site) as (park, fleet, clock):
            before = {d: len(park.device(d).writes) for d in ("dev_pv_electronics", "dev_hp_shoes", "dev_ess_pcs")}
            _, results = await cycle(
                park, fleet, clock, setpoints={"pv_electronics": PVSetpoint(-20.0), "hp_shoes": HeatPumpSetpoint(-5.0)}
            )
            assert [r.status for r in results["pv_electronics"]] == [WriteStatus.REFUSED]
            assert "cannot be negative" in results["pv_electronics"][0].message
            assert [r.status for r in results["hp_shoes"]] == [WriteStatus.REFUSED]
            # the raw path (commissioning) refuses what the register cannot represent
            (r,) = await fleet.write_point("dev_pv_electronics", "p_limit_pct", -5)
            assert r.status is WriteStatus.REFUSED and "never wrapped" in r.message
            (r,) = await fleet.write_point("dev_hp_shoes", "tank_temp_set_c", 4000)
            assert r.status is WriteStatus.REFUSED and "outside the i16 range" in r.message
            assert {d: len(park.device(d).writes) for d in before} == before
            # a setpoint point goes the capability way: clamped to the live limits, in the PCS's sign
            rs = await fleet.write_point("dev_ess_pcs", "p_set_kw", 99999)
            assert (rs[0].status, rs[0].new, rs[0].clamped) == (WriteStatus.OK, 2475.0, True)

    run(body())


def test_ordered_sequences_sungrow_ems_and_huawei_limit_then_mode(small_site, reference_site):
    async def body():
        # firmware from 2024-10 (map option): battery power from the int32 at 5214; 13022 is an int16 (32.7 kW)
        sh = {"map": "sungrow_sh", "map_options": {"battery_power": "register_5214"}}
        site = with_devices(small_site, dev_bat_factory=sh)
        async with sim_fleet(site) as (park, fleet, clock):
            _, results = await cycle(park, fleet, clock, setpoints={"bat_factory": StorageSetpoint(60.0)})
            assert all(r.ok for r in results["bat_factory"])
            assert _writes(park, "dev_bat_factory") == ["ems_mode", "charge_cmd", "charge_power_w"]
            for _ in range(4):
                readings, _ = await cycle(park, fleet, clock, setpoints={"bat_factory": StorageSetpoint(-40.0)})
            # direction change: the command and the power, still in order; the mode is already right
            assert _writes(park, "dev_bat_factory")[3:] == ["charge_cmd", "charge_power_w"]
            assert readings["bat_factory"].p_kw == pytest.approx(-40.0, abs=0.5)
            assert park.state().battery_kw["bat_factory"] == pytest.approx(-40.0, abs=0.5)
            assert fleet.devices["dev_bat_factory"].value("bat_p_signed_w") == pytest.approx(-40_000, abs=500)
            # the 200 kW battery behind a u16 W register (max 65.535 kW): clamped by the register, never wrapped
            _, results = await cycle(park, fleet, clock, setpoints={"bat_factory": StorageSetpoint(150.0)})
            power = next(r for r in results["bat_factory"] if r.point_id == "charge_power_w")
            assert (power.new, power.clamped) == (65535.0, True)
        async with sim_fleet(reference_site) as (park, fleet, clock):
            pv = fleet.capabilities["pv_shoes"]
            results = await pv.set_feed_in_limit(pct=60.0)
            assert [r.status for r in results] == [WriteStatus.OK, WriteStatus.OK]
            assert _writes(park, "dev_pv_shoes") == ["feed_in_limit_pct", "p_control_mode"]
            # EEPROM-backed: a second change a minute later is over the budget and not sent
            clock.advance(5)
            results = await pv.set_feed_in_limit(pct=50.0)
            assert results[0].status is WriteStatus.RATE_LIMITED
            assert _writes(park, "dev_pv_shoes") == ["feed_in_limit_pct", "p_control_mode"]
            clock.advance(120)
            assert all(r.ok for r in await pv.set_feed_in_limit(pct=50.0))
            assert fleet.writers["dev_pv_shoes"].state.write_counts["feed_in_limit_pct"] == 2

    run(body())


@pytest.mark.slow  # ~5 s: the SmartLogger's 50 ms between requests
def test_huawei_storage_forced_mode_sequence(small_site):
    async def body():
        site = with_devices(small_site, dev_bat_factory={"map": "huawei_sun2000", "unit_id": 0})
        async with sim_fleet(site) as (park, fleet, clock):
            _, results = await cycle(park, fleet, clock, setpoints={"bat_factory": StorageSetpoint(100.0)})
            assert all(r.ok for r in results["bat_factory"]), [r.describe() for r in results["bat_factory"]]
            assert _writes(park, "dev_bat_factory") == [
                "bat_forced_mode",
                "bat_forced_period_min",
                "bat_forced_discharge_w",
                "bat_forced_cmd",
            ]
            for _ in range(3):
                readings, _ = await cycle(park, fleet, clock, dt_s=2.0, setpoints={"bat_factory": StorageSetpoint(100.0)})
            assert readings["bat_factory"].p_kw == pytest.approx(100.0, abs=0.5)  # device: + = charging; converted
            # the forced command expires after 2 min: the driver re-asserts it before
            for _ in range(8):
                readings, _ = await cycle(park, fleet, clock, dt_s=20.0, setpoints={"bat_factory": StorageSetpoint(100.0)})
            assert park.device("dev_bat_factory").values["bat_forced_cmd"] == 2
            assert readings["bat_factory"].p_kw == pytest.approx(100.0, abs=0.5)

    run(body())


def test_revert_timers_are_refreshed_while_the_controller_runs_and_expire_when_it_stops(small_site, audit_log):
    async def body():
        async with sim_fleet(small_site, audit=audit_log.append) as (park, fleet, clock):
            sp = {"bat_factory": StorageSetpoint(-100.0), "pv_roof": PVSetpoint(200.0)}
            for _ in range(18):  # 90 s, longer than the 60 s revert timer and the 30 s heartbeat
                readings, _ = await cycle(park, fleet, clock, dt_s=5.0, setpoints=sp)
            dev = park.device("dev_bat_factory")
            assert not dev.heartbeat_lost and dev.safe_state_count == 0
            assert park.state().battery_kw["bat_factory"] == pytest.approx(-100.0, abs=0.5)
            assert park.state().pv_kw["pv_roof"] <= 200.5
            refreshed = [a for a in audit_log if a.reason == "refresh" and a.point_id == "m704_w_set"]
            assert len(refreshed) >= 4  # every 20 s: a third of the 60 s revert timer
            beats = [a for a in audit_log if a.reason == "heartbeat" and a.device_id == "dev_bat_factory"]
            assert len(beats) >= 2 * 8 and all(b.status is WriteStatus.OK for b in beats)  # 715 + 802, every 10 s
            assert not readings["bat_factory"].problems
            # the controller stops writing (reads go on): the device falls back by itself
            for _ in range(14):
                clock.advance(5.0)
                await park.advance(5.0)
                readings = await fleet.read_all()
            assert dev.heartbeat_lost and dev.safe_state_count == 1
            assert park.state().battery_kw["bat_factory"] == pytest.approx(0.0, abs=0.5)
            assert park.state().pv_kw["pv_roof"] == pytest.approx(0.0, abs=0.5)  # zero-export site: 0 % fallback
            assert readings["bat_factory"].p_setpoint_kw == 0.0  # the reversion value armed with the setpoint
            assert any("response mismatch" in p for p in readings["bat_factory"].problems)

    run(body())
