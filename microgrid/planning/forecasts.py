"""Forecast frame of a site over a horizon: profiles, optional user CSV, PV (pvlib) and heat-pump COP.

The frame has one row per planning interval and the columns of the forecast CSV format
(:mod:`optimizer.forecast`): weather, ``pv_<id>_kw``, ``load_<tenant>_kw``, heat demand columns,
``flex_<id>_kw`` baselines, ``cop_<id>`` and optional price overrides. Values come from the site's
representative-day profiles (:func:`microgrid.profiles.load_day_profile`, one per local day the horizon
touches) unless the user's CSV provides the column; PV and COP are computed from the weather unless given.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from microgrid.errors import UserError
from microgrid.profiles import load_day_profile
from microgrid.site.models import Site
from optimizer.errors import ForecastError
from optimizer.forecast import (
    WEATHER_COLUMNS,
    Location,
    PVSystem,
    cop_carnot,
    mid_interval_sun,
    pv_ac_power_kw,
    read_forecast_csv,
)

PRICE_COLUMNS = ("price_import_cny_per_kwh", "price_export_cny_per_kwh")


class ForecastFileError(UserError):
    """A user forecast CSV that cannot be used (exit code 2)."""

    exit_code = 2


def known_columns(site: Site) -> set[str]:
    """Every column a forecast CSV may hold for ``site``."""
    cols = set(WEATHER_COLUMNS) | {"cloud_factor"} | set(PRICE_COLUMNS)
    cols |= {f"pv_{p.id}_kw" for p in site.assets.pv}
    cols |= {f"load_{t.id}_kw" for t in site.tenants}
    cols |= {h.heat_demand_profile for h in site.assets.heat_pumps}
    cols |= {f"cop_{h.id}" for h in site.assets.heat_pumps}
    cols |= {f.baseline_profile for f in site.assets.flexible_loads if f.baseline_profile}
    return cols


def profile_frame(site: Site, index: pd.DatetimeIndex) -> pd.DataFrame:
    """Representative-day profiles covering ``index`` (which must lie on the day's step grid)."""
    step_min = int(round((index[1] - index[0]).total_seconds() / 60))
    local = index.tz_convert(site.timezone)
    days = sorted({ts.date() for ts in local})
    frame = pd.concat([load_day_profile(site, day, step_min) for day in days])
    frame.index = frame.index.tz_convert(index.tz)
    out = frame.reindex(index)
    if out.isna().any().any():
        raise UserError.of("uerr.horizon_off_grid", start=index[0].isoformat(), step=step_min)
    return out


def site_forecast(site: Site, index: pd.DatetimeIndex, forecast_csv: str | Path | None = None) -> pd.DataFrame:
    """Forecast frame for ``site`` over ``index`` (see the module docstring)."""
    frame = profile_frame(site, index)
    if forecast_csv is not None:
        try:
            user = read_forecast_csv(forecast_csv, index)
        except ForecastError as exc:
            raise ForecastFileError.of(exc.key, exc.problems, **exc.params) from None
        unknown = sorted(set(user.columns) - known_columns(site))
        if unknown:
            raise ForecastFileError.of("uerr.forecast_unknown_columns", path=str(forecast_csv), unknown=str(unknown)
                                       ).with_problem("uerr.forecast_allowed_columns", site=site.id,
                                                      allowed=", ".join(sorted(known_columns(site))))
        for col in user.columns:
            frame[col] = user[col].to_numpy()
    return add_derived_columns(site, frame)


def add_derived_columns(site: Site, frame: pd.DataFrame) -> pd.DataFrame:
    """Add ``pv_<id>_kw`` (pvlib, from the weather columns) and ``cop_<id>`` (Carnot) where not given."""
    loc = site.site.location
    location = Location(loc.latitude_deg, loc.longitude_deg, loc.altitude_m)
    sun = mid_interval_sun(frame.index, location) if site.assets.pv else None
    for pv in site.assets.pv:
        col = f"pv_{pv.id}_kw"
        if col not in frame.columns:
            system = PVSystem(kwp=pv.kwp, inverter_ac_kw=pv.inverter_ac_kw, tilt_deg=pv.tilt_deg,
                              azimuth_deg=pv.azimuth_deg, temp_coeff_pct_per_c=pv.temp_coeff_pct_per_c,
                              system_losses_pct=pv.system_losses_pct, noct_c=pv.noct_c)
            frame[col] = pv_ac_power_kw(frame, location, system, solar_position=sun)
    for hp in site.assets.heat_pumps:
        col = f"cop_{hp.id}"
        if col not in frame.columns:
            frame[col] = cop_carnot(frame["temp_air_c"].to_numpy(), hp.cop.supply_temp_c, hp.cop.eta_carnot,
                                    hp.cop.cop_min, hp.cop.cop_max)
    return frame
