"""A typical year of weather for a site, offline: pvlib clear sky × a seeded, month-calibrated cloud model.

Physics functions are pure (arrays in, arrays out, units in the names), as in pvlib:

1. Clear sky: Ineichen–Perez with a monthly Linke turbidity (:func:`pvlib.clearsky.ineichen`), sun
   position at mid-interval (NREL SPA). Nothing is downloaded and no data file is read.
2. Clouds: a clear-sky index ``kc`` per 15-min step = a daily level drawn from a Beta distribution with the
   month's mean, plus intraday AR(1) fluctuations (:func:`ar1_noise`), clipped to [0.05, 1.0]. The
   month's mean is then *calibrated*: scaled (three fixed-point passes) until the month's GHI equals the
   target of :data:`PUTIAN_MONTHLY_GHI_KWH_M2`, so the annual total and the monthly shape are data.
3. DNI/DHI from GHI by the Erbs decomposition (:func:`pvlib.irradiance.erbs`).
4. Air temperature: a diurnal sine between the month's mean daily minimum (05:00) and maximum (14:00),
   plus day-to-day and hourly noise (:func:`diurnal_temperature_c`).

The 15-min series is generated once per (site, year, seed) and averaged to coarser steps, so an hourly
and a 15-min study see the same weather. The calibration targets and their sources are in docs/study.md
("Weather"), with the resulting PV yield.

A user's weather CSV (``timestamp`` + ``ghi_w_m2``, ``temp_air_c`` and optionally ``dni_w_m2``/``dhi_w_m2``;
hourly or finer, interval averages labelled by their start) replaces the generator: :func:`read_weather_csv`.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd
import pvlib
from scipy.stats import beta as beta_dist

from microgrid.errors import UserError
from optimizer.errors import ForecastError
from optimizer.forecast import read_forecast_csv

GEN_STEP_MIN = 15
DEFAULT_SEED = 20260101

PUTIAN_MONTHLY_GHI_KWH_M2 = (80.0, 75.0, 92.0, 105.0, 120.0, 125.0, 175.0, 165.0, 140.0, 120.0, 95.0, 85.0)
"""Target global horizontal irradiation per month, kWh/m² (sum 1,377): a typical-year shape for the Fujian
coast (wet spring and plum-rain season Mar–Jun, sunny Jul–Aug under the subtropical high). See docs/study.md
for the sources and how far they are verified."""

PUTIAN_TEMP_MIN_MAX_C = ((9, 16), (9, 16), (12, 19), (16, 23), (20, 27), (24, 30), (26, 33), (26, 33), (24, 31),
                         (20, 27), (16, 23), (11, 18))
"""Mean daily minimum and maximum air temperature per month, °C (Putian climate normals, approximate)."""

LINKE_TURBIDITY = (3.0, 3.2, 3.5, 3.6, 3.8, 4.0, 4.2, 4.2, 3.9, 3.5, 3.2, 3.0)
"""Monthly Linke turbidity for the clear-sky model (humid subtropical coast: hazier in summer)."""

BETA_CONCENTRATION = 4.0
"""Concentration a+b of the Beta distribution of daily clear-sky indices (lower = more overcast/clear days)."""


def ar1_noise(n: int, sd: float, rng: np.random.Generator, persistence: float = 0.85) -> np.ndarray:
    """Zero-mean AR(1) series: ``x_i = persistence · x_(i-1) + N(0, sd)`` (the intraday cloud fluctuation)."""
    shocks = rng.normal(0.0, sd, n)
    out = np.empty(n)
    state = 0.0
    for i in range(n):
        state = persistence * state + shocks[i]
        out[i] = state
    return out


def diurnal_temperature_c(hours: np.ndarray, temp_min_c: np.ndarray | float, temp_max_c: np.ndarray | float
                          ) -> np.ndarray:
    """Air temperature on a sine between the daily minimum at 05:00 and the maximum at 14:00, °C."""
    phase = np.where((hours >= 5) & (hours < 14), (hours - 5) / 9 * np.pi - np.pi / 2,
                     np.pi / 2 + ((hours - 14) % 24) / 15 * np.pi)
    return temp_min_c + (np.asarray(temp_max_c) - temp_min_c) * (np.sin(phase) + 1) / 2


def year_index(year: int, step_min: int, tz: str) -> pd.DatetimeIndex:
    """Interval starts of the local calendar year at ``step_min``."""
    start = pd.Timestamp(year=year, month=1, day=1, tz=tz)
    end = pd.Timestamp(year=year + 1, month=1, day=1, tz=tz)
    return pd.date_range(start, end, freq=f"{step_min}min", inclusive="left")


def clear_sky(index: pd.DatetimeIndex, latitude_deg: float, longitude_deg: float, altitude_m: float,
              step_min: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Clear-sky irradiance (W/m², interval averages ≈ mid-interval values) and sun position."""
    mid = index + pd.Timedelta(minutes=step_min / 2)
    location = pvlib.location.Location(latitude_deg, longitude_deg, tz=str(index.tz), altitude=altitude_m)
    solpos = location.get_solarposition(mid)
    airmass = pvlib.atmosphere.get_relative_airmass(solpos["apparent_zenith"])
    pressure = pvlib.atmosphere.alt2pres(altitude_m)
    am_abs = pvlib.atmosphere.get_absolute_airmass(airmass, pressure)
    linke = np.asarray(LINKE_TURBIDITY)[mid.month.to_numpy() - 1]
    clear = pvlib.clearsky.ineichen(solpos["apparent_zenith"], am_abs, linke, altitude=altitude_m,
                                    dni_extra=pvlib.irradiance.get_extra_radiation(mid))
    return clear.fillna(0.0), solpos


@lru_cache(maxsize=4)
def generate_year_weather(year: int, latitude_deg: float, longitude_deg: float, altitude_m: float, tz: str, *,
                          seed: int = DEFAULT_SEED, monthly_ghi_kwh_m2: tuple[float, ...] = PUTIAN_MONTHLY_GHI_KWH_M2,
                          temp_min_max_c: tuple = PUTIAN_TEMP_MIN_MAX_C) -> pd.DataFrame:
    """15-min weather of the local ``year``: ``ghi_w_m2``, ``dni_w_m2``, ``dhi_w_m2``, ``temp_air_c``, ``cloud_factor``.

    Cached per arguments: treat the returned frame as read-only.
    """
    if len(monthly_ghi_kwh_m2) != 12 or len(temp_min_max_c) != 12:
        raise ValueError("monthly targets need 12 values")
    rng = np.random.default_rng([seed, year])
    index = year_index(year, GEN_STEP_MIN, tz)
    clear, solpos = clear_sky(index, latitude_deg, longitude_deg, altitude_m, GEN_STEP_MIN)
    ghi_clear = clear["ghi"].to_numpy()
    month = index.month.to_numpy() - 1
    day_no = (index.dayofyear.to_numpy() - 1)
    n_days = day_no.max() + 1
    dt_h = GEN_STEP_MIN / 60
    clear_month = np.bincount(month, weights=ghi_clear, minlength=12) * dt_h / 1000  # kWh/m²
    target = np.asarray(monthly_ghi_kwh_m2, dtype=float)
    mean_kc = np.clip(target / np.maximum(clear_month, 1e-9), 0.05, 0.98)
    first_step = np.searchsorted(day_no, np.arange(n_days))
    day_of_month = month[first_step]
    u = rng.random(n_days)
    ar = ar1_noise(len(index), 0.07, rng)
    kc = np.ones(len(index))
    scale = np.ones(12)
    for rounds in range(5):  # fixed point: scale each month's level until its GHI meets the target
        m = np.clip(mean_kc * scale, 0.03, 0.97)
        a, b = m * BETA_CONCENTRATION, (1 - m) * BETA_CONCENTRATION
        daily = beta_dist.ppf(u, a[day_of_month], b[day_of_month])
        kc = np.clip(daily[day_no] + ar, 0.05, 1.0)
        if rounds == 4:
            break
        got = np.bincount(month, weights=ghi_clear * kc, minlength=12) * dt_h / 1000
        scale *= np.where(got > 0, target / np.maximum(got, 1e-9), 1.0)
    ghi = ghi_clear * kc
    split = pvlib.irradiance.erbs(ghi, solpos["zenith"].to_numpy(), index.dayofyear.to_numpy())
    hours = (index.hour + index.minute / 60).to_numpy()
    t_min = np.array([t[0] for t in temp_min_max_c], dtype=float)[month]
    t_max = np.array([t[1] for t in temp_min_max_c], dtype=float)[month]
    day_offset = rng.normal(0.0, 1.5, n_days)[day_no]
    temp = diurnal_temperature_c(hours, t_min, t_max) + day_offset + rng.normal(0, 0.3, len(index))
    return pd.DataFrame({
        "ghi_w_m2": ghi,
        "dni_w_m2": np.nan_to_num(np.asarray(split["dni"], dtype=float)),
        "dhi_w_m2": np.nan_to_num(np.asarray(split["dhi"], dtype=float)),
        "temp_air_c": temp,
        "cloud_factor": kc,
    }, index=index)


def to_step(frame: pd.DataFrame, step_min: int) -> pd.DataFrame:
    """Interval averages at ``step_min`` (coarser: mean of the 15-min values; finer: held)."""
    if step_min == GEN_STEP_MIN:
        return frame
    if step_min > GEN_STEP_MIN:
        return frame.resample(f"{step_min}min", origin=frame.index[0]).mean()
    index = pd.date_range(frame.index[0], periods=len(frame) * GEN_STEP_MIN // step_min, freq=f"{step_min}min")
    return frame.reindex(index, method="ffill")


def read_weather_csv(path: str | Path, index: pd.DatetimeIndex, latitude_deg: float, longitude_deg: float) -> pd.DataFrame:
    """A user's weather CSV aligned to ``index``; DNI/DHI derived by Erbs when absent (see the module docstring)."""
    try:
        frame = read_forecast_csv(path, index)
    except ForecastError as exc:
        raise UserError.of("uerr.where_detail", exc.problems, where="--weather", detail=exc) from None
    missing = [c for c in ("ghi_w_m2", "temp_air_c") if c not in frame.columns]
    if missing:
        raise UserError.of("uerr.weather_missing", path=str(path), missing=str(missing))
    unknown = sorted(set(frame.columns) - {"ghi_w_m2", "dni_w_m2", "dhi_w_m2", "temp_air_c"})
    if unknown:
        raise UserError.of("uerr.weather_unknown", path=str(path), unknown=str(unknown))
    if "dni_w_m2" not in frame.columns or "dhi_w_m2" not in frame.columns:
        step = (index[1] - index[0]) / 2
        solpos = pvlib.solarposition.get_solarposition(index + step, latitude_deg, longitude_deg)
        split = pvlib.irradiance.erbs(frame["ghi_w_m2"].clip(lower=0).to_numpy(), solpos["zenith"].to_numpy(),
                                      (index + step).dayofyear.to_numpy())
        frame["dni_w_m2"] = np.nan_to_num(np.asarray(split["dni"], dtype=float))
        frame["dhi_w_m2"] = np.nan_to_num(np.asarray(split["dhi"], dtype=float))
    frame["cloud_factor"] = np.nan
    return frame
