"""``microgrid devices`` point rows: a non-finite value in a float register is ``invalid``, never ``ok``."""

from __future__ import annotations

import math

from drivers.device import ModbusDevice
from drivers.inspect import point_rows
from drivers.registermap import load_map
from drivers.transport import Endpoint, LinkSettings, ModbusTransport
from microgrid.clock import SteppedClock
from tests.drivers.conftest import run
from tests.drivers.mapserver import MapServer

CHINT = load_map("chint_dtsu666")


def test_infinite_float_reading_is_invalid_in_the_point_table():
    async def body():
        srv = await MapServer({1: CHINT}, initial={1: {"p_w": math.inf, "q_var": 1200.0}}).start()
        tr = ModbusTransport(Endpoint(port=srv.port), LinkSettings(timeout_s=0.5, retries=0))
        try:
            dev = ModbusDevice("meter", CHINT, tr, 1, clock=SteppedClock())
            await dev.read_now(["p_w", "q_var"])
            rows = {r.point_id: r for r in point_rows(dev, ["p_w", "q_var"])}
            assert rows["p_w"].status == "invalid" and "inf" in rows["p_w"].value
            assert rows["q_var"].status == "ok"
        finally:
            await tr.close()
            await srv.stop()

    run(body())
