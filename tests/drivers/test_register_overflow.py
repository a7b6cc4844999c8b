"""No silent overflow: per writable power class, a setpoint above what the register (or the device's
documented range) can hold is written as the device's own limit, reported ``clamped`` (not ok) with device,
register, wanted and written value — over real Modbus TCP, judged by what the server received."""

from __future__ import annotations

import pytest

from drivers.registermap import encode, load_map
from drivers.safewrite import WriteStatus
from tests.drivers.conftest import run
from tests.drivers.test_safewrite import writer_for

CASES = [
    # (class, map, point, wanted in device units (the caller's rating as the limit), expected written)
    ("storage power, u16 W (450 kW battery)", "sungrow_sh", "charge_power_w", 450_000.0, 65_535.0),
    ("storage power, i16 0.1 kW with documented ±3000 kW", "cn_pcs", "p_set_kw", 3_200.0, 3_000.0),
    ("storage power limit, u16 0.01 kW", "sungrow_sh", "bat_max_charge_kw", 700.0, 655.35),
    ("heat-pump power, u16 0.1 kW", "heat_pump_controller", "p_el_set_kw", 7_000.0, 6_553.5),
    ("flexible load / EV depot cap, u16 0.1 kW", "flex_load_controller", "p_set_kw", 8_000.0, 6_553.5),
    ("PV limit in percent, documented 0..110 %", "sungrow_sg", "p_limit_pct", 120.0, 110.0),
    ("PV limit in W, u32", "huawei_sun2000", "p_derate_w", 5e9, 4_294_967_295.0),
    ("storage power, i16 0.1 kW without a documented range", "sinexcel_pcs", "p_set_kw", 4_000.0, 3_276.7),
    ("storage power, SunSpec i32 W with scale factor", "sunspec_battery", "m704_w_set", 3e9, 2_147_483_647.0),
    ("PV limit, SunSpec percent with scale factor", "sunspec_inverter", "m704_w_max_lim_pct", 200.0, 100.0),
    ("PV plant limit, i32 0.1 kW", "huawei_smartlogger", "p_adjust_kw", 3e8, 214_748_364.7),
    ("PV plant limit in 0.1 %, documented 0..100 %", "huawei_smartlogger", "p_adjust_pct", 130.0, 100.0),
    ("PV limit in 0.01 %, documented 0..110 %", "solis_string", "p_limit_pct", 150.0, 110.0),
    ("PV limit in %, documented 0..100 %", "growatt_tl3", "p_rate_pct", 120.0, 100.0),
    ("heat-pump temperature setpoint, documented 20..90 °C", "heat_pump_controller", "tank_temp_set_c", 95.0, 90.0),
]


SCALE_FACTORS = {"m704_w_set_sf": 0, "m704_w_max_lim_pct_sf": -1}
"""Scale factors the simulated SunSpec devices hold (the writer reads them before encoding)."""


@pytest.mark.parametrize("what,map_name,point,wanted,written", CASES, ids=[c[0] for c in CASES])
def test_a_setpoint_beyond_the_register_is_clamped_alarmed_and_not_ok(what, map_name, point, wanted, written):
    regmap = load_map(map_name)
    p = regmap.point(point)
    sf = SCALE_FACTORS.get(p.scale_sf) if p.scale_sf else None
    initial = {p.scale_sf: sf} if p.scale_sf else None

    async def body():
        async with writer_for(regmap, initial) as (srv, dev, w, log, _):
            r = await w.write(point, wanted, lo=0.0, hi=wanted)  # the rating allows it; the register does not
            assert r.status is WriteStatus.CLAMPED and not r.ok
            assert r.new == pytest.approx(written)
            assert f"register {point}: wanted {wanted:g}" in r.message and f"written {written:g}" in r.message
            # what went on the wire is the device's limit, never a wrapped or truncated value
            sent = [regs for _fc, addr, regs in srv.faults[dev.unit_id].writes if addr == p.address]
            assert sent == [encode(p, written, sf=sf)]
            assert log and log[-1].status is WriteStatus.CLAMPED

    run(body())
