"""The site file's ``study:`` block: validated with every problem named by path."""

from __future__ import annotations

import pytest
import yaml

from microgrid.site import SiteError, site_from_mapping
from tests.paths import SMALL_SITE


def test_bad_study_block_names_every_problem():
    data = yaml.safe_load((SMALL_SITE / "site.yaml").read_text(encoding="utf-8"))
    data["study"] = {
        "shutdowns": [{"tenant": "nobody"}],
        "roofs": [{"tenant": "factory", "bus": "nowhere", "max_added_kwp": 10}],
        "seasonal_load_pct": {"load_factory_kw": [100] * 11, "load_ghost_kw": [100] * 12},
        "storage": [{"id": "b", "bus": "factory_lv", "max_power_kw": 1, "max_energy_kwh": 1, "soc_min_pct": 90,
                     "soc_max_pct": 80}],
    }
    with pytest.raises(SiteError) as exc:
        site_from_mapping(data, base_dir=SMALL_SITE)
    text = "\n".join(exc.value.problems)
    assert "study.shutdowns[0].tenant: unknown tenant 'nobody'" in text
    assert "study.roofs[0].bus: unknown bus 'nowhere'" in text
    assert "study.seasonal_load_pct.load_factory_kw: needs 12 monthly values, has 11" in text
    assert "study.seasonal_load_pct.load_ghost_kw: not a load" in text
    assert "study.storage[0]: soc_min_pct must be below soc_max_pct" in text


def test_unknown_study_key_is_rejected():
    data = yaml.safe_load((SMALL_SITE / "site.yaml").read_text(encoding="utf-8"))
    data["study"] = {"roof": []}
    with pytest.raises(SiteError) as exc:
        site_from_mapping(data, base_dir=SMALL_SITE)
    assert any("study.roof" in p for p in exc.value.problems)
