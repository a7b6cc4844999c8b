"""The PV physics of the day-ahead forecast, as plain numpy: sun position, transposition, glass losses, cell
temperature and PVWatts DC/AC.

Why not ``import pvlib``: its package initialiser loads every pvlib model and, through them, ``scipy.stats``,
``scipy.integrate`` and ``scipy.optimize`` (≈ 1.3 s of a 3 s ``microgrid optimize``, issue 16). The models below
are the published equations (references per function); the sun position is pvlib's own NREL SPA module
(``pvlib/spa.py``, numpy only), loaded without the package initialiser. ``tests/optimizer/test_pv_physics.py``
checks every function against the full pvlib on a year of sun positions and a grid of inputs.

Angles in degrees, irradiance in W/m², temperatures in °C, power in W unless a name says otherwise.
"""

from __future__ import annotations

import importlib.util
import sys
from types import ModuleType

import numpy as np
import pandas as pd

SOLAR_CONSTANT_W_M2 = 1366.1
"""Solar constant used for the extraterrestrial irradiance (pvlib's default, Gueymard 2004)."""
DELTA_T_S = 67.0
"""Terrestrial time minus UT1, s (the SPA default; its effect on the sun position is below 0.001°)."""
ATMOS_REFRACT_DEG = 0.5667
"""Refraction at sunrise/sunset, degrees (SPA)."""
SPA_TEMPERATURE_C = 12.0
"""Annual mean air temperature for the refraction correction, °C (SPA default)."""


def _load_spa() -> ModuleType:
    """pvlib's ``spa`` module: the already imported one, else the file loaded on its own (it needs numpy only)."""
    if "pvlib.spa" in sys.modules:
        return sys.modules["pvlib.spa"]
    name = "optimizer._nrel_spa"
    if name in sys.modules:
        return sys.modules[name]
    package = importlib.util.find_spec("pvlib")
    if package is None or not package.submodule_search_locations:
        raise ImportError("pvlib is not installed (needed for the NREL solar position algorithm)")
    path = f"{list(package.submodule_search_locations)[0]}/spa.py"
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
    sys.modules[name] = module
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    return module


def pressure_pa(altitude_m: float) -> float:
    """Standard-atmosphere air pressure at ``altitude_m`` (ICAO lapse-rate form, as used with the SPA), Pa."""
    return 100.0 * ((44331.514 - altitude_m) / 11880.516) ** (1 / 0.1902632)


def solar_position(times: pd.DatetimeIndex, latitude_deg: float, longitude_deg: float,
                   altitude_m: float = 0.0) -> pd.DataFrame:
    """Sun position by the NREL SPA (Reda & Andreas, Solar Energy 76(5), 2004): columns ``apparent_zenith``,
    ``zenith``, ``apparent_elevation``, ``elevation``, ``azimuth`` (compass, 180 = south) and
    ``equation_of_time`` (minutes); ``times`` tz-aware (naive is taken as UTC)."""
    utc = times.tz_convert("UTC") if times.tz is not None else times
    unix_s = (utc.tz_localize(None) - pd.Timestamp("1970-01-01")) // pd.Timedelta(microseconds=1) / 1e6
    spa = _load_spa()  # pressure in hPa (millibar) for the SPA's refraction term
    app_zenith, zenith, app_elevation, elevation, azimuth, eot = spa.solar_position(
        np.asarray(unix_s, dtype=float), latitude_deg, longitude_deg, altitude_m, pressure_pa(altitude_m) / 100.0,
        SPA_TEMPERATURE_C, DELTA_T_S, ATMOS_REFRACT_DEG, 1)
    return pd.DataFrame({"apparent_zenith": app_zenith, "zenith": zenith, "apparent_elevation": app_elevation,
                         "elevation": elevation, "azimuth": azimuth, "equation_of_time": eot}, index=times)


def extra_radiation_w_m2(times: pd.DatetimeIndex) -> np.ndarray:
    """Extraterrestrial normal irradiance by Spencer's Fourier series for the Sun–Earth distance (Spencer 1971,
    as in Iqbal, *An Introduction to Solar Radiation*, 1983), day of year taken in UTC."""
    utc = times.tz_convert("UTC") if times.tz is not None else times
    day_angle = 2 * np.pi / 365 * (np.asarray(utc.dayofyear, dtype=float) - 1)
    distance_factor = (1.00011 + 0.034221 * np.cos(day_angle) + 0.00128 * np.sin(day_angle)
                       + 0.000719 * np.cos(2 * day_angle) + 0.000077 * np.sin(2 * day_angle))
    return SOLAR_CONSTANT_W_M2 * distance_factor


def cos_incidence(tilt_deg: float, surface_azimuth_deg: float, zenith_deg: np.ndarray,
                  sun_azimuth_deg: np.ndarray) -> np.ndarray:
    """Cosine of the angle between the sun and the module normal (clipped to [-1, 1])."""
    tilt, zen = np.radians(tilt_deg), np.radians(zenith_deg)
    cos_aoi = np.cos(tilt) * np.cos(zen) + np.sin(tilt) * np.sin(zen) * np.cos(
        np.radians(np.asarray(sun_azimuth_deg) - surface_azimuth_deg))
    return np.clip(cos_aoi, -1.0, 1.0)


def incidence_deg(tilt_deg: float, surface_azimuth_deg: float, zenith_deg: np.ndarray,
                  sun_azimuth_deg: np.ndarray) -> np.ndarray:
    """Angle of incidence on the module plane, degrees."""
    return np.degrees(np.arccos(cos_incidence(tilt_deg, surface_azimuth_deg, zenith_deg, sun_azimuth_deg)))


def plane_of_array(tilt_deg: float, surface_azimuth_deg: float, zenith_deg: np.ndarray, sun_azimuth_deg: np.ndarray,
                   dni: np.ndarray, ghi: np.ndarray, dhi: np.ndarray, dni_extra: np.ndarray,
                   albedo: float) -> tuple[np.ndarray, np.ndarray]:
    """Beam and diffuse irradiance on the module plane, W/m².

    Sky diffuse by Hay & Davies (1980): an anisotropy index ``A = DNI/DNI_extra`` splits DHI into a circumsolar
    part projected like beam (ratio ``Rb``, with cos zenith floored at 0.01745 ≈ cos 89°) and an isotropic
    part seen through the view factor ``(1 + cos tilt)/2``; ground-reflected ``GHI·albedo·(1 − cos tilt)/2``.
    """
    cos_aoi = cos_incidence(tilt_deg, surface_azimuth_deg, zenith_deg, sun_azimuth_deg)
    beam = np.maximum(dni * cos_aoi, 0.0)
    ratio_rb = np.maximum(cos_aoi, 0.0) / np.maximum(np.cos(np.radians(zenith_deg)), 0.01745)
    anisotropy = dni / dni_extra
    cos_tilt = np.cos(np.radians(tilt_deg))
    isotropic = np.maximum(dhi * (1 - anisotropy) * 0.5 * (1 + cos_tilt), 0.0)
    circumsolar = np.maximum(dhi * anisotropy * ratio_rb, 0.0)
    ground = ghi * albedo * (1 - cos_tilt) * 0.5
    return beam, isotropic + circumsolar + ground


def glass_transmission_ratio(incidence: np.ndarray, n: float = 1.526, k_per_m: float = 4.0,
                             thickness_m: float = 0.002) -> np.ndarray:
    """Incidence-angle modifier of a glass cover (De Soto, Klein & Beckman, Solar Energy 80(1), 2006; Duffie &
    Beckman ch. 5): Fresnel transmission of both polarisations through the air/glass surface (Snell refraction)
    times Bouguer absorption over the refracted path, relative to normal incidence. 0 for light from behind."""
    cos_i = np.maximum(0.0, np.cos(np.radians(incidence)))
    sin_r = np.sqrt(1 - cos_i ** 2) / n
    cos_r = np.sqrt(1 - sin_r ** 2)
    with np.errstate(divide="ignore", invalid="ignore"):
        refl_s = ((cos_i - n * cos_r) / (cos_i + n * cos_r)) ** 2
        refl_p = ((cos_r - n * cos_i) / (cos_r + n * cos_i)) ** 2
        absorption = np.exp(-k_per_m * thickness_m / cos_r)
    transmission = (2 - refl_s - refl_p) / 2 * absorption
    normal = (1 - ((1 - n) / (1 + n)) ** 2) * np.exp(-k_per_m * thickness_m)
    return transmission / normal


def cell_temperature_ross_c(poa_global: np.ndarray, temp_air_c: np.ndarray, noct_c: float) -> np.ndarray:
    """Cell temperature by Ross (1976): ``T_air + (NOCT − 20)/800 · G_poa``, °C."""
    return temp_air_c + (noct_c - 20.0) / 800.0 * poa_global


def pvwatts_dc_w(effective_irradiance: np.ndarray, temp_cell_c: np.ndarray, pdc0_w: float,
                 gamma_per_c: float) -> np.ndarray:
    """PVWatts DC power (Dobos, NREL/TP-6A20-62641, 2014): ``G/1000 · Pdc0 · (1 + γ (T_cell − 25))``, W."""
    return effective_irradiance * 0.001 * pdc0_w * (1 + gamma_per_c * (temp_cell_c - 25.0))


def pvwatts_ac_w(pdc_w: np.ndarray, pdc0_w: float, eta_nom: float = 0.96, eta_ref: float = 0.9637) -> np.ndarray:
    """PVWatts inverter (Dobos 2014): part-load efficiency ``η = η_nom/η_ref (−0.0162 ζ − 0.0059/ζ + 0.9858)``
    with ``ζ = Pdc/Pdc0``; output clipped to ``[0, η_nom·Pdc0]``, W."""
    pdc = np.asarray(pdc_w, dtype=float)
    zeta = pdc / pdc0_w
    inverse = np.divide(0.0059, zeta, out=np.zeros_like(zeta), where=pdc != 0)
    eta = eta_nom / eta_ref * (-0.0162 * zeta - inverse + 0.9858)
    return np.maximum(0.0, np.minimum(eta_nom * pdc0_w, eta * pdc))
