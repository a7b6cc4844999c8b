"""Typical-year weather: calibrated monthly irradiation, a realistic PV yield, the weather CSV."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from microgrid.errors import UserError
from microgrid.study.weather import (
    PUTIAN_MONTHLY_GHI_KWH_M2,
    generate_year_weather,
    read_weather_csv,
    to_step,
    year_index,
)

LAT, LON, TZ = 25.43, 119.01, "Asia/Shanghai"


@pytest.fixture(scope="module")
def weather():
    return generate_year_weather(2026, LAT, LON, 10, TZ)


def test_monthly_irradiation_meets_the_calibration_targets(weather):
    monthly = weather["ghi_w_m2"].groupby(weather.index.month).sum() * 0.25 / 1000
    np.testing.assert_allclose(monthly.to_numpy(), PUTIAN_MONTHLY_GHI_KWH_M2, rtol=5e-3)
    assert len(weather) == 365 * 96
    # physical: diffuse never above global, nothing at night, clear-sky index within its bounds
    assert (weather["dhi_w_m2"] <= weather["ghi_w_m2"] + 1e-6).all()
    assert weather["cloud_factor"].between(0.05, 1.0).all()
    july = weather[weather.index.month == 7]["temp_air_c"]
    january = weather[weather.index.month == 1]["temp_air_c"]
    assert 26 < july.mean() < 32 and 9 < january.mean() < 16


def test_seed_makes_it_reproducible_and_different():
    a = generate_year_weather(2026, LAT, LON, 10, TZ, seed=1)
    b = generate_year_weather(2026, LAT, LON, 10, TZ, seed=2)
    assert not np.allclose(a["ghi_w_m2"], b["ghi_w_m2"])
    generate_year_weather.cache_clear()
    assert np.array_equal(generate_year_weather(2026, LAT, LON, 10, TZ, seed=1)["ghi_w_m2"], a["ghi_w_m2"])


def test_hourly_is_the_mean_of_the_15_min_weather(weather):
    hourly = to_step(weather, 60)
    assert len(hourly) == 8760
    np.testing.assert_allclose(hourly["ghi_w_m2"].iloc[12], weather["ghi_w_m2"].iloc[48:52].mean())


def test_reference_park_yield_is_realistic_for_putian(reference_year):
    # DESIGN.md §4: realistic PV yield in Putian about 1,000-1,200 kWh/kWp·a (pvlib PV model, independent
    # of the calibration, which only fixes horizontal irradiation)
    assert 1000 <= reference_year.pv_yield_kwh_per_kwp() <= 1200


def test_weather_csv_with_ghi_and_temperature_only(tmp_path):
    index = year_index(2026, 60, TZ)
    src = generate_year_weather(2026, LAT, LON, 10, TZ)
    hourly = to_step(src, 60)
    path = tmp_path / "weather.csv"
    pd.DataFrame({"timestamp": [t.isoformat() for t in index], "ghi_w_m2": hourly["ghi_w_m2"].to_numpy(),
                  "temp_air_c": hourly["temp_air_c"].to_numpy()}).to_csv(path, index=False)
    frame = read_weather_csv(path, index, LAT, LON)
    assert {"dni_w_m2", "dhi_w_m2"} <= set(frame.columns)
    assert (frame["dni_w_m2"] >= 0).all() and (frame["dhi_w_m2"] <= frame["ghi_w_m2"] + 1e-6).all()
    np.testing.assert_allclose(frame["ghi_w_m2"].to_numpy(), hourly["ghi_w_m2"].to_numpy())


def test_weather_csv_errors_name_the_problem(tmp_path):
    index = year_index(2026, 60, TZ)
    path = tmp_path / "w.csv"
    pd.DataFrame({"timestamp": [t.isoformat() for t in index], "ghi_w_m2": 0.0}).to_csv(path, index=False)
    with pytest.raises(UserError, match="temp_air_c"):
        read_weather_csv(path, index, LAT, LON)
    pd.DataFrame({"timestamp": [t.isoformat() for t in index[:10]], "ghi_w_m2": 0.0, "temp_air_c": 20.0}
                 ).to_csv(path, index=False)
    with pytest.raises(UserError, match="covers"):
        read_weather_csv(path, index, LAT, LON)
    with pytest.raises(UserError, match="not found"):
        read_weather_csv(tmp_path / "missing.csv", index, LAT, LON)
