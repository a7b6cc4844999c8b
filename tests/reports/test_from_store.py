"""Reports from the store: metered interval energies written by the roll-up of device telemetry."""

from __future__ import annotations

from datetime import date, timedelta

import pandas as pd
import pytest

from microgrid.reports import build_report, table_from_store
from microgrid.store import Store, energy_sources_from_site
from tests.reports.synthetic_meters import telemetry_from_schedule


def baseline_frames(site, first: date, days: int) -> pd.DataFrame:
    """Rule-based dispatch of consecutive days (fast and deterministic), as one frame."""
    from microgrid.planning import build_dispatch_inputs, horizon_for_day
    from optimizer import baseline_schedule

    frames = [baseline_schedule(build_dispatch_inputs(site, horizon_for_day(site, first + timedelta(days=k)))).frame
              for k in range(days)]
    return pd.concat(frames)


def open_store(site, tmp_path) -> Store:
    return Store.open(f"sqlite:///{tmp_path / 'run.sqlite'}", site_id=site.id, timezone=site.timezone,
                      energy_sources=energy_sources_from_site(site), max_hold_s=60)


@pytest.mark.slow
def test_a_simulated_week_of_the_reference_park_agrees_with_the_meters(reference_site, tmp_path):
    site = reference_site
    first, last = date(2025, 7, 7), date(2025, 7, 13)
    frame = baseline_frames(site, first, 7)
    samples, truth = telemetry_from_schedule(site, frame, sample_s=30.0, seed=3)
    store = open_store(site, tmp_path)
    for k in range(0, len(samples), 50_000):
        store.write_telemetry(samples[k:k + 50_000])
    store.roll_up(frame.index[-1] + pd.Timedelta(hours=1))
    report = build_report(site, table_from_store(store, site, first, last))
    store.close()
    park = next(a for a in report.total if a.entity == "park")
    assert report.meta.data_source == "metered" and park.coverage_pct == pytest.approx(100.0)
    assert report.meta.gaps == [] and park.intervals_valid == 7 * 96

    def delta(meter_device: str, register: str) -> float:
        start, end = truth.counters[(meter_device, register)]
        return end - start

    assert park.grid_import_kwh == pytest.approx(delta("dev_meter_pcc", "e_import_kwh"), rel=1e-3)
    assert park.grid_export_kwh == pytest.approx(delta("dev_meter_pcc", "e_export_kwh"), rel=1e-3, abs=1.0)
    pv_true = sum(v for (src, what), v in truth.energy.items() if what == "pv")
    assert park.pv_generated_kwh == pytest.approx(pv_true, rel=1e-3)
    for what in ("charge", "discharge"):
        true = sum(v for (src, w), v in truth.energy.items() if w == what)
        assert getattr(park, f"storage_{what}_kwh") == pytest.approx(true, rel=1e-3)
    assert park.pv_curtailed_kwh >= 0
    tenants = [a for a in report.total if a.entity != "park"]
    assert len(tenants) == 6
    for t in tenants:  # each tenant's metered load vs its feeder meter and its own plants
        meter = f"dev_meter_{t.entity}"
        own_pv = sum(v for (src, w), v in truth.energy.items() if w == "pv" and src == f"dev_pv_{t.entity}")
        own = {w: truth.energy.get((f"dev_bat_{t.entity}", w), 0.0) for w in ("charge", "discharge")}
        load = (delta(meter, "e_import_kwh") - delta(meter, "e_export_kwh") + own_pv + own["discharge"]
                - own["charge"])
        assert t.load_kwh == pytest.approx(load, rel=1e-3), t.entity
    assert sum(t.consumption_kwh for t in tenants) == pytest.approx(park.consumption_kwh, rel=1e-9)
    assert park.consumption_kwh == pytest.approx(park.grid_import_kwh - park.grid_export_kwh + park.pv_generated_kwh)
    assert [a.period for a in report.rows("day", "park")] == [str(first + timedelta(days=k)) for k in range(7)]


def test_small_site_day_from_telemetry_with_a_gap(small_site, tmp_path):
    site = small_site
    day = date(2025, 7, 8)
    frame = baseline_frames(site, day, 1)
    samples, truth = telemetry_from_schedule(site, frame, sample_s=10.0, seed=1)
    # The meter and the PV inverter fall silent from 12:00 to 13:00 local (04:00-05:00 UTC).
    lo = pd.Timestamp("2025-07-08 12:00", tz="Asia/Shanghai").value // 1_000_000
    hi = lo + 3_600_000
    samples = [s for s in samples if not (lo <= s[0] < hi and s[1] in ("dev_meter_pcc", "dev_pv_roof"))]
    store = open_store(site, tmp_path)
    store.write_telemetry(samples)
    store.roll_up(frame.index[-1] + pd.Timedelta(hours=1))
    table = table_from_store(store, site, day, day)
    report = build_report(site, table)
    park = report.total[0]
    # Counter samples 1 h apart are too far apart to interpolate (counter_max_gap_s = 900) → 4 intervals lost.
    assert park.intervals_valid == 92 and park.intervals_expected == 96
    assert [(g.start.hour, g.end.hour, g.intervals) for g in report.meta.gaps] == [(12, 13, 4)]
    assert report.meta.warnings[0].startswith("Data gaps: 4 interval(s) (1.00 h)")
    assert park.coverage_pct == pytest.approx(100 * 92 / 96, abs=0.1)
    # Totals exclude the gap: import over the metered intervals only
    per_interval = (frame["grid_import_kw"] * 0.25)
    local = frame.index.tz_convert("Asia/Shanghai")
    metered = per_interval[(local.hour != 12)].sum()
    assert park.grid_import_kwh == pytest.approx(metered, rel=1e-3)
    store.close()


def test_report_days_follow_local_midnight_in_the_store(small_site, tmp_path):
    """Interval energies are stored in UTC; the report's days are local (Asia/Shanghai, UTC+8)."""
    from microgrid.store import IntervalEnergy

    store = open_store(small_site, tmp_path)
    rows = []
    for ts_local, kwh in (("2025-07-31 23:45", 10.0), ("2025-08-01 00:00", 20.0)):
        ts = pd.Timestamp(ts_local, tz="Asia/Shanghai").tz_convert("UTC").to_pydatetime()
        for source, q, v in (("meter_pcc", "e_import_kwh", kwh), ("meter_pcc", "e_export_kwh", 0.0),
                             ("pv_roof", "e_pv_kwh", 0.0), ("bat_factory", "e_charge_kwh", 0.0),
                             ("bat_factory", "e_discharge_kwh", 0.0)):
            rows.append(IntervalEnergy(ts=ts, interval_min=15, source_id=source, quantity=q, value=v,
                                       coverage_pct=100, flag="ok", method="counter"))
    store.write_interval_energies(rows)
    table = table_from_store(store, small_site, date(2025, 7, 31), date(2025, 8, 1))
    report = build_report(small_site, table)
    daily = {a.period: a.grid_import_kwh for a in report.rows("day", "park")}
    assert daily == {"2025-07-31": 10.0, "2025-08-01": 20.0}
    monthly = {a.period: a.coverage_pct for a in report.rows("month", "park")}
    assert monthly == {"2025-07": pytest.approx(100 / 96, abs=1e-3), "2025-08": pytest.approx(100 / 96, abs=1e-3)}
    store.close()
