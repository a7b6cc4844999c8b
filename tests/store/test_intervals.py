"""Interval energies from samples, against hand-computed values."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from microgrid.store.intervals import (
    EnergySource,
    RollUpSettings,
    compute_interval_rows,
    counter_differences,
    energy_sources_from_site,
    hold_integrals,
    last_values,
    minute_rows,
)

S = 1000  # ms per second
EDGES = np.array([0, 900 * S, 1800 * S])


def frame(rows):
    return pd.DataFrame(rows, columns=["ts_ms", "source_id", "quantity", "value", "quality"])


def test_held_samples_split_at_interval_edges():
    ts = np.array([0, 600, 1200]) * S
    pos, neg, covered = hold_integrals(ts, np.array([100.0, -50.0, 30.0]), EDGES, max_hold_ms=1e9)
    # [0,900): 100 kW x 600 s, -50 kW x 300 s; [900,1800): -50 kW x 300 s, 30 kW x 600 s
    assert pos == pytest.approx([100 * 600 / 3600, 30 * 600 / 3600])
    assert neg == pytest.approx([50 * 300 / 3600, 50 * 300 / 3600])
    assert covered == pytest.approx([900 * S, 900 * S])


def test_a_sample_holds_at_most_max_hold():
    ts = np.array([0, 600, 1200]) * S
    pos, neg, covered = hold_integrals(ts, np.array([100.0, -50.0, 30.0]), EDGES, max_hold_ms=100 * S)
    assert pos == pytest.approx([100 * 100 / 3600, 30 * 100 / 3600])
    assert neg == pytest.approx([50 * 100 / 3600, 0.0])
    assert covered == pytest.approx([200 * S, 100 * S])


def test_same_timestamp_samples_are_averaged():
    pos, _, _ = hold_integrals(np.array([0, 0]), np.array([10.0, 30.0]), np.array([0, 3600 * S]), 1e9)
    assert pos == pytest.approx([20.0])


def test_counter_is_interpolated_at_the_edges():
    ts = np.array([-10, 5, 890, 910, 1795, 1805]) * S
    values = np.array([1000.0, 1001.5, 1010.0, 1012.0, 1020.0, 1021.0])
    kwh, ok = counter_differences(ts, values, EDGES, max_gap_ms=60 * S)
    # C(0) = 1001.0, C(900) = 1011.0, C(1800) = 1020.5
    assert kwh == pytest.approx([10.0, 9.5])
    assert ok.tolist() == [True, True]
    kwh, ok = counter_differences(ts, values, EDGES, max_gap_ms=5 * S)
    assert ok.tolist() == [False, False]  # 15 s and 20 s around the edges are too far apart
    assert np.isnan(kwh).all()


def test_counter_reset_makes_the_interval_unusable():
    ts = np.array([0, 450, 900, 1350, 1800]) * S
    kwh, ok = counter_differences(ts, np.array([100.0, 105.0, 110.0, 2.0, 7.0]), EDGES, max_gap_ms=1e9)
    assert ok.tolist() == [True, False]
    assert kwh[0] == pytest.approx(10.0)


def test_last_value_per_interval():
    out = last_values(np.array([10, 800, 1000]) * S, np.array([50.0, 55.0, 60.0]), np.array([0, 900, 1800, 2700]) * S)
    assert out[:2].tolist() == [55.0, 60.0]
    assert np.isnan(out[2])


def test_meter_rows_prefer_the_counter_and_flag_partial_power():
    sources = {"dev_meter": EnergySource("meter_pcc", "meter")}
    rows = []
    for t in range(0, 1800, 10):  # import counter rising 1 kWh per 90 s → 10 kWh per interval
        rows.append((t * S, "dev_meter", "e_import_kwh", 500 + t / 90, 0))
    rows.append((1800 * S, "dev_meter", "e_import_kwh", 520.0, 0))
    for t in range(0, 450, 5):  # export power only in the first half of the first interval
        rows.append((t * S, "dev_meter", "p_kw", -40.0, 0))
    out = compute_interval_rows(frame(rows), sources, EDGES, RollUpSettings(max_hold_s=5))
    by = {(r["quantity"], r["ts_ms"]): r for r in out}
    imp = by[("e_import_kwh", 0)]
    assert imp["source_id"] == "meter_pcc" and imp["method"] == "counter" and imp["flag"] == "ok"
    assert imp["value"] == pytest.approx(10.0)
    exp = by[("e_export_kwh", 0)]
    # 40 kW over 450 s covered = 5 kWh; coverage 50 % → estimate 10 kWh for the interval, flagged partial
    assert exp["flag"] == "partial" and exp["coverage_pct"] == pytest.approx(50.0)
    assert exp["value"] == pytest.approx(10.0)
    gap = by[("e_export_kwh", 900 * S)]
    assert gap["flag"] == "missing" and gap["value"] is None and gap["coverage_pct"] == 0.0


def test_pv_curtailment_battery_signs_and_soc():
    sources = {"pv": EnergySource("pv", "pv"), "bat": EnergySource("bat", "battery")}
    rows = []
    for t in range(0, 1800, 2):
        rows += [(t * S, "pv", "p_kw", 80.0, 0), (t * S, "pv", "p_avail_kw", 100.0, 0),
                 (t * S, "bat", "p_kw", -60.0 if t < 900 else 30.0, 0), (t * S, "bat", "soc_pct", 50 + t / 100, 0)]
    rows.append((0, "pv", "p_kw", 1e6, 3))  # BAD quality is never used
    out = compute_interval_rows(frame(rows), sources, EDGES, RollUpSettings(max_hold_s=5))
    by = {(r["source_id"], r["quantity"], r["ts_ms"]): r["value"] for r in out}
    assert by[("pv", "e_pv_kwh", 0)] == pytest.approx(20.0)
    assert by[("pv", "e_curtailed_kwh", 0)] == pytest.approx(5.0)
    assert by[("bat", "e_charge_kwh", 0)] == pytest.approx(15.0)
    assert by[("bat", "e_discharge_kwh", 0)] == pytest.approx(0.0)
    assert by[("bat", "e_discharge_kwh", 900 * S)] == pytest.approx(7.5)
    assert by[("bat", "soc_end_pct", 0)] == pytest.approx(50 + 898 / 100)
    assert ("pv", "e_avail_kwh", 0) not in by


def test_unknown_sources_and_stale_samples_give_no_rows():
    rows = [(0, "other", "p_kw", 5.0, 0), (0, "m", "p_kw", 5.0, 2)]
    assert compute_interval_rows(frame(rows), {"m": EnergySource("m", "meter")}, EDGES, RollUpSettings()) == []


def test_minute_rows():
    rows = [(0, "a", "p_kw", 1.0, 0), (30 * S, "a", "p_kw", 3.0, 1), (61 * S, "a", "p_kw", 5.0, 0),
            (62 * S, "a", "p_kw", 99.0, 3)]
    out = minute_rows(frame(rows), 0, 120 * S)
    assert out == [
        {"source_id": "a", "quantity": "p_kw", "ts_ms": 0, "mean": 2.0, "min": 1.0, "max": 3.0, "n": 2, "quality": 1},
        {"source_id": "a", "quantity": "p_kw", "ts_ms": 60 * S, "mean": 5.0, "min": 5.0, "max": 5.0, "n": 1,
         "quality": 0},
    ]


def test_sources_from_the_reference_park(reference_site):
    sources = energy_sources_from_site(reference_site)
    assert sources["dev_meter_pcc"] == EnergySource("meter_pcc", "meter")
    assert sources["dev_ess_bms"] == EnergySource("ess_shared", "battery")
    assert sources["dev_pv_food"] == EnergySource("pv_food", "pv")
    assert sources["ev_logistics"].kind == "load"
