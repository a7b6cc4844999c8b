"""Meter semantics (maps ``acrel_dtsd1352`` and ``chint_dtsu666``): measure what flows, secondary side.

The site's ``pt_ratio`` / ``ct_ratio`` are the installed transformers, so the meter's secondary readings
are ``primary / PT`` (voltage), ``/ CT`` (current) and ``/ (PT x CT)`` (power, energy). The meter's own
PT/CT registers start at the installed ratios; a client may rewrite them (a commissioning mistake then
shows up as a wrong primary value in the driver, as on site). Forward (> 0) = into the metered side: import
at the PCC, consumption at a tenant or asset meter.
"""

from __future__ import annotations

import math

from sim.assets import MeterRuntime
from sim.devices.base import DeviceModel


class MeterDevice(DeviceModel):
    family = "meter"

    def setup(self) -> None:
        serves = self.device.serves
        if serves in self.park.meters:
            self.meter = self.park.meters[serves]
        else:  # a meter device on an asset: an implicit asset meter
            from microgrid.site.models import Meter

            spec = self.park.site.asset(serves)
            self.meter = MeterRuntime(
                Meter(id=f"{self.device.id}_meter", scope="asset", bus=spec.bus, asset=serves)
            )
            self.park.meters[self.meter.spec.id] = self.meter
        self.pt = self.meter.spec.pt_ratio
        self.ct = self.meter.spec.ct_ratio
        self.set("pt_ratio", self.pt)
        self.set("ct_ratio", self.ct)

    def secondary(self) -> tuple[float, float, float]:
        """Secondary active power (kW), line-line voltage (V) and phase current (A)."""
        m = self.meter
        return m.p_kw / (self.pt * self.ct), m.u_ll_v / self.pt, m.i_a / self.ct


class AcrelDTSD1352(MeterDevice):
    def measure(self) -> None:
        p_kw, u_ll, i_a = self.secondary()
        m = self.meter
        u_ph = u_ll / math.sqrt(3)
        for phase in "abc":
            self.set(f"u_{phase}_v", u_ph)
            self.set(f"i_{phase}_a", i_a)
            self.set(f"p_{phase}_kw", p_kw / 3)
        self.set("p_kw", p_kw)
        self.set("q_kvar", 0.0)
        self.set("s_kva", abs(p_kw))
        self.set("pf", 1.0)
        self.set("f_hz", m.f_hz)
        ratio = self.pt * self.ct
        self.set("e_import_kwh", m.e_import_kwh / ratio)
        self.set("e_export_kwh", m.e_export_kwh / ratio)
        self.set("e_total_kwh", (m.e_import_kwh + m.e_export_kwh) / ratio)


class ChintDTSU666(MeterDevice):
    def measure(self) -> None:
        p_kw, u_ll, i_a = self.secondary()
        m = self.meter
        p_w = p_kw * 1000.0
        for name in ("u_ab_v", "u_bc_v", "u_ca_v"):
            self.set(name, u_ll)
        for phase in "abc":
            self.set(f"u_{phase}_v", u_ll / math.sqrt(3))
            self.set(f"i_{phase}_a", i_a)
            self.set(f"p_{phase}_w", p_w / 3)
        self.set("p_w", p_w)
        self.set("q_var", 0.0)
        self.set("pf", 1.0)
        self.set("f_hz", m.f_hz)
        ratio = self.pt * self.ct
        self.set("e_import_kwh", m.e_import_kwh / ratio)
        self.set("e_export_kwh", m.e_export_kwh / ratio)
