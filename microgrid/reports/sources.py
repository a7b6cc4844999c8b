"""Interval tables from the store (metered) or from a schedule frame (planned / simulated)."""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import pandas as pd

from microgrid.i18n import both
from microgrid.reports.table import PARK, DataSource, IntervalTable, apply_min_coverage, expected_index
from microgrid.site.metering import MeteringTopology
from microgrid.site.models import Meter, Site
from microgrid.store import Store


class SiteLayout:
    """Which meters and assets make the park and each tenant, from the site's metering topology
    (:class:`microgrid.site.metering.MeteringTopology`): a tenant is the sum of its meters, owns the assets
    on its buses (unless shared), and its meters' readings are corrected for shared assets behind them."""

    def __init__(self, site: Site) -> None:
        self.site = site
        topo = MeteringTopology(site)
        self.topology = topo
        self.pcc: Meter | None = topo.pcc
        self.tenants = [t.id for t in site.tenants]
        self.tenant_meters: dict[str, list[Meter]] = {t: topo.tenant_meters(t) for t in self.tenants
                                                      if topo.tenant_meters(t)}
        self.pv = [p.id for p in site.assets.pv]
        self.batteries = {b.id: b.e_kwh for b in site.assets.batteries}
        self.own_pv = {t: topo.owned(t, "pv") for t in self.tenants}
        self.own_bat = {t: topo.owned(t, "batteries") for t in self.tenants}
        self.shared_behind_pv = {t: [p for p in topo.behind(t, "pv") if topo.owner[p] is None]
                                 for t in self.tenant_meters}
        self.shared_behind_bat = {t: [b for b in topo.behind(t, "batteries") if topo.owner[b] is None]
                                  for t in self.tenant_meters}
        self.typical_kw = {t.id: t.typical_load_kw for t in site.tenants}


NEGATIVE_TOLERANCE = 0.005
"""A tenant interval whose load is below −0.5 % of the energies it is computed from (+ 0.01 kWh) is physically
impossible (a data-quality finding); smaller negatives are metering noise and count as zero."""


def _split_residual(residual: pd.Series, tenants: list[str], typical_kw: dict[str, float]) -> dict[str, pd.Series]:
    weights = np.array([typical_kw.get(t, 0.0) for t in tenants], dtype=float)
    weights = weights / weights.sum() if weights.sum() > 0 else np.full(len(tenants), 1.0 / len(tenants))
    return {t: residual.clip(lower=0.0) * w for t, w in zip(tenants, weights, strict=True)}


def assemble(layout: SiteLayout, value, coverage, index: pd.DatetimeIndex, *, curtailment: dict[str, bool],
             stored_start: pd.Series, stored_end: pd.Series) -> tuple[pd.DataFrame, list[str], list[str]]:
    """Interval-table rows from per-source series.

    ``value(source_id, quantity)`` and ``coverage(source_id, quantity)`` return Series on ``index`` (NaN /
    0 where missing); ``stored_start``/``stored_end`` the energy in all batteries at each interval's start
    and end. Returns the tidy frame, notes (English, Chinese) and data-quality findings.
    """
    notes: list[tuple[str, str]] = []
    site = layout.site
    if layout.pcc is None:
        raise ValueError(f"site '{site.id}' has no PCC meter (meters[].scope: pcc); a report needs one")
    pcc = layout.pcc.id
    zero = pd.Series(0.0, index=index)

    def total(ids: list[str], quantity: str) -> tuple[pd.Series, pd.Series]:
        if not ids:
            return zero.copy(), pd.Series(1.0, index=index)
        vals = sum((value(i, quantity) for i in ids), zero.copy())
        cov = pd.concat([coverage(i, quantity) for i in ids], axis=1).min(axis=1)
        return vals, cov

    def entity_rows(imp, exp, pv_ids, bat_ids, meter_cov) -> dict[str, pd.Series]:
        gen, cov_g = total(pv_ids, "e_pv_kwh")
        cur = sum((value(p, "e_curtailed_kwh").fillna(0.0) for p in pv_ids), zero.copy())
        ch, cov_c = total(bat_ids, "e_charge_kwh")
        dis, cov_d = total(bat_ids, "e_discharge_kwh")
        cov = pd.concat([meter_cov, cov_g, cov_c, cov_d], axis=1).min(axis=1)
        return {"import_kwh": imp, "export_kwh": exp, "pv_kwh": gen, "pv_curtailed_kwh": cur,
                "bat_charge_kwh": ch, "bat_discharge_kwh": dis, "coverage": cov}

    park_cov = pd.concat([coverage(pcc, "e_import_kwh"), coverage(pcc, "e_export_kwh")], axis=1).min(axis=1)
    park = entity_rows(value(pcc, "e_import_kwh"), value(pcc, "e_export_kwh"), layout.pv, list(layout.batteries),
                       park_cov)
    park["bat_stored_start_kwh"] = stored_start.reindex(index)
    park["bat_stored_end_kwh"] = stored_end.reindex(index)
    park_load = (park["import_kwh"] - park["export_kwh"] + park["pv_kwh"] + park["bat_discharge_kwh"]
                 - park["bat_charge_kwh"])
    frames = [pd.DataFrame({"ts": index, "entity": PARK, **park, "estimated": False})]

    tenant_rows: dict[str, dict[str, pd.Series]] = {}
    findings: list[str] = []
    for t, meters in layout.tenant_meters.items():
        imp = sum((value(m.id, "e_import_kwh") for m in meters), zero.copy())
        exp = sum((value(m.id, "e_export_kwh") for m in meters), zero.copy())
        m_cov = pd.concat([coverage(m.id, q) for m in meters for q in ("e_import_kwh", "e_export_kwh")],
                          axis=1).min(axis=1)
        rows = entity_rows(imp, exp, layout.own_pv[t], layout.own_bat[t], m_cov)
        s_gen, s_cov_g = total(layout.shared_behind_pv[t], "e_pv_kwh")
        s_ch, s_cov_c = total(layout.shared_behind_bat[t], "e_charge_kwh")
        s_dis, s_cov_d = total(layout.shared_behind_bat[t], "e_discharge_kwh")
        rows["coverage"] = pd.concat([rows["coverage"], s_cov_g, s_cov_c, s_cov_d], axis=1).min(axis=1)
        # Meter readings + own generation + shared generation seen by the meters = the tenant's gross load.
        load = (imp - exp + rows["pv_kwh"] + rows["bat_discharge_kwh"] - rows["bat_charge_kwh"]
                + s_gen + s_dis - s_ch)
        scale = (imp + exp + rows["pv_kwh"] + rows["bat_discharge_kwh"] + rows["bat_charge_kwh"]
                 + s_gen + s_dis + s_ch)
        impossible = load < -(NEGATIVE_TOLERANCE * scale + 0.01)
        names = ", ".join(m.id for m in meters)
        for ts in load.index[impossible.fillna(False).to_numpy()]:
            findings.append(f"meter {names} (tenant {t}), interval {ts:%Y-%m-%d %H:%M}: consumption "
                            f"{load[ts]:.2f} kWh < 0 is physically impossible (meter reads less than the "
                            "generation behind it); the interval is left out as a gap")
        rows["load_kwh"] = load.clip(lower=0.0).where(~impossible)
        rows["coverage"] = rows["coverage"].where(~impossible, 0.0)
        tenant_rows[t] = rows
    unmetered = [t for t in layout.tenants if t not in tenant_rows]
    if unmetered:
        metered_load = sum((r["load_kwh"] for r in tenant_rows.values()), zero.copy())
        shares = _split_residual(park_load - metered_load, unmetered, layout.typical_kw)
        metered_cov = [r["coverage"] for r in tenant_rows.values()]
        for t in unmetered:
            rows = entity_rows(pd.Series(np.nan, index=index), pd.Series(np.nan, index=index), layout.own_pv[t],
                               layout.own_bat[t], pd.concat([park["coverage"], *metered_cov], axis=1).min(axis=1))
            rows["load_kwh"] = shares[t]
            tenant_rows[t] = rows
        if len(layout.tenants) > 1:
            notes.append(both("rep.note.unmetered", tenants=", ".join(unmetered)))
    for t in layout.tenants:
        estimated = t in unmetered and len(layout.tenants) > 1
        frames.append(pd.DataFrame({"ts": index, "entity": t, **tenant_rows[t], "estimated": estimated}))
    if not all(curtailment.values()):
        missing = [p for p, known in curtailment.items() if not known]
        notes.append(both("rep.note.no_curtailment", plants=", ".join(missing)))
    return pd.concat(frames, ignore_index=True), notes, findings


def table_from_store(store: Store, site: Site, first_day: date, last_day: date, *, min_coverage: float = 0.5,
                     source: DataSource = "metered", note: str | tuple[str, str] = "") -> IntervalTable:
    """The interval table of ``[first_day, last_day]`` (local days) from the store's interval energies."""
    tz = site.timezone
    step = store.interval_min
    index = expected_index(first_day, last_day, step, tz)
    before = index[0] - pd.Timedelta(minutes=step)
    raw = store.interval_frame(before.to_pydatetime(), (index[-1] + pd.Timedelta(minutes=step)).to_pydatetime())
    raw["ts"] = raw["ts"].dt.tz_convert(tz)
    full = index.insert(0, before)
    values = raw.pivot_table(index="ts", columns=["source_id", "quantity"], values="value", aggfunc="last")
    covers = raw.pivot_table(index="ts", columns=["source_id", "quantity"], values="coverage_pct", aggfunc="last")
    values = values.reindex(full)
    covers = covers.reindex(full)

    def value(source_id: str, quantity: str) -> pd.Series:
        key = (source_id, quantity)
        series = values[key] if key in values.columns else pd.Series(np.nan, index=full)
        return series.astype(float).loc[index]

    def coverage(source_id: str, quantity: str) -> pd.Series:
        key = (source_id, quantity)
        series = covers[key] if key in covers.columns else pd.Series(0.0, index=full)
        return (series.astype(float).fillna(0.0) / 100.0).loc[index]

    layout = SiteLayout(site)
    stored = pd.Series(0.0, index=full)
    for b, e_kwh in layout.batteries.items():
        key = (b, "soc_end_pct")
        soc = values[key].astype(float) if key in values.columns else pd.Series(np.nan, index=full)
        stored = stored + soc / 100.0 * e_kwh
    curtailment = {p: (p, "e_curtailed_kwh") in values.columns for p in layout.pv}
    frame, notes, findings = assemble(layout, value, coverage, index, curtailment=curtailment,
                                      stored_start=stored.shift(1).loc[index], stored_end=stored.loc[index])
    frame = apply_min_coverage(frame, min_coverage)
    month = index[0].strftime("%Y-%m")
    before = store.month_peak_kw(layout.pcc.id, index[0].to_pydatetime()) if layout.pcc else None
    return IntervalTable(frame, step, tz, first_day, last_day, source=source,
                         **_source_notes(note or both("rep.src.metered"), notes),
                         tenants=layout.tenants, curtailment_known=all(curtailment.values()),
                         findings=findings, month_peak_before_kw={month: before} if before else {})


def table_from_schedules(site: Site, frames: list[pd.DataFrame], first_day: date, last_day: date, *,
                         source: DataSource, note: str | tuple[str, str]) -> IntervalTable:
    """An interval table from schedule frames (:class:`optimizer.Schedule` columns, kW per interval)."""
    frame = pd.concat(frames).sort_index()
    frame = frame[~frame.index.duplicated(keep="last")]
    step_min = int(round((frame.index[1] - frame.index[0]).total_seconds() / 60))
    index = expected_index(first_day, last_day, step_min, site.timezone)
    frame = frame.tz_convert(site.timezone).reindex(index)
    dt = step_min / 60
    layout = SiteLayout(site)
    def col(name: str) -> pd.Series:
        return frame[name].astype(float) if name in frame.columns else pd.Series(0.0, index=index)


    series: dict[tuple[str, str], pd.Series] = {}
    pcc = layout.pcc.id if layout.pcc else "pcc"
    series[(pcc, "e_import_kwh")] = col("grid_import_kw") * dt
    series[(pcc, "e_export_kwh")] = col("grid_export_kw") * dt
    for p in layout.pv:
        series[(p, "e_pv_kwh")] = col(f"{p}_kw") * dt
        series[(p, "e_curtailed_kwh")] = col(f"{p}_curtailed_kw") * dt
    for b in layout.batteries:
        series[(b, "e_charge_kwh")] = col(f"{b}_charge_kw") * dt
        series[(b, "e_discharge_kwh")] = col(f"{b}_discharge_kw") * dt
    topo = layout.topology
    consumers = [(h.id, f"{h.id}_p_el_kw") for h in site.assets.heat_pumps]
    consumers += [(x.id, f"{x.id}_load_kw") for x in (*site.assets.flexible_loads, *site.assets.ev_depots)]
    sources = [(p, f"{p}_kw") for p in layout.pv] + [(b, f"{b}_kw") for b in layout.batteries]
    for meters in layout.tenant_meters.values():
        for meter in meters:  # what lies downstream of each meter's point
            view = topo.views[meter.id]
            net = sum((col(f"{t}_load_kw") for t in view.loads), pd.Series(0.0, index=index))
            net = net + sum((col(c) for a, c in consumers if a in view.assets), pd.Series(0.0, index=index))
            net = net - sum((col(c) for a, c in sources if a in view.assets), pd.Series(0.0, index=index))
            series[(meter.id, "e_import_kwh")] = net.clip(lower=0.0) * dt
            series[(meter.id, "e_export_kwh")] = (-net).clip(lower=0.0) * dt
    planned = frame["grid_import_kw"].notna().astype(float) if "grid_import_kw" in frame else 0.0 * col("x")

    def value(source_id: str, quantity: str) -> pd.Series:
        return series.get((source_id, quantity), pd.Series(np.nan, index=index))

    def coverage(source_id: str, quantity: str) -> pd.Series:
        return planned if (source_id, quantity) in series else pd.Series(0.0, index=index)

    zero = pd.Series(0.0, index=index)
    stored_end = sum((col(f"{b}_e_kwh") for b in layout.batteries), zero.copy())
    # Energy at the interval start from the plan's own battery model (exact across the daily plans' seams).
    stored_start = stored_end.copy()
    for b in layout.batteries:
        bat = site.asset(b)
        stored_start -= (bat.eta_charge * col(f"{b}_charge_kw") - col(f"{b}_discharge_kw") / bat.eta_discharge) * dt
    out, notes, findings = assemble(layout, value, coverage, index, curtailment={p: True for p in layout.pv},
                                    stored_start=stored_start, stored_end=stored_end)
    return IntervalTable(out, step_min, site.timezone, first_day, last_day, source=source,
                         **_source_notes(note, notes), tenants=layout.tenants, findings=findings)


def _source_notes(note: str | tuple[str, str], notes: list[tuple[str, str]]) -> dict:
    """The table's note fields in both languages (a plain string note is the same in both)."""
    en, zh = (note, note) if isinstance(note, str) else note
    return {"source_note": en, "source_note_zh": zh, "notes": [n[0] for n in notes], "notes_zh": [n[1] for n in notes]}


def days_between(first_day: date, last_day: date) -> list[date]:
    return [first_day + timedelta(days=i) for i in range((last_day - first_day).days + 1)]
