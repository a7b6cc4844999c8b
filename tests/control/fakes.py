"""An in-memory plant behind the runtime's :class:`FleetPort` (fast runtime tests without Modbus).

Physics (simple on purpose): PV produces ``min(available, limit)``; storage follows its setpoint within
its ratings and SoC window (ideal efficiency, optional first-order lag none); consumers follow their
setpoint (or baseline); the PCC is ``load + consumers − PV − storage``. The integration step is the
time since the previous poll on the injected clock. Faults: ``meter_lost`` (the PCC meter stops
answering), ``offline`` (asset ids whose device is unreachable), ``bms_block`` (asset ids whose BMS
forbids charging). An offline battery is modelled as tripped (0 kW); an offline PV plant keeps producing.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from drivers.capabilities import (
    FlexLoadReading,
    HeatPumpReading,
    MeterReading,
    PVReading,
    StorageReading,
    StorageState,
)
from drivers.health import Health
from microgrid.control.fleet import FleetReadings, WriteOutcome
from microgrid.site.models import Site


@dataclass
class FakePlant:
    site: Site
    clock: object
    load_kw: Callable[[float], float]
    """Park base load as a function of the clock's monotonic seconds."""
    pv_avail_kw: Callable[[float], float]
    """Total PV available (shared by rating) as a function of monotonic seconds."""
    pv_limit: dict[str, float] = field(default_factory=dict)
    bat_set: dict[str, float] = field(default_factory=dict)
    bat_p: dict[str, float] = field(default_factory=dict)
    soc: dict[str, float] = field(default_factory=dict)
    consumer_set: dict[str, float] = field(default_factory=dict)
    meter_lost: bool = False
    offline: set[str] = field(default_factory=set)
    bms_block: set[str] = field(default_factory=set)
    last_t: float | None = None
    pcc_kw: float = 0.0
    pcc_log: list[tuple[float, float]] = field(default_factory=list)
    writes: list[tuple[float, str, float | None]] = field(default_factory=list)

    def __post_init__(self) -> None:
        for b in self.site.assets.batteries:
            self.soc.setdefault(b.id, b.soc_initial_pct)
            self.bat_set.setdefault(b.id, 0.0)
            self.bat_p.setdefault(b.id, 0.0)

    def pv_output(self, t: float) -> dict[str, float]:
        plants = self.site.assets.pv
        total_rating = sum(p.inverter_ac_kw for p in plants)
        avail = self.pv_avail_kw(t)
        return {p.id: min(avail * p.inverter_ac_kw / total_rating, self.pv_limit.get(p.id, p.inverter_ac_kw))
                for p in plants}

    def step(self) -> None:
        t = self.clock.monotonic()
        dt = 0.0 if self.last_t is None else t - self.last_t
        self.last_t = t
        for b in self.site.assets.batteries:
            sp = self.bat_set.get(b.id, 0.0)
            if b.id in self.bms_block:
                sp = max(sp, 0.0)
            if b.id in self.offline:  # an unreachable PCS has tripped (or its revert timer fired)
                sp = 0.0
            soc = self.soc[b.id]
            if (sp > 0 and soc <= b.soc_min_pct) or (sp < 0 and soc >= b.soc_max_pct):
                sp = 0.0
            sp = min(max(sp, -b.p_charge_max_kw), b.p_discharge_max_kw)
            self.bat_p[b.id] = sp
            self.soc[b.id] = soc - sp * dt / 3600 / b.e_kwh * 100
        pv = sum(self.pv_output(t).values())
        consumers = sum(self.consumer_set.values())
        self.pcc_kw = self.load_kw(t) + consumers - pv - sum(self.bat_p.values())
        self.pcc_log.append((t, self.pcc_kw))


class FakeFleet:
    """:class:`~microgrid.control.fleet.FleetPort` over a :class:`FakePlant`."""

    def __init__(self, plant: FakePlant) -> None:
        self.plant = plant
        self.site = plant.site
        self.clock = plant.clock

    def _meta(self, asset_id: str, valid: bool = True) -> dict:
        now = self.clock.now()
        health = Health.ONLINE if valid else Health.OFFLINE
        return dict(asset_id=asset_id, device_ids=(f"dev_{asset_id}",), timestamp=now if valid else None,
                    age_s=0.0 if valid else None, stale=not valid, health=health)

    async def poll(self) -> FleetReadings:
        p = self.plant
        p.step()
        t = self.clock.monotonic()
        out = FleetReadings()
        pcc = next(m for m in self.site.meters if m.scope == "pcc")
        if p.meter_lost:  # the meter stopped answering: the driver reports it offline at once
            out.meters[pcc.id] = MeterReading(asset_id=pcc.id, device_ids=("dev_pcc",), timestamp=None,
                                              age_s=None, stale=True, health=Health.OFFLINE, p_kw=None)
        else:
            out.meters[pcc.id] = MeterReading(**self._meta(pcc.id), p_kw=p.pcc_kw)
        pv = p.pv_output(t)
        for plant in self.site.assets.pv:
            ok = plant.id not in p.offline
            out.pv[plant.id] = PVReading(**self._meta(plant.id, ok), p_kw=pv[plant.id] if ok else None,
                                         p_limit_kw=p.pv_limit.get(plant.id),
                                         p_available_kw=p.pv_avail_kw(t) * plant.inverter_ac_kw
                                         / sum(x.inverter_ac_kw for x in self.site.assets.pv))
        for b in self.site.assets.batteries:
            ok = b.id not in p.offline
            out.storage[b.id] = StorageReading(
                **self._meta(b.id, ok), p_kw=p.bat_p[b.id] if ok else None, soc_pct=p.soc[b.id] if ok else None,
                p_setpoint_kw=p.bat_set[b.id],
                p_charge_max_kw=0.0 if b.id in p.bms_block else b.p_charge_max_kw,
                p_discharge_max_kw=b.p_discharge_max_kw, state=StorageState.RUNNING)
        for h in self.site.assets.heat_pumps:
            out.heat_pumps[h.id] = HeatPumpReading(**self._meta(h.id), p_el_kw=p.consumer_set.get(h.id, 0.0),
                                                   p_el_set_kw=p.consumer_set.get(h.id), tank_temp_c=55.0)
        for f in [*self.site.assets.flexible_loads, *self.site.assets.ev_depots]:
            out.flex[f.id] = FlexLoadReading(**self._meta(f.id), p_kw=p.consumer_set.get(f.id, 0.0),
                                             p_set_kw=p.consumer_set.get(f.id))
        return out

    def _held(self, asset_id: str) -> float | None:
        p = self.plant
        for table in (p.pv_limit, p.bat_set, p.consumer_set):
            if asset_id in table:
                return table[asset_id]
        return None

    def _ok(self, asset_id: str, value: float | None, point: str) -> list[WriteOutcome]:
        """Write on change, as the drivers do: the same value again sends nothing."""
        if asset_id in self.plant.offline:
            return [WriteOutcome(asset_id, f"dev_{asset_id}", point, value, None, value, "failed", "offline")]
        held = self._held(asset_id)
        if held is not None and value is not None and abs(held - value) < 1e-6:
            return [WriteOutcome(asset_id, f"dev_{asset_id}", point, value, held, value, "unchanged")]
        self.plant.writes.append((self.clock.monotonic(), asset_id, value))
        return [WriteOutcome(asset_id, f"dev_{asset_id}", point, value, None, value, "ok")]

    async def set_pv_limit(self, asset_id: str, p_limit_kw: float | None) -> list[WriteOutcome]:
        out = self._ok(asset_id, p_limit_kw, "p_limit_kw")
        if out[0].status == "ok":
            rating = self.site.asset(asset_id).inverter_ac_kw
            self.plant.pv_limit[asset_id] = rating if p_limit_kw is None else p_limit_kw
        return out

    async def set_storage(self, asset_id: str, p_kw: float) -> list[WriteOutcome]:
        out = self._ok(asset_id, p_kw, "p_set_kw")
        if out[0].status == "ok":
            self.plant.bat_set[asset_id] = p_kw
        return out

    async def set_heat_pump(self, asset_id: str, p_el_kw: float | None) -> list[WriteOutcome]:
        out = self._ok(asset_id, p_el_kw, "p_el_set_kw")
        self.plant.consumer_set[asset_id] = p_el_kw or 0.0
        return out

    async def set_flex(self, asset_id: str, p_kw: float | None) -> list[WriteOutcome]:
        out = self._ok(asset_id, p_kw, "p_set_kw")
        self.plant.consumer_set[asset_id] = p_kw or 0.0
        return out

    async def refresh(self) -> list[WriteOutcome]:
        return []

    async def close(self) -> None:
        pass
