"""Forecast inputs: PV available power (pvlib's models, offline), heat-pump COP, and the forecast CSV format.

Physics functions are pure (arrays in, arrays out, units in the names), in the style of pvlib.

Forecast CSV format (one file per horizon; read with :func:`read_forecast_csv`)
------------------------------------------------------------------------------
- First column ``timestamp``: the *start* of each interval, ISO 8601. With a UTC offset
  (``2025-07-15T00:00:00+08:00``) or naive local time of the site (``2025-07-15 00:00``).
- Equally spaced rows (5–60 min). Rows at a finer step than the plan are averaged; a coarser step is
  held constant within each of its intervals. The file must cover the whole horizon.
- Power is the interval average. All columns are optional; a column present overrides the site
  profile for that quantity:

  ============================  ==================================================================
  ``ghi_w_m2``, ``dni_w_m2``,   global, direct-normal and diffuse-horizontal irradiance, W/m²
  ``dhi_w_m2``
  ``temp_air_c``                ambient air temperature, °C (PV cell temperature, heat-pump COP)
  ``pv_<asset_id>_kw``          available AC power of a PV plant, kW (skips the pvlib model)
  ``load_<tenant_id>_kw``       tenant base load, kW (consumption > 0)
  ``heat_<asset_id>_kw_th``     heat demand drawn from a heat pump's tank, kW_th (the site's
                                ``heat_demand_profile`` column name)
  ``flex_<asset_id>_kw``        baseline of a shiftable or curtailable load, kW
  ``cop_<asset_id>``            heat-pump COP (skips the Carnot model)
  ``price_import_cny_per_kwh``  import price override, CNY/kWh; ``price_export_cny_per_kwh`` export
  ============================  ==================================================================

Unknown columns are rejected by the caller (:mod:`microgrid.planning.forecasts`) so that a typo does
not silently fall back to the profile.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from optimizer import pv_physics
from optimizer.errors import ForecastError

WEATHER_COLUMNS = ("ghi_w_m2", "dni_w_m2", "dhi_w_m2", "temp_air_c")
KELVIN = 273.15


@dataclass(frozen=True)
class PVSystem:
    """Parameters of one PV plant for :func:`pv_ac_power_kw`."""

    kwp: float
    """DC nameplate at STC, kWp."""
    inverter_ac_kw: float
    """Sum of inverter AC ratings, kW (output clips here)."""
    tilt_deg: float = 10.0
    azimuth_deg: float = 180.0
    """Compass azimuth, degrees (180 = south)."""
    temp_coeff_pct_per_c: float = -0.35
    """Power temperature coefficient, %/°C."""
    system_losses_pct: float = 14.0
    """DC losses (soiling, wiring, mismatch, LID, availability), %."""
    noct_c: float = 45.0
    """Nominal operating cell temperature (800 W/m², 20 °C air), °C."""
    eta_inverter_nom: float = 0.96
    albedo: float = 0.2


@dataclass(frozen=True)
class Location:
    """Location of the plants."""

    latitude_deg: float
    longitude_deg: float
    altitude_m: float = 0.0


def pv_ac_power_kw(weather: pd.DataFrame, location: Location, system: PVSystem,
                   solar_position: pd.DataFrame | None = None) -> np.ndarray:
    """Available AC power of a PV plant per interval, kW.

    ``weather`` is indexed by tz-aware interval starts with ``ghi_w_m2``, ``dni_w_m2``, ``dhi_w_m2`` and
    ``temp_air_c`` (interval averages). Steps (equations in :mod:`optimizer.pv_physics`, checked against pvlib):

    1. Sun position at mid-interval (NREL SPA), or the ``solar_position`` frame of :func:`mid_interval_sun`
       when given (the same for every plant).
    2. Plane-of-array irradiance, Hay–Davies transposition with extraterrestrial DNI; incidence-angle losses
       on the beam component (physical glass model).
    3. Cell temperature by the Ross/NOCT model, :math:`T_c = T_a + (NOCT - 20)/800 \\cdot G_{poa}`.
    4. DC power by PVWatts with the temperature coefficient, minus the system losses.
    5. AC power by the PVWatts inverter model, which clips at ``inverter_ac_kw``.

    References: Holmgren, Hansen, Mikofski, "pvlib python", JOSS 3(29), 884 (2018); Dobos, PVWatts
    Version 5 Manual, NREL/TP-6A20-62641 (2014); Ross, "Interface design considerations for terrestrial
    solar cell modules", IEEE PVSC 1976.
    """
    missing = [c for c in WEATHER_COLUMNS if c not in weather.columns]
    if missing:
        raise ForecastError.of("uerr.forecast_weather_columns", missing=str(missing))
    index = weather.index
    solpos = solar_position if solar_position is not None else mid_interval_sun(index, location)
    dni_extra = pv_physics.extra_radiation_w_m2(mid_interval(index))
    zenith = solpos["apparent_zenith"].to_numpy()
    sun_azimuth = solpos["azimuth"].to_numpy()
    dni = weather["dni_w_m2"].to_numpy(dtype=float).clip(min=0)
    ghi = weather["ghi_w_m2"].to_numpy(dtype=float).clip(min=0)
    dhi = weather["dhi_w_m2"].to_numpy(dtype=float).clip(min=0)
    beam, diffuse = pv_physics.plane_of_array(system.tilt_deg, system.azimuth_deg, zenith, sun_azimuth, dni, ghi, dhi,
                                              dni_extra, system.albedo)
    beam, diffuse = np.nan_to_num(beam, nan=0.0), np.nan_to_num(diffuse, nan=0.0)
    iam = np.nan_to_num(pv_physics.glass_transmission_ratio(
        pv_physics.incidence_deg(system.tilt_deg, system.azimuth_deg, zenith, sun_azimuth)), nan=0.0)
    poa_global = np.clip(beam + diffuse, 0, None)
    effective = np.clip(beam * iam + diffuse, 0, None)
    temp_cell = pv_physics.cell_temperature_ross_c(poa_global, weather["temp_air_c"].to_numpy(dtype=float),
                                                   system.noct_c)
    pdc = pv_physics.pvwatts_dc_w(effective, temp_cell, system.kwp * 1000.0, system.temp_coeff_pct_per_c / 100.0)
    pdc = pdc * (1 - system.system_losses_pct / 100.0)
    pac = pv_physics.pvwatts_ac_w(pdc, system.inverter_ac_kw * 1000.0 / system.eta_inverter_nom,
                                  eta_nom=system.eta_inverter_nom)
    pac = np.clip(np.nan_to_num(pac, nan=0.0), 0.0, system.inverter_ac_kw * 1000.0)
    return pac / 1000.0


def mid_interval(index: pd.DatetimeIndex) -> pd.DatetimeIndex:
    """Middle of each interval (a single interval is taken as 15 min long)."""
    return index + ((index[1] - index[0]) / 2 if len(index) > 1 else pd.Timedelta(minutes=7.5))


def mid_interval_sun(index: pd.DatetimeIndex, location: Location) -> pd.DataFrame:
    """Sun position at mid-interval (NREL SPA); pass it to :func:`pv_ac_power_kw` for several plants at once."""
    return pv_physics.solar_position(mid_interval(index), location.latitude_deg, location.longitude_deg,
                                     location.altitude_m)


def cop_carnot(temp_ambient_c: np.ndarray, supply_temp_c: float, eta_carnot: float = 0.45,
               cop_min: float = 1.5, cop_max: float = 6.0) -> np.ndarray:
    """Heat-pump COP from a Carnot fraction, clipped to ``[cop_min, cop_max]``.

    .. math:: \\mathrm{COP} = \\eta_{carnot} \\frac{T_{supply,K}}{T_{supply} - T_{ambient}}

    An ambient at or above the supply temperature gives ``cop_max``. Reference: Langer & Volling,
    "An optimal home energy management system for modulating heat pumps and photovoltaic systems",
    Applied Energy 278 (2020) (also used by EMHASS's thermal model).
    """
    amb = np.asarray(temp_ambient_c, dtype=float)
    lift = supply_temp_c - amb
    with np.errstate(divide="ignore", invalid="ignore"):
        cop = np.where(lift > 0, eta_carnot * (supply_temp_c + KELVIN) / lift, cop_max)
    return np.clip(cop, cop_min, cop_max)


def read_forecast_csv(path: str | Path, index: pd.DatetimeIndex) -> pd.DataFrame:
    """Read a forecast CSV (format in the module docstring) aligned to ``index`` (tz-aware interval starts).

    Raises :class:`ForecastError` naming the file, column or timestamp at fault.
    """
    return align_forecast(read_csv_table(path), index, source=str(path))


def read_csv_table(path: str | Path, not_found: str = "uerr.forecast_not_found") -> pd.DataFrame:
    """The rows of a CSV file; :class:`ForecastError` when it is missing (catalogue entry ``not_found``, which
    names what the file is) or unreadable."""
    path = Path(path)
    try:
        return pd.read_csv(path)
    except FileNotFoundError:
        raise ForecastError.of(not_found, path=str(path)) from None
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise ForecastError.of("uerr.csv_unreadable", path=str(path), detail=str(exc)) from None


def _parse_timestamps(values: pd.Series, tz, source: str) -> pd.DatetimeIndex:
    text = values.astype(str)
    has_offset = text.str.contains(r"(?:[+-]\d{2}:?\d{2}|Z)$", regex=True)
    try:
        if has_offset.all():
            stamps = pd.DatetimeIndex(pd.to_datetime(text, utc=True)).tz_convert(tz)
        elif not has_offset.any():
            stamps = pd.DatetimeIndex(pd.to_datetime(text)).tz_localize(tz, ambiguous="raise", nonexistent="raise")
        else:
            raise ForecastError.of("uerr.forecast_mixed_offsets", source=source)
    except (ValueError, TypeError) as exc:
        bad = next((v for v in text if pd.isna(pd.to_datetime(v, errors="coerce"))), text.iloc[0])
        raise ForecastError.of("uerr.forecast_bad_timestamp", source=source, value=bad, detail=str(exc)) from None
    return stamps


def align_forecast(raw: pd.DataFrame, index: pd.DatetimeIndex, source: str = "forecast") -> pd.DataFrame:
    """Align a frame with a ``timestamp`` column (or a DatetimeIndex) to ``index``; check numbers."""
    frame = raw.copy()
    if "timestamp" in frame.columns:
        stamps = _parse_timestamps(frame.pop("timestamp"), index.tz, source)
    elif isinstance(frame.index, pd.DatetimeIndex):
        stamps = frame.index if frame.index.tz is not None else frame.index.tz_localize(index.tz)
        stamps = stamps.tz_convert(index.tz)
    else:
        raise ForecastError.of("uerr.forecast_no_timestamp", source=source)
    frame.index = stamps
    if frame.index.has_duplicates:
        dup = frame.index[frame.index.duplicated()][0]
        raise ForecastError.of("uerr.forecast_duplicate", source=source, time=dup.isoformat())
    frame = frame.sort_index()
    for col in frame.columns:
        values = pd.to_numeric(frame[col], errors="coerce")
        if values.isna().any():
            ts = frame.index[values.isna().to_numpy()][0]
            raise ForecastError.of("uerr.forecast_bad_value", source=source, column=col, time=ts.isoformat())
        frame[col] = values.astype(float)
    if len(frame) < 1:
        raise ForecastError.of("uerr.forecast_no_rows", source=source)
    if len(frame) > 1:
        steps = np.diff(frame.index.asi8)
        if np.any(steps != steps[0]):
            raise ForecastError.of("uerr.forecast_uneven", source=source, steps=str(sorted({int(s / 60e9) for s in steps})))
        src_step = pd.Timedelta(int(steps[0]), "ns")
    else:
        src_step = index[1] - index[0] if len(index) > 1 else pd.Timedelta(minutes=15)
    want_step = index[1] - index[0] if len(index) > 1 else src_step
    end_needed = index[-1] + want_step
    if frame.index[0] > index[0] or frame.index[-1] + src_step < end_needed:
        raise ForecastError.of("uerr.forecast_short", source=source, first=frame.index[0].isoformat(),
                               last=(frame.index[-1] + src_step).isoformat(), need_first=index[0].isoformat(),
                               need_last=end_needed.isoformat())
    if src_step < want_step:
        frame = frame.resample(want_step, origin=index[0]).mean()
    elif src_step > want_step:
        frame = frame.reindex(frame.index.union(index)).ffill()
    out = frame.reindex(index)
    if out.isna().any().any():
        col = out.columns[out.isna().any()][0]
        ts = out.index[out[col].isna()][0]
        raise ForecastError.of("uerr.forecast_gap", source=source, column=col, time=ts.isoformat())
    return out


def write_forecast_csv(frame: pd.DataFrame, path: str | Path) -> None:
    """Write ``frame`` (tz-aware index) in the forecast CSV format."""
    out = frame.copy()
    out.index = [ts.isoformat() for ts in out.index]
    out.index.name = "timestamp"
    out.to_csv(path, float_format="%.4f")
