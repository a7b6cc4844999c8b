"""The site generator writes parks the project's own loader accepts, of the promised variety."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest

from microgrid.planning.adapter import build_dispatch_inputs, horizon_for_day
from microgrid.site import load_site
from tests.sitegen import STORAGE_MAPS, draw_shape, generate_site
from tests.sitegen.generator import CAP_DAY, VALLEY_CNY

SEEDS = range(12)


@pytest.mark.slow
def test_many_seeds_validate_with_the_promised_variety(tmp_path):
    maps: Counter[str] = Counter()
    feeders, tenants, kinds = set(), set(), Counter()
    two_tx = export = zero_export = 0
    ratings = []
    for seed in SEEDS:
        site = load_site(generate_site(seed, tmp_path))  # raises SiteError on any problem
        maps.update(d.map for d in site.devices)
        feeders.add(sum(1 for ln in site.network.lines if ln.from_bus == site.grid.bus and "ess" not in ln.to_bus))
        tenants.add(len(site.tenants))
        two_tx += any(sum(1 for t in site.network.transformers if t.id.startswith(f"tx_{x.id}")) == 2 for x in site.tenants)
        kinds.update(f.kind for f in site.assets.flexible_loads)
        assert {"shiftable", "curtailable", "deferrable"} <= {f.kind for f in site.assets.flexible_loads}
        assert site.assets.heat_pumps and site.assets.batteries and site.assets.ev_depots
        assert all(h.tank_volume_m3 > 0 for h in site.assets.heat_pumps)
        ratings += [b.p_discharge_max_kw for b in site.assets.batteries]
        if site.grid.export_limit_kw > 0:
            export += 1
            assert site.tariff.feed_in_cny_per_kwh > VALLEY_CNY
        else:
            zero_export += 1
        assert site.grid.import_limit_kw is not None and site.grid.import_limit_kw <= 2 * site.grid.declared_demand_kw
    assert set(STORAGE_MAPS) <= set(maps) and "cn_bms" in maps
    assert min(ratings) >= 50 and max(ratings) <= 3000 and max(ratings) > 1000
    assert feeders == {1, 2, 3} and min(tenants) >= 1 and max(tenants) <= 8 and len(tenants) >= 4
    assert two_tx > 0 and export > 0 and zero_export > 0


def test_same_seed_same_files_and_overrides(tmp_path):
    a = generate_site(3, tmp_path / "a")
    b = generate_site(3, tmp_path / "b")
    assert (a / "site.yaml").read_bytes() == (b / "site.yaml").read_bytes()
    assert (a / "profiles" / "summer_weekday.csv").read_bytes() == (b / "profiles" / "summer_weekday.csv").read_bytes()
    site = load_site(generate_site(3, tmp_path / "c", storage_maps=("cn_pcs",), battery_kw=(2500.0,),
                                   export_limit_kw=0.0, feed_in_cny_per_kwh=0.0, tenant_load_kw=(800.0, 600.0)))
    assert [b.p_discharge_max_kw for b in site.assets.batteries] == [2500.0]
    assert {d.map for d in site.devices if d.serves == "bat_1"} == {"cn_pcs", "cn_bms"}
    assert len(site.tenants) == 2 and site.grid.export_limit_kw == 0
    with pytest.raises(TypeError, match="unknown override"):
        generate_site(3, tmp_path / "d", n_batteries=2)
    with pytest.raises(ValueError, match="sungrow_sh"):
        generate_site(3, tmp_path / "e", storage_maps=("sungrow_sh",), battery_kw=(450.0,))


def test_import_cap_binds_in_the_afternoon_without_storage(tmp_path):
    """Without storage discharge the forecast afternoon net demand crosses the cap; elsewhere it does not."""
    binding = 0
    for seed in (1, 2, 5):
        site = load_site(generate_site(seed, tmp_path))
        inp = build_dispatch_inputs(site, horizon_for_day(site, CAP_DAY))
        net = sum(np.asarray(x.p_kw, dtype=float) for x in inp.loads)
        net = net + sum(np.asarray(x.baseline_kw, dtype=float) for x in [*inp.shiftable, *inp.curtailable])
        net = net + sum(np.asarray(h.heat_demand_kw_th) / np.asarray(h.cop) for h in inp.heat_pumps)
        net = net - sum(np.asarray(p.p_avail_kw, dtype=float) for p in inp.pv)
        hours = inp.index.hour
        cap = site.grid.import_cap_kw
        shape = draw_shape(seed)
        binding += net[(hours >= 14) & (hours < 20)].max() > cap
        assert net[(hours < 14) | (hours >= 20)].max() < cap
        assert 0.4 <= shape.cap_shave_frac <= 0.8
    assert binding >= 2
