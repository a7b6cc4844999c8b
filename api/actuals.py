"""Measured interval averages in :class:`optimizer.results.Schedule` column names, from the store.

The store keeps interval energies per meter and asset (``microgrid.store.intervals``: ``e_import_kwh``,
``e_export_kwh``, ``e_pv_kwh``, ``e_charge_kwh``, ``e_discharge_kwh``, ``soc_end_pct``, ``e_load_kwh``).
Here they become interval-average powers, kW, in the plan's columns, so plan and measurement line up:

- ``grid_import_kw``, ``grid_export_kw``, ``grid_kw`` from the PCC meter;
- ``<pv>_kw`` (output > 0), ``<bat>_kw`` (discharge > 0), ``<bat>_soc_pct`` (end of interval),
  ``<hp>_p_el_kw`` and ``<flex>_load_kw`` (consumption > 0);
- ``<tenant>_load_kw``: the tenant's base load, estimated as its meters' net draw plus the PV and storage
  output behind them minus the controllable consumers behind them (when the tenant is metered; metering
  topology of :mod:`microgrid.site.metering`);
- ``<hp>_tank_kwh``: tank energy above the minimum temperature from the measured tank temperature
  (interval mean of the 1-minute aggregates).

Intervals flagged ``missing`` stay NaN (a gap, never zero).
"""

from __future__ import annotations

from datetime import datetime

import numpy as np
import pandas as pd

from api.ports import StoreView
from microgrid.site import Site
from microgrid.site.metering import MeteringTopology
from microgrid.site.models import WATER_KWH_PER_M3_K


def _pivot(frame: pd.DataFrame, tz: str) -> pd.DataFrame:
    if frame.empty:
        return pd.DataFrame()
    values = frame.copy()
    values.loc[values["flag"] == "missing", "value"] = np.nan
    wide = values.pivot_table(index="ts", columns=["source_id", "quantity"], values="value", aggfunc="first",
                              dropna=False)
    wide.index = pd.DatetimeIndex(wide.index).tz_convert(tz)
    return wide


def _col(wide: pd.DataFrame, source: str, quantity: str) -> pd.Series | None:
    key = (source, quantity)
    return wide[key] if key in wide.columns else None


def actual_frame(store: StoreView, site: Site, start: datetime, end: datetime, step_min: int) -> pd.DataFrame:
    """Measured interval averages in ``[start, end)`` (see module docstring); empty without data."""
    if end <= start:
        return pd.DataFrame()
    wide = _pivot(store.interval_frame(start, end), site.timezone)
    if wide.empty:
        return pd.DataFrame()
    to_kw = 60.0 / step_min
    out: dict[str, pd.Series] = {}
    pcc = next((m for m in site.meters if m.scope == "pcc"), None)
    if pcc is not None:
        imp, exp = _col(wide, pcc.id, "e_import_kwh"), _col(wide, pcc.id, "e_export_kwh")
        if imp is not None:
            out["grid_import_kw"] = imp * to_kw
        if exp is not None:
            out["grid_export_kw"] = exp * to_kw
        if imp is not None or exp is not None:
            zero = pd.Series(0.0, index=wide.index)
            out["grid_kw"] = (imp if imp is not None else zero).sub(exp if exp is not None else zero) * to_kw
    asset_kw: dict[str, pd.Series] = {}
    for p in site.assets.pv:
        e = _col(wide, p.id, "e_pv_kwh")
        if e is not None:
            asset_kw[p.id] = out[f"{p.id}_kw"] = e * to_kw
        cut = _col(wide, p.id, "e_curtailed_kwh")
        if cut is not None:
            out[f"{p.id}_curtailed_kw"] = cut * to_kw
    for b in site.assets.batteries:
        dis, ch = _col(wide, b.id, "e_discharge_kwh"), _col(wide, b.id, "e_charge_kwh")
        if dis is not None or ch is not None:
            zero = pd.Series(0.0, index=wide.index)
            asset_kw[b.id] = out[f"{b.id}_kw"] = (dis if dis is not None else zero).sub(
                ch if ch is not None else zero) * to_kw
        soc = _col(wide, b.id, "soc_end_pct")
        if soc is not None:
            out[f"{b.id}_soc_pct"] = soc
    consumers = [(h.id, f"{h.id}_p_el_kw", h.tenant) for h in site.assets.heat_pumps]
    consumers += [(f.id, f"{f.id}_load_kw", f.tenant) for f in site.assets.flexible_loads]
    consumers += [(e.id, f"{e.id}_load_kw", e.tenant) for e in site.assets.ev_depots]
    for asset_id, column, _tenant in consumers:
        e = _col(wide, asset_id, "e_load_kwh")
        if e is not None:
            asset_kw[asset_id] = out[column] = e * to_kw
    topo = MeteringTopology(site)
    for tenant in site.tenants:
        meters = topo.tenant_meters(tenant.id)
        flows = [(_col(wide, m.id, "e_import_kwh"), _col(wide, m.id, "e_export_kwh")) for m in meters]
        if not meters or any(imp is None for imp, _exp in flows):
            continue
        net = sum((imp - (exp if exp is not None else 0.0)) for imp, exp in flows) * to_kw
        # What the tenant's meters see besides its base load: its own PV and storage, shared plants behind
        # them (added back), and its controllable consumers (taken off).
        behind = set(topo.behind(tenant.id, "pv")) | set(topo.behind(tenant.id, "batteries"))
        sources = [asset_kw[a] for a in behind if a in asset_kw]
        seen = {a for m in meters for a in topo.views[m.id].assets}
        loads = [asset_kw[a] for a, _c, _t in consumers if a in seen and a in asset_kw]
        out[f"{tenant.id}_load_kw"] = net + sum(x.fillna(0) for x in sources) - sum(x.fillna(0) for x in loads)
    frame = pd.DataFrame(out, index=wide.index).sort_index()
    for h in site.assets.heat_pumps:
        tank = _tank_kwh(store, h, frame.index, step_min)
        if tank is not None:
            frame[f"{h.id}_tank_kwh"] = tank
    return frame


def _tank_kwh(store: StoreView, hp, index: pd.DatetimeIndex, step_min: int) -> pd.Series | None:
    """Interval-mean tank energy above the minimum temperature, kWh_th, from ``tank_temp_c`` telemetry."""
    if not len(index):
        return None
    end = index[-1] + pd.Timedelta(minutes=step_min)
    minutes = store.telemetry_minutes(hp.id, "tank_temp_c", start=index[0].to_pydatetime(), end=end.to_pydatetime())
    if not minutes:
        return None
    temps = pd.Series([m.mean for m in minutes], index=pd.DatetimeIndex([m.ts for m in minutes]).tz_convert(index.tz))
    means = temps.groupby(temps.index.floor(f"{step_min}min")).mean().reindex(index)
    return (means - hp.tank_temp_min_c).clip(lower=0) * hp.tank_volume_m3 * WATER_KWH_PER_M3_K
