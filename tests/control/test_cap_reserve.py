"""CapReserve: the storage gives up the soft demand target when its energy is needed for the import cap."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pandas as pd
import pytest

from microgrid.control.cap_reserve import CapReserve
from microgrid.control.controllers.types import StorageUnit
from microgrid.control.plan import PlanRecord
from optimizer import Schedule

TZ = ZoneInfo("Asia/Shanghai")
T0 = datetime(2026, 7, 15, 15, 0, tzinfo=TZ)


def _record(net_kw: list[float], storage_kw: list[float]) -> PlanRecord:
    """A 15-min plan from 15:00 whose net demand before storage is ``net_kw`` (grid = net − storage)."""
    index = pd.date_range(T0, periods=len(net_kw), freq="15min")
    frame = pd.DataFrame({"grid_kw": [n - s for n, s in zip(net_kw, storage_kw, strict=True)],
                          "bat_kw": storage_kw}, index=index)
    return PlanRecord("p1", "intraday", T0, Schedule(frame, {"bat": "battery"}))


def _unit(soc: float, unit_id: str = "bat_factory") -> StorageUnit:
    return StorageUnit(unit_id, p_charge_max_kw=500, p_discharge_max_kw=500, p_kw=0.0, soc_pct=soc, soc_min_pct=10.0)


def test_need_counts_the_excess_over_the_cap_until_the_plan_next_charges(small_site):
    reserve = CapReserve(small_site)
    # net 1,100 / 1,000 / 900 / 1,200 kW, then a charging interval, then 1,500 kW (after the recharge: not counted)
    record = _record([1100, 1000, 900, 1200, 300, 1500], [100, 0, 0, 200, -200, 500])
    assert reserve.need_kwh(record, T0, 950.0, 1.0) == pytest.approx((150 + 50 + 0 + 250) * 0.25)
    # 5 minutes into the first interval: two thirds of it are left
    later = T0 + timedelta(minutes=5)
    assert reserve.need_kwh(record, later, 950.0, 1.0) == pytest.approx(150 * 0.25 * 2 / 3 + (50 + 250) * 0.25)
    # load 10 % above the plan: every interval's excess grows
    assert reserve.need_kwh(record, T0, 950.0, 1.1) == pytest.approx((260 + 150 + 40 + 370) * 0.25)
    assert reserve.need_kwh(record, T0 - timedelta(hours=1), 950.0, 1.0) == 0.0  # before the plan


def test_load_factor_is_measured_over_planned_net_in_the_last_hour(small_site):
    reserve = CapReserve(small_site)
    assert reserve.load_factor() == 1.0
    unit = StorageUnit("bat", 500, 500, p_kw=200.0, soc_pct=50.0)
    for i in range(360):  # one hour of 10-s cycles: PCC 900 + storage 200 = 1,100 against a planned 1,000
        reserve.observe(T0 + timedelta(seconds=10 * i), 10.0, 900.0, (unit,), 1000.0)
    assert reserve.load_factor() == pytest.approx(1.1)
    early = CapReserve(small_site)
    for i in range(30):  # five minutes are not enough history to scale the plan by
        early.observe(T0 + timedelta(seconds=10 * i), 10.0, 900.0, (unit,), 1000.0)
    assert early.load_factor() == 1.0 and early.spread_kw(1.0) == 0.0
    for i in range(360, 720):  # the next hour on plan: the first hour drops out of the window
        reserve.observe(T0 + timedelta(seconds=10 * i), 10.0, 800.0, (unit,), 1000.0)
    assert reserve.load_factor() == pytest.approx(1.0, abs=0.001)
    reserve.observe(T0 + timedelta(hours=3), 10.0, None, (unit,), 1000.0)  # no PCC reading: not counted
    assert len(reserve._samples) > 0


def test_drop_and_restore_with_hysteresis(small_site):
    bat = small_site.assets.batteries[0]
    reserve = CapReserve(small_site)
    record = _record([1200] * 8, [0] * 8)  # 100 kW over the cap for 2 h: 200 kWh needed
    per_pct = bat.e_kwh / 100 * bat.eta_discharge  # kWh per SoC percent at the AC side
    need = 100 * 2.0
    plenty = 10 + need * 1.25 * 1.25 / per_pct + 3
    assert reserve.update(record, T0, 1100.0, (_unit(plenty),)) is None and reserve.soft_allowed
    short = 10 + need * 1.2 / per_pct  # below need × 1.25
    assert reserve.update(record, T0, 1100.0, (_unit(short),)) is False and not reserve.soft_allowed
    assert reserve.last_need_kwh == pytest.approx(need)
    just_above = 10 + (need * 1.25 * 1.2) / per_pct  # above the drop threshold but inside the hysteresis band
    assert reserve.update(record, T0, 1100.0, (_unit(just_above),)) is None and not reserve.soft_allowed
    assert reserve.update(record, T0, 1100.0, (_unit(plenty),)) is True and reserve.soft_allowed
    assert reserve.update(record, T0, 1100.0, (_unit(plenty, "not_a_battery"),)) is False  # unknown: no energy


@pytest.mark.parametrize(("mean", "spread", "cap"), [(900.0, 40.0, 950.0), (1000.0, 40.0, 950.0),
                                                     (950.0, 25.0, 950.0), (1200.0, 5.0, 950.0)])
def test_expected_excess_matches_sampling(mean, spread, cap):
    import numpy as np

    from microgrid.control.cap_reserve import expected_excess_kw

    samples = np.random.default_rng(5).normal(mean, spread, 400_000)
    assert expected_excess_kw(mean, spread, cap) == pytest.approx(np.maximum(samples - cap, 0).mean(), rel=0.01,
                                                                 abs=0.05)
    assert expected_excess_kw(mean, 0.0, cap) == max(mean - cap, 0.0)


def test_a_swinging_load_needs_more_than_its_mean_shows(small_site):
    import numpy as np

    reserve = CapReserve(small_site)
    unit = StorageUnit("bat", 500, 500, p_kw=0.0, soc_pct=50.0)
    swing = np.random.default_rng(8).normal(0.0, 50.0, 360)
    swing[::60] = 5000.0  # six wild readings (a faulty meter before it was caught) do not count as swing
    for i in range(360):  # net swings by σ = 50 kW around the planned 1,000 kW
        reserve.observe(T0 + timedelta(seconds=10 * i), 10.0, 1000.0 + swing[i], (unit,), 1000.0)
    assert np.std(swing) > 500  # what a plain standard deviation would make of them
    assert 40.0 < reserve.spread_kw(1.0) < 60.0
    record = _record([1000] * 4, [0] * 4)
    # the mean sits at the cap (no need by the mean); spread 50 kW around it: σ/√(2π) ≈ 20 kW for an hour
    assert reserve.need_kwh(record, T0, 1000.0, 1.0) == 0.0
    assert reserve.need_kwh(record, T0, 1000.0, 1.0, 50.0) == pytest.approx(50 / (2 * 3.14159265) ** 0.5, rel=1e-6)
