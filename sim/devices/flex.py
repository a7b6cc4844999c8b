"""Flexible-load / EV-depot controller semantics (map ``flex_load_controller``, illustrative).

``remote_enable`` 0 = local: the load follows its own baseline (curtailable / shiftable baseline, deferrable
job and EV trucks at full power from the start of their window); 1 = remote: ``p_set_kw`` caps the load
(curtailable: not below the process minimum; shiftable: setpoint within its backlog capacity; deferrable and
EV: obeyed until the remaining energy only just fits, then full power). Watchdog: in remote mode, no write
for ``comm_timeout_s`` (0 = off) falls back to local mode. Power is consumption (> 0).
"""

from __future__ import annotations

from typing import Any

from microgrid.site.models import EVDepot
from sim.devices.base import DeviceModel


class FlexLoadController(DeviceModel):
    family = "flexible_load"

    def setup(self) -> None:
        self.load = self.park.flexible(self.device.serves)
        self.set("p_max_kw", self.load.p_max_kw)
        self._t_last_write = 0.0

    def check_write(self, point, value: Any):
        from pymodbus.constants import ExcCodes

        if point.id == "p_set_kw" and value > self.load.p_max_kw + 1e-6:
            return ExcCodes.ILLEGAL_VALUE
        return None

    def on_write(self, point_id: str, value: Any) -> None:
        self._t_last_write = self.t_s

    def tick(self, dt_s: float) -> None:
        timeout = float(self.get("comm_timeout_s", 0))
        if int(self.get("remote_enable", 0)) == 1 and timeout > 0 and self.t_s - self._t_last_write > timeout:
            self.set("remote_enable", 0)

    def command(self) -> None:
        self.load.remote = int(self.get("remote_enable", 0)) == 1
        self.load.p_set_kw = float(self.get("p_set_kw", 0.0))

    def measure(self) -> None:
        load = self.load
        self.set("p_kw", load.p_kw)
        self.set("p_baseline_kw", load.baseline_kw)
        self.set("e_kwh", load.e_kwh)
        self.set("e_pending_kwh", max(-3276.8, min(3276.7, load.pending_kwh)))
        if load.p_kw <= 0.01:
            status = 0
        else:
            status = 2 if load.remote else 1
        self.set("status", status)
        if isinstance(load.spec, EVDepot):
            connected = load.spec.n_chargers if load.job.active else 0
        else:
            connected = 1 if load.p_kw > 0.01 else 0
        self.set("n_connected", connected)
