"""Meters: Acrel DTSD1352 and Chint DTSU666 (values on the secondary side × PT × CT).

Both maps list the device's PT/CT ratio registers in each measurement's ``multiply_by``: the adapter reads
the ratios once (static class), converts every value to the primary side and compares the ratios with the
site file; a difference is reported as a configuration problem (the device health turns ``degraded``)
because one of the two is wrong and the measured power is then wrong by the same factor.

Sign: both meters count *forward* (towards the metered side) as positive, which is the park convention
for meters (import through the meter > 0). No sign change.
"""

from __future__ import annotations

from typing import ClassVar

from drivers.adapters.base import Adapter
from drivers.capabilities import CapabilityKind, MeterReading
from microgrid.i18n import t


def ratio_mismatches(adapter: Adapter) -> list[dict[str, str]]:
    """PT/CT ratios on the device that differ from the site file, as parameters of ``devices.find.ratio``;
    also set as (or cleared from) the device's config problem."""
    d = adapter.dev()
    found = []
    for pid, site_value, label in (
        ("pt_ratio", adapter.limits.pt_ratio, "PT"),
        ("ct_ratio", adapter.limits.ct_ratio, "CT"),
    ):
        dev_value = d.number(pid) if d.has(pid) else None
        if site_value is None or dev_value is None:
            continue
        if abs(dev_value - site_value) > 0.005 * site_value:
            found.append({"label": label, "device": f"{dev_value:g}", "site": f"{site_value:g}", "field": pid})
    if found:
        d.health.set_problem("config", "; ".join(t("devices.find.ratio", "en", **p) for p in found))
    else:
        d.health.clear_problem("config")
    return found


def ratio_problems(adapter: Adapter) -> list[str]:
    """:func:`ratio_mismatches` in English words."""
    return [t("devices.find.ratio", "en", **p) for p in ratio_mismatches(adapter)]


class _RatioMeter(Adapter):
    kind = CapabilityKind.METER
    P_ID: ClassVar[str]
    P_TO_KW: ClassVar[float]
    Q_ID: ClassVar[str]
    Q_TO_KVAR: ClassVar[float]
    V_IDS: ClassVar[tuple[str, ...]] = ("u_a_v", "u_b_v", "u_c_v")
    I_IDS: ClassVar[tuple[str, ...]] = ("i_a_a", "i_b_a", "i_c_a")
    CONTROL: ClassVar[dict[str, tuple[str, ...]]]

    def ratio_problems(self) -> list[str]:
        return ratio_problems(self)

    def _mean_primary(self, ids: tuple[str, ...]) -> float | None:
        d = self.dev()
        values = [d.primary(p) for p in ids]
        known = [v for v in values if v is not None]
        return sum(known) / len(known) if known else None

    def _primary(self, pid: str, factor: float = 1.0) -> float | None:
        v = self.dev().primary(pid)
        return None if v is None else v * factor

    def reading(self) -> MeterReading:
        self.ratio_problems()
        meta = self.meta()
        d = self.dev()
        if d.number("pt_ratio") is None or d.number("ct_ratio") is None:
            meta["stale"] = True  # without the ratios the primary values are unknown
        return MeterReading(
            **meta,
            p_kw=self._primary(self.P_ID, self.P_TO_KW),
            q_kvar=self._primary(self.Q_ID, self.Q_TO_KVAR),
            v_v=self._mean_primary(self.V_IDS),
            i_a=self._mean_primary(self.I_IDS),
            f_hz=d.number("f_hz"),
            pf=d.number("pf"),
            e_import_kwh=self._primary("e_import_kwh"),
            e_export_kwh=self._primary("e_export_kwh"),
        )


class AcrelDtsd1352Meter(_RatioMeter):
    """Acrel DTSD1352 (kW, secondary side; 32-bit powers at 0x0164..)."""

    maps: ClassVar[dict[str, str]] = {"main": "acrel_dtsd1352"}
    P_ID = "p_kw"
    P_TO_KW = 1.0
    Q_ID = "q_kvar"
    Q_TO_KVAR = 1.0
    FAST: ClassVar[dict[str, tuple[str, ...]]] = {"main": ("p_kw", "q_kvar")}
    CONTROL: ClassVar[dict[str, tuple[str, ...]]] = {"main": ("p_kw",)}
    SLOW: ClassVar[dict[str, tuple[str, ...]]] = {
        "main": ("u_a_v", "u_b_v", "u_c_v", "i_a_a", "i_b_a", "i_c_a", "f_hz", "pf", "e_import_kwh", "e_export_kwh")
    }
    STATIC: ClassVar[dict[str, tuple[str, ...]]] = {"main": ("pt_ratio", "ct_ratio")}


class ChintDtsu666Meter(_RatioMeter):
    """Chint DTSU666 (float32; W, secondary side). Voltages, currents and powers share one read."""

    maps: ClassVar[dict[str, str]] = {"main": "chint_dtsu666"}
    P_ID = "p_w"
    P_TO_KW = 0.001
    Q_ID = "q_var"
    Q_TO_KVAR = 0.001
    FAST: ClassVar[dict[str, tuple[str, ...]]] = {
        "main": ("u_a_v", "u_b_v", "u_c_v", "i_a_a", "i_b_a", "i_c_a", "p_w", "q_var")
    }
    CONTROL: ClassVar[dict[str, tuple[str, ...]]] = {"main": ("p_w",)}
    SLOW: ClassVar[dict[str, tuple[str, ...]]] = {"main": ("pf", "f_hz", "e_import_kwh", "e_export_kwh")}
    STATIC: ClassVar[dict[str, tuple[str, ...]]] = {"main": ("pt_ratio", "ct_ratio")}


__all__ = ["AcrelDtsd1352Meter", "ChintDtsu666Meter", "ratio_mismatches", "ratio_problems"]
