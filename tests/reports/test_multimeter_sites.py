"""Property tests on generated parks whose tenants have 1–3 meters on 1–2 transformers (tests/accounting).

The simulator (physics only, no Modbus) runs a summer day; its meters integrate exactly their downstream flows.
From the meters' and converters' readings the report is built as from a store. The test then recomputes each
tenant's figures from first principles with the generator's own ground truth (which meter sees which bus, who
owns which asset), not with the product's topology or accounting:

- tenant load = Σ its meters (import − export) + generation and storage discharge behind them − charge
  behind them; it must equal the simulator's TRUE tenant load (the meters measure their downstream flows);
- the allocation documented in docs/reports.md (rule ``consumption``): on-site PV consumed on site and
  purchases pro rata to load, import pro rata to consumption not covered by on-site PV; cost at the TOU price.

Tenant rows sum exactly to the park, and exported PV never counts as green.
"""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
import pytest
import yaml

from microgrid.clock import SteppedClock
from microgrid.reports import build_report, render
from microgrid.reports.sources import SiteLayout, assemble
from microgrid.reports.table import IntervalTable, expected_index
from microgrid.site import load_site
from sim.park import Park
from tests.accounting.metered_sites import Truth, generate
from tests.sitegen import generate_site

TZ = ZoneInfo("Asia/Shanghai")
DAY = date(2025, 7, 16)
STEP_S = 300.0
SEEDS = range(6)


def _battery_target(battery_id: str, hour: float) -> float:
    """Charge around noon, discharge in the evening (kW, discharge > 0); the shared one harder."""
    size = 250.0 if battery_id == "ess_shared" else 80.0
    if 10 <= hour < 14:
        return -size
    if 18 <= hour < 21:
        return 0.6 * size
    return 0.0


def simulate(site):
    """Per-interval readings (kWh) of every meter, PV plant and battery, and the true tenant loads."""
    start = datetime(DAY.year, DAY.month, DAY.day, tzinfo=TZ)
    park = Park(site, SteppedClock(start), bind="auto", step_s=STEP_S, load_noise_pct=1.0, seed=3, start=start)
    index = expected_index(DAY, DAY, 15, site.timezone)
    per = int(900 / STEP_S)
    assert per * STEP_S == 900
    n = len(index)
    meters = {m: np.zeros((n, 2)) for m in park.meters}
    pv = {p: np.zeros(n) for p in park.pvs}
    bat = {b: np.zeros((n, 2)) for b in park.batteries}
    soc_end = {b: np.zeros(n) for b in park.batteries}
    truth_load = {t: np.zeros(n) for t in park.tenants}
    consumers = {**park.heat_pumps, **park.flex}
    soc_start = {b: r.soc_pct for b, r in park.batteries.items()}
    for i in range(n):
        before = {m: (r.e_import_kwh, r.e_export_kwh) for m, r in park.meters.items()}
        for k in range(per):
            hour = (i * 900 + k * STEP_S) / 3600
            # Discharge only into the park's own consumption (no battery energy leaves the park).
            pv_now = sum(r.p_kw for r in park.pvs.values())
            room = 0.5 * sum(r.p_kw for r in park.tenants.values()) if pv_now < 1.0 else 0.0
            for b, run in park.batteries.items():
                target = _battery_target(b, hour)
                if target > 0:
                    target = min(target, room)
                    room -= target
                run.p_target_kw = target
            park.step(STEP_S)
            h = STEP_S / 3600
            for p, run in park.pvs.items():
                pv[p][i] += run.p_kw * h
            for b, run in park.batteries.items():
                bat[b][i, 0] += max(-run.p_kw, 0.0) * h
                bat[b][i, 1] += max(run.p_kw, 0.0) * h
            for t, run in park.tenants.items():
                truth_load[t][i] += run.p_kw * h
            for run in consumers.values():  # heat pumps, flexible loads and EV depots consume for their tenant
                truth_load[run.spec.tenant][i] += -run.injection_kw() * h
        for m, run in park.meters.items():
            meters[m][i] = (run.e_import_kwh - before[m][0], run.e_export_kwh - before[m][1])
        for b, run in park.batteries.items():
            soc_end[b][i] = run.soc_pct
    return index, meters, pv, bat, soc_start, soc_end, truth_load


def report_from_readings(site, index, meters, pv, bat, soc_start, soc_end):
    """The report built from the readings exactly as from a store (``sources.assemble``)."""
    series: dict[tuple[str, str], pd.Series] = {}
    for m, v in meters.items():
        series[(m, "e_import_kwh")] = pd.Series(v[:, 0], index=index)
        series[(m, "e_export_kwh")] = pd.Series(v[:, 1], index=index)
    for p, v in pv.items():
        series[(p, "e_pv_kwh")] = pd.Series(v, index=index)
    for b, v in bat.items():
        series[(b, "e_charge_kwh")] = pd.Series(v[:, 0], index=index)
        series[(b, "e_discharge_kwh")] = pd.Series(v[:, 1], index=index)

    def value(source, quantity):
        return series.get((source, quantity), pd.Series(np.nan, index=index))

    def coverage(source, quantity):
        return pd.Series(1.0 if (source, quantity) in series else 0.0, index=index)

    e_kwh = {b.id: b.e_kwh for b in site.assets.batteries}
    end = sum(pd.Series(soc_end[b] / 100 * e_kwh[b], index=index) for b in e_kwh)
    start = end.shift(1)
    start.iloc[0] = sum(soc_start[b] / 100 * e_kwh[b] for b in e_kwh)
    frame, notes, findings = assemble(SiteLayout(site), value, coverage, index, curtailment={p: True for p in pv},
                                      stored_start=start, stored_end=end)
    assert findings == []
    table = IntervalTable(frame, 15, site.timezone, DAY, DAY, notes=notes, findings=findings)
    return build_report(site, table)


def _prices(site, index) -> np.ndarray:
    """TOU price per interval straight from the tariff's season windows (no product helper)."""
    out = []
    for ts in index:
        minute = ts.hour * 60 + ts.minute
        season = next(s for s in site.tariff.seasons if ts.month in s.months)
        for w in season.windows:
            h0, m0 = map(int, w.start.split(":"))
            h1, m1 = map(int, w.end.split(":"))
            if h0 * 60 + m0 <= minute < h1 * 60 + m1:
                out.append(site.tariff.prices_cny_per_kwh[w.period])
                break
    return np.asarray(out)


def recompute(site, truth, index, meters, pv, bat):
    """Each tenant's load, consumption, on-site green energy (claimed) and energy cost from first principles."""
    tenants = [t.id for t in site.tenants]
    n = len(index)
    imp, exp = meters["meter_pcc"][:, 0], meters["meter_pcc"][:, 1]
    gen = sum(pv.values())
    dis = sum(v[:, 1] for v in bat.values())
    # Export can only be PV here (checked below), so on-site PV consumed = PV − export, per interval.
    assert np.all((dis < 1e-9) | (exp <= gen + 1e-6))
    onsite = gen - np.minimum(exp, gen)
    consumption_park = imp - exp + gen

    def own(t, kind):
        return [a for a, o in truth.owner.items() if o == t and (a in pv if kind == "pv" else a in bat)]

    load, own_net = {}, {}
    for t in tenants:
        net = sum(meters[m][:, 0] - meters[m][:, 1] for m in truth.tenant_meters(t))
        behind = truth.behind(t)
        gen_b = sum((pv[a] for a in behind if a in pv), np.zeros(n))
        ch_b = sum((bat[a][:, 0] for a in behind if a in bat), np.zeros(n))
        dis_b = sum((bat[a][:, 1] for a in behind if a in bat), np.zeros(n))
        load[t] = np.maximum(net + gen_b + dis_b - ch_b, 0.0)
        own_net[t] = (sum((bat[a][:, 0] - bat[a][:, 1] for a in own(t, "bat")), np.zeros(n)))
    total_load = sum(load.values())
    w = {t: np.divide(load[t], total_load, out=np.full(n, 1 / len(tenants)), where=total_load > 1e-9)
         for t in tenants}
    overhead = consumption_park - sum(load[t] + own_net[t] for t in tenants)
    cons = {t: load[t] + own_net[t] + w[t] * overhead for t in tenants}
    green_phys = {t: w[t] * onsite for t in tenants}
    uncovered = {t: np.maximum(cons[t] - green_phys[t], 0.0) for t in tenants}
    total_uncovered = sum(uncovered.values())
    imports = {t: np.divide(uncovered[t], total_uncovered, out=w[t].copy(), where=total_uncovered > 1e-9) * imp
               for t in tenants}
    price = _prices(site, index)
    gp = site.green_power
    trading_per_interval = gp.green_trading_mwh_per_month * 1000 / (31 * 96)
    out = {}
    for t in tenants:
        claimed = gp.onsite_certificates_retained_pct / 100 * green_phys[t].sum() + (w[t] * trading_per_interval).sum()
        out[t] = {"load": load[t].sum(), "consumption": cons[t].sum(), "green_onsite_physical": green_phys[t].sum(),
                  "green_total": min(claimed, cons[t].sum()), "import": imports[t].sum(),
                  "cost": (imports[t] * price).sum()}
    return out, {"onsite": onsite.sum(), "pv": gen.sum(), "export": exp.sum()}


def sitegen_truth(data: dict) -> Truth:
    """Ground truth of a tests/sitegen park from how that generator lays meters out (every tenant meter sits on
    a leaf LV bus, on the transformer feeding one, or on a cable to one), not from the product's topology."""
    truth = Truth()
    trafo_lv = {t["id"]: t["lv_bus"] for t in data["network"]["transformers"]}
    line_to = {ln["id"]: ln["to_bus"] for ln in data["network"]["lines"]}
    for m in data["meters"]:
        if m["scope"] != "tenant":
            continue
        bus = line_to[m["line"]] if m.get("line") else trafo_lv[m["transformer"]] if m.get("transformer") else m["bus"]
        truth.meter_buses[m["id"]], truth.meter_tenant[m["id"]] = {bus}, m["tenant"]
    for group in data["assets"].values():
        for a in group:
            truth.owner[a["id"]] = None if a.get("shared") or "tenant" not in a else a["tenant"]
            truth.asset_bus[a["id"]] = a["bus"]
    return truth


CASES = [("metered_sites", seed, {}) for seed in SEEDS] + [
    ("sitegen", 1, {"tenant_meters": (3, 1, 2), "meter_points": "mixed", "shared_pv_kwp": 200.0}),
    ("sitegen", 4, {"tenant_meters": (3,), "meter_points": "transformer", "shared_pv_kwp": 150.0}),
]


def make_case(kind: str, seed: int, options: dict, directory):
    if kind == "metered_sites":
        site, truth, _data = generate(seed, directory)
        return site, truth
    site_dir = generate_site(seed, directory, **options)
    data = yaml.safe_load((site_dir / "site.yaml").read_text(encoding="utf-8"))
    # physics only: no simulated Modbus device may override the test's battery targets
    return load_site(site_dir).model_copy(update={"devices": []}), sitegen_truth(data)


@pytest.mark.slow
@pytest.mark.parametrize(("kind", "seed", "options"), CASES, ids=[f"{k}-{s}" for k, s, _o in CASES])
def test_tenants_of_multimeter_parks_match_an_independent_recomputation(kind, seed, options, tmp_path):
    site, truth = make_case(kind, seed, options, tmp_path)
    index, meters, pv, bat, soc_start, soc_end, truth_load = simulate(site)
    report = report_from_readings(site, index, meters, pv, bat, soc_start, soc_end)
    rows = {a.entity: a for a in report.total}
    mine, park_truth = recompute(site, truth, index, meters, pv, bat)
    for t in (x.id for x in site.tenants):
        a = rows[t]
        # The meters measure exactly their downstream flows: the metered load is the simulator's true load.
        assert mine[t]["load"] == pytest.approx(truth_load[t].sum(), rel=1e-3), t
        assert a.load_kwh == pytest.approx(truth_load[t].sum(), rel=1e-3), t
        assert a.consumption_kwh == pytest.approx(mine[t]["consumption"], rel=1e-3), t
        assert a.green_onsite_physical_kwh == pytest.approx(mine[t]["green_onsite_physical"], rel=1e-3), t
        assert a.green_total_kwh == pytest.approx(mine[t]["green_total"], rel=1e-3), t
        assert a.grid_import_kwh == pytest.approx(mine[t]["import"], rel=1e-3), t
        assert a.cost_energy_cny == pytest.approx(mine[t]["cost"], rel=1e-3), t
    park = rows["park"]
    tenants = [rows[t.id] for t in site.tenants]
    for field in ("consumption_kwh", "load_kwh", "grid_import_kwh", "grid_export_kwh", "pv_generated_kwh",
                  "green_onsite_physical_kwh", "green_onsite_kwh", "green_trading_kwh", "cost_energy_cny",
                  "co2_location_kg", "storage_charge_kwh", "storage_discharge_kwh", "cost_basic_charge_cny"):
        assert sum(getattr(a, field) for a in tenants) == pytest.approx(getattr(park, field), rel=1e-9, abs=1e-6), field
    # Exported PV never counts as green.
    assert park.green_onsite_physical_kwh == pytest.approx(park_truth["onsite"], rel=1e-6)
    assert park.green_onsite_physical_kwh <= park_truth["pv"] - park_truth["export"] + 1e-6
    assert park.pv_exported_kwh == pytest.approx(park_truth["export"], rel=1e-6, abs=1e-6)


def test_some_generated_park_exports_pv_and_shares_a_plant_behind_a_tenant_meter(tmp_path):
    """The seeds above cover the cases the properties are about."""
    exported, shared_behind, three = False, False, False
    for seed in SEEDS:
        site, truth, _ = generate(seed, tmp_path / str(seed))
        exported |= site.grid.export_limit_kw > 0
        shared_behind |= any(truth.owner[a] is None for t in site.tenants for a in truth.behind(t.id))
        three |= any(len(truth.tenant_meters(t.id)) == 3 for t in site.tenants)
    assert exported and shared_behind and three


@pytest.mark.slow
def test_a_negative_tenant_interval_is_a_finding_not_a_crash(tmp_path):
    site, truth, _ = generate(2, tmp_path)
    index, meters, pv, bat, _soc_start, _soc_end, _truth = simulate(site)
    tenant = site.tenants[0].id
    broken = truth.tenant_meters(tenant)[0]
    meters[broken] = meters[broken].copy()
    meters[broken][48] = (0.0, 5000.0)  # 12:00: the meter claims a huge export (a wiring or register fault)

    def value(source, quantity):
        key = {"e_import_kwh": 0, "e_export_kwh": 1}
        if source in meters:
            return pd.Series(meters[source][:, key[quantity]], index=index)
        if source in pv and quantity == "e_pv_kwh":
            return pd.Series(pv[source], index=index)
        if source in bat and quantity in ("e_charge_kwh", "e_discharge_kwh"):
            return pd.Series(bat[source][:, 0 if quantity == "e_charge_kwh" else 1], index=index)
        return pd.Series(np.nan, index=index)

    frame, _notes, findings = assemble(SiteLayout(site), value, lambda s, q: pd.Series(1.0, index=index), index,
                                      curtailment={}, stored_start=pd.Series(np.nan, index=index),
                                      stored_end=pd.Series(np.nan, index=index))
    assert len(findings) == 1 and broken in findings[0] and "12:00" in findings[0] and tenant in findings[0]
    report = build_report(site, IntervalTable(frame, 15, site.timezone, DAY, DAY, findings=findings))
    assert report.meta.data_quality == findings
    html = render(report, "html").decode()
    assert "Data-quality findings" in html and broken in html
    csv = render(report, "csv").decode()
    assert "park" in csv
    row = next(a for a in report.total if a.entity == tenant)
    assert row.intervals_valid == 95  # the impossible interval is a gap; the rest still counts
