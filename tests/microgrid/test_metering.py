"""Metering topology: what each meter sees, who owns what, and the layouts validation rejects."""

from __future__ import annotations

import copy
import subprocess
import sys

import pytest
import yaml

from microgrid.site import SiteError, load_site, site_from_mapping
from microgrid.site.metering import MeteringTopology
from tests.accounting.metered_sites import generate
from tests.paths import REFERENCE_PARK

SEEDS = range(12)


@pytest.mark.parametrize("seed", SEEDS)
def test_generated_layouts_match_their_truth(seed, tmp_path):
    site, truth, _data = generate(seed, tmp_path)
    topo = MeteringTopology(site)
    for meter, buses in truth.meter_buses.items():
        assert set(topo.views[meter].buses) == buses, meter
    assert {a: topo.owner[a] for a in truth.owner} == truth.owner


def test_reference_park_meters_see_their_tenant_only(reference_site):
    topo = MeteringTopology(reference_site)
    for m in reference_site.meters:
        view = topo.views[m.id]
        if m.scope == "tenant":
            assert view.loads == (m.tenant,)
            assert {topo.owner[a] for a in view.assets} == {m.tenant}
    assert topo.owner["ess_shared"] is None and topo.owner["bat_electronics"] == "electronics"
    assert set(topo.views["meter_pcc"].assets) == set(reference_site.all_asset_ids())


def _problems(data: dict, tmp_path) -> list[str]:
    with pytest.raises(SiteError) as err:
        site_from_mapping(data, base_dir=tmp_path)
    return err.value.problems


def _seed_with(k: int, tmp_path):
    """A generated site with a tenant metered by ``k`` meters, and that tenant."""
    for seed in range(40):
        site, truth, data = generate(seed, tmp_path)
        for t in site.tenants:
            if len(truth.tenant_meters(t.id)) == k:
                return site, truth, data, t.id
    raise AssertionError(f"no generated site with a {k}-meter tenant")


def test_a_missing_meter_leaves_the_tenant_undetermined(tmp_path):
    _site, truth, data, tenant = _seed_with(3, tmp_path)
    dropped = f"m_{tenant}_1"  # the meter that sees the tenant's load
    data = copy.deepcopy(data)
    data["meters"] = [m for m in data["meters"] if m["id"] != dropped]
    problems = _problems(data, tmp_path)
    assert len(problems) == 1
    assert f"tenant '{tenant}'" in problems[0] and "undetermined" in problems[0]


def test_a_meter_under_another_counts_twice(tmp_path):
    _site, _truth, data, tenant = _seed_with(3, tmp_path)
    data = copy.deepcopy(data)
    data["meters"].append({"id": "m_extra", "scope": "tenant", "tenant": tenant, "bus": f"{tenant}_lv2"})
    problems = _problems(data, tmp_path)
    assert any("count twice" in p and "m_extra" in p for p in problems), problems


def test_a_tenant_meter_seeing_another_tenant_is_rejected(tmp_path):
    _site, _truth, data, tenant = _seed_with(1, tmp_path)
    data = copy.deepcopy(data)
    data["meters"].append({"id": "m_wide", "scope": "tenant", "tenant": tenant, "bus": "pcc_10kv"})
    problems = _problems(data, tmp_path)
    assert any("m_wide" in p and "also measures" in p for p in problems), problems


def test_two_unmetered_tenants_next_to_metered_ones_are_undetermined(tmp_path):
    site, truth, data, _tenant = _seed_with(1, tmp_path)
    data = copy.deepcopy(data)
    tenants = [t.id for t in site.tenants]
    if len(tenants) < 3:
        data["tenants"].append({"id": "tz", "name": "tz", "bus": "ess_10kv"})
        tenants.append("tz")
    unmetered = set(tenants[:2])
    data["meters"] = [m for m in data["meters"] if m.get("tenant") not in unmetered]
    problems = _problems(data, tmp_path)
    assert any("have no meter" in p and all(f"'{t}'" in p for t in unmetered) for p in problems), problems


def test_an_asset_given_to_another_tenant_is_rejected(tmp_path):
    site, _truth, data, _tenant = _seed_with(1, tmp_path)
    data = copy.deepcopy(data)
    other = site.tenants[1].id if data["assets"]["pv"][0]["bus"].startswith(site.tenants[0].id) else site.tenants[0].id
    data["assets"]["pv"][0]["tenant"] = other
    problems = _problems(data, tmp_path)
    assert any(f"tenant '{other}'" in p and data["assets"]["pv"][0]["id"] in p for p in problems), problems


def test_validate_cli_names_meter_and_tenant_in_one_line(tmp_path):
    raw = yaml.safe_load((REFERENCE_PARK / "site.yaml").read_text(encoding="utf-8"))
    raw["meters"].append({"id": "meter_feeder_a", "scope": "tenant", "tenant": "shoes", "bus": "ss_10kv",
                          "line": "cable_ss_fa1"})
    raw["profiles"]["dir"] = str(REFERENCE_PARK / "profiles")
    (tmp_path / "site.yaml").write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")
    out = subprocess.run([sys.executable, "-m", "microgrid", "validate", str(tmp_path)], capture_output=True,
                         text=True, timeout=120)
    assert out.returncode == 2
    text = out.stdout + out.stderr
    assert "Traceback" not in text
    line = next(ln for ln in text.splitlines() if "meter_feeder_a" in ln)
    assert "also measures" in line and "electronics" in line and "food" in line


def test_bundled_sites_stay_valid():
    for name in ("putian_hitech", "putian_congested", "small_factory"):
        load_site(REFERENCE_PARK.parent / name)
