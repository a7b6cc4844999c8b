"""Simulated devices for maps with a ``profile`` (:class:`drivers.registermap.Profile`): no code per brand.

The profile says which points carry power, rating, limit, SoC and setpoint; units (W/kW) come from the
points, signs from ``power_sign`` / ``setpoint_sign`` (the device's raw sign = park sign × the factor).

- PV: the output is capped by ``limit_pct`` % of the rating when the limit (switch) is in force.
- Meter: measures what flows through the metered element on the secondary side (× PT × CT from the site).
- Storage: follows ``setpoint`` once ``run`` was written (or at once, for maps without a run command).
"""

from __future__ import annotations

import math
from typing import Any

from drivers.registermap import Profile, kw_factor
from sim.devices.base import DeviceModel
from sim.devices.meters import MeterDevice


def _set_kw(device: DeviceModel, pid: str | None, value_kw: float, sign: int = 1) -> None:
    """Set a power/energy point from kW (kWh) in the point's own unit and sign."""
    if pid is not None:
        device.set(pid, sign * value_kw / kw_factor(device.map.point(pid)))


def _kw(device: DeviceModel, pid: str, default: float = 0.0) -> float:
    return float(device.get(pid, default / kw_factor(device.map.point(pid)))) * kw_factor(device.map.point(pid))


class ProfilePV(DeviceModel):
    family = "profile_pv"

    def setup(self) -> None:
        self.prof: Profile = self.map.profile  # type: ignore[assignment]
        self.pv = self.park.pv(self.device.serves)
        _set_kw(self, self.prof.rated, self.pv.spec.inverter_ac_kw)
        if self.prof.limit_pct:
            self.set(self.prof.limit_pct, 100.0)

    def command(self) -> None:
        prof, pv = self.prof, self.pv
        enabled = prof.limit_enable is None or int(self.get(prof.limit_enable.point, -1)) == prof.limit_enable.value
        pct = float(self.get(prof.limit_pct, 100.0)) if prof.limit_pct and enabled else 100.0
        pv.limit_kw = pv.spec.inverter_ac_kw * pct / 100.0 if pct < 100.0 else None

    def measure(self) -> None:
        prof, pv = self.prof, self.pv
        _set_kw(self, prof.power, pv.p_kw, prof.power_sign)
        _set_kw(self, prof.reactive, 0.0)
        _set_kw(self, prof.energy_import, pv.e_kwh)
        amps = pv.p_kw * 1000.0 / (math.sqrt(3) * 400.0)
        for pid in prof.voltages:
            self.set(pid, 230.0)
        for pid in prof.currents:
            self.set(pid, amps)
        if prof.frequency:
            self.set(prof.frequency, 50.0)
        if prof.power_factor:
            self.set(prof.power_factor, 1.0)


class ProfileMeter(MeterDevice):
    family = "profile_meter"

    def setup(self) -> None:
        super().setup()
        self.prof: Profile = self.map.profile  # type: ignore[assignment]
        if not self.map.has("pt_ratio"):
            self.pt = 1.0  # a meter without ratio registers reports primary values
        if not self.map.has("ct_ratio"):
            self.ct = 1.0

    def measure(self) -> None:
        prof, m = self.prof, self.meter
        p_kw, u_ll, i_a = self.secondary()
        _set_kw(self, prof.power, p_kw, prof.power_sign)
        for pid in prof.phase_powers:  # a balanced load: a third of the total per phase
            _set_kw(self, pid, p_kw / len(prof.phase_powers), prof.power_sign)
        _set_kw(self, prof.reactive, 0.0)
        for pid in prof.voltages:
            self.set(pid, u_ll if pid.startswith(("u_ab", "u_bc", "u_ca")) else u_ll / math.sqrt(3))
        for pid in prof.currents:
            self.set(pid, i_a)
        if prof.frequency:
            self.set(prof.frequency, m.f_hz)
        if prof.power_factor:
            self.set(prof.power_factor, 1.0)
        ratio = self.pt * self.ct
        _set_kw(self, prof.energy_import, m.e_import_kwh / ratio)
        _set_kw(self, prof.energy_export, m.e_export_kwh / ratio)


class ProfileStorage(DeviceModel):
    family = "profile_storage"

    def setup(self) -> None:
        self.prof: Profile = self.map.profile  # type: ignore[assignment]
        self.bat = self.park.battery(self.device.serves)
        spec = self.bat.spec
        _set_kw(self, self.prof.rated, max(spec.p_charge_max_kw, spec.p_discharge_max_kw))
        self.running = self.prof.run is None

    def on_write(self, point_id: str, value: Any) -> None:
        run = self.prof.run
        if run is not None and point_id == run.point:
            self.running = int(value) == run.value

    def command(self) -> None:
        prof, bat = self.prof, self.bat
        target = _kw(self, prof.setpoint) * prof.setpoint_sign if prof.setpoint else 0.0
        bat.p_target_kw = target if self.running else 0.0

    def measure(self) -> None:
        prof, bat = self.prof, self.bat
        _set_kw(self, prof.power, bat.p_kw, prof.power_sign)
        if prof.soc:
            self.set(prof.soc, bat.soc_pct)
        _set_kw(self, prof.energy_import, bat.state.e_discharged_kwh)
        _set_kw(self, prof.energy_export, bat.state.e_charged_kwh)
        if prof.frequency:
            self.set(prof.frequency, 50.0)


PROFILE_DEVICES: dict[str, type[DeviceModel]] = {
    "pv_inverter": ProfilePV,
    "meter": ProfileMeter,
    "storage": ProfileStorage,
}

__all__ = ["PROFILE_DEVICES"]
