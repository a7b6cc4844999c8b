"""Fixtures of the network tests: built networks and a deterministic 96-step schedule."""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
import pytest

from microgrid.network import ParkNetwork
from microgrid.profiles import load_day_profile
from tests.paths import SITE_CONFIGS

SUMMER_DAY = date(2025, 7, 15)
CONGESTED_SITE = SITE_CONFIGS / "putian_congested"


@pytest.fixture(scope="session")
def congested_site():
    from microgrid.site import load_site

    return load_site(CONGESTED_SITE)


@pytest.fixture(scope="session")
def reference_network(reference_site):
    return ParkNetwork.from_site(reference_site)


@pytest.fixture(scope="session")
def small_network(small_site):
    return ParkNetwork.from_site(small_site)


def synthetic_schedule(site, day: date = SUMMER_DAY, seed: int = 7) -> pd.DataFrame:
    """A plausible schedule in the optimizer's columns: profile base loads, PV as a bell curve, batteries
    and flexible loads at seeded random powers within their ratings."""
    profile = load_day_profile(site, day)
    rng = np.random.default_rng(seed)
    hours = profile.index.hour + profile.index.minute / 60
    bell = np.clip(np.sin(np.pi * (hours - 6) / 13), 0, None) ** 1.5
    cols: dict[str, np.ndarray] = {}
    for t in site.tenants:
        cols[f"{t.id}_load_kw"] = profile[f"load_{t.id}_kw"].to_numpy()
    for pv in site.assets.pv:
        cols[f"{pv.id}_kw"] = 0.8 * pv.inverter_ac_kw * bell
    for b in site.assets.batteries:
        cols[f"{b.id}_kw"] = rng.uniform(-b.p_charge_max_kw, b.p_discharge_max_kw, len(profile))
    for h in site.assets.heat_pumps:
        cols[f"{h.id}_p_el_kw"] = rng.uniform(0, h.p_el_max_kw, len(profile))
    for f in site.assets.flexible_loads:
        cols[f"{f.id}_load_kw"] = rng.uniform(0, f.p_max_kw, len(profile))
    for e in site.assets.ev_depots:
        cols[f"{e.id}_load_kw"] = np.where((hours >= 18) | (hours < 7), 0.6 * e.p_max_kw, 0.0)
    return pd.DataFrame(cols, index=profile.index)
