"""Safe-write rules against a pymodbus server on loopback: clamp, no wrap, enums, deadband, readback,
EEPROM budget, keep-alive and heartbeats, ordered sequences, audit records."""

from __future__ import annotations

import contextlib

import pytest

from drivers.device import ModbusDevice
from drivers.health import Health
from drivers.registermap import load_map
from drivers.safewrite import EepromPolicy, SafeWriter, Step, WriteStatus
from drivers.transport import Endpoint, LinkSettings, ModbusTransport
from microgrid.clock import SteppedClock
from tests.drivers.conftest import run
from tests.drivers.mapserver import MapServer

FLEX = load_map("flex_load_controller")
PCS = load_map("cn_pcs")
BAT = load_map("sunspec_battery")


@contextlib.asynccontextmanager
async def writer_for(regmap, initial=None, **policy):
    srv = await MapServer({1: regmap}, initial={1: initial or {}}).start()
    # a hang guard, not a speed check: loopback answers in ms, but a busy machine can connect late
    tr = ModbusTransport(Endpoint(port=srv.port), LinkSettings(timeout_s=5.0, retries=0))
    clock = SteppedClock()
    dev = ModbusDevice("dev", regmap, tr, 1, clock=clock)
    log: list = []
    w = SafeWriter(dev, audit=log.append, eeprom=EepromPolicy(**policy) if policy else None, clock=clock)
    try:
        yield srv, dev, w, log, clock
    finally:
        await tr.close()
        await srv.stop()


def test_values_are_clamped_to_the_limits_and_audited():
    async def body():
        async with writer_for(FLEX) as (srv, dev, w, log, _):
            r = await w.write("p_set_kw", 500.0, lo=10.0, hi=200.0)
            assert (r.status, r.new, r.clamped, r.readback) == (WriteStatus.OK, 200.0, True, 200.0)
            assert srv.faults[1].writes == [(6, 1, [2000])]
            r = await w.write("p_set_kw", 3.0, lo=10.0, hi=200.0)
            assert (r.new, r.clamped) == (10.0, True)
            assert [(a.point_id, a.old, a.new, a.status) for a in log] == [
                ("p_set_kw", None, 200.0, WriteStatus.OK),  # never read before: old value unknown
                ("p_set_kw", 200.0, 10.0, WriteStatus.OK),
            ]
            assert log[0].time.tzinfo is not None and log[0].device_id == "dev"

    run(body())


def test_a_value_the_register_cannot_hold_is_refused_never_wrapped():
    async def body():
        async with writer_for(FLEX) as (srv, dev, w, log, _):
            r = await w.write("p_set_kw", -5.0, lo=0.0, hi=200.0)  # a clamp must not hide the sign error
            assert r.status is WriteStatus.REFUSED and "unsigned (u16, 0 .. 6553.5 kW)" in r.message
            r = await w.write("p_set_kw", 7000.0)  # raw 70000 would truncate to 4464
            assert r.status is WriteStatus.REFUSED and "raw 70000, outside the u16 range" in r.message
            r = await w.write("p_set_kw", float("nan"))
            assert r.status is WriteStatus.REFUSED
            assert srv.faults[1].writes == []
            assert [a.status for a in log] == [WriteStatus.REFUSED] * 3
            # with a caller limit above the register's range the device's own limit is written (clamped, never
            # truncated) and the write is not ok: written != wanted, named in the message
            r = await w.write("p_set_kw", 7000.0, hi=9000.0)
            assert (r.status, r.new, r.clamped, r.ok, r.applied) == (WriteStatus.CLAMPED, 6553.5, True, False, True)
            assert r.message == "dev register p_set_kw: wanted 7000 kW, written 6553.5 kW (the device takes 0 .. 6553.5 kW)"
            assert srv.faults[1].writes == [(6, 1, [65535])]
            assert log[-1].status is WriteStatus.CLAMPED
            # asking again sends nothing and is still not ok
            r = await w.write("p_set_kw", 7000.0, hi=9000.0)
            assert r.status is WriteStatus.CLAMPED and "already held" in r.message and len(srv.faults[1].writes) == 1
            # within the device's range the same register is ok again
            r = await w.write("p_set_kw", 100.0, hi=9000.0)
            assert r.status is WriteStatus.OK

    run(body())


def test_read_only_points_and_unknown_enum_values_are_refused():
    async def body():
        async with writer_for(FLEX) as (srv, dev, w, log, _):
            assert (await w.write("p_kw", 1.0)).message == "point p_kw is read-only"
            r = await w.write("remote_enable", 5)
            assert r.status is WriteStatus.REFUSED and "0 (local), 1 (remote)" in r.message
            r = await w.write("remote_enable", "remote")
            assert (r.status, r.new) == (WriteStatus.OK, 1)
            assert srv.faults[1].writes == [(6, 0, [1])]

    run(body())


def test_write_on_change_with_deadband_and_rewrite_when_the_device_changed():
    async def body():
        async with writer_for(FLEX) as (srv, dev, w, log, clock):
            assert (await w.write("p_set_kw", 100.0, deadband=0.5)).status is WriteStatus.OK
            r = await w.write("p_set_kw", 100.4, deadband=0.5)
            assert r.status is WriteStatus.UNCHANGED and len(srv.faults[1].writes) == 1
            assert (await w.write("p_set_kw", 100.6, deadband=0.5)).status is WriteStatus.OK
            # someone changes the register locally: the next poll shows it, the same setpoint is re-sent
            await srv.set_point(1, FLEX.point("p_set_kw"), 20.0)
            clock.advance(1)
            await dev.poll(["p_set_kw"])
            r = await w.write("p_set_kw", 100.6, deadband=0.5)
            assert (r.status, r.old) == (WriteStatus.OK, 20.0)
            assert len(log) == 3  # unchanged writes are not audited

    run(body())


def test_readback_mismatch_is_reported_and_degrades_the_device():
    async def body():
        async with writer_for(FLEX) as (srv, dev, w, log, _):
            await dev.poll(["p_kw"])
            srv.faults[1].stored_scale = 10.0  # the device stores what it got x10 (a wrong-scale firmware)
            r = await w.write("p_set_kw", 12.0)
            assert r.status is WriteStatus.MISMATCH and r.readback == pytest.approx(120.0)
            assert dev.health_state() is Health.DEGRADED
            assert "readback mismatch on p_set_kw" in dev.health.describe(dev.clock.monotonic())
            srv.faults[1].stored_scale = 1.0
            assert (await w.write("p_set_kw", 12.0)).status is WriteStatus.OK  # not confirmed: re-sent
            assert dev.health_state() is Health.ONLINE

    run(body())


def test_eeprom_points_have_a_write_budget_and_a_counter():
    async def body():
        async with writer_for(FLEX, max_writes_per_hour=3, min_interval_s=60.0) as (srv, dev, w, log, clock):
            statuses = []
            for t, value in ((0, 100), (10, 110), (70, 120), (140, 130), (210, 140), (3700, 150)):
                clock.advance(t - (clock.monotonic()))
                statuses.append((await w.write("comm_timeout_s", value)).status)
            assert statuses == [
                WriteStatus.OK,
                WriteStatus.RATE_LIMITED,  # 10 s after the last write (min interval 60 s)
                WriteStatus.OK,
                WriteStatus.OK,
                WriteStatus.RATE_LIMITED,  # fourth write within the hour
                WriteStatus.OK,  # the first writes left the one-hour window
            ]
            assert w.state.write_counts["comm_timeout_s"] == 4
            assert w.state.rate_limited["comm_timeout_s"] == 2
            assert len(srv.faults[1].writes) == 4
            assert log[1].message == "EEPROM point written 10 s ago (min interval 60 s)"
            assert log[4].message == "EEPROM write budget used: 3 writes in the last hour (max 3)"
            # the operator's line in Chinese (devices --write --lang zh-CN); the audit record keeps the English
            assert log[4].describe("zh-CN") == "dev.comm_timeout_s：超出写入频次 130 -> 140：EEPROM 写入额度已用完：最近一小时写入 3 次（上限 3）"
            assert log[1].describe() == "dev.comm_timeout_s: rate_limited 100 -> 110: EEPROM point written 10 s ago (min interval 60 s)"
            with pytest.raises(ValueError, match="EEPROM-backed"):
                w.keep_alive("comm_timeout_s", 10.0)

    run(body())


def test_keep_alive_rewrites_before_the_device_timer_and_heartbeats_count_up():
    async def body():
        async with writer_for(BAT, initial={"m704_w_set_sf": 0}) as (srv, dev, w, log, clock):
            await w.write("m704_w_set", -150000)
            w.keep_alive("m704_w_set", 20.0)
            w.heartbeat("m802_ctrl_hb", 10.0)
            beats: list[tuple[float, object]] = []
            refreshes: list[float] = []
            for second in range(0, 61):
                clock.advance(0 if second == 0 else 1)
                for r in await w.refresh_due():
                    assert r.status is WriteStatus.OK
                    if r.reason == "heartbeat":
                        beats.append((clock.monotonic(), r.new))
                    else:
                        assert (r.point_id, r.new, r.reason) == ("m704_w_set", -150000, "refresh")
                        refreshes.append(clock.monotonic())
            # the heartbeat starts at once and counts up; never more than its period apart
            assert beats[0] == (0.0, 1) and [v for _t, v in beats] == list(range(1, len(beats) + 1))
            gaps = [b[0] - a[0] for a, b in zip(beats, beats[1:], strict=False)]
            assert all(5.0 <= g <= 10.0 for g in gaps) and gaps[1:] == [10.0] * (len(gaps) - 1)
            # the first re-write comes within one period (phase spread per device), then every period
            assert 10.0 <= refreshes[0] <= 20.0
            assert [b - a for a, b in zip(refreshes, refreshes[1:], strict=False)] == [20.0] * (len(refreshes) - 1)
            w.stop_keep_alive("m704_w_set")
            clock.advance(25)
            assert [r.point_id for r in await w.refresh_due()] == ["m802_ctrl_hb"]

    run(body())


def test_sequences_keep_their_order_and_are_all_or_nothing():
    async def body():
        async with writer_for(PCS) as (srv, dev, w, log, _):
            writes = srv.faults[1].writes
            rs = await w.write_sequence("p_set", [Step("p_set_kw", 100.0), Step("run_cmd", 1)])
            assert [r.status for r in rs] == [WriteStatus.OK, WriteStatus.OK]
            assert [a for _fc, a, _v in writes] == [3415, 657]
            rs = await w.write_sequence("p_set", [Step("p_set_kw", 120.0), Step("run_cmd", 1)])
            assert [a for _fc, a, _v in writes[2:]] == [3415]  # only what changed, still in order
            assert rs[1].status is WriteStatus.UNCHANGED
            rs = await w.write_sequence("p_set", [Step("p_set_kw", -300.0), Step("run_cmd", 7)])
            assert len(rs) == 1 and rs[0].status is WriteStatus.REFUSED and rs[0].point_id == "run_cmd"
            assert len(writes) == 3  # nothing of the refused sequence was sent

    run(body())


def test_keep_alive_rewrites_a_setpoint_the_device_already_held():
    # the device holds 0 kW from the start: the first write is "unchanged" (nothing sent), yet its write
    # watchdog still needs the periodic re-write (else it drops to local control every timeout)
    async def body():
        async with writer_for(FLEX) as (srv, dev, w, log, clock):
            await dev.poll(["p_set_kw"])
            r = await w.write("p_set_kw", 0.0)
            assert r.status is WriteStatus.UNCHANGED and srv.faults[1].writes == []
            w.keep_alive("p_set_kw", 20.0)
            clock.advance(20)
            assert [(x.point_id, x.new, x.status) for x in await w.refresh_due()] == [
                ("p_set_kw", 0.0, WriteStatus.OK)]
            assert srv.faults[1].writes == [(6, 1, [0])]

    run(body())
