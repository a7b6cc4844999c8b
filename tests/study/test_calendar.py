"""Working calendar: the published 2026 holidays, make-up days, approximate years, tenant shutdowns."""

from __future__ import annotations

from datetime import date

import pytest

from microgrid.errors import UserError
from microgrid.study.calendar import site_calendar, year_calendar


def test_2026_published_holidays_and_makeup_days():
    cal = year_calendar(2026)
    assert not cal.approximate
    assert cal.spring_festival == date(2026, 2, 17)
    # Spring Festival 15-23 Feb, National Day 1-7 Oct: holidays although some are weekdays
    assert all(cal.kinds[date(2026, 2, d)] == "holiday" for d in range(15, 24))
    assert cal.kinds[date(2026, 10, 5)] == "holiday" and date(2026, 10, 5).weekday() == 0
    # make-up working days fall on weekends and are working days
    for d in (date(2026, 1, 4), date(2026, 2, 14), date(2026, 2, 28), date(2026, 10, 10)):
        assert d.weekday() >= 5 and cal.kinds[d] == "workday"
    assert cal.day_type(date(2026, 2, 14), [6, 7, 8, 9]) == "winter_weekday"
    assert cal.day_type(date(2026, 10, 2), [6, 7, 8, 9]) == "weekend"
    holidays = sum(1 for k in cal.kinds.values() if k == "holiday")
    assert holidays == 3 + 9 + 3 + 5 + 3 + 3 + 7
    assert len(cal.kinds) == 365


def test_year_without_a_notice_is_approximate_and_says_so():
    cal = year_calendar(2030)
    assert cal.approximate and "approximate" in cal.note
    assert cal.spring_festival == date(2030, 2, 3)
    assert cal.kinds[date(2030, 2, 2)] == "holiday" and cal.kinds[date(2030, 2, 9)] == "holiday"
    assert cal.kinds[date(2030, 10, 7)] == "holiday"


def test_unknown_year_is_a_user_error():
    with pytest.raises(UserError, match="no calendar for 2090"):
        year_calendar(2090)


def test_tenant_shutdown_around_the_festival(reference_site):
    cal = site_calendar(reference_site, 2026)
    shoes = cal.shutdown["shoes"]
    # shoes: 7 days before 正月初一 (17 Feb) to 12 days after
    assert min(shoes) == date(2026, 2, 10) and max(shoes) == date(2026, 3, 1)
    assert len(shoes) == 20
    assert cal.shutdown["electronics"] == {date(2026, 2, d) for d in range(16, 22)}
