"""Profiles: the generator reproduces the bundled files byte for byte; day mapping and resampling."""

from __future__ import annotations

import importlib.util
import sys
from datetime import date

import numpy as np
import pytest

from microgrid.errors import UserError
from microgrid.profiles import day_type_for, load_day_profile
from tests.paths import SITE_CONFIGS


def _generator():
    spec = importlib.util.spec_from_file_location("generate_profiles", SITE_CONFIGS / "generate_profiles.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses resolve annotations through sys.modules
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("site_id", ["putian_hitech", "small_factory"])
def test_generator_is_byte_identical_for_its_seed(tmp_path, site_id):
    gen = _generator()
    written = gen.write_profiles(gen.generate_site(site_id, gen.DEFAULT_SEED), tmp_path)
    for path in written:
        assert path.read_bytes() == (SITE_CONFIGS / site_id / "profiles" / path.name).read_bytes(), path.name


def test_other_seed_gives_other_clouds(tmp_path):
    gen = _generator()
    a = gen.generate_site("small_factory", 1)["summer_weekday"]
    b = gen.generate_site("small_factory", 2)["summer_weekday"]
    assert not np.allclose(a["cloud_factor"], b["cloud_factor"])


def test_day_types(reference_site):
    assert day_type_for(reference_site, date(2026, 7, 15)) == "summer_weekday"
    assert day_type_for(reference_site, date(2026, 1, 14)) == "winter_weekday"
    assert day_type_for(reference_site, date(2026, 7, 18)) == "weekend"


def test_resampling_keeps_daily_energy(reference_site):
    day = date(2026, 7, 15)
    base = load_day_profile(reference_site, day, 15)
    assert len(base) == 96
    assert str(base.index.tz) == "Asia/Shanghai"
    assert base.index[0].isoformat() == "2026-07-15T00:00:00+08:00"
    for step in (5, 10, 20, 30, 60):
        other = load_day_profile(reference_site, day, step)
        assert len(other) == 1440 // step
        energy_15 = base["load_shoes_kw"].sum() * 0.25
        assert other["load_shoes_kw"].sum() * step / 60 == pytest.approx(energy_15, rel=1e-9)


def test_unsupported_step(reference_site):
    with pytest.raises(UserError, match="step_min: 7 is not a supported step"):
        load_day_profile(reference_site, date(2026, 7, 15), 7)


def test_clear_sky_realism(reference_site):
    """Summer day GHI in Putian: realistic 4–7 kWh/m²; noon temperature 30–36 °C."""
    frame = load_day_profile(reference_site, date(2026, 7, 15), 15)
    ghi_kwh_m2 = frame["ghi_w_m2"].sum() * 0.25 / 1000
    assert 4.0 < ghi_kwh_m2 < 7.0
    assert 30 < frame["temp_air_c"].max() < 36
    assert frame["ghi_w_m2"].iloc[:20].max() == 0  # dark before 05:00
