"""Generate the representative-day profiles of the bundled sites (15-min CSVs, local time).

Weather: pvlib Ineichen clear sky for the site location (Linke turbidity given per day, so no data file is
read), multiplied by a seeded cloud factor (a smoothed AR(1) process) and split into DNI/DHI with the Erbs
model; air temperature is a diurnal sine between the day's minimum (05:00) and maximum (14:00) plus noise.
Loads: each tenant's base load from its shift pattern (plateaus with 30-min ramps) times seeded noise; heat
demand and flexible-load baselines the same way. All numbers are rounded so the files are byte-identical
for a given seed on any machine.

Usage::

    python site_configs/generate_profiles.py                 # all bundled sites, default seed
    python site_configs/generate_profiles.py --site small_factory --seed 7 --out /tmp/profiles

Nothing is downloaded; pvlib's clear-sky model runs offline.
"""

from __future__ import annotations

import argparse
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pvlib

DEFAULT_SEED = 20251124
STEP_MIN = 15
HERE = Path(__file__).resolve().parent


@dataclass(frozen=True)
class DayWeather:
    """Weather of one representative day."""

    date: str
    linke_turbidity: float
    cloud_mean: float
    """Mean clear-sky index (0–1); 1 is a cloudless day."""
    cloud_variability: float
    temp_min_c: float
    temp_max_c: float


DAYS: dict[str, DayWeather] = {
    # A Wednesday in July: critical-peak month, humid haze, afternoon convective cloud.
    "summer_weekday": DayWeather("2025-07-16", 4.2, 0.80, 0.07, 27.0, 34.0),
    # A Wednesday in January: cool, clearer air, some stratus.
    "winter_weekday": DayWeather("2025-01-15", 3.0, 0.68, 0.07, 9.0, 16.0),
    # A Saturday in April: mild, mostly sunny.
    "weekend": DayWeather("2025-04-12", 3.6, 0.85, 0.05, 17.0, 24.0),
}


Plateaus = list[tuple[float, float, float]]
"""(start hour, end hour, kW) plateaus over a base level; ramps of 30 min at each edge."""


@dataclass(frozen=True)
class Shape:
    """A load shape: base level plus plateaus, per day type, with relative noise."""

    base: dict[str, float]
    plateaus: dict[str, Plateaus]
    noise: float = 0.03


def _shape(base: float, plateaus: Plateaus, *, summer: float = 1.0, winter: float = 1.0, weekend: tuple[float, Plateaus] | None = None, noise: float = 0.03) -> Shape:
    """Weekday shape scaled for summer/winter; weekend given explicitly (base, plateaus)."""
    wk_base, wk_plateaus = weekend if weekend is not None else (base, plateaus)
    return Shape(
        base={"summer_weekday": base * summer, "winter_weekday": base * winter, "weekend": wk_base},
        plateaus={
            "summer_weekday": [(a, b, p * summer) for a, b, p in plateaus],
            "winter_weekday": [(a, b, p * winter) for a, b, p in plateaus],
            "weekend": wk_plateaus,
        },
        noise=noise,
    )


# Column -> shape, per site. Base loads exclude the heat pumps, flexible loads and EV chargers, which are
# assets of their own in the site file.
SHAPES: dict[str, dict[str, Shape]] = {
    "putian_hitech": {
        "load_shoes_kw": _shape(150, [(8, 20, 1050), (12, 13, -300)], summer=1.05, weekend=(150, [(8, 17, 150)])),
        "load_electronics_kw": _shape(1450, [(11, 18, 200)], summer=1.1, winter=0.95, weekend=(1300, [(11, 18, 100)])),
        "load_food_kw": _shape(450, [(6, 22, 450)], summer=1.05, weekend=(450, [(8, 18, 250)])),
        "load_coatings_kw": _shape(200, [(6, 22, 1200)], weekend=(200, [(8, 16, 300)])),
        "load_rnd_kw": _shape(80, [(8, 18, 320), (12, 13, -60)], summer=1.1, winter=0.9, weekend=(60, [(9, 17, 40)])),
        "load_logistics_kw": _shape(40, [(6, 20, 50)], weekend=(40, [(8, 16, 20)])),
        "heat_hp_shoes_kw_th": _shape(50, [(8, 20, 650)], summer=0.9, winter=1.1, weekend=(50, [(8, 17, 80)])),
        "heat_hp_food_kw_th": _shape(300, [(6, 22, 700)], summer=0.9, winter=1.1, weekend=(250, [(8, 18, 350)])),
        "flex_cold_store_food_kw": _shape(120, [(10, 17, 30)], summer=1.3, winter=0.75, weekend=(100, [(10, 17, 20)]), noise=0.06),
        "flex_air_coatings_kw": _shape(30, [(6, 22, 150)], weekend=(30, [(8, 16, 40)]), noise=0.05),
        "flex_hvac_rnd_kw": _shape(5, [(8, 18, 135)], summer=1.0, winter=0.45, weekend=(5, [(9, 17, 15)]), noise=0.05),
        # gas-fired curing oven of the coatings plant (a fuel baseline the target planner may electrify); kept
        # last so the columns above draw the same random numbers as before
        "heat_oven_coatings_kw_th": _shape(40, [(6, 22, 320)], weekend=(40, [(8, 16, 80)]), noise=0.05),
    },
    "small_factory": {
        "load_factory_kw": _shape(80, [(8, 20, 370), (12, 13, -120)], summer=1.08, weekend=(80, [(8, 16, 40)])),
    },
}


def _time_index(date: str, tz: str) -> pd.DatetimeIndex:
    return pd.date_range(date, periods=24 * 60 // STEP_MIN, freq=f"{STEP_MIN}min", tz=tz)


def cloud_factor(n: int, mean: float, variability: float, rng: np.random.Generator) -> np.ndarray:
    """Clear-sky index per step: AR(1) around ``mean`` (persistence 0.85), clipped to [0.15, 1.0]."""
    values = np.empty(n)
    state = 0.0
    for i in range(n):
        state = 0.85 * state + rng.normal(0.0, variability)
        values[i] = state
    return np.clip(mean + values, 0.15, 1.0)


def weather(day: DayWeather, lat: float, lon: float, alt: float, tz: str, rng: np.random.Generator) -> pd.DataFrame:
    """Irradiance (W/m²) and air temperature (°C) for one day, intervals labelled by their start."""
    index = _time_index(day.date, tz)
    mid = index + pd.Timedelta(minutes=STEP_MIN / 2)  # irradiance averaged over the interval ≈ value at its middle
    location = pvlib.location.Location(lat, lon, tz=tz, altitude=alt)
    clear = location.get_clearsky(mid, model="ineichen", linke_turbidity=day.linke_turbidity)
    solpos = location.get_solarposition(mid)
    kc = cloud_factor(len(index), day.cloud_mean, day.cloud_variability, rng)
    ghi = clear["ghi"].to_numpy() * kc
    split = pvlib.irradiance.erbs(ghi, solpos["zenith"].to_numpy(), mid.dayofyear.to_numpy())
    hours = index.hour + index.minute / 60
    # Diurnal sine with the minimum at 05:00 and the maximum at 14:00.
    phase = np.where((hours >= 5) & (hours < 14), (hours - 5) / 9 * np.pi - np.pi / 2, np.pi / 2 + ((hours - 14) % 24) / 15 * np.pi)
    temp = day.temp_min_c + (day.temp_max_c - day.temp_min_c) * (np.sin(phase) + 1) / 2 + rng.normal(0, 0.3, len(index))
    return pd.DataFrame(
        {
            "ghi_w_m2": ghi,
            "dni_w_m2": np.nan_to_num(np.asarray(split["dni"], dtype=float)),
            "dhi_w_m2": np.nan_to_num(np.asarray(split["dhi"], dtype=float)),
            "temp_air_c": temp,
            "cloud_factor": kc,
        },
        index=index,
    )


def shape_values(shape: Shape, day_type: str, hours: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """kW per step from plateaus with 30-min linear ramps, times (1 + noise), never negative."""
    values = np.full(len(hours), float(shape.base[day_type]))
    for start, end, p_kw in shape.plateaus[day_type]:
        rise = np.clip((hours - start) / 0.5 + 0.5, 0, 1)
        fall = np.clip((end - hours) / 0.5 + 0.5, 0, 1)
        values += p_kw * np.minimum(rise, fall)
    return np.clip(values * (1 + rng.normal(0, shape.noise, len(hours))), 0, None)


def generate_site(site_id: str, seed: int = DEFAULT_SEED) -> dict[str, pd.DataFrame]:
    """Day type → profile frame for one bundled site."""
    import yaml  # only needed here; keeps the module importable for its constants

    spec = yaml.safe_load((HERE / site_id / "site.yaml").read_text(encoding="utf-8"))
    loc = spec["site"]["location"]
    frames = {}
    for offset, (day_type, day) in enumerate(DAYS.items()):
        rng = np.random.default_rng([seed, zlib.crc32(site_id.encode()), offset])
        frame = weather(day, loc["latitude_deg"], loc["longitude_deg"], loc.get("altitude_m", 0), loc["timezone"], rng)
        hours = (frame.index.hour + frame.index.minute / 60).to_numpy()
        for column, shape in SHAPES[site_id].items():
            frame[column] = shape_values(shape, day_type, hours, rng)
        frames[day_type] = frame
    return frames


def write_profiles(frames: dict[str, pd.DataFrame], out_dir: Path) -> list[Path]:
    """Write ``<day_type>.csv`` files: a ``time`` column (HH:MM local) and values rounded to 0.1 (0.001 for factors)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for day_type, frame in frames.items():
        table = frame.copy()
        table.insert(0, "time", table.index.strftime("%H:%M"))
        for column in table.columns[1:]:
            digits = 3 if column == "cloud_factor" else 1
            table[column] = table[column].map(lambda v, d=digits: f"{v:.{d}f}")
        path = out_dir / f"{day_type}.csv"
        path.write_text(table.to_csv(index=False, lineterminator="\n"), encoding="utf-8")
        written.append(path)
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--site", choices=sorted(SHAPES), action="append", help="site id (default: all bundled sites)")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED, help=f"random seed (default {DEFAULT_SEED})")
    parser.add_argument("--out", type=Path, help="output directory (default: site_configs/<site>/profiles)")
    args = parser.parse_args(argv)
    for site_id in args.site or sorted(SHAPES):
        out = args.out / site_id if args.out and len(args.site or SHAPES) > 1 else (args.out or HERE / site_id / "profiles")
        for path in write_profiles(generate_site(site_id, args.seed), out):
            print(path)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
