"""Simulator utility mode: DR targets reach the controller over its Modbus northbound server (HIL path)."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from microgrid.gridside.service import Northbound
from sim.utility import UtilityEvent, UtilityMode
from tests.control.aio import async_test
from tests.control.simloop import close_loop, open_loop

TZ = ZoneInfo("Asia/Shanghai")
START = datetime(2026, 7, 15, 9, 0, tzinfo=TZ)


@async_test
async def test_scheduled_and_random_events_reach_the_controller(small_site, tmp_path):
    site = small_site.model_copy(update={"gridside": small_site.gridside.model_copy(
        update={"modbus": small_site.gridside.modbus.model_copy(update={"writes_enabled": True})})})
    loop = await open_loop(site, START, tmp_path)
    rt = loop.runtime
    north = Northbound(rt, modbus=True, iec104=False, modbus_port=0)
    utility = None
    try:
        await rt.start()
        await north.start()
        cap = site.grid.import_cap_kw
        utility = UtilityMode("127.0.0.1", north.modbus.port, schedule=[
            UtilityEvent(START + timedelta(minutes=1), 0.5 * cap),
            UtilityEvent(START + timedelta(minutes=2), 2 * cap)],  # out of range: refused by the controller
            random_per_day=2000.0, target_range_kw=(0.6 * cap, 0.9 * cap), seed=3)

        end = START + timedelta(minutes=5)
        while rt.clock.now() < end:
            await rt.run(until=rt.clock.now() + timedelta(seconds=rt.options.cycle_s))
            await utility.step(rt.clock.now(), rt.options.cycle_s)
        accepted = [s for s in utility.sent if s[2]]
        refused = [s for s in utility.sent if not s[2]]
        assert (2 * cap) in [s[1] for s in refused]
        assert 0.5 * cap in [s[1] for s in accepted]
        assert len(accepted) >= 2  # the scheduled one and at least one random one (seeded)
        events = [e for e in rt.gridcaps.events.values() if e.source == "modbus"]
        assert sorted(e.cap_kw for e in events) == pytest.approx(sorted(s[1] for s in accepted), abs=1e-3)  # float32
        assert rt.gridcaps.import_cap_kw(rt.clock.now()) == pytest.approx(min(s[1] for s in accepted), abs=1e-3)
    finally:
        if utility is not None:
            utility.close()
        await north.stop()
        await close_loop(loop)
