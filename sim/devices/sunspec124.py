"""A legacy SunSpec battery inverter (map ``sunspec_battery_legacy``: 1 + 103, 120, 121, 123, 124).

Model 124 bounds the battery power ``P`` (+ discharge) by ``-InWRte`` .. ``+OutWRte`` (% of ``WChaMax``),
each bound active when its ``StorCtl_Mod`` bit is set (bit 0 charge, bit 1 discharge). Without forcing the
simulated battery idles, so it runs at the point of the window nearest to 0 W: a window collapsed on ``x``
runs at ``x``. A write to a rate, to ``StorCtl_Mod`` or to ``InOutWRte_RvrtTms`` restarts the reversion
timer (when ``InOutWRte_RvrtTms`` > 0); at expiry both rates return to 100 % and ``StorCtl_Mod`` to 0.
``MinRsvPct`` raises the SoC floor; 123 ``Conn`` = 0 disconnects; 103 ``W`` is + when discharging.
"""

from __future__ import annotations

import math
from typing import Any

from sim.devices.base import Timer
from sim.devices.sunspec import V_DC_NOMINAL, V_LL_NOMINAL, SunSpecDER, sf_for

_RATE_TRIGGERS = frozenset({"InWRte", "OutWRte", "StorCtl_Mod", "InOutWRte_RvrtTms"})
_CHARGE_BIT, _DISCHARGE_BIT = 1, 2


class SunSpecLegacyBattery(SunSpecDER):
    """Storage inverter controlled through 124 (see the module docstring)."""

    def setup(self) -> None:
        super().setup()
        self.bat = self.park.battery(self.device.serves)
        spec = self.bat.spec
        self.rating_w = max(spec.p_charge_max_kw, spec.p_discharge_max_kw) * 1000.0
        self.rate_timer = Timer()
        wh = spec.e_kwh * 1000.0
        self.sset(1, "Md", f"Battery {spec.p_discharge_max_kw:g} kW / {spec.e_kwh:g} kWh (SunSpec 124)")
        for name, value in (("WRtg", self.rating_w), ("VARtg", self.rating_w), ("WHRtg", wh),
                            ("AhrRtg", wh / V_DC_NOMINAL), ("MaxChaRte", spec.p_charge_max_kw * 1000.0),
                            ("MaxDisChaRte", spec.p_discharge_max_kw * 1000.0)):
            self.sset(120, f"{name}_SF", sf_for(value, 65535, lowest=0))
            self.sset(120, name, value)
        self.sset(120, "AhrRtg_SF", sf_for(wh / V_DC_NOMINAL, 65535, lowest=0))
        self.sset(121, "WMax_SF", sf_for(self.rating_w, 65535, lowest=0))
        self.sset(121, "WMax", self.rating_w)
        self.sset(103, "W_SF", sf_for(self.rating_w, 32767))
        self.sset(103, "VA_SF", sf_for(self.rating_w, 32767))
        self.sset(124, "WChaMax_SF", sf_for(self.rating_w, 65535, lowest=0))
        self.sset(124, "WChaMax", self.rating_w)
        self.sset(124, "MinRsvPct", spec.soc_min_pct)

    def on_write(self, point_id: str, value: Any) -> None:
        super().on_write(point_id, value)
        point = self.map.point(point_id)
        if point.group == "model_124" and point.sunspec_name in _RATE_TRIGGERS:
            tms = float(self.sget(124, "InOutWRte_RvrtTms", 0) or 0)
            self.rate_timer.start(tms) if tms > 0 else self.rate_timer.stop()

    def tick(self, dt_s: float) -> None:
        super().tick(dt_s)
        if self.rate_timer.advance(dt_s):
            self.sset(124, "InWRte", 100.0)
            self.sset(124, "OutWRte", 100.0)
            self.sset(124, "StorCtl_Mod", 0)

    def window_w(self) -> tuple[float, float]:
        """(lowest, highest) battery power allowed by 124, W (+ discharge)."""
        spec = self.bat.spec
        ref = float(self.sget(124, "WChaMax", self.rating_w) or 0.0)
        mod = int(self.sget(124, "StorCtl_Mod", 0) or 0)
        lo = -float(self.sget(124, "InWRte", 100.0)) / 100.0 * ref if mod & _CHARGE_BIT else -spec.p_charge_max_kw * 1e3
        hi = float(self.sget(124, "OutWRte", 100.0)) / 100.0 * ref if mod & _DISCHARGE_BIT else spec.p_discharge_max_kw * 1e3
        return lo, hi

    def command(self) -> None:
        bat = self.bat
        lo, hi = self.window_w()
        bat.running = int(self.sget(123, "Conn", 1)) == 1 and lo <= hi
        bat.p_target_kw = min(max(0.0, lo), hi) / 1000.0 if lo <= hi else 0.0
        bat.p_charge_limit_kw = min(bat.spec.p_charge_max_kw, float(self.sget(124, "WChaMax", 0.0)) / 1000.0)
        bat.p_discharge_limit_kw = bat.spec.p_discharge_max_kw
        bat.soc_floor_pct = max(bat.spec.soc_min_pct, float(self.sget(124, "MinRsvPct", 0.0)))
        bat.soc_ceiling_pct = bat.spec.soc_max_pct

    def measure(self) -> None:
        bat = self.bat
        p_w = bat.p_kw * 1000.0
        amps = abs(p_w) / (math.sqrt(3) * V_LL_NOMINAL)
        self.sset(103, "W", p_w)
        self.sset(103, "VA", abs(p_w))
        self.sset(103, "A", amps)
        for phase in ("A", "B", "C"):
            self.sset(103, f"Aph{phase}", amps)
            self.sset(103, f"PhVph{phase}", round(V_LL_NOMINAL / math.sqrt(3), 1))
        for pair in ("AB", "BC", "CA"):
            self.sset(103, f"PPVph{pair}", V_LL_NOMINAL)
        self.sset(103, "WH", int(bat.state.e_discharged_kwh * 1000.0))
        self.sset(103, "St", (4 if abs(p_w) > 1 else 8) if bat.running else 1)
        soc = bat.soc_pct
        self.sset(124, "ChaState", soc)
        reserve = float(self.sget(124, "MinRsvPct", 0.0))
        self.sset(124, "StorAval", max(0.0, soc - reserve) / 100.0 * float(self.sget(120, "AhrRtg", 0.0)))
        self.sset(124, "InBatV", V_DC_NOMINAL * (0.95 + 0.1 * soc / 100.0))
        cha_st = 4 if p_w < -1 else 3 if p_w > 1 else 5 if soc >= bat.soc_ceiling_pct - 0.05 else 6
        self.sset(124, "ChaSt", cha_st if bat.running else 1)
