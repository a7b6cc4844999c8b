"""The simulated park: assets with physics, simulated Modbus devices on their endpoints, faults, one clock.

Typical use (tests, HIL rigs, ``microgrid sim``, ``microgrid run --sim``)::

    park = Park.from_site(site, clock, seed=1, faults="faults.yaml", bind="auto")
    await park.start()          # servers listening, background task stepping physics on the clock
    ... clients talk Modbus to park.endpoint_rows() / park.client_site() ...
    park.faults.inject("device_offline", "dev_meter_pcc", duration_s=30)
    park.state().pcc_import_kw  # true physical state, for assertions
    await park.stop()

Deterministic tests skip the background task (``start(run=False)``) and move time themselves with
:meth:`Park.advance` (physics step + register update). Park time (``now``, ``t_s``) advances only by steps;
the background task takes each step's length from the clock.

Step order: fault schedule -> device timers -> device commands -> loads, heat pumps, flexible loads -> PV and
batteries with fixed setpoints -> batteries balancing their own connection point -> PV with a feed-in
limit -> network (balance or pandapower) -> meters -> device measurements -> served values.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import random
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Literal

from drivers.registermap import load_map
from microgrid.clock import Clock
from microgrid.errors import UserError
from microgrid.site.metering import MeteringTopology
from microgrid.site.models import Device, Site
from sim.assets import (
    BatteryRuntime,
    FlexRuntime,
    HeatPumpRuntime,
    MeterRuntime,
    PVRuntime,
    TenantLoadRuntime,
)
from sim.devices.base import DeviceModel
from sim.devices.registry import device_class
from sim.environment import Environment
from sim.faults import FaultManager, FaultScenario
from sim.modbus.server import Endpoint, EndpointError
from sim.physics.network import Injection, NetworkResult, PandapowerNetwork, balance, tenant_forward_kw

log = logging.getLogger(__name__)


class SimError(UserError):
    """The simulator cannot start (bad site for simulation, ports in use)."""

    exit_code = 4


@dataclass
class ParkState:
    """True physical state at the end of the last step (park sign; loads as consumption > 0)."""

    time: datetime
    t_s: float
    pcc_import_kw: float
    losses_kw: float
    pv_kw: dict[str, float] = field(default_factory=dict)
    pv_available_kw: dict[str, float] = field(default_factory=dict)
    battery_kw: dict[str, float] = field(default_factory=dict)
    soc_pct: dict[str, float] = field(default_factory=dict)
    heat_pump_kw: dict[str, float] = field(default_factory=dict)
    tank_temp_c: dict[str, float] = field(default_factory=dict)
    flex_kw: dict[str, float] = field(default_factory=dict)
    tenant_load_kw: dict[str, float] = field(default_factory=dict)
    meter_kw: dict[str, float] = field(default_factory=dict)


class Park:
    """All simulated assets and devices of one site."""

    def __init__(
        self,
        site: Site,
        clock: Clock,
        *,
        seed: int = 0,
        bind: Literal["site", "auto"] = "site",
        step_s: float | None = None,
        network: Literal["balance", "pandapower"] = "balance",
        pf_every_s: float = 10.0,
        load_noise_pct: float = 1.0,
        start: datetime | None = None,
        serial_ports: dict[str, str] | None = None,
    ) -> None:
        """``serial_ports`` maps a site file's ``serial_port`` to the port the simulator serves that bus on
        (the other end of a null-modem cable or pty pair); unmapped serial buses are served on the port itself."""
        self.site = site
        self.clock = clock
        self.seed = seed
        self.bind = bind
        speed = float(getattr(clock, "speed", 1.0) or 1.0)
        self.step_s = step_s if step_s is not None else max(1.0, 0.1 * speed)
        self.now = start or clock.now()
        self.start_time = self.now
        self.t_s = 0.0
        self.environment = Environment(site)
        _day, self.start_seconds_of_day = self.environment.seconds_of_day(self.now)
        self.load_noise_pct = load_noise_pct
        self._rng = random.Random(seed)
        self.network_mode = network
        self._pp = PandapowerNetwork(site) if network == "pandapower" else None
        self.pf_every_s = pf_every_s
        self._since_pf = math.inf
        self._network = NetworkResult(pcc_import_kw=0.0)
        self.pv_factor: dict[str, float] = {}
        self.endpoints_down: set[str] = set()

        a = site.assets
        self.pvs = {p.id: PVRuntime(p) for p in a.pv}
        self.batteries = {b.id: BatteryRuntime.from_spec(b) for b in a.batteries}
        self.heat_pumps = {h.id: HeatPumpRuntime.from_spec(h) for h in a.heat_pumps}
        self.flex: dict[str, FlexRuntime] = {}
        for load in a.flexible_loads:
            # a shiftable load's backlog limits follow its baseline profile step by step (see step); one
            # without a profile has nothing to shift
            self.flex[load.id] = FlexRuntime.from_spec(load)
        for depot in a.ev_depots:
            self.flex[depot.id] = FlexRuntime.from_spec(depot)
        for run in self.flex.values():
            run.start(self.start_seconds_of_day)
        self.tenants = {t.id: TenantLoadRuntime(t.id, t.bus) for t in site.tenants}
        bus_kv = {b.id: b.vn_kv for b in site.network.buses}
        self.topology = MeteringTopology(site)
        self.meters = {m.id: MeterRuntime(m, vn_kv=bus_kv.get(m.bus, 0.4)) for m in site.meters}
        self.meter_buses = {m.id: self.topology.meter_buses(m) for m in site.meters}

        self.bms_logic: dict[str, object] = {}
        """Per-battery BMS protection state shared by BMS and PCS devices (sim.devices.cn_storage)."""
        self.devices: dict[str, DeviceModel] = {}
        for device in site.devices:
            self.devices[device.id] = self._make_device(device)
        groups: dict[str, list[DeviceModel]] = {}
        for model in self.devices.values():
            groups.setdefault(model.device.link_key, []).append(model)
        self.endpoints = {
            key: Endpoint(
                models[0].device.host or "",
                models[0].device.port,
                models,
                bind_port=0 if bind == "auto" else None,
                serial_port=(serial_ports or {}).get(sp, sp) if (sp := models[0].device.serial_port) else None,
            )
            for key, models in groups.items()
        }
        self.faults = FaultManager(self)
        self._task: asyncio.Task | None = None
        self._clock_last: float | None = None
        self.steps = 0
        self.step(0.0)

    @classmethod
    def from_site(
        cls,
        site: Site,
        clock: Clock,
        seed: int = 0,
        faults: FaultScenario | str | Path | None = None,
        **kwargs,
    ) -> Park:
        """Build a park from a validated site; ``faults`` is a scenario (object or YAML path)."""
        park = cls(site, clock, seed=seed, **kwargs)
        if faults is not None:
            park.faults.load(faults)
        return park

    def _make_device(self, device: Device) -> DeviceModel:
        rmap = load_map(device.map, device.map_options)
        return device_class(device, rmap)(device, rmap, self)

    # ----------------------------------------------------------------------------------- lookups
    def pv(self, asset_id: str) -> PVRuntime:
        return self._lookup(self.pvs, asset_id, "PV plant")

    def battery(self, asset_id: str) -> BatteryRuntime:
        return self._lookup(self.batteries, asset_id, "battery")

    def heat_pump(self, asset_id: str) -> HeatPumpRuntime:
        return self._lookup(self.heat_pumps, asset_id, "heat pump")

    def flexible(self, asset_id: str) -> FlexRuntime:
        return self._lookup(self.flex, asset_id, "flexible load or EV depot")

    def meter(self, meter_id: str) -> MeterRuntime:
        return self._lookup(self.meters, meter_id, "meter")

    @staticmethod
    def _lookup(table: dict, key: str, what: str):
        try:
            return table[key]
        except KeyError:
            raise SimError(f"device serves '{key}', which is not a {what} of the site") from None

    def device(self, device_id: str) -> DeviceModel:
        return self.devices[device_id]

    def battery_of(self, target: str | None) -> BatteryRuntime | None:
        """The battery with this id, or served by the device with this id."""
        if target in self.batteries:
            return self.batteries[target]
        device = self.devices.get(target or "")
        if device is not None and device.device.serves in self.batteries:
            return self.batteries[device.device.serves]
        return None

    def endpoint_of(self, device_id: str) -> str:
        return self.devices[device_id].device.link_key

    def devices_serving(self, asset_id: str, family: str | None = None) -> list[DeviceModel]:
        return [
            d
            for d in self.devices.values()
            if d.device.serves == asset_id and (family is None or d.family == family)
        ]

    def trip_pcs(self, target: str) -> None:
        """Trip the PCS of a battery (latched in a PCS device, if there is one)."""
        battery = self.battery_of(target)
        if battery is None:
            return
        for device in self.devices_serving(battery.spec.id, "cn_pcs"):
            device.trip()  # type: ignore[attr-defined]

    def tenant_forward_kw(self, tenant: str | None, exclude: str | None = None) -> float:
        """Power flowing into a tenant (or the whole park for ``None``) now, kW, optionally without one asset."""
        injections = [i for i in self.injections() if i.source != exclude]
        if tenant is None:
            return -sum(i.p_kw for i in injections)
        return tenant_forward_kw(injections, tenant)

    # ----------------------------------------------------------------------------------- physics
    def injections(self) -> list[Injection]:
        out: list[Injection] = []
        for tenant in self.site.tenants:
            run = self.tenants[tenant.id]
            out.append(Injection(f"load_{tenant.id}", tenant.bus, tenant.id, run.injection_kw()))
        for group in (self.pvs, self.batteries, self.heat_pumps, self.flex):
            for asset_id, run in group.items():
                spec = run.spec
                out.append(Injection(asset_id, spec.bus, self.topology.owner.get(asset_id), run.injection_kw()))
        return out

    def step(self, dt_s: float) -> None:
        """Advance the physics and the devices by ``dt_s`` simulated seconds (0: refresh measurements only)."""
        dt_s = max(0.0, float(dt_s))
        t_mid = self.now + timedelta(seconds=dt_s / 2)
        self.now += timedelta(seconds=dt_s)
        self.t_s += dt_s
        self.steps += 1
        if dt_s > 0:
            self.faults.tick(self.t_s)
            for device in self.devices.values():
                device.tick(dt_s)
        for device in self.devices.values():
            device.command()
        has_bms_device = {d.device.serves for d in self.devices.values() if d.family == "cn_bms"}
        for battery in self.batteries.values():
            if battery.tripped_by_fault or (
                battery.bms_alarm_level >= 3 and battery.spec.id not in has_bms_device
            ):
                battery.running = False
        env = self.environment
        _day, sod = env.seconds_of_day(t_mid)
        for tenant in self.site.tenants:
            run = self.tenants[tenant.id]
            base = env.value(f"load_{tenant.id}_kw", t_mid, default=tenant.typical_load_kw)
            if self.load_noise_pct > 0 and dt_s > 0:
                alpha = math.exp(-dt_s / 60.0)
                run.noise_state = alpha * run.noise_state + math.sqrt(1 - alpha**2) * self._rng.gauss(
                    0.0, 1.0
                )
            run.p_kw = max(0.0, base * (1.0 + self.load_noise_pct / 100.0 * run.noise_state) + run.extra_kw)
        temp_air = env.temp_air_c(t_mid)
        for hp in self.heat_pumps.values():
            hp.step(temp_air, env.value(hp.spec.heat_demand_profile, t_mid, default=0.0), dt_s)
        for run in self.flex.values():
            profile = getattr(run.spec, "baseline_profile", None)
            baseline = env.value(profile, t_mid, default=0.0) if profile else 0.0
            caps = None
            if run.shift_params is not None and profile:
                end, window = t_mid + timedelta(seconds=dt_s / 2), timedelta(hours=run.spec.max_shift_h)  # type: ignore[union-attr]
                caps = (env.energy_kwh(profile, end - window, end), env.energy_kwh(profile, end, end + window))
            run.step(sod, baseline, dt_s, caps)
        available = {
            pv_id: env.pv_available_kw(pv_id, t_mid) * self.pv_factor.get(pv_id, 1.0) for pv_id in self.pvs
        }
        for pv_id, pv in self.pvs.items():
            if pv.feed_in_limit_kw is None:
                pv.step(available[pv_id], dt_s)
        for battery in self.batteries.values():
            if not battery.self_consumption:
                battery.step(dt_s)
        for battery in self.batteries.values():
            if battery.self_consumption:
                battery.p_target_kw = self.tenant_forward_kw(self.topology.owner.get(battery.spec.id),
                                                               exclude=battery.spec.id)
                battery.step(dt_s)
        for pv_id, pv in self.pvs.items():
            if pv.feed_in_limit_kw is not None:
                room = pv.feed_in_limit_kw + self.tenant_forward_kw(self.topology.owner.get(pv_id), exclude=pv_id)
                pv.step(available[pv_id], dt_s, feed_in_room_kw=max(0.0, room))
        self._solve_network(dt_s)
        for device in self.devices.values():
            device.measure()
            device.refresh_served()

    def _solve_network(self, dt_s: float) -> None:
        injections = self.injections()
        if self._pp is not None:
            self._since_pf += dt_s
            if self._since_pf >= self.pf_every_s:
                self._since_pf = 0.0
                self._network = self._pp.solve(injections)
            else:
                pcc = -sum(i.p_kw for i in injections) + (
                    self._network.losses_kw if math.isfinite(self._network.losses_kw) else 0.0
                )
                self._network = NetworkResult(pcc, self._network.losses_kw, self._network.bus_vm_pu)
        else:
            self._network = balance(injections)
        for meter in self.meters.values():
            spec = meter.spec
            if spec.scope == "pcc":
                p = self._network.pcc_import_kw
            elif spec.scope == "tenant":
                # Exactly the flows downstream of the meter's point (lossless below the PCC).
                buses = self.meter_buses.get(spec.id) or self.topology.meter_buses(spec)
                p = -sum(i.p_kw for i in injections if i.bus in buses)
            else:
                p = -sum(i.p_kw for i in injections if i.source == spec.asset)
            meter.vm_pu = self._network.bus_vm_pu.get(spec.bus, 1.0)
            meter.integrate(p, dt_s)

    def state(self) -> ParkState:
        """Snapshot of the true physical state."""
        return ParkState(
            time=self.now,
            t_s=self.t_s,
            pcc_import_kw=self._network.pcc_import_kw,
            losses_kw=self._network.losses_kw,
            pv_kw={k: v.p_kw for k, v in self.pvs.items()},
            pv_available_kw={k: v.p_available_kw for k, v in self.pvs.items()},
            battery_kw={k: v.p_kw for k, v in self.batteries.items()},
            soc_pct={k: v.soc_pct for k, v in self.batteries.items()},
            heat_pump_kw={k: v.p_el_kw for k, v in self.heat_pumps.items()},
            tank_temp_c={k: v.tank.temp_c for k, v in self.heat_pumps.items()},
            flex_kw={k: v.p_kw for k, v in self.flex.items()},
            tenant_load_kw={k: v.p_kw for k, v in self.tenants.items()},
            meter_kw={k: v.p_kw for k, v in self.meters.items()},
        )

    # ----------------------------------------------------------------------------------- servers
    async def publish(self) -> None:
        """Bring endpoints up/down per faults and write changed registers."""
        for key, endpoint in self.endpoints.items():
            if key in self.endpoints_down and endpoint.running:
                await endpoint.stop()
                endpoint.down = True
            elif key not in self.endpoints_down and not endpoint.running and endpoint.down:
                await endpoint.start()
        for endpoint in self.endpoints.values():
            await endpoint.publish()

    async def advance(self, dt_s: float, step_s: float | None = None) -> None:
        """Step ``dt_s`` seconds in steps of at most ``step_s`` (default: the park's step) and publish."""
        step = step_s or self.step_s
        remaining = dt_s
        while remaining > 1e-9:
            dt = min(step, remaining)
            self.step(dt)
            remaining -= dt
        await self.publish()

    async def start(self, run: bool = True) -> None:
        """Start every endpoint (and, with ``run``, the background task stepping on the clock)."""
        try:
            await asyncio.gather(*(endpoint.start() for endpoint in self.endpoints.values()))
        except EndpointError as exc:
            await self.stop()
            err = (SimError.of("uerr.sim_cannot_listen", where=exc.where, reason=exc.reason) if exc.where
                   else SimError(str(exc)))
            raise err.with_problem("uerr.sim_port_hint") from None
        await self.publish()
        if run:
            self._task = asyncio.create_task(self._run(), name="park-physics")

    async def _run(self) -> None:
        self._clock_last = self.clock.monotonic()
        while True:
            await self.clock.sleep(self.step_s)
            try:
                await self.catch_up()
            except Exception:  # keep serving: a HIL rig must not lose every device on one bad step
                log.exception("simulator step failed at t=%.1f s", self.t_s)

    async def catch_up(self) -> None:
        """Step the physics up to the clock's present (the background task does this every ``step_s``)."""
        if self._clock_last is None:
            return
        now = self.clock.monotonic()
        dt, self._clock_last = now - self._clock_last, now
        if dt > 0:
            self.step(dt)
            await self.publish()

    async def stop(self) -> None:
        """Stop the background task and every endpoint (connections are closed)."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._clock_last = None
        await asyncio.gather(*(endpoint.stop() for endpoint in self.endpoints.values()))

    def endpoint_rows(self) -> list[dict[str, object]]:
        """One row per device: id, kind (role), host, port actually listened on, unit id, map."""
        rows = []
        for key, endpoint in self.endpoints.items():
            for model in endpoint.devices:
                d = model.device
                rows.append(
                    {
                        "device": d.id,
                        "kind": d.role,
                        "serves": d.serves,
                        "host": d.host or d.serial_port,
                        "port": endpoint.bound_port or d.port if d.host else endpoint.serial_port,
                        "unit_id": d.unit_id,
                        "map": d.map,
                        "endpoint": key,
                    }
                )
        return rows

    def client_site(self) -> Site:
        """The site with each device's port replaced by the port actually served (for ``bind="auto"``)."""
        ports = {row["device"]: row["port"] for row in self.endpoint_rows()}
        devices = [
            d.model_copy(update={"port": ports.get(d.id, d.port)}) if d.host else d for d in self.site.devices
        ]
        return self.site.model_copy(update={"devices": devices})
