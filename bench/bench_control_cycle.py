"""Benchmark: one control cycle (read all devices, write the changed setpoints) on loopback.

Two scenarios, each against the simulator serving over real Modbus TCP in a separate process (the
controller and the devices are different machines on a site; on the 2-core machine this also keeps the
simulator's CPU out of the measured process):

- ``reference``: the reference park (23 devices on 12 links, every map family);
- ``scaled``: the reference park plus generated copies of its device mix up to ``--devices`` (200)
  devices, six units behind each generated gateway.

Per cycle: ``fleet.read_all()`` then ``fleet.apply(setpoints)`` where the PV limits and battery
setpoints change every cycle (a sine, always beyond the deadband) and the heat-pump and flexible-load
setpoints every 10th cycle; due heartbeats and revert-timer re-writes are part of ``apply``.

Pacing: the controller runs one cycle every ``control.cycle_s`` (2 s), so a device has rested since the
previous cycle. Some maps require a minimum time between two requests to one unit (SmartLogger 50 ms,
PCS/BMS and meters 30 ms). Cycles are therefore separated by a pause equal to the largest such interval
of the site (``--pause-ms auto``), standing in for the rest of the 2 s. ``--pause-ms 0`` runs them back to
back, which makes every interval-limited device wait at the start of each cycle.

Reported: p50/p99/max cycle time (read + apply, the pause excluded), requests and writes per cycle, and
as baselines measured in the same run the median of a bare pymodbus read (one FC3 request of 10
registers, the cost floor of one request) and of a read-only cycle.

Targets (DESIGN.md §6): p99 ≤ 200 ms for the reference park, ≤ 1 s with 200 devices.

    .venv/bin/python bench/bench_control_cycle.py                      # both scenarios, 1000 cycles
    .venv/bin/python bench/bench_control_cycle.py --scenario reference --cycles 1000 --runs 3
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import math
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from drivers.capabilities import (  # noqa: E402
    CapabilityKind,
    FlexLoadSetpoint,
    HeatPumpSetpoint,
    PVSetpoint,
    StorageSetpoint,
)
from drivers.fleet import Fleet  # noqa: E402
from microgrid.site import Site, load_site  # noqa: E402
from microgrid.site.models import Battery, Device, FlexibleLoad, HeatPump, Meter, PVPlant  # noqa: E402

REFERENCE = ROOT / "site_configs" / "putian_hitech"
BASE_PORT = 16000  # configured ports of generated gateways (the simulator binds free ports anyway)


# --------------------------------------------------------------------------------------------- the sites


def scaled_site(site: Site, n_devices: int) -> Site:
    """The site plus generated assets and devices until it has ``n_devices`` devices.

    Each generated group sits on an existing tenant's 0.4 kV bus behind its own gateway (one port, unit
    ids 1..6): a Sungrow SG and a SunSpec PV inverter, a SunSpec battery, a heat-pump controller, a
    flexible-load controller and a Chint meter on the first inverter.
    """
    tenants = [t for t in site.tenants]
    pv, batteries, heat_pumps, flex, meters, devices = [], [], [], [], [], list(site.devices)
    group = 0
    while len(devices) < n_devices:
        group += 1
        tenant = tenants[group % len(tenants)]
        port = BASE_PORT + group
        g = f"g{group:03d}"
        new_devices: list[Device] = []
        pv.append(PVPlant(id=f"pv_sg_{g}", tenant=tenant.id, bus=tenant.bus, kwp=120, inverter_ac_kw=100))
        new_devices.append(Device(id=f"dev_pv_sg_{g}", serves=f"pv_sg_{g}", role="pv_inverter", map="sungrow_sg", host="127.0.0.1", port=port, unit_id=1))
        pv.append(PVPlant(id=f"pv_ss_{g}", tenant=tenant.id, bus=tenant.bus, kwp=60, inverter_ac_kw=50))
        new_devices.append(Device(id=f"dev_pv_ss_{g}", serves=f"pv_ss_{g}", role="pv_inverter", map="sunspec_inverter", host="127.0.0.1", port=port, unit_id=2))
        batteries.append(Battery(id=f"bat_{g}", tenant=tenant.id, bus=tenant.bus, p_charge_max_kw=100, p_discharge_max_kw=100, e_kwh=200, ramp_kw_per_s=50))
        new_devices.append(Device(id=f"dev_bat_{g}", serves=f"bat_{g}", role="storage", map="sunspec_battery", host="127.0.0.1", port=port, unit_id=3))
        heat_pumps.append(
            HeatPump(id=f"hp_{g}", tenant=tenant.id, bus=tenant.bus, p_el_max_kw=50, tank_volume_m3=5, tank_temp_min_c=45, tank_temp_max_c=65, heat_demand_profile=f"heat_hp_{g}_kw_th")
        )
        new_devices.append(Device(id=f"dev_hp_{g}", serves=f"hp_{g}", role="heat_pump", map="heat_pump_controller", host="127.0.0.1", port=port, unit_id=4))
        flex.append(FlexibleLoad(id=f"flex_{g}", tenant=tenant.id, bus=tenant.bus, kind="deferrable", p_max_kw=40, energy_kwh=200, window_start="06:00", window_end="22:00"))
        new_devices.append(Device(id=f"dev_flex_{g}", serves=f"flex_{g}", role="flexible_load", map="flex_load_controller", host="127.0.0.1", port=port, unit_id=5))
        meters.append(Meter(id=f"meter_{g}", scope="asset", bus=tenant.bus, asset=f"pv_sg_{g}", ct_ratio=40))
        new_devices.append(Device(id=f"dev_meter_{g}", serves=f"meter_{g}", role="meter", map="chint_dtsu666", host="127.0.0.1", port=port, unit_id=6))
        devices.extend(new_devices[: n_devices - len(devices)])
    used = {d.serves for d in devices}
    a = site.assets
    assets = a.model_copy(
        update={
            "pv": [*a.pv, *(p for p in pv if p.id in used)],
            "batteries": [*a.batteries, *(b for b in batteries if b.id in used)],
            "heat_pumps": [*a.heat_pumps, *(h for h in heat_pumps if h.id in used)],
            "flexible_loads": [*a.flexible_loads, *(f for f in flex if f.id in used)],
        }
    )
    all_meters = [*site.meters, *(m for m in meters if m.id in used)]
    return site.model_copy(update={"assets": assets, "meters": all_meters, "devices": devices})


def build_site(scenario: str, n_devices: int) -> Site:
    site = load_site(REFERENCE)
    return site if scenario == "reference" else scaled_site(site, n_devices)


# --------------------------------------------------------------------------------------- the simulator


def serve(scenario: str, n_devices: int) -> None:
    """Child process: serve the site on free ports in real time; print the ports; stop when stdin closes."""
    from microgrid.clock import RealClock
    from sim.park import Park

    logging.getLogger("pymodbus").setLevel(logging.CRITICAL)
    site = build_site(scenario, n_devices)

    async def main() -> None:
        park = Park.from_site(site, RealClock(), seed=1, bind="auto")
        await park.start(run=True)
        ports = {row["device"]: row["port"] for row in park.endpoint_rows()}
        print(json.dumps(ports), flush=True)
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(None, sys.stdin.read)  # until the parent closes our stdin
        await park.stop()

    asyncio.run(main())


class Simulator:
    """The serving child process."""

    def __init__(self, scenario: str, n_devices: int) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, __file__, "--serve", scenario, "--devices", str(n_devices)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError("the simulator process did not start")
        self.ports: dict[str, int] = json.loads(line)

    def close(self) -> None:
        if self.proc.stdin:
            self.proc.stdin.close()
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()


# ----------------------------------------------------------------------------------------- measurement


def setpoints_for(fleet: Fleet, k: int) -> dict[str, Any]:
    """Cycle ``k``'s setpoints: PV and storage change every cycle, heat pumps and loads every 10th."""
    out: dict[str, Any] = {}
    for asset_id, cap in fleet.capabilities.items():
        lim = cap.limits
        phase = (hash(asset_id) % 100) / 10.0
        if cap.kind is CapabilityKind.PV_INVERTER:
            out[asset_id] = PVSetpoint((lim.p_max_kw or 100.0) * (0.55 + 0.35 * math.sin(k / 7.0 + phase)))
        elif cap.kind is CapabilityKind.STORAGE:
            out[asset_id] = StorageSetpoint(0.4 * (lim.p_discharge_max_kw or 100.0) * math.sin(k / 5.0 + phase))
        elif cap.kind is CapabilityKind.HEAT_PUMP:
            out[asset_id] = HeatPumpSetpoint((lim.p_max_kw or 50.0) * (0.3 + 0.2 * ((k // 10) % 3)))
        elif cap.kind is CapabilityKind.FLEXIBLE_LOAD:
            out[asset_id] = FlexLoadSetpoint((lim.p_max_kw or 50.0) * (0.4 + 0.2 * ((k // 10) % 3)))
    return out


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(q / 100.0 * len(ordered)) - 1))]


async def bare_request_s(port: int, n: int = 300) -> float:
    """Median time of one FC3 read of 10 registers with a bare pymodbus client (the per-request floor)."""
    from pymodbus.client import AsyncModbusTcpClient

    client = AsyncModbusTcpClient("127.0.0.1", port=port, timeout=2, retries=0, reconnect_delay=0)
    await client.connect()
    times = []
    for _ in range(n):
        t0 = time.perf_counter()
        rsp = await client.read_holding_registers(40070, count=10, device_id=1)
        times.append(time.perf_counter() - t0)
        assert not rsp.isError()
    client.close()
    return statistics.median(times)


def auto_pause_s(site: Site) -> float:
    """The largest per-unit request interval of the site's maps, s."""
    from drivers.registermap import load_map

    return max(load_map(d.map).min_request_interval_ms for d in site.devices) / 1000.0


async def measure(scenario: str, n_devices: int, cycles: int, warmup: int, pause_ms: str) -> dict[str, Any]:
    site = build_site(scenario, n_devices)
    pause_s = auto_pause_s(site) if pause_ms == "auto" else float(pause_ms) / 1000.0
    sim = await asyncio.to_thread(Simulator, scenario, n_devices)
    try:
        devices = [d.model_copy(update={"port": sim.ports[d.id]}) for d in site.devices]
        client_site = site.model_copy(update={"devices": devices})
        fleet = Fleet.from_site(client_site)
        t0 = time.perf_counter()
        await fleet.start()
        start_s = time.perf_counter() - t0
        sunspec_port = next(sim.ports[d.id] for d in site.devices if d.map == "sunspec_inverter")
        floor_s = await bare_request_s(sunspec_port)
        read_only: list[float] = []
        for _ in range(min(200, cycles // 5)):
            await asyncio.sleep(pause_s)
            t0 = time.perf_counter()
            await fleet.read_all()
            read_only.append(time.perf_counter() - t0)
        cycle_s: list[float] = []
        requests: list[int] = []
        writes: list[int] = []
        failures = 0
        for k in range(warmup + cycles):
            await asyncio.sleep(pause_s)
            before = sum(t.stats.requests for t in fleet.transports.values())
            t0 = time.perf_counter()
            readings = await fleet.read_all()
            results = await fleet.apply(setpoints_for(fleet, k))
            dt = time.perf_counter() - t0
            if k >= warmup:
                cycle_s.append(dt)
                requests.append(sum(t.stats.requests for t in fleet.transports.values()) - before)
                sent = [r for rs in results.values() for r in rs if r.status.value not in ("unchanged",)]
                writes.append(len(sent))
                failures += sum(1 for r in sent if not r.ok)
                failures += sum(1 for r in readings.values() if not r.valid)
        health = fleet.health()
        await fleet.close()
        return {
            "scenario": scenario,
            "devices": len(site.devices),
            "links": len(fleet.transports),
            "cycles": len(cycle_s),
            "pause_ms": 1000 * pause_s,
            "p50_ms": 1000 * statistics.median(cycle_s),
            "p99_ms": 1000 * _pct(cycle_s, 99),
            "max_ms": 1000 * max(cycle_s),
            "mean_ms": 1000 * statistics.fmean(cycle_s),
            "read_only_p50_ms": 1000 * statistics.median(read_only),
            "read_only_p99_ms": 1000 * _pct(read_only, 99),
            "requests_per_cycle": statistics.fmean(requests),
            "writes_per_cycle": statistics.fmean(writes),
            "bare_request_ms": 1000 * floor_s,
            "p50_in_bare_requests": statistics.median(cycle_s) / floor_s,
            "start_s": start_s,
            "problems": failures,
            "offline_devices": sum(1 for h in health.values() if h.value == "offline"),
        }
    finally:
        sim.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scenario", choices=("reference", "scaled", "both"), default="both")
    parser.add_argument("--devices", type=int, default=200, help="devices in the scaled scenario")
    parser.add_argument("--cycles", type=int, default=1000)
    parser.add_argument("--warmup", type=int, default=20)
    parser.add_argument("--runs", type=int, default=1, help="repeat each scenario; medians are reported")
    parser.add_argument("--pause-ms", default="auto", help="pause between cycles: 'auto' (largest per-unit interval) or ms")
    parser.add_argument("--json", type=Path, default=None, help="write all figures to this file")
    parser.add_argument("--serve", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve:
        serve(args.serve, args.devices)
        return 0
    logging.getLogger("pymodbus").setLevel(logging.CRITICAL)
    scenarios = ["reference", "scaled"] if args.scenario == "both" else [args.scenario]
    all_runs: list[dict[str, Any]] = []
    for scenario in scenarios:
        runs = []
        for i in range(args.runs):
            result = asyncio.run(measure(scenario, args.devices, args.cycles, args.warmup, args.pause_ms))
            result["run"] = i + 1
            runs.append(result)
            print(json.dumps({k: round(v, 3) if isinstance(v, float) else v for k, v in result.items()}), flush=True)
        all_runs.extend(runs)
        target = 200.0 if scenario == "reference" else 1000.0
        p99 = statistics.median(r["p99_ms"] for r in runs)
        p50 = statistics.median(r["p50_ms"] for r in runs)
        verdict = "OK" if p99 <= target else "MISSED"
        print(
            f"{scenario}: {runs[0]['devices']} devices, {runs[0]['links']} links, median of {len(runs)} run(s): "
            f"p50 {p50:.1f} ms, p99 {p99:.1f} ms (target {target:.0f} ms: {verdict}), pause {runs[0]['pause_ms']:.0f} ms",
            flush=True,
        )
    if args.json:
        args.json.write_text(json.dumps(all_runs, indent=2), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
