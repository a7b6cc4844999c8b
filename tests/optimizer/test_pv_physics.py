"""optimizer.pv_physics against the full pvlib (the reference it replaces at import time, issue 16)."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pandas as pd
import pvlib

from optimizer import pv_physics
from optimizer.forecast import Location, PVSystem, mid_interval_sun, pv_ac_power_kw
from tests.paths import ROOT

PUTIAN = Location(latitude_deg=25.43, longitude_deg=119.01, altitude_m=20.0)
YEAR = pd.date_range("2026-01-01", "2027-01-01", freq="37min", tz="Asia/Shanghai", inclusive="left")


def test_solar_position_is_pvlibs_spa_over_a_year():
    ours = pv_physics.solar_position(YEAR, PUTIAN.latitude_deg, PUTIAN.longitude_deg, PUTIAN.altitude_m)
    ref = pvlib.solarposition.get_solarposition(YEAR, PUTIAN.latitude_deg, PUTIAN.longitude_deg,
                                                altitude=PUTIAN.altitude_m)
    for column in ("apparent_zenith", "zenith", "azimuth", "apparent_elevation", "equation_of_time"):
        np.testing.assert_allclose(ours[column].to_numpy(), ref[column].to_numpy(), atol=1e-9, err_msg=column)
    noon = ours.loc["2026-06-21 12:00":"2026-06-21 12:30", "apparent_zenith"].min()
    assert 0.0 < noon < 3.0  # Putian is just south of the tropic: the June sun stands almost overhead


def test_extra_radiation_and_transposition_match_pvlib():
    sun = pvlib.solarposition.get_solarposition(YEAR, PUTIAN.latitude_deg, PUTIAN.longitude_deg)
    np.testing.assert_allclose(pv_physics.extra_radiation_w_m2(YEAR),
                               pvlib.irradiance.get_extra_radiation(YEAR).to_numpy(), rtol=1e-12)
    rng = np.random.default_rng(3)
    ghi = rng.uniform(0, 1100, len(YEAR))
    dni = rng.uniform(0, 950, len(YEAR))
    dhi = rng.uniform(0, 400, len(YEAR))
    extra = pvlib.irradiance.get_extra_radiation(YEAR).to_numpy()
    zen, azi = sun["apparent_zenith"].to_numpy(), sun["azimuth"].to_numpy()
    for tilt, surface_azimuth in ((0.0, 180.0), (10.0, 180.0), (25.0, 135.0), (90.0, 270.0)):
        beam, diffuse = pv_physics.plane_of_array(tilt, surface_azimuth, zen, azi, dni, ghi, dhi, extra, 0.2)
        ref = pvlib.irradiance.get_total_irradiance(tilt, surface_azimuth, zen, azi, dni, ghi, dhi,
                                                    dni_extra=extra, albedo=0.2, model="haydavies")
        np.testing.assert_allclose(beam, np.asarray(ref["poa_direct"]), rtol=1e-10, atol=1e-9)
        np.testing.assert_allclose(diffuse, np.asarray(ref["poa_diffuse"]), rtol=1e-10, atol=1e-9)
        np.testing.assert_allclose(pv_physics.incidence_deg(tilt, surface_azimuth, zen, azi),
                                   pvlib.irradiance.aoi(tilt, surface_azimuth, zen, azi), atol=1e-9)


def test_glass_temperature_and_pvwatts_match_pvlib():
    incidence = np.linspace(0.0, 120.0, 241)
    np.testing.assert_allclose(np.nan_to_num(pv_physics.glass_transmission_ratio(incidence)),
                               np.nan_to_num(pvlib.iam.physical(incidence)), atol=1e-12)
    assert pv_physics.glass_transmission_ratio(np.array([0.0]))[0] == 1.0
    poa = np.linspace(0.0, 1200.0, 25)
    air = np.linspace(-5.0, 40.0, 25)
    np.testing.assert_allclose(pv_physics.cell_temperature_ross_c(poa, air, 45.0),
                               pvlib.temperature.ross(poa, air, noct=45.0), rtol=1e-12)
    cell = pv_physics.cell_temperature_ross_c(poa, air, 45.0)
    np.testing.assert_allclose(pv_physics.pvwatts_dc_w(poa, cell, 420e3, -0.0035),
                               pvlib.pvsystem.pvwatts_dc(poa, cell, 420e3, -0.0035), rtol=1e-12)
    pdc = np.concatenate([[0.0, 1.0, 500.0], np.linspace(0.0, 480e3, 97)])
    np.testing.assert_allclose(pv_physics.pvwatts_ac_w(pdc, 400e3 / 0.97, eta_nom=0.97),
                               pvlib.inverter.pvwatts(pdc, 400e3 / 0.97, eta_inv_nom=0.97), rtol=1e-12, atol=1e-9)


def test_plant_power_equals_the_pvlib_chain():
    """A whole summer week of a plant: the forecast's power against the same chain written with pvlib calls."""
    index = pd.date_range("2026-07-13", periods=7 * 96, freq="15min", tz="Asia/Shanghai")
    rng = np.random.default_rng(11)
    sun = mid_interval_sun(index, PUTIAN)
    cos_zen = np.clip(np.cos(np.radians(sun["apparent_zenith"].to_numpy())), 0, None)
    weather = pd.DataFrame({"ghi_w_m2": 1000 * cos_zen * rng.uniform(0.3, 1.0, len(index)),
                            "dni_w_m2": 850 * (cos_zen > 0) * rng.uniform(0.0, 1.0, len(index)),
                            "dhi_w_m2": 250 * cos_zen, "temp_air_c": rng.uniform(26, 36, len(index))}, index=index)
    system = PVSystem(kwp=480.0, inverter_ac_kw=400.0, tilt_deg=12.0, azimuth_deg=170.0)
    ours = pv_ac_power_kw(weather, PUTIAN, system)
    mid = index + pd.Timedelta(minutes=7.5)
    ref_sun = pvlib.solarposition.get_solarposition(mid, PUTIAN.latitude_deg, PUTIAN.longitude_deg,
                                                    altitude=PUTIAN.altitude_m)
    zen, azi = ref_sun["apparent_zenith"].to_numpy(), ref_sun["azimuth"].to_numpy()
    poa = pvlib.irradiance.get_total_irradiance(12.0, 170.0, zen, azi, weather["dni_w_m2"].to_numpy(),
                                                weather["ghi_w_m2"].to_numpy(), weather["dhi_w_m2"].to_numpy(),
                                                dni_extra=pvlib.irradiance.get_extra_radiation(mid).to_numpy(),
                                                albedo=0.2, model="haydavies")
    iam = np.nan_to_num(pvlib.iam.physical(pvlib.irradiance.aoi(12.0, 170.0, zen, azi)))
    beam, diffuse = np.asarray(poa["poa_direct"]), np.asarray(poa["poa_diffuse"])
    cell = pvlib.temperature.ross(beam + diffuse, weather["temp_air_c"].to_numpy(), noct=45.0)
    pdc = pvlib.pvsystem.pvwatts_dc(beam * iam + diffuse, cell, 480e3, -0.0035) * 0.86
    ref = np.clip(pvlib.inverter.pvwatts(pdc, 400e3 / 0.96, eta_inv_nom=0.96), 0, 400e3) / 1000.0
    np.testing.assert_allclose(ours, ref, rtol=1e-9, atol=1e-9)
    assert ours.max() > 200.0 and ours.min() == 0.0


def test_the_forecast_does_not_load_scipy_or_the_pvlib_package():
    code = ("import sys, pandas as pd; from optimizer.forecast import Location, mid_interval_sun;"
            "mid_interval_sun(pd.date_range('2026-07-15', periods=4, freq='15min', tz='Asia/Shanghai'),"
            "Location(25.4, 119.0));"
            "print(sorted(m for m in ('scipy', 'pvlib') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"
