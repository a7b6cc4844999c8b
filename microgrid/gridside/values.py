"""Values of the northbound points from the runtime (one place, read by the 104 and Modbus servers).

Measured values are the controller's last poll (the same readings the API's live view shows); a value the
controller does not have is NaN (104 quality "invalid", Modbus float32 NaN). Sign convention: DESIGN.md §3.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime

from microgrid.control.modes import Mode
from microgrid.control.runtime import Runtime
from microgrid.gridside.points import MODE_CODES, PointTable

NAN = math.nan


def _v(value: float | None) -> float:
    return NAN if value is None else float(value)


@dataclass
class ValueSource:
    """Computes every point's value from a :class:`Runtime`; the day's green ratio once per closed interval."""

    runtime: Runtime
    table: PointTable
    _green: tuple[int, float] = field(default=(-1, NAN))

    def green_ratio_day_pct(self, now: datetime) -> float:
        closed = len(self.runtime.accounting.closed)
        if closed != self._green[0]:
            midnight = now.astimezone(self.runtime.tz).replace(hour=0, minute=0, second=0, microsecond=0)
            try:
                figures = self.runtime.figures(since=midnight)
            except Exception:  # noqa: BLE001 - a report that cannot be made leaves the point invalid
                figures = None
            ratio = figures.get("green_power_ratio") if figures else None
            self._green = (closed, NAN if ratio is None else 100.0 * float(ratio))
        return self._green[1]

    def values(self) -> dict[str, float | bool]:
        rt = self.runtime
        site = rt.site
        now = rt.clock.now()
        r = rt.readings
        out: dict[str, float | bool] = {}
        pcc = r.meters.get(rt.pcc_id)
        ok = pcc is not None and pcc.valid
        out["pcc_p_kw"] = _v(pcc.p_kw) if ok else NAN
        out["pcc_q_kvar"] = _v(pcc.q_kvar) if ok else NAN
        out["pcc_u_ln_v"] = _v(pcc.v_v) if ok else NAN
        out["pcc_f_hz"] = _v(pcc.f_hz) if ok else NAN
        for t in site.tenants:
            meters = [m.id for m in site.meters if m.scope == "tenant" and m.tenant == t.id]
            got = [r.meters.get(m) for m in meters]
            good = [x.p_kw for x in got if x is not None and x.valid and x.p_kw is not None]
            out[f"tenant_{t.id}_import_kw"] = sum(good) if meters and len(good) == len(meters) else NAN
        pv = [r.pv.get(p.id) for p in site.assets.pv]
        total = [x.p_kw for x in pv if x is not None and x.valid and x.p_kw is not None]
        out["pv_p_kw"] = sum(total) if pv and len(total) == len(pv) else (NAN if pv else 0.0)
        for p, x in zip(site.assets.pv, pv, strict=True):
            key = p.id if p.id.startswith("pv_") else f"pv_{p.id}"
            out[f"{key}_p_kw"] = _v(x.p_kw) if x is not None and x.valid else NAN
        for b in site.assets.batteries:
            x = r.storage.get(b.id)
            good = x is not None and x.valid
            out[f"storage_{b.id}_p_kw"] = _v(x.p_kw) if good else NAN
            out[f"storage_{b.id}_soc_pct"] = _v(x.soc_pct) if good else NAN
        mode = rt.mode
        out["mode_code"] = float(MODE_CODES.index(str(mode)))
        out["green_ratio_day_pct"] = self.green_ratio_day_pct(now)
        caps = rt.gridcaps
        out["pcc_limit_kw"] = caps.import_cap_kw(now)
        out["dr_cap_kw"] = _v(caps.dr_cap_kw(now))
        limit_alarm = bool(rt._notes)
        offline = any(not online for online in rt._online.values())
        out["alarm_limit"] = limit_alarm
        out["alarm_device_offline"] = offline
        out["mode_safe"] = mode == Mode.SAFE
        out["mode_manual"] = mode == Mode.MANUAL
        out["alarm_any"] = limit_alarm or offline or mode == Mode.SAFE or rt.store.failing
        out["dr_active"] = caps.dr_cap_kw(now) is not None
        out["pcc_limit_commanded"] = caps.limit_kw(now) is not None
        out["cmd_pcc_limit_kw"] = _v(caps.limit_kw(now))
        commanded = [e for e in caps.active(now) if e.source in ("iec104", "modbus")]
        out["cmd_dr_target_kw"] = min(e.cap_kw for e in commanded) if commanded else NAN
        missing = {p.key for p in self.table.points if p.kind != "command"} - set(out)
        assert not missing, f"point values missing: {sorted(missing)}"
        return out
