"""Report fixtures: a two-tenant variant of the small site and a helper to write interval tables by hand."""

from __future__ import annotations

import copy
from datetime import date

import pandas as pd
import pytest

from microgrid.reports.table import IntervalTable, expected_index
from tests.paths import SMALL_SITE


def small_site_data() -> dict:
    from microgrid.site import parse_site_yaml

    return parse_site_yaml((SMALL_SITE / "site.yaml").read_text(encoding="utf-8"))


def two_tenant_data() -> dict:
    """The small site plus tenant ``b`` (own bus, transformer, meter, PV), a meter for ``factory`` and a
    shared battery ``ess`` at 10 kV."""
    data = copy.deepcopy(small_site_data())
    data["network"]["buses"].append({"id": "b_lv", "vn_kv": 0.4, "tenant": "b"})
    data["network"]["transformers"].append({"id": "tx_b", "hv_bus": "grid_10kv", "lv_bus": "b_lv", "sn_kva": 500,
                                            "vn_hv_kv": 10, "vn_lv_kv": 0.4})
    data["tenants"].append({"id": "b", "name": "Workshop B", "bus": "b_lv", "transformer": "tx_b",
                            "typical_load_kw": 100})
    data["assets"]["pv"].append({"id": "pv_b", "tenant": "b", "bus": "b_lv", "kwp": 100, "inverter_ac_kw": 90})
    data["assets"]["batteries"].append({"id": "ess", "bus": "grid_10kv", "p_charge_max_kw": 100,
                                        "p_discharge_max_kw": 100, "e_kwh": 200})
    data["meters"] += [{"id": "meter_factory", "scope": "tenant", "tenant": "factory", "bus": "factory_lv"},
                       {"id": "meter_b", "scope": "tenant", "tenant": "b", "bus": "b_lv"}]
    return data


def build_site(data: dict):
    """Validate the fields only: the test tenant has no profile column (not needed for accounting)."""
    from microgrid.site import Site

    return Site.model_validate({**data, "base_dir": str(SMALL_SITE)})


@pytest.fixture(scope="session")
def two_tenant_site():
    return build_site(two_tenant_data())


def hand_table(first_day: date, rows: dict, *, last_day: date | None = None, tenants: tuple[str, ...] = (),
               interval_min: int = 60, timezone: str = "Asia/Shanghai", **kwargs) -> IntervalTable:
    """An interval table where every interval is metered and zero except ``rows``:
    ``{(local "YYYY-MM-DD HH:MM", entity): {column: value}}``."""
    last_day = last_day or first_day
    index = expected_index(first_day, last_day, interval_min, timezone)
    zero = {"import_kwh": 0.0, "export_kwh": 0.0, "pv_kwh": 0.0, "pv_curtailed_kwh": 0.0, "bat_charge_kwh": 0.0,
            "bat_discharge_kwh": 0.0, "coverage": 1.0}
    records = []
    for ts in index:
        stamp = ts.strftime("%Y-%m-%d %H:%M")
        for entity in ("park", *tenants):
            rec = {"ts": ts, "entity": entity, **zero}
            if entity != "park":
                rec["load_kwh"] = 0.0
            rec.update(rows.get((stamp, entity), {}))
            records.append(rec)
    return IntervalTable(pd.DataFrame(records), interval_min, timezone, first_day, last_day,
                         tenants=list(tenants), **kwargs)
