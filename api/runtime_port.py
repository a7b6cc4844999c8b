"""The :class:`~api.ports.ControlPort` over the controller runtime (:class:`microgrid.control.runtime.Runtime`).

Runs in the runtime's event loop (``microgrid run`` serves the API with uvicorn in the same loop), so reads
see a consistent state between two control cycles and writes go straight to the runtime.
"""

from __future__ import annotations

import itertools
from datetime import datetime
from typing import TYPE_CHECKING, Any

import numpy as np

from api.ports import AssetLive, DeviceLive, LiveSnapshot, MeterLive, ReplanTicket
from microgrid.control.overrides import Override
from microgrid.site.models import WATER_KWH_PER_M3_K

if TYPE_CHECKING:
    from microgrid.control.runtime import Runtime

P99_WINDOW = 500
"""Cycles the p99 cycle time is taken over."""


def _health(reading: Any) -> str:
    if reading is None:
        return "unknown"
    health = str(reading.health)
    return "stale" if reading.stale and health == "online" else health


class RuntimePort:
    """Live values, overrides and re-planning of a running :class:`Runtime`."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self.site = runtime.site
        self._requests = itertools.count(1)

    def now(self) -> datetime:
        return self.runtime.clock.now()

    # ---- reads -------------------------------------------------------------------------------------
    def _devices(self, asset_id: str, reading: Any) -> list[DeviceLive]:
        out = []
        for device in self.site.devices_serving(asset_id):
            out.append(DeviceLive(device_id=device.id, role=device.role, health=_health(reading),
                                  last_seen=getattr(reading, "timestamp", None),
                                  error="; ".join(getattr(reading, "problems", ()) or ())))
        return out

    def _asset(self, asset_id: str, reading: Any, p_kw: float | None, planned: float | None,
               setpoint: float | None, **extra: Any) -> AssetLive:
        return AssetLive(asset_id=asset_id, p_kw=p_kw, planned_kw=planned, setpoint_kw=setpoint,
                         health=_health(reading), last_seen=getattr(reading, "timestamp", None),
                         devices=self._devices(asset_id, reading), **extra)

    def snapshot(self) -> LiveSnapshot:
        rt, site = self.runtime, self.site
        now = rt.clock.now()
        readings = rt.readings
        last = rt.last
        sp = last.setpoints if last is not None else None
        try:
            interval = rt.plans.interval(now)
        except KeyError:
            interval = None
        planned_storage = interval.storage_kw if interval else {}
        planned_loads = interval.loads_kw if interval else {}
        planned_pv = interval.pv_kw if interval else {}
        loads_set = last.loads_kw if last is not None else {}
        assets: list[AssetLive] = []
        for p in site.assets.pv:
            r = readings.pv.get(p.id)
            assets.append(self._asset(p.id, r, getattr(r, "p_kw", None), planned_pv.get(p.id),
                                      sp.pv_limit_kw.get(p.id) if sp else None))
        for b in site.assets.batteries:
            r = readings.storage.get(b.id)
            assets.append(self._asset(b.id, r, getattr(r, "p_kw", None), planned_storage.get(b.id),
                                      sp.storage_kw.get(b.id) if sp else None, soc_pct=getattr(r, "soc_pct", None)))
        for h in site.assets.heat_pumps:
            r = readings.heat_pumps.get(h.id)
            temp = getattr(r, "tank_temp_c", None)
            tank = None if temp is None else max(temp - h.tank_temp_min_c, 0.0) * h.tank_volume_m3 * WATER_KWH_PER_M3_K
            assets.append(self._asset(h.id, r, getattr(r, "p_el_kw", None), planned_loads.get(h.id),
                                      loads_set.get(h.id), tank_temp_c=temp, tank_kwh_th=tank))
        for f in [*site.assets.flexible_loads, *site.assets.ev_depots]:
            r = readings.flex.get(f.id)
            assets.append(self._asset(f.id, r, getattr(r, "p_kw", None), planned_loads.get(f.id), loads_set.get(f.id)))
        meters = [MeterLive(meter_id=m.id, p_kw=getattr(readings.meters.get(m.id), "p_kw", None),
                            health=_health(readings.meters.get(m.id)),
                            last_seen=getattr(readings.meters.get(m.id), "timestamp", None)) for m in site.meters]
        walls = rt.cycle_wall_s[-P99_WINDOW:]
        record = rt.plans.at(now)
        replan_job = getattr(rt.jobs, "jobs", {}).get("intraday")
        return LiveSnapshot(
            at=now, mode=str(rt.mode), pcc_p_kw=last.pcc_kw if last is not None else None, meters=meters,
            assets=assets,
            cycle_time_ms=last.duration_s * 1000 if last is not None else None,
            cycle_time_p99_ms=float(np.percentile(walls, 99)) * 1000 if walls else None,
            solver_time_s=self._solver_time_s(),
            plan_version=record.plan_id if record else None,
            last_plan_at=record.created_at if record else None,
            replan_pending=bool(getattr(replan_job, "running", False)),
        )

    def _solver_time_s(self) -> float | None:
        for event in reversed(self.runtime.events.recent):
            if event.kind in ("plan_accepted", "plan_fallback") and "wall_s" in event.data:
                return float(event.data["wall_s"])
        return None

    @property
    def gridcaps(self):
        """The grid's import caps (DR events, commanded PCC limit): :class:`microgrid.control.gridcaps.GridCaps`."""
        return self.runtime.gridcaps

    def overrides(self) -> list[Override]:
        return list(self.runtime.overrides.active(self.runtime.clock.now()).values())

    # ---- writes ------------------------------------------------------------------------------------
    async def set_override(self, override: Override) -> Override:
        try:
            return self.runtime.set_override(override.asset_id, override.value_kw, until=override.expires_at,
                                             user=override.user, reason=override.reason)
        except KeyError as exc:
            raise ValueError(str(exc).strip("'\"")) from None

    async def clear_override(self, asset_id: str, user: str) -> Override | None:
        current = self.runtime.overrides.active(self.runtime.clock.now()).get(asset_id)
        if current is None or not self.runtime.clear_override(asset_id, user):
            return None
        return current

    async def request_replan(self, user: str, reason: str) -> ReplanTicket:
        now = self.runtime.clock.now()
        started = self.runtime.request_replan("intraday")
        message = "intraday re-plan started" if started else "a re-plan is already running: try again shortly"
        return ReplanTicket(accepted=started, request_id=f"replan-{next(self._requests)}", requested_at=now,
                            message=message)
