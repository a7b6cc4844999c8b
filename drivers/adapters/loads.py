"""Controllable loads: heat-pump controller and flexible-load controller (also EV depots, shiftable loads).

Both report consumption > 0 (the park convention for loads): no sign change.

- Heat pump (``heat_pump_controller``): power mode is the ordered sequence *setpoint, mode, run*
  (``p_el_set_kw``, ``control_mode`` = 1, ``run_cmd`` = 1; a zero setpoint writes ``run_cmd`` = 0: off). The unit drops back to its thermostat when no write arrives
  within ``comm_timeout_s`` (read from the device), so the setpoint is re-written at a fraction of it.
  ``None`` hands the unit back to its thermostat. Temperature setpoints are EEPROM-backed: never written
  by the controller (the safe-write layer rate-limits manual writes).
- Flexible load (``flex_load_controller``): remote mode is *setpoint, then enable* (``p_set_kw`` then
  ``remote_enable`` = 1), with the same write watchdog; ``None`` returns it to local (baseline) control.
"""

from __future__ import annotations

from typing import Any, ClassVar

from drivers.adapters.base import Adapter, bit_list, enum_name, min_opt
from drivers.capabilities import CapabilityKind, FlexLoadReading, HeatPumpReading
from drivers.safewrite import Step, WriteResult

_POWER_MODE = 1
_THERMOSTAT = 0
_REMOTE = 1
_LOCAL = 0


class _WatchdogLoad(Adapter):
    SET_ID: ClassVar[str]
    MODE_ID: ClassVar[str]
    MODE_ON: ClassVar[int]
    MODE_OFF: ClassVar[int]
    MAX_ID: ClassVar[str]

    def p_bounds(self) -> tuple[float, float | None]:
        hi = min_opt(self.limits.p_max_kw, self.num(self.MAX_ID))
        return (self.limits.p_min_kw or 0.0), hi

    async def _set(self, p_kw: float | None, requested_name: str) -> list[WriteResult]:
        w = self.writer()
        if p_kw is None:
            w.stop_keep_alive(self.SET_ID)
            release = [Step(self.MODE_ID, self.MODE_OFF), *self.switch_steps(None)]
            if len(release) == 1:
                return [await w.write(self.MODE_ID, self.MODE_OFF)]
            return await w.write_sequence("release", release)
        if p_kw < 0:
            return [self.refuse(f"a consumption setpoint cannot be negative ({p_kw} kW)", self.SET_ID, requested=p_kw)]
        lo, hi = self.p_bounds()
        if p_kw == 0:
            lo = 0.0  # zero is "off", not a value below the process minimum
        steps = [
            Step(self.SET_ID, p_kw, lo=lo, hi=hi, deadband=self.deadband_kw(hi)),
            Step(self.MODE_ID, self.MODE_ON),
            *self.switch_steps(p_kw),
        ]
        results = await w.write_sequence(requested_name, steps)
        if all(r.applied for r in results):
            self.control_started = True
            timeout = self.num("comm_timeout_s")
            default = self.dev().point("comm_timeout_s").revert_s or 300.0
            w.keep_alive(self.SET_ID, self.refresh_period(timeout, default))
        return results

    def switch_steps(self, p_kw: float | None) -> list[Step]:
        """Extra steps switching the unit itself on or off for ``p_kw`` (``None``: released; none by default)."""
        return []

    def raw_write_plan(self, role: str, point_id: str, value: Any) -> Any:
        if point_id == self.SET_ID and isinstance(value, int | float) and not isinstance(value, bool):
            return self._set(float(value), "setpoint")
        return None


class HeatPumpController(_WatchdogLoad):
    kind = CapabilityKind.HEAT_PUMP
    maps: ClassVar[dict[str, str]] = {"main": "heat_pump_controller"}
    SET_ID = "p_el_set_kw"
    MODE_ID = "control_mode"
    MODE_ON = _POWER_MODE
    MODE_OFF = _THERMOSTAT
    MAX_ID = "p_el_max_kw"
    FAST: ClassVar[dict[str, tuple[str, ...]]] = {
        "main": ("p_el_kw", "q_th_kw", "cop", "supply_temp_c", "return_temp_c", "tank_temp_c", "status", "control_mode", "p_el_set_kw")
    }
    CONTROL: ClassVar[dict[str, tuple[str, ...]]] = {"main": ("p_el_kw", "tank_temp_c")}
    SLOW: ClassVar[dict[str, tuple[str, ...]]] = {
        "main": ("ambient_temp_c", "alarms", "heat_draw_kw", "e_el_kwh", "e_th_kwh", "run_cmd")
    }
    STATIC: ClassVar[dict[str, tuple[str, ...]]] = {
        "main": ("p_el_max_kw", "comm_timeout_s", "tank_temp_set_c", "supply_temp_set_c", "tank_hysteresis_k")
    }

    def reading(self) -> HeatPumpReading:
        d = self.dev()
        return HeatPumpReading(
            **self.meta(),
            p_el_kw=self.num("p_el_kw"),
            p_el_set_kw=self.num("p_el_set_kw") if self.num("control_mode") == _POWER_MODE else None,
            p_el_max_kw=min_opt(self.limits.p_max_kw, self.num("p_el_max_kw")),
            mode=enum_name(d, "control_mode"),
            status=enum_name(d, "status"),
            tank_temp_c=self.num("tank_temp_c"),
            supply_temp_c=self.num("supply_temp_c"),
            return_temp_c=self.num("return_temp_c"),
            ambient_temp_c=self.num("ambient_temp_c"),
            q_th_kw=self.num("q_th_kw"),
            cop=self.num("cop"),
            heat_draw_kw=self.num("heat_draw_kw"),
            alarms=bit_list(d, "alarms"),
        )

    def switch_steps(self, p_kw: float | None) -> list[Step]:
        """``run_cmd``: 0 (off) for a zero setpoint, else 1 — the unit stops instead of idling at its minimum;
        released to its thermostat it is switched on (the thermostat decides)."""
        return [Step("run_cmd", 0 if p_kw is not None and p_kw <= 0 else 1)]

    async def set_power(self, p_el_kw: float | None) -> list[WriteResult]:
        """Run at ``p_el_kw`` kW electrical (power mode; 0 = off via ``run_cmd``), or ``None``: back to the
        thermostat (``run_cmd`` stays as it is)."""
        return await self._set(p_el_kw, "power_mode")


class FlexLoadController(_WatchdogLoad):
    kind = CapabilityKind.FLEXIBLE_LOAD
    maps: ClassVar[dict[str, str]] = {"main": "flex_load_controller"}
    SET_ID = "p_set_kw"
    MODE_ID = "remote_enable"
    MODE_ON = _REMOTE
    MODE_OFF = _LOCAL
    MAX_ID = "p_max_kw"
    FAST: ClassVar[dict[str, tuple[str, ...]]] = {
        "main": ("p_kw", "p_baseline_kw", "p_max_kw", "e_kwh", "e_pending_kwh", "status", "n_connected", "remote_enable", "p_set_kw")
    }
    CONTROL: ClassVar[dict[str, tuple[str, ...]]] = {"main": ("p_kw",)}
    STATIC: ClassVar[dict[str, tuple[str, ...]]] = {"main": ("comm_timeout_s",)}

    def reading(self) -> FlexLoadReading:
        d = self.dev()
        remote = self.num("remote_enable")
        n = self.num("n_connected")
        return FlexLoadReading(
            **self.meta(),
            p_kw=self.num("p_kw"),
            p_baseline_kw=self.num("p_baseline_kw"),
            p_max_kw=min_opt(self.limits.p_max_kw, self.num("p_max_kw")),
            p_set_kw=self.num("p_set_kw") if remote == _REMOTE else None,
            remote=None if remote is None else remote == _REMOTE,
            e_pending_kwh=self.num("e_pending_kwh"),
            status=enum_name(d, "status"),
            n_connected=None if n is None else int(n),
        )

    async def set_power(self, p_kw: float | None) -> list[WriteResult]:
        """Cap / set consumption at ``p_kw`` kW (remote mode), or ``None``: back to local control."""
        return await self._set(p_kw, "remote")


__all__ = ["FlexLoadController", "HeatPumpController"]
