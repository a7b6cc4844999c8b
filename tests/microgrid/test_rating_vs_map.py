"""``microgrid validate`` rejects an asset whose rating its register map cannot command or read (issue 12)."""

from __future__ import annotations

import shutil

import pytest
import yaml

from drivers.ratings import site_rating_problems
from microgrid.cli import main
from microgrid.site import load_site
from tests.paths import REFERENCE_PARK, SMALL_SITE
from tests.sitegen import generate_site


@pytest.fixture(scope="module")
def one_battery_site(tmp_path_factory):
    return generate_site(4, tmp_path_factory.mktemp("gen"), storage_maps=("sunspec_battery",), battery_kw=(100.0,))


def _battery_site(base, tmp_path, map_name: str, kw: float):
    site_dir = tmp_path / "site"
    shutil.copytree(base, site_dir)
    data = yaml.safe_load((site_dir / "site.yaml").read_text(encoding="utf-8"))
    bat = data["assets"]["batteries"][0]
    bat["p_charge_max_kw"] = bat["p_discharge_max_kw"] = kw
    bat["bus"] = data["grid"]["bus"]  # at the PCC bus: no transformer limits the rating
    bat.pop("tenant", None)
    dev = next(d for d in data["devices"] if d["serves"] == bat["id"])
    dev["map"] = map_name
    if map_name == "cn_pcs":
        dev["role"] = "pcs"
        data["devices"].append({**dev, "id": dev["id"] + "_bms", "role": "bms", "map": "cn_bms", "unit_id": 2})
    (site_dir / "site.yaml").write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True), encoding="utf-8")
    return site_dir


def test_a_450_kw_battery_on_a_16_bit_watt_register_is_rejected(one_battery_site, tmp_path, capsys):
    site_dir = _battery_site(one_battery_site, tmp_path, "sungrow_sh", 450.0)
    assert main(["validate", str(site_dir)]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert lines[0].startswith("error: ")
    line = next(x for x in lines if "charge_power_w" in x)
    assert "asset 'bat_1'" in line and "sungrow_sh" in line and "450 kW" in line and "0 .. 65.535 kW" in line


@pytest.mark.parametrize(("map_name", "kw", "ok"), [
    ("sungrow_sh", 32.0, True), ("sungrow_sh", 33.0, False),
    ("cn_pcs", 3000.0, True), ("cn_pcs", 3001.0, False),
    ("sunspec_battery", 3000.0, True),  # WSet carries a scale factor: any rating
])
def test_every_storage_map_has_its_limit(one_battery_site, tmp_path, map_name, kw, ok):
    site_dir = _battery_site(one_battery_site, tmp_path, map_name, kw)
    problems = site_rating_problems(load_site(site_dir))
    assert (problems == []) is ok, problems


def test_bundled_and_generated_sites_fit_their_maps(one_battery_site):
    for path in (REFERENCE_PARK, SMALL_SITE, one_battery_site):
        assert site_rating_problems(load_site(path)) == []
