"""A year of loads: calendar day types, Spring Festival shutdowns, seasonal factors."""

from __future__ import annotations

from datetime import date

import numpy as np
import pytest

from microgrid.profiles import load_day_profile


@pytest.fixture(scope="module")
def year(reference_year):
    return reference_year


def _day(year, d: date, col: str) -> np.ndarray:
    return year.day_frame(d)[col].to_numpy()


def test_day_types_follow_the_calendar(year, reference_site):
    weekend = load_day_profile(reference_site, date(2026, 5, 2), 60, day_type="weekend")["load_coatings_kw"].to_numpy()
    weekday = load_day_profile(reference_site, date(2026, 5, 6), 60, day_type="winter_weekday")["load_coatings_kw"]
    np.testing.assert_allclose(_day(year, date(2026, 5, 4), "load_coatings_kw"), weekend)  # Monday, Labour Day
    np.testing.assert_allclose(_day(year, date(2026, 5, 9), "load_coatings_kw"), weekday.to_numpy())  # make-up Saturday
    assert len(year.frame) == 8760 and not year.frame.isna().any().any()


def test_shutdown_runs_at_its_share_of_the_weekend_profile(year, reference_site):
    weekend = load_day_profile(reference_site, date(2026, 2, 12), 60, day_type="weekend")
    np.testing.assert_allclose(_day(year, date(2026, 2, 12), "load_shoes_kw"), weekend["load_shoes_kw"] * 0.08)
    np.testing.assert_allclose(_day(year, date(2026, 2, 12), "heat_hp_shoes_kw_th"), weekend["heat_hp_shoes_kw_th"] * 0.08)
    # electronics is not yet shut down on the 12th: a normal (working) Thursday
    assert _day(year, date(2026, 2, 12), "load_electronics_kw").mean() > 1000


def test_seasonal_factor_scales_the_profile(year, reference_site):
    base = load_day_profile(reference_site, date(2026, 7, 15), 60, day_type="summer_weekday")["load_electronics_kw"]
    np.testing.assert_allclose(_day(year, date(2026, 7, 15), "load_electronics_kw"), base.to_numpy() * 1.10)


def test_pv_columns_for_every_plant(year, reference_site):
    for p in reference_site.assets.pv:
        col = year.frame[f"pv_{p.id}_kw"]
        assert col.max() <= p.inverter_ac_kw + 1e-6 and col.min() >= 0
