"""Similar-days baseline rule on hand-made data (every figure known in advance)."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pandas as pd
import pytest

from microgrid.control.gridcaps import DREvent
from microgrid.gridside.settlement import settle
from microgrid.site.gridside import DemandResponseSettings

TZ = ZoneInfo("Asia/Shanghai")
DAY = datetime(2026, 7, 15, tzinfo=TZ)  # Wednesday


def history() -> pd.Series:
    """Every day imports (100 × day-of-month) kW, the event day 1000 kW before 10:00 and 700 kW after."""
    index = pd.date_range(DAY - pd.Timedelta(days=14), DAY + pd.Timedelta(days=1), freq="15min", inclusive="left")
    values = [float(100 * t.day) for t in index]
    s = pd.Series(values, index=index)
    s[(s.index >= pd.Timestamp(DAY)) & (s.index < pd.Timestamp(DAY) + pd.Timedelta(hours=10))] = 1000.0
    s[s.index >= pd.Timestamp(DAY) + pd.Timedelta(hours=10)] = 700.0
    return s


def test_weekdays_only_most_recent_five_and_event_days_excluded():
    s = history()
    e = DREvent("x", DAY.replace(hour=10), DAY.replace(hour=11), max_import_kw=800.0)
    got = settle(e, s, DemandResponseSettings(compensation_cny_per_kwh=2.0), "Asia/Shanghai",
                 event_days={DAY.date().replace(day=13)})
    # July 2026: 14 Tue, 13 Mon (event day: out), 12 Sun/11 Sat out, 10 Fri, 9 Thu, 8 Wed, 7 Tue
    assert [d.day for d in got.baseline_days] == [14, 10, 9, 8, 7]
    b = 100 * (14 + 10 + 9 + 8 + 7) / 5  # 960 kW
    assert got.baseline_kwh == pytest.approx(b)
    assert got.metered_kwh == pytest.approx(700.0)
    assert got.delivered_kwh == pytest.approx(b - 700.0)
    assert got.requested_kwh == pytest.approx(b - 800.0)
    assert got.shortfall_kwh == 0.0
    assert got.compensation_cny == pytest.approx((b - 800.0) * 2.0)  # paid up to what was asked


def test_reduction_event_shortfall_penalty_and_min_delivery():
    s = history()
    e = DREvent("y", DAY.replace(hour=10), DAY.replace(hour=12), reduction_kw=400.0, baseline_kw=960.0)
    dr = DemandResponseSettings(compensation_cny_per_kwh=3.0, shortfall_penalty_cny_per_kwh=1.0, min_delivery_pct=96)
    got = settle(e, s, dr, "Asia/Shanghai")
    b = 100 * (14 + 13 + 10 + 9 + 8) / 5 * 2  # kWh over 2 h
    assert got.requested_kwh == pytest.approx(800.0)
    assert got.delivered_kwh == pytest.approx(b - 1400.0)
    assert got.shortfall_kwh == pytest.approx(800.0 - (b - 1400.0))
    assert got.delivery_pct == pytest.approx(95.0) and got.compensation_cny == 0.0  # below 96 %: nothing paid
    assert got.penalty_cny == pytest.approx(got.shortfall_kwh)


def test_too_few_days_is_no_baseline():
    s = history()
    s = s[s.index >= pd.Timestamp(DAY) - pd.Timedelta(days=2)]
    e = DREvent("z", DAY.replace(hour=10), DAY.replace(hour=11), max_import_kw=800.0)
    got = settle(e, s, DemandResponseSettings(), "Asia/Shanghai")
    assert got.baseline_kwh is None and got.compensation_cny == 0.0 and "no baseline" in got.note
