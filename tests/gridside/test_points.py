"""The documented point table is the generated one, and bad gridside blocks are clear errors."""

from __future__ import annotations

import pytest
import yaml

from microgrid.errors import UserError
from microgrid.gridside.points import point_table
from microgrid.site import load_site
from tests.paths import REFERENCE_PARK, ROOT


def test_docs_hold_the_generated_table(reference_site):
    text = (ROOT / "docs" / "gridside.md").read_text(encoding="utf-8")
    assert point_table(reference_site).markdown() in text


def test_table_is_complete_and_addresses_unique(reference_site):
    t = point_table(reference_site)
    keys = [p.key for p in t.points]
    assert len(keys) == len(set(keys))
    assert len({p.ioa for p in t.points}) == len(keys)
    for tenant in reference_site.tenants:
        assert f"tenant_{tenant.id}_import_kw" in keys
    for b in reference_site.assets.batteries:
        assert {f"storage_{b.id}_p_kw", f"storage_{b.id}_soc_pct"} <= set(keys)
    regs = [(p.modbus_table, p.modbus_address) for p in t.points]
    assert len(regs) == len(set(regs))


@pytest.mark.parametrize(("block", "needle"), [
    ({"iec104": {"host": "scada"}}, "gridside.iec104.host"),
    ({"modbus": {"allowed_clients": ["10.0.0.300"]}}, "gridside.modbus.allowed_clients"),
    ({"iec104": {"enabled": True, "port": 2404}, "modbus": {"enabled": True, "port": 2404}}, "own port"),
    ({"commands": {"hold_min": 0}}, "gridside.commands.hold_min"),
])
def test_bad_gridside_block_is_one_clear_error(tmp_path, block, needle):
    data = yaml.safe_load((REFERENCE_PARK / "site.yaml").read_text(encoding="utf-8"))
    data["gridside"] = block
    site_dir = tmp_path / "site"
    site_dir.mkdir()
    (site_dir / "site.yaml").write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    (site_dir / "profiles").symlink_to(REFERENCE_PARK / "profiles")
    with pytest.raises(UserError) as err:
        load_site(site_dir)
    assert needle in str(err.value) + " ".join(getattr(err.value, "problems", []) or [])
