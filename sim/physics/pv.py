"""PV plant physics: plane-of-array irradiance, cell temperature, DC power, AC power with clipping and limit.

Pure functions in pvlib style; powers in kW, irradiance in W/m², temperatures in °C. Output is generation
(>= 0, into the park bus).

References
----------
- Plane-of-array transposition (isotropic sky): pvlib ``irradiance.get_total_irradiance`` (Liu & Jordan 1963).
- Cell temperature from NOCT: ``T_cell = T_air + (NOCT - 20) / 800 * POA`` (Ross 1980, the NOCT model as in
  IEC 61215 / pvlib ``temperature.ross``).
- DC power: PVWatts-like ``P_dc = P_stc * POA / 1000 * (1 + gamma * (T_cell - 25)) * (1 - losses)``
  (Dobos 2014, NREL/TP-6A20-62641).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pvlib


def poa_global_w_m2(
    times: pd.DatetimeIndex,
    ghi_w_m2: np.ndarray,
    dni_w_m2: np.ndarray,
    dhi_w_m2: np.ndarray,
    latitude_deg: float,
    longitude_deg: float,
    altitude_m: float,
    tilt_deg: float,
    azimuth_deg: float,
) -> np.ndarray:
    """Global plane-of-array irradiance, W/m², for tz-aware ``times`` (isotropic sky, ground albedo 0.2)."""
    solpos = pvlib.solarposition.get_solarposition(times, latitude_deg, longitude_deg, altitude=altitude_m)
    poa = pvlib.irradiance.get_total_irradiance(
        surface_tilt=tilt_deg,
        surface_azimuth=azimuth_deg,
        solar_zenith=solpos["apparent_zenith"].to_numpy(),
        solar_azimuth=solpos["azimuth"].to_numpy(),
        dni=np.asarray(dni_w_m2, dtype=float),
        ghi=np.asarray(ghi_w_m2, dtype=float),
        dhi=np.asarray(dhi_w_m2, dtype=float),
        albedo=0.2,
        model="isotropic",
    )
    return np.clip(np.nan_to_num(np.asarray(poa["poa_global"], dtype=float)), 0.0, None)


def cell_temperature_c(poa_w_m2: np.ndarray | float, temp_air_c: np.ndarray | float, noct_c: float = 45.0):
    """Cell temperature, °C, by the NOCT model: ``T_air + (NOCT - 20) / 800 * POA``."""
    return np.asarray(temp_air_c, dtype=float) + (noct_c - 20.0) / 800.0 * np.asarray(poa_w_m2, dtype=float)


def dc_power_kw(
    poa_w_m2: np.ndarray | float,
    temp_cell_c: np.ndarray | float,
    kwp: float,
    temp_coeff_pct_per_c: float = -0.35,
    system_losses_pct: float = 14.0,
):
    """DC power available from the array, kW (>= 0).

    ``kwp`` is the STC nameplate; ``temp_coeff_pct_per_c`` the power temperature coefficient (negative);
    ``system_losses_pct`` lumps soiling, mismatch, wiring and inverter conversion losses.
    """
    poa = np.asarray(poa_w_m2, dtype=float)
    gamma = temp_coeff_pct_per_c / 100.0
    power = kwp * poa / 1000.0 * (1.0 + gamma * (np.asarray(temp_cell_c, dtype=float) - 25.0))
    return np.clip(power * (1.0 - system_losses_pct / 100.0), 0.0, None)


def ac_power_kw(p_available_kw: float, inverter_ac_kw: float, limit_kw: float | None = None) -> float:
    """AC output, kW: the available power clipped at the inverter rating and at the commanded limit (>= 0)."""
    cap = inverter_ac_kw if limit_kw is None else min(inverter_ac_kw, max(0.0, limit_kw))
    return max(0.0, min(p_available_kw, cap))


def available_power_series_kw(
    times: pd.DatetimeIndex,
    weather: pd.DataFrame,
    latitude_deg: float,
    longitude_deg: float,
    altitude_m: float,
    kwp: float,
    tilt_deg: float,
    azimuth_deg: float,
    temp_coeff_pct_per_c: float,
    system_losses_pct: float,
    noct_c: float,
) -> np.ndarray:
    """Power the array can deliver before inverter clipping, kW, at ``times`` (``weather`` indexed alike).

    ``weather`` holds ``ghi_w_m2``, ``dni_w_m2``, ``dhi_w_m2`` and ``temp_air_c``.
    """
    poa = poa_global_w_m2(
        times,
        weather["ghi_w_m2"].to_numpy(),
        weather["dni_w_m2"].to_numpy(),
        weather["dhi_w_m2"].to_numpy(),
        latitude_deg,
        longitude_deg,
        altitude_m,
        tilt_deg,
        azimuth_deg,
    )
    t_cell = cell_temperature_c(poa, weather["temp_air_c"].to_numpy(), noct_c)
    return dc_power_kw(poa, t_cell, kwp, temp_coeff_pct_per_c, system_losses_pct)
