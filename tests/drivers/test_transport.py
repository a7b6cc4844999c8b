"""Transport and device against a small pymodbus server on loopback: serialisation, busy back-off,
timeouts versus exception replies, reconnect, per-unit request interval, RTU over TCP, gap probing."""

from __future__ import annotations

import asyncio
import logging

import pytest

from drivers.device import ModbusDevice
from drivers.errors import (
    BadReplyError,
    DeviceBusyError,
    ExceptionReplyError,
    NotConnectedError,
    ResponseTimeoutError,
)
from drivers.health import Health
from drivers.registermap import load_map
from drivers.transport import Endpoint, LinkSettings, ModbusTransport
from microgrid.clock import SteppedClock
from tests.drivers.badreply import (
    DamagingProxy,
    byte_count_too_large,
    byte_count_too_small,
    wrong_function_code,
)
from tests.drivers.conftest import run
from tests.drivers.mapserver import MapServer

FAST = LinkSettings(timeout_s=2.0, retries=0, reconnect_min_s=0.05, reconnect_max_s=0.2, busy_backoff_s=0.01)
SHORT = LinkSettings(timeout_s=0.5, retries=0)  # for the tests that wait for timeouts
HP = load_map("heat_pump_controller")
FLEX = load_map("flex_load_controller")


def test_concurrent_reads_from_two_units_share_one_serialised_link():
    async def body():
        srv = await MapServer({1: HP, 2: FLEX}, initial={1: {"tank_temp_c": 61.5}, 2: {"p_kw": 42.0}}).start()
        tr = ModbusTransport(Endpoint(port=srv.port), FAST)
        try:
            hp, flex = HP.point("tank_temp_c"), FLEX.point("p_kw")
            reads = [tr.read("input", hp.address, 1, 1) for _ in range(25)]
            reads += [tr.read("input", flex.address, 1, 2) for _ in range(25)]
            values = await asyncio.gather(*reads)
            assert values[:25] == [[615]] * 25 and values[25:] == [[420]] * 25
            assert tr.stats.requests == 50 and tr.stats.connects == 1
            assert tr.stats.by_unit == {1: 25, 2: 25}
        finally:
            await tr.close()
            await srv.stop()

    run(body())


def test_busy_replies_are_retried_after_back_off():
    async def body():
        srv = await MapServer({1: FLEX}, initial={1: {"p_kw": 12.3}}).start()
        tr = ModbusTransport(Endpoint(port=srv.port), FAST)
        dev = ModbusDevice("flex", FLEX, tr, 1, clock=SteppedClock())
        try:
            srv.faults[1].busy_next = 2
            await dev.poll(["p_kw"])
            assert dev.value("p_kw") == pytest.approx(12.3)
            assert tr.stats.busy_replies == 2 and dev.health.n_busy == 2
            t = srv.faults[1].times
            assert t[1] - t[0] >= 0.01 and t[2] - t[1] >= 0.02  # exponential back-off between attempts

            srv.faults[1].busy_next = 100  # busy for good: alive, degraded, never offline
            with pytest.raises(DeviceBusyError):
                await tr.read("input", 0, 1, 1)
            await dev.poll(["p_kw"])
            assert dev.health_state() is Health.DEGRADED
            assert "busy" in dev.health.last_error
        finally:
            await tr.close()
            await srv.stop()

    run(body())


def test_timeouts_make_a_device_offline_exception_replies_do_not():
    async def body():
        srv = await MapServer({1: FLEX}).start()
        tr = ModbusTransport(Endpoint(port=srv.port), SHORT)
        dev = ModbusDevice("flex", FLEX, tr, 1, clock=SteppedClock(), offline_after=2)
        await tr.read("input", 0, 1, 1)  # connected
        try:
            await dev.poll(["p_kw"])
            assert dev.health_state() is Health.ONLINE
            with pytest.raises(ExceptionReplyError) as info:
                await tr.read("input", 40, 1, 1)  # a hole: "illegal data address", the device is alive
            assert info.value.code == 2
            srv.faults[1].silent = True
            with pytest.raises(ResponseTimeoutError):
                await tr.read("input", 0, 1, 1)
            await dev.poll(["p_kw"])
            assert dev.health_state() is Health.DEGRADED  # one timeout: not yet offline
            await dev.poll(["p_kw"])
            assert dev.health_state() is Health.OFFLINE
            assert dev.health.consecutive_timeouts == 2
        finally:
            await tr.close()
            await srv.stop()

    run(body())


def test_link_reconnects_after_the_server_comes_back():
    async def body():
        srv = await MapServer({1: FLEX}, initial={1: {"p_kw": 5.0}}).start()
        tr = ModbusTransport(Endpoint(port=srv.port), FAST)
        dev = ModbusDevice("flex", FLEX, tr, 1, clock=SteppedClock())
        try:
            await dev.poll(["p_kw"])
            await srv.stop()
            await asyncio.sleep(0.05)
            await dev.poll(["p_kw"])
            assert dev.health_state() is Health.OFFLINE and dev.health.link_down
            with pytest.raises(NotConnectedError):
                await tr.read("input", 0, 1, 1)
            srv2 = await MapServer({1: FLEX}, port=srv.port, initial={1: {"p_kw": 6.0}}).start()
            try:
                for _ in range(20):  # bounded: reconnect back-off is 0.05..0.2 s
                    await asyncio.sleep(0.05)
                    await dev.poll(["p_kw"])
                    if dev.health_state() is Health.ONLINE:
                        break
                assert dev.health_state() is Health.ONLINE
                assert dev.value("p_kw") == pytest.approx(6.0)
                assert tr.stats.connects == 2 and tr.stats.connect_failures >= 1
            finally:
                await srv2.stop()
        finally:
            await tr.close()

    run(body())


def test_unit_interval_and_connect_delay_are_honoured():
    async def body():
        srv = await MapServer({1: FLEX, 2: HP}).start()
        tr = ModbusTransport(
            Endpoint(port=srv.port), LinkSettings(timeout_s=0.5, retries=0, connect_delay_s=0.15)
        )
        tr.configure_unit(1, min_interval_s=0.05)
        try:
            loop = asyncio.get_running_loop()
            t0 = loop.time()
            await tr.read("input", 0, 1, 1)
            assert loop.time() - t0 >= 0.15  # waited after connect before the first request
            await asyncio.gather(
                tr.read("input", 0, 1, 1), tr.read("input", 0, 1, 2), tr.read("input", 1, 1, 1)
            )
            t1 = srv.faults[1].times
            assert all(b - a >= 0.05 for a, b in zip(t1, t1[1:], strict=False))
            assert srv.faults[2].times[0] < t1[1]  # unit 2 did not wait for unit 1's interval
        finally:
            await tr.close()
            await srv.stop()

    run(body())


def test_rtu_framing_over_tcp_reads_the_same_values():
    async def body():
        srv = await MapServer(
            {3: HP}, framer="rtu", initial={3: {"tank_temp_c": 48.2, "e_el_kwh": 123456.7}}
        ).start()
        tr = ModbusTransport(Endpoint(port=srv.port, framer="rtu"), FAST)
        dev = ModbusDevice("hp", HP, tr, 3, clock=SteppedClock())
        try:
            assert Endpoint(port=srv.port, framer="rtu").kind == "RTU over TCP"
            values = await dev.read_now(["tank_temp_c", "e_el_kwh"])
            assert values == {"tank_temp_c": pytest.approx(48.2), "e_el_kwh": pytest.approx(123456.7)}
        finally:
            await tr.close()
            await srv.stop()

    run(body())


def test_refused_gap_is_learnt_and_missing_points_are_marked_unsupported():
    async def body():
        m = load_map("acrel_dtsd1352")
        srv = await MapServer({1: m}, initial={1: {"p_kw": 1.5, "pf": 0.98}}).start()
        tr = ModbusTransport(Endpoint(port=srv.port), FAST)
        dev = ModbusDevice("meter", m, tr, 1, clock=SteppedClock(), max_gap_unknown=8)
        try:
            ids = ["p_kw", "q_kvar"]  # hole 364..369 is not in the map: tried once, refused, then split
            assert len(dev.plan(ids)) == 1
            out = await dev.poll(ids)
            assert out.failed == 0 and dev.value("p_kw") == pytest.approx(1.5)
            assert dev.health_state() is Health.ONLINE  # a refused probe is not a device problem
            assert len(dev.plan(ids)) == 2
            await dev.poll(ids)
            assert tr.stats.exception_replies == 1
        finally:
            await tr.close()
            await srv.stop()

    run(body())


def test_pacing_can_be_relaxed_for_a_simulator():
    async def body():
        srv = await MapServer({1: FLEX}).start()
        tr = ModbusTransport(Endpoint(port=srv.port), LinkSettings(timeout_s=2.0, retries=0, connect_delay_s=5.0))
        tr.configure_unit(1, min_interval_s=5.0)
        tr.relax_pacing()
        try:
            for _ in range(3):  # would take > 10 s with the device's pacing
                await tr.read("input", 0, 1, 1)
            t = srv.faults[1].times
            assert t[-1] - t[0] < 4.0 and tr.settings.connect_delay_s == 0.0
        finally:
            await tr.close()
            await srv.stop()

    run(body())


@pytest.mark.parametrize(("damage", "message"), [
    (wrong_function_code, "reply has function code 3, not 4"),
    (byte_count_too_large, "undecodable reply"),
    (byte_count_too_small, "reply carries 0 values, not 1"),
])
def test_a_reply_that_does_not_fit_the_request_is_refused_at_once(damage, message, caplog):
    """A reply with another function code or a wrong byte count gives no value: one BadReplyError line (no
    pymodbus traceback, no wait for the timeout), counted in the link's stats; the next good reply is read."""
    async def body():
        srv = await MapServer({1: FLEX}, initial={1: {"p_kw": 42.0}}).start()
        proxy = await DamagingProxy(srv.port, damage).start()
        tr = ModbusTransport(Endpoint(port=proxy.port), LinkSettings(timeout_s=30.0, retries=0))
        try:
            point = FLEX.point("p_kw")
            t0 = asyncio.get_running_loop().time()
            with pytest.raises(BadReplyError, match=message) as exc:
                await tr.read("input", point.address, 1, 1)
            assert asyncio.get_running_loop().time() - t0 < 10, "refused at once, not after the 30 s timeout"
            assert "\n" not in str(exc.value) and tr.stats.bad_replies == 1
            proxy.damage = lambda pdu: pdu
            assert await tr.read("input", point.address, 1, 1) == [420]
        finally:
            await tr.close()
            await proxy.stop()
            await srv.stop()

    with caplog.at_level(logging.DEBUG):
        run(body())
    assert not [r for r in caplog.records if r.exc_info or "Traceback" in r.getMessage()]


def test_a_float_register_reading_inf_is_shown_invalid_not_ok():
    """A float32 meter register carrying +inf (0x7F800000): the commissioning table marks it ``invalid``."""
    from drivers.inspect import point_rows

    chint = load_map("chint_dtsu666")

    def inf_floats(pdu: bytes) -> bytes:
        return pdu[:2] + bytes.fromhex("7f800000") * (pdu[1] // 4) if pdu[0] == 3 and pdu[1] % 4 == 0 else pdu

    async def body():
        srv = await MapServer({1: chint}).start()
        proxy = await DamagingProxy(srv.port, inf_floats).start()
        tr = ModbusTransport(Endpoint(port=proxy.port), FAST)
        dev = ModbusDevice("meter", chint, tr, 1, clock=SteppedClock())
        try:
            await dev.poll(["p_w"])
            [row] = point_rows(dev, ["p_w"])
            assert row.value == "inf" and row.status == "invalid"
        finally:
            await tr.close()
            await proxy.stop()
            await srv.stop()

    run(body())
