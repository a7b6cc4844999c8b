"""SunSpec by discovery, against servers built with pysunspec2's own model classes (its encoder, not our maps):
a chain with a curve model (705, repeating groups) at base 0, and a legacy device offering only 1/103/120/121/123.
Our driver must read the values pysunspec2 put there and land its limit on the registers pysunspec2 decodes."""

from __future__ import annotations

import asyncio
import contextlib

import pytest
import sunspec2.device as ss
from pymodbus.server import ModbusTcpServer
from pymodbus.simulator import DataType, SimData, SimDevice

from drivers.capabilities import PVSetpoint, StorageSetpoint
from drivers.fleet import Fleet
from tests.drivers.conftest import run, serve_device, single_device_fleet

CURVE_705 = {"NPt": 2, "NCrv": 1, "Crv": [{"ActPt": 2, "Pt": [{"V": 100, "Var": 0}, {"V": 110, "Var": 0}]}]}


def _models(spec: dict[int, dict[str, object]]) -> list[ss.Model]:
    models = []
    for mid, values in spec.items():
        model = ss.Model(mid, data=CURVE_705) if mid == 705 else ss.Model(mid)
        for name, value in values.items():
            getattr(model, name).value = value
        models.append(model)
    return models


def _registers(models: list[ss.Model]) -> list[int]:
    data = b"SunS" + b"".join(m.get_mb() for m in models) + b"\xff\xff\x00\x00"
    return [int.from_bytes(data[i : i + 2], "big") for i in range(0, len(data), 2)]


async def _serve(base: int, models: list[ss.Model]) -> tuple[ModbusTcpServer, int]:
    return await serve_device(SimDevice(id=1, simdata=[SimData(base, values=_registers(models), datatype=DataType.REGISTERS)]))


async def _decode(server: ModbusTcpServer, base: int, models: list[ss.Model], mid: int) -> ss.Model:
    """pysunspec2's view of model ``mid`` as the server now holds it."""
    address = base + 2
    for model in models:
        length = len(model.get_mb()) // 2
        if model.model_id == mid:
            regs = await server.async_getValues(1, 3, address, length)
            fresh = ss.Model(mid)
            fresh.set_mb(b"".join(int(r).to_bytes(2, "big") for r in regs))
            return fresh
        address += length
    raise KeyError(mid)


def _fleet(port: int) -> Fleet:
    return single_device_fleet("sunspec_inverter", port, unit_id=1)


@contextlib.asynccontextmanager
async def _started(base: int, models: list[ss.Model], map_id: str = "sunspec_inverter", **kw):
    """(server holding ``models`` at ``base``, started fleet of one device with ``map_id`` reading it)."""
    server, port = await _serve(base, models)
    fleet = single_device_fleet(map_id, port, unit_id=1, **kw)
    try:
        await fleet.start()
        yield server, fleet
    finally:
        await fleet.close()
        await server.shutdown()
        await asyncio.sleep(0)


COMMON = {"Mn": "Indep", "Md": "Legacy-103", "SN": "L-1", "DA": 1}


def test_a_legacy_103_123_inverter_is_read_and_limited_through_123():
    models = _models({
        1: COMMON,
        103: {"W": 4500, "W_SF": 1, "WH": 123_000, "WH_SF": 0, "St": 4, "A_SF": 0, "V_SF": 0, "Hz_SF": -2,
              "Hz": 5001, "VA_SF": 0, "VAr_SF": 0, "PF_SF": -2, "DCA_SF": 0, "DCV_SF": 0, "DCW_SF": 0, "Tmp_SF": 0},
        120: {"DERTyp": 4, "WRtg": 100, "WRtg_SF": 3},
        121: {"WMax": 1000, "WMax_SF": 2},
        123: {"WMaxLimPct": 1000, "WMaxLimPct_SF": -1, "WMaxLim_Ena": 0, "WMaxLimPct_RvrtTms": 0},
    })

    async def body():
        async with _started(40000, models) as (server, fleet):
            assert fleet.devices["dev"].regmap.sunspec_models == [1, 103, 120, 121, 123]
            reading = (await fleet.read_all())["pv"]
            assert reading.valid, reading.problems
            assert reading.p_kw == pytest.approx(45.0) and reading.p_rated_kw == pytest.approx(100.0)
            assert reading.e_total_kwh == pytest.approx(123.0)
            results = await fleet.apply({"pv": PVSetpoint(p_limit_kw=30.0)})
            assert all(r.ok for r in results["pv"]), results["pv"]
            m123 = await _decode(server, 40000, models, 123)
            assert m123.WMaxLimPct.cvalue == pytest.approx(30.0)
            assert m123.WMaxLim_Ena.value == 1 and m123.WMaxLimPct_RvrtTms.value == 60

    run(body())


def test_a_chain_with_a_curve_model_at_base_0_is_discovered():
    models = _models({
        1: {**COMMON, "Md": "Curves-at-0"},
        701: {"W": 7200, "W_SF": 1, "InvSt": 3, "ThrotPct": 0, "TotWhInj": 5_000_000, "TotWh_SF": 0},
        702: {"WMaxRtg": 1000, "WMax": 1000, "W_SF": 2},
        704: {"WMaxLimPct": 1000, "WMaxLimPct_SF": -1, "WMaxLimPctEna": 0},
        705: {},  # volt-var curve: repeating groups, length from the device
        715: {},
    })

    async def body():
        async with _started(0, models) as (server, fleet):
            regmap = fleet.devices["dev"].regmap
            assert regmap.sunspec_base == 0 and regmap.sunspec_models == [1, 701, 702, 704, 705, 715]
            reading = (await fleet.read_all())["pv"]
            assert reading.valid, reading.problems
            assert reading.p_kw == pytest.approx(72.0) and reading.p_rated_kw == pytest.approx(100.0)
            results = await fleet.apply({"pv": PVSetpoint(p_limit_kw=40.0)})
            assert all(r.ok for r in results["pv"]), results["pv"]
            m704 = await _decode(server, 0, models, 704)
            assert m704.WMaxLimPct.cvalue == pytest.approx(40.0) and m704.WMaxLimPctEna.value == 1
            m715 = await _decode(server, 0, models, 715)  # after the repeating 705: untouched by the limit
            assert m715.ID.value == 715

    run(body())


def test_not_sunspec_is_refused_clearly():
    async def body():
        server, port = await serve_device(
            SimDevice(id=1, simdata=[SimData(40000, values=[1, 2, 3, 4], datatype=DataType.REGISTERS)])
        )
        fleet = _fleet(port)
        try:
            await fleet.start()
            results = await fleet.apply({"pv": PVSetpoint(p_limit_kw=10.0)})
            assert [r.status.value for r in results["pv"]] == ["refused"]
            assert "no SunSpec marker 'SunS'" in fleet.devices["dev"].health.describe(0.0) or any(
                "SunS" in p for p in (await fleet.read_all())["pv"].problems
            )
        finally:
            await fleet.close()
            await server.shutdown()
            await asyncio.sleep(0)

    run(body())


LEGACY_BATTERY = {
    1: {**COMMON, "Md": "Legacy-124"},
    103: {"W": -1234, "W_SF": 1, "WH": 0, "WH_SF": 0, "St": 4, "A_SF": 0, "V_SF": 0, "Hz_SF": -2, "Hz": 5000,
          "VA_SF": 0, "VAr_SF": 0, "PF_SF": -2, "DCA_SF": 0, "DCV_SF": 0, "DCW_SF": 0, "Tmp_SF": 0},
    120: {"DERTyp": 82, "WRtg": 50, "WRtg_SF": 3, "WHRtg": 100, "WHRtg_SF": 3, "MaxChaRte": 40, "MaxChaRte_SF": 3,
          "MaxDisChaRte": 45, "MaxDisChaRte_SF": 3},
    121: {"WMax": 500, "WMax_SF": 2},
    123: {"WMaxLimPct": 1000, "WMaxLimPct_SF": -1, "WMaxLim_Ena": 0},
    # WChaMax 500 x 10^2 = 50 kW is the reference of the rates (0.01 % steps); ChaState 65.5 %
    124: {"WChaMax": 500, "WChaMax_SF": 2, "WChaDisChaGra_SF": 0, "StorCtl_Mod": 0, "InWRte": 10000,
          "OutWRte": 10000, "InOutWRte_SF": -2, "InOutWRte_RvrtTms": 0, "ChaState": 655, "ChaState_SF": -1,
          "MinRsvPct": 100, "MinRsvPct_SF": -1, "ChaSt": 6},
}


def test_a_legacy_battery_inverter_is_controlled_through_124():
    """1/103/120/121/123/124 only (no 7xx): discovery picks 124; a setpoint becomes the window
    -InWRte .. OutWRte (% of WChaMax, scale InOutWRte_SF) collapsed on it, as pysunspec2 decodes it."""
    models = _models(LEGACY_BATTERY)

    async def body():
        async with _started(40000, models, "sunspec_battery", kind="storage") as (server, fleet):
            assert fleet.devices["dev"].regmap.sunspec_models == [1, 103, 120, 121, 123, 124]
            reading = (await fleet.read_all())["pv"]
            assert reading.valid, reading.problems
            assert reading.p_kw == pytest.approx(-12.34) and reading.soc_pct == pytest.approx(65.5)
            assert reading.p_charge_max_kw == pytest.approx(40.0)  # 120 MaxChaRte below WChaMax 50 kW
            assert reading.p_discharge_max_kw == pytest.approx(45.0)
            assert reading.e_capacity_kwh == pytest.approx(100.0) and reading.p_setpoint_kw is None

            results = await fleet.apply({"pv": StorageSetpoint(p_kw=20.0)})  # discharge 20 kW = 40 % of 50 kW
            assert all(r.ok for r in results["pv"]), results["pv"]
            m124 = await _decode(server, 40000, models, 124)
            assert m124.OutWRte.cvalue == pytest.approx(40.0) and m124.InWRte.cvalue == pytest.approx(-40.0)
            assert m124.OutWRte.value == 4000 and m124.InWRte.value == -4000  # raw, InOutWRte_SF = -2
            assert m124.StorCtl_Mod.value == 0b11 and m124.InOutWRte_RvrtTms.value == 60

            # charge 30 kW: the lower bound moves first (InWRte), so the window never empties
            results = await fleet.apply({"pv": StorageSetpoint(p_kw=-30.0)})
            sent = [r.point_id for r in results["pv"] if r.status.value != "unchanged"]
            assert sent == ["m124_in_w_rte", "m124_out_w_rte"], results["pv"]
            assert all(r.ok for r in results["pv"]), results["pv"]
            m124 = await _decode(server, 40000, models, 124)
            assert m124.OutWRte.cvalue == pytest.approx(-60.0) and m124.InWRte.cvalue == pytest.approx(60.0)
            assert (await fleet.read_all())["pv"].p_setpoint_kw == pytest.approx(-30.0)

            # beyond the 40 kW charge rating: held at -80 % (40 kW), never beyond
            await fleet.apply({"pv": StorageSetpoint(p_kw=-45.0)})
            m124 = await _decode(server, 40000, models, 124)
            assert m124.OutWRte.cvalue == pytest.approx(-80.0) and m124.InWRte.cvalue == pytest.approx(80.0)

    run(body())


@pytest.mark.parametrize(("change", "message"), [
    ({124: {**LEGACY_BATTERY[124], "WChaMax": 0}}, "124 WChaMax unknown, stale or 0"),
    ({124: None}, "needs models 701, 704 and 802 (or 124 with 101/102/103)"),
])
def test_a_legacy_battery_without_usable_124_is_refused_clearly(change, message):
    spec = {mid: values for mid, values in {**LEGACY_BATTERY, **change}.items() if values is not None}
    models = _models(spec)

    async def body():
        async with _started(40000, models, "sunspec_battery", kind="storage") as (server, fleet):
            reading = (await fleet.read_all())["pv"]
            assert reading.p_kw == pytest.approx(-12.34)  # still read through 103
            assert reading.p_charge_max_kw == reading.p_discharge_max_kw == 0
            [result] = (await fleet.apply({"pv": StorageSetpoint(p_kw=10.0)}))["pv"]
            assert result.status.value == "refused" and message in result.message, result
            m124 = [m for m in models if m.model_id == 124]
            if m124:
                assert (await _decode(server, 40000, models, 124)).StorCtl_Mod.value == 0  # nothing written

    run(body())
