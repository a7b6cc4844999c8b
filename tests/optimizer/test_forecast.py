"""PV (pvlib, offline), COP and the forecast CSV format."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pvlib
import pytest

from optimizer.errors import ForecastError
from optimizer.forecast import (
    Location,
    PVSystem,
    cop_carnot,
    pv_ac_power_kw,
    read_forecast_csv,
    write_forecast_csv,
)
from tests.optimizer.helpers import TZ, day_index

PUTIAN = Location(25.43, 119.01, 10)


def clear_sky(idx: pd.DatetimeIndex, temp_c: float = 25.0) -> pd.DataFrame:
    loc = pvlib.location.Location(PUTIAN.latitude_deg, PUTIAN.longitude_deg, TZ, PUTIAN.altitude_m)
    cs = loc.get_clearsky(idx + pd.Timedelta(minutes=7.5), model="ineichen")
    return pd.DataFrame({"ghi_w_m2": cs["ghi"].to_numpy(), "dni_w_m2": cs["dni"].to_numpy(),
                         "dhi_w_m2": cs["dhi"].to_numpy(), "temp_air_c": temp_c}, index=idx)


def test_pv_zero_at_night_and_clipped_at_the_inverter():
    idx = day_index("2025-06-21")
    p = pv_ac_power_kw(clear_sky(idx), PUTIAN, PVSystem(kwp=1000, inverter_ac_kw=600))
    h = idx.hour
    assert np.all(p[(h < 5) | (h >= 20)] == 0)
    assert p.max() == pytest.approx(600, abs=1e-6)  # a 1000 kWp array on a 600 kW inverter clips at noon
    unclipped = pv_ac_power_kw(clear_sky(idx), PUTIAN, PVSystem(kwp=1000, inverter_ac_kw=2000))
    assert unclipped.max() > 700


def test_pv_clear_day_yield_and_temperature_derating():
    idx = day_index("2025-07-15")
    cool = pv_ac_power_kw(clear_sky(idx, 15.0), PUTIAN, PVSystem(kwp=1000, inverter_ac_kw=1000))
    hot = pv_ac_power_kw(clear_sky(idx, 35.0), PUTIAN, PVSystem(kwp=1000, inverter_ac_kw=1000))
    kwh_per_kwp = hot.sum() * 0.25 / 1000
    assert 4.5 < kwh_per_kwp < 6.5  # clear July day at 25 °N, 10° tilt, 14 % losses
    # 20 K warmer air → cells ~20 K warmer → about 0.35 %/K × 20 K = 7 % less energy
    assert hot.sum() / cool.sum() == pytest.approx(1 - 0.0035 * 20, abs=0.01)


def test_cop_carnot_formula_and_clipping():
    cop = cop_carnot(np.array([5.0, 25.0, 60.0, 80.0]), supply_temp_c=65, eta_carnot=0.45, cop_min=2.0, cop_max=5.5)
    assert cop[0] == pytest.approx(0.45 * 338.15 / 60)
    assert cop[1] == pytest.approx(0.45 * 338.15 / 40)
    assert cop[2] == 5.5 and cop[3] == 5.5


def test_forecast_csv_round_trip_and_resampling(tmp_path):
    idx = day_index()
    fine = pd.date_range(idx[0], periods=288, freq="5min")
    frame = pd.DataFrame({"load_factory_kw": np.arange(288, dtype=float)}, index=fine)
    path = tmp_path / "forecast.csv"
    write_forecast_csv(frame, path)
    assert path.read_text().splitlines()[1].startswith("2025-07-15T00:00:00+08:00,0.0")
    out = read_forecast_csv(path, idx)
    assert list(out.index) == list(idx)
    np.testing.assert_allclose(out["load_factory_kw"].to_numpy(), np.arange(288).reshape(96, 3).mean(axis=1))
    hourly = pd.DataFrame({"timestamp": [f"2025-07-15 {h:02d}:00" for h in range(24)], "temp_air_c": np.arange(24.0)})
    hourly.to_csv(tmp_path / "hourly.csv", index=False)
    held = read_forecast_csv(tmp_path / "hourly.csv", idx)  # naive local time, coarser step: held
    np.testing.assert_allclose(held["temp_air_c"].to_numpy(), np.repeat(np.arange(24.0), 4))


@pytest.mark.parametrize(("text", "message"), [
    ("timestamp,load_x_kw\n2025-07-15T00:00:00+08:00,1\n", "covers 2025-07-15T00:00:00+08:00 to 2025-07-15T00:15:00+08:00, "
     "but the plan needs 2025-07-15T00:00:00+08:00 to 2025-07-16T00:00:00+08:00"),
    ("timestamp,load_x_kw\nyesterday,1\n", "timestamp 'yesterday' is not ISO 8601"),
    ("when,load_x_kw\n2025-07-15 00:00,1\n", "first column must be 'timestamp'"),
])
def test_forecast_csv_errors_name_the_problem(tmp_path, text, message):
    path = tmp_path / "bad.csv"
    path.write_text(text)
    with pytest.raises(ForecastError) as err:
        read_forecast_csv(path, day_index())
    assert message in str(err.value)


def test_forecast_csv_non_numeric_value(tmp_path):
    idx = day_index()
    rows = [f"{ts.isoformat()},{'n/a' if i == 5 else 1}" for i, ts in enumerate(idx)]
    path = tmp_path / "bad.csv"
    path.write_text("timestamp,load_x_kw\n" + "\n".join(rows) + "\n")
    with pytest.raises(ForecastError) as err:
        read_forecast_csv(path, idx)
    assert str(err.value) == f"{path}: column 'load_x_kw' has a missing or non-numeric value at 2025-07-15T01:15:00+08:00"
