"""The Grafana dashboard in the repo uses only metrics that ``/metrics`` exposes, and is valid dashboard JSON."""

from __future__ import annotations

import json
import re

import pytest

from tests.paths import ROOT

DASHBOARD = ROOT / "grafana" / "microgrid-dashboard.json"


def _metric_names(expr: str) -> set[str]:
    return set(re.findall(r"\bmicrogrid_[a-z0-9_]+", expr))


@pytest.mark.usefixtures("base_url")
def test_dashboard_uses_exposed_metrics(clients):
    dashboard = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    assert dashboard["uid"] == "park-microgrid" and dashboard["timezone"] == "Asia/Shanghai"
    exposed = {line.split()[2] for line in clients["viewer"].get("/metrics").text.splitlines()
               if line.startswith("# TYPE ")}
    exposed |= {f"{name}_total" for name in exposed}  # counters are exposed as <name>_total
    used: set[str] = set()
    ids = []
    for panel in dashboard["panels"]:
        ids.append(panel["id"])
        assert panel["datasource"]["uid"] == "${DS_PROMETHEUS}"
        assert {"x", "y", "w", "h"} <= set(panel["gridPos"])
        for target in panel["targets"]:
            used |= _metric_names(target["expr"])
    assert len(ids) == len(set(ids))
    assert used - exposed == set()
    required = {"microgrid_pcc_power_kw", "microgrid_pv_power_kw", "microgrid_storage_power_kw",
                "microgrid_storage_soc_pct", "microgrid_heat_pump_power_kw", "microgrid_green_power_ratio_today",
                "microgrid_energy_cost_today_cny", "microgrid_device_health", "microgrid_control_cycle_seconds",
                "microgrid_solver_seconds"}
    assert required <= used
