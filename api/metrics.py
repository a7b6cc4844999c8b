"""Prometheus metrics of one app, in its own registry (no process-global state).

Gauges are read from the control port's snapshot at scrape time; today's green-power ratio, CO2, energy cost
and the demand charge come from the one accounting (:func:`microgrid.reports.figures.period_figures`) over
the measured interval energies and are cached for ``green_ttl_s``.

=========================================  ===========================================================
``microgrid_pcc_power_kw``                 PCC active power, import > 0 / export < 0
``microgrid_pv_power_kw{asset,tenant}``    PV output
``microgrid_storage_power_kw{asset}``      storage AC power, discharge > 0 / charge < 0
``microgrid_storage_soc_pct{asset}``       state of charge
``microgrid_heat_pump_power_kw{asset}``    heat-pump electric consumption
``microgrid_flexible_load_kw{asset,kind}`` flexible loads and EV chargers (consumption)
``microgrid_green_power_ratio_today``      0-1, measured since local midnight
``microgrid_co2_today_kg``                 location-based Scope 2 since midnight
``microgrid_energy_cost_today_cny``        energy import cost since midnight (TOU prices)
``microgrid_demand_charge_month_to_date_cny`` the month's demand charge so far (105 %/x2 rule)
``microgrid_device_health{device,role}``   0 online, 1 degraded, 2 stale, 3 offline, 4 unknown
``microgrid_device_up{device,role}``       1 when online or degraded
``microgrid_control_cycle_seconds``        duration of the last control cycle
``microgrid_control_cycle_p99_seconds``    p99 of recent cycles
``microgrid_solver_seconds``               wall time of the last (re-)plan solve
``microgrid_mode{mode}``                   1 for the controller's current mode
``microgrid_active_alarms``                unacknowledged alarms
``microgrid_overrides_active``             manual overrides in force
``microgrid_api_requests_total``           API requests by method, route template and status
=========================================  ===========================================================
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import TYPE_CHECKING

from prometheus_client import CollectorRegistry, Counter, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from api.live import read_snapshot

if TYPE_CHECKING:
    from api.context import AppContext

HEALTH_CODE = {"online": 0, "degraded": 1, "stale": 2, "offline": 3, "unknown": 4}
MODES = ("normal", "fallback", "safe", "manual")


class _ParkCollector(Collector):
    def __init__(self, metrics: AppMetrics) -> None:
        self.metrics = metrics

    def collect(self) -> Iterator[GaugeMetricFamily]:  # noqa: C901 - one block per metric family
        ctx = self.metrics.ctx
        if ctx is None:
            return
        snap = read_snapshot(ctx)
        pcc = GaugeMetricFamily("microgrid_pcc_power_kw", "PCC active power, import > 0 / export < 0, kW")
        if snap.pcc_p_kw is not None:
            pcc.add_metric([], snap.pcc_p_kw)
        yield pcc
        pv = GaugeMetricFamily("microgrid_pv_power_kw", "PV output, kW", labels=["asset", "tenant"])
        st = GaugeMetricFamily("microgrid_storage_power_kw", "Storage AC power, discharge > 0, kW", labels=["asset"])
        soc = GaugeMetricFamily("microgrid_storage_soc_pct", "Storage state of charge, %", labels=["asset"])
        hp = GaugeMetricFamily("microgrid_heat_pump_power_kw", "Heat-pump electric consumption, kW", labels=["asset"])
        flex = GaugeMetricFamily("microgrid_flexible_load_kw", "Flexible load / EV consumption, kW",
                                 labels=["asset", "kind"])
        for live in snap.assets:
            info = ctx.assets.get(live.asset_id)
            if info is None:
                continue
            if info.kind == "battery" and live.soc_pct is not None:
                soc.add_metric([info.id], live.soc_pct)
            if live.p_kw is None:
                continue
            if info.kind == "pv":
                pv.add_metric([info.id, info.tenant or ""], live.p_kw)
            elif info.kind == "battery":
                st.add_metric([info.id], live.p_kw)
            elif info.kind == "heat_pump":
                hp.add_metric([info.id], live.p_kw)
            else:
                flex.add_metric([info.id, info.kind], live.p_kw)
        yield from (pv, st, soc, hp, flex)

        health = GaugeMetricFamily("microgrid_device_health", "0 online, 1 degraded, 2 stale, 3 offline, 4 unknown",
                                   labels=["device", "role"])
        up = GaugeMetricFamily("microgrid_device_up", "1 when the device answers with fresh data",
                               labels=["device", "role"])
        seen: set[str] = set()
        for live in snap.assets:
            for dev in live.devices:
                if dev.device_id in seen:
                    continue
                seen.add(dev.device_id)
                health.add_metric([dev.device_id, dev.role], HEALTH_CODE.get(dev.health, 4))
                up.add_metric([dev.device_id, dev.role], 1.0 if dev.health in ("online", "degraded") else 0.0)
        for meter in snap.meters:
            device = next((d for d in ctx.site.devices if d.serves == meter.meter_id), None)
            name = device.id if device else meter.meter_id
            if name not in seen:
                seen.add(name)
                health.add_metric([name, "meter"], HEALTH_CODE.get(meter.health, 4))
                up.add_metric([name, "meter"], 1.0 if meter.health in ("online", "degraded") else 0.0)
        yield from (health, up)

        green = self.metrics.green
        for name, key, doc in (
            ("microgrid_green_power_ratio_today", "green_power_ratio", "Green-power ratio since local midnight, 0-1"),
            ("microgrid_co2_today_kg", "co2_kg", "Location-based CO2 since local midnight, kg"),
            ("microgrid_energy_cost_today_cny", "cost_energy_cny", "Energy import cost since local midnight, CNY"),
            ("microgrid_pv_energy_today_kwh", "pv_generation_kwh", "PV energy since local midnight, kWh"),
            ("microgrid_consumption_today_kwh", "consumption_kwh", "Electricity consumed since local midnight, kWh"),
            ("microgrid_demand_charge_month_to_date_cny", "demand_charge_month_to_date_cny",
             "The month's demand charge on the month-to-date peak (105 %/x2 rule), CNY"),
        ):
            fam = GaugeMetricFamily(name, doc)
            if green and green.get(key) is not None:
                fam.add_metric([], float(green[key]))
            yield fam

        for name, value, doc in (
            ("microgrid_control_cycle_seconds", snap.cycle_time_ms, "Duration of the last control cycle, s"),
            ("microgrid_control_cycle_p99_seconds", snap.cycle_time_p99_ms, "p99 control cycle time, s"),
        ):
            fam = GaugeMetricFamily(name, doc)
            if value is not None:
                fam.add_metric([], value / 1000.0)
            yield fam
        solver = GaugeMetricFamily("microgrid_solver_seconds", "Wall time of the last (re-)plan solve, s")
        if snap.solver_time_s is not None:
            solver.add_metric([], snap.solver_time_s)
        yield solver
        mode = GaugeMetricFamily("microgrid_mode", "1 for the controller's current mode", labels=["mode"])
        for m in sorted(set(MODES) | {snap.mode}):
            mode.add_metric([m], 1.0 if m == snap.mode else 0.0)
        yield mode
        alarms = GaugeMetricFamily("microgrid_active_alarms", "Unacknowledged alarms")
        alarms.add_metric([], float(self.metrics.active_alarms))
        yield alarms
        overrides = GaugeMetricFamily("microgrid_overrides_active", "Manual overrides in force")
        overrides.add_metric([], float(len(ctx.control.overrides())))
        yield overrides


class AppMetrics:
    """The registry of one app and the cached figures its collector reports."""

    def __init__(self, green_ttl_s: float = 30.0) -> None:
        self.registry = CollectorRegistry(auto_describe=False)
        self.ctx: AppContext | None = None
        self.green: dict | None = None
        self.green_at = -1e9
        self.green_ttl_s = green_ttl_s
        self.active_alarms = 0
        self.requests = Counter("microgrid_api_requests", "API requests", ["method", "route", "status"],
                                registry=self.registry)
        self.registry.register(_ParkCollector(self))

    def green_stale(self) -> bool:
        return time.monotonic() - self.green_at > self.green_ttl_s

    def set_green(self, figures: dict, active_alarms: int) -> None:
        self.green, self.active_alarms, self.green_at = figures, active_alarms, time.monotonic()

    def render(self) -> bytes:
        return generate_latest(self.registry)
