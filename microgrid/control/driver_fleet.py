"""The runtime's :class:`~microgrid.control.fleet.FleetPort` over the drivers' :class:`drivers.fleet.Fleet`.

Readings come from :meth:`Fleet.read_all` (park units and sign convention, health and staleness per
capability); setpoints go through the capability adapters' safe writes (clamping, write-on-change,
readback, EEPROM budget, device revert timers); :meth:`DriverFleet.refresh` sends the due heartbeats and
keep-alive re-writes. Every write result becomes a :class:`~microgrid.control.fleet.WriteOutcome` for the
audit trail.
"""

from __future__ import annotations

from drivers.capabilities import (
    FlexLoadReading,
    HeatPumpReading,
    MeterReading,
    PVReading,
    StorageReading,
)
from drivers.fleet import Fleet
from drivers.safewrite import WriteResult
from microgrid.control.fleet import FleetReadings, WriteOutcome

RESET_POINTS = ("fault_reset", "alarm_reset")
"""Map points that clear latched faults when 1 is written (PCS ``fault_reset``, BMS ``alarm_reset``)."""


def _num(value: object) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def outcome(asset_id: str, requested: float | None, result: WriteResult) -> WriteOutcome:
    """Audit view of one drivers :class:`~drivers.safewrite.WriteResult`."""
    return WriteOutcome(asset_id=asset_id, device_id=result.device_id, point=result.point_id,
                        requested=requested, old=_num(result.old), new=_num(result.new),
                        status=result.status.value, message=result.message, reason=result.reason)


class DriverFleet:
    """Adapter from the drivers' fleet to the runtime (see module docstring)."""

    def __init__(self, fleet: Fleet) -> None:
        self.fleet = fleet
        self._asset_of_device = {d: a for a, cap in fleet.capabilities.items() for d in
                                 (dev.device_id for dev in cap.devices)}

    async def start(self) -> DriverFleet:
        await self.fleet.start()
        return self

    async def poll(self) -> FleetReadings:
        readings = await self.fleet.read_all()
        out = FleetReadings()
        for asset_id, r in readings.items():
            if isinstance(r, MeterReading):
                out.meters[asset_id] = r
            elif isinstance(r, PVReading):
                out.pv[asset_id] = r
            elif isinstance(r, StorageReading):
                out.storage[asset_id] = r
            elif isinstance(r, HeatPumpReading):
                out.heat_pumps[asset_id] = r
            elif isinstance(r, FlexLoadReading):
                out.flex[asset_id] = r
        return out

    async def set_pv_limit(self, asset_id: str, p_limit_kw: float | None) -> list[WriteOutcome]:
        results = await self.fleet.capabilities[asset_id].set_limit(p_limit_kw)  # type: ignore[attr-defined]
        return [outcome(asset_id, p_limit_kw, r) for r in results]

    async def set_storage(self, asset_id: str, p_kw: float) -> list[WriteOutcome]:
        results = await self.fleet.capabilities[asset_id].set_power(p_kw)  # type: ignore[attr-defined]
        return [outcome(asset_id, p_kw, r) for r in results]

    async def set_heat_pump(self, asset_id: str, p_el_kw: float | None) -> list[WriteOutcome]:
        results = await self.fleet.capabilities[asset_id].set_power(p_el_kw)  # type: ignore[attr-defined]
        return [outcome(asset_id, p_el_kw, r) for r in results]

    async def set_flex(self, asset_id: str, p_kw: float | None) -> list[WriteOutcome]:
        results = await self.fleet.capabilities[asset_id].set_power(p_kw)  # type: ignore[attr-defined]
        return [outcome(asset_id, p_kw, r) for r in results]

    async def reset(self, asset_id: str) -> list[WriteOutcome]:
        """Write the latched-fault reset points the asset's maps define (``RESET_POINTS``); [] if none."""
        cap = self.fleet.capabilities[asset_id]
        out: list[WriteOutcome] = []
        for role, device in cap.by_role.items():  # type: ignore[attr-defined]
            for point_id in RESET_POINTS:
                if device.has(point_id):
                    result = await cap.writer(role).write(point_id, 1, force=True, reason="auto_reset")  # type: ignore[attr-defined]
                    out.append(outcome(asset_id, None, result))
        return out

    async def refresh(self) -> list[WriteOutcome]:
        results = await self.fleet.refresh()
        return [outcome(self._asset_of_device.get(r.device_id, r.device_id), None, r) for r in results]

    async def close(self) -> None:
        await self.fleet.close()


def relax_pacing(fleet: Fleet) -> None:
    """Drop the real-device request pacing — for the simulator on loopback only, where no device needs it
    and simulated time may run faster than the wall clock. Real devices keep the pacing of their maps."""
    fleet.relax_pacing()
