"""One simulated day, one set of figures: the ``microgrid run`` summary, ``GET /api/v1/green``, ``/metrics``
and the HTML and CSV report of that day give the same green-power ratio, CO2, energy cost and demand charge
(to the precision each one displays).

The day runs in closed loop (simulator over Modbus TCP on loopback, the real controller, a SQLite store, a
stepped clock; 60-s cycles and a re-plan every 4 h keep it cheap) on the reference park and on a generated
multi-meter park, and for half an hour on the small site; the API is then served over the same store with its clock
at the end of the day ("today" then holds exactly the run's intervals).
"""

from __future__ import annotations

import io
import re
from datetime import date, datetime
from zoneinfo import ZoneInfo

import httpx
import pandas as pd
import pytest
import yaml

from api import Settings, create_app
from microgrid.cli import main
from microgrid.site import load_site
from microgrid.store import Store, energy_sources_from_site
from tests.accounting.metered_sites import generate
from tests.api.inproc import InProcessControl, ManualClock
from tests.api.server import live_server
from tests.paths import REFERENCE_PARK, SMALL_SITE

TZ = ZoneInfo("Asia/Shanghai")
DAY = date(2025, 7, 16)
END = datetime(2025, 7, 16, 23, 59, 59, 999000, tzinfo=TZ)


def _cheap(directory, data: dict) -> None:
    data.setdefault("control", {}).update(intraday_every_min=240, cycle_s=60)
    (directory / "site.yaml").write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True), encoding="utf-8")


def reference_copy(directory):
    data = yaml.safe_load((REFERENCE_PARK / "site.yaml").read_text(encoding="utf-8"))
    data["profiles"]["dir"] = str(REFERENCE_PARK / "profiles")
    _cheap(directory, data)
    return directory


def generated_copy(directory):
    _site, _truth, data = generate(5, directory, devices=True)
    _cheap(directory, data)
    return directory


def _summary(out: str) -> dict[str, float]:
    def number(pattern: str) -> float:
        match = re.search(pattern, out)
        assert match, f"{pattern!r} not in the run summary:\n{out[-3000:]}"
        return float(match.group(1).replace(",", ""))

    return {"green_pct": number(r"\n  green power +([\d.,]+) %"), "co2_kg": number(r"\n  CO2 +([\d.,]+) kg"),
            "cost_cny": number(r"\n  energy cost +([\d.,]+) CNY"),
            "demand_cny": number(r"\n  demand charge +([\d.,]+) CNY month to date"),
            "coverage": number(r"in the store \(([\d.]+) % covered\)")}


def _metrics(text: str) -> dict[str, float]:
    values = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            name, _, value = line.rpartition(" ")
            values[name] = float(value)
    return values


def _html_kpi(html: str, label: str) -> str:
    match = re.search(r'<div class="v">([^<]+)</div><div class="l">' + re.escape(label), html)
    assert match, label
    return match.group(1)


def small_copy(directory):
    data = yaml.safe_load((SMALL_SITE / "site.yaml").read_text(encoding="utf-8"))
    data["profiles"]["dir"] = str(SMALL_SITE / "profiles")
    (directory / "site.yaml").write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True), encoding="utf-8")
    return directory


CASES = [  # (site, start, until, full day covered)
    pytest.param(reference_copy, "00:00", "1d", True, id="reference_park_day"),
    pytest.param(generated_copy, "00:00", "1d", True, id="generated_site_day"),
    pytest.param(small_copy, "10:00", "30m", False, id="small_site_30min"),
]


@pytest.mark.slow
@pytest.mark.timeout(2400)
@pytest.mark.parametrize(("make", "start", "until", "whole_day"), CASES)
def test_run_summary_api_metrics_and_report_agree(make, start, until, whole_day, tmp_path, capsys):
    site_dir = make(tmp_path)
    db = tmp_path / "run.sqlite"
    code = main(["run", str(site_dir), "--sim", "--auto-ports", "--speed", "max", "--until", until,
                 "--start", f"{DAY}T{start}", "--store", f"sqlite:///{db}", "--progress-min", "1440", "--quiet"])
    out = capsys.readouterr().out
    assert code == 0, out[-3000:]
    check_agreement(site_dir, db, out, whole_day)


def check_agreement(site_dir, db, out: str, whole_day: bool) -> None:
    """The run summary in ``out`` against the API, /metrics and the report over the store ``db``."""
    run = _summary(out)
    if whole_day:
        assert run["coverage"] == 100.0  # every interval rolled up, 23:45 included
    site = load_site(site_dir)
    store = Store.open(f"sqlite:///{db}", site_id=site.id, timezone=site.timezone,
                       energy_sources=energy_sources_from_site(site))
    token = store.create_user("viewer_user", "viewer")[1]
    control = InProcessControl(site, store, ManualClock(END))
    app = create_app(Settings.for_dev(auth_rate_per_min=6000, auth_burst=1000), store, control, site)
    try:
        with live_server(app) as url, httpx.Client(base_url=url, timeout=120.0,
                                                   headers={"Authorization": f"Bearer {token}"}) as client:
            green = client.get("/api/v1/green", params={"day": DAY.isoformat()})
            assert green.status_code == 200, green.text
            today = green.json()["today"]
            metrics = _metrics(client.get("/metrics").text)
            csv = client.get("/api/v1/reports", params={"from": DAY.isoformat(), "to": DAY.isoformat(),
                                                        "format": "csv"})
            html = client.get("/api/v1/reports", params={"from": DAY.isoformat(), "to": DAY.isoformat(),
                                                         "format": "html"}).text
    finally:
        store.close()
    assert csv.status_code == 200, csv.text
    frame = pd.read_csv(io.StringIO(csv.text))
    park = frame[(frame["level"] == "total") & (frame["entity"] == "park")].iloc[0]

    # green-power ratio: the summary shows 2 decimals of a percent, the HTML 1
    assert round(100 * today["green_power_ratio"], 2) == run["green_pct"]
    assert round(100 * metrics["microgrid_green_power_ratio_today"], 2) == run["green_pct"]
    assert round(park["green_ratio_pct"], 2) == run["green_pct"]
    assert _html_kpi(html, "green-power ratio") == f"{park['green_ratio_pct']:.1f} %"
    assert abs(park["green_ratio_pct"] - 100 * today["green_power_ratio"]) < 1e-3
    # CO2 (location-based), kg with 2 decimals in the summary
    for value in (today["co2_kg"], metrics["microgrid_co2_today_kg"], park["co2_location_kg"]):
        assert round(value, 2) == run["co2_kg"]
    shown = _html_kpi(html, "CO2 location-based")  # one decimal: the same value, rounded once
    assert shown == f"{park['co2_location_kg']:,.1f} kg"
    assert abs(float(shown[:-3].replace(",", "")) - run["co2_kg"]) <= 0.05 + 1e-9
    # energy cost at TOU prices
    for value in (today["cost_energy_cny"], metrics["microgrid_energy_cost_today_cny"], park["cost_energy_cny"]):
        assert round(value, 2) == run["cost_cny"]
    assert _html_kpi(html, "energy cost (TOU)") == f"{run['cost_cny']:,.2f} CNY"
    # demand charge: the month's charge on the month-to-date peak (105 %/x2 rule)
    for value in (today["demand_charge_month_to_date_cny"], metrics["microgrid_demand_charge_month_to_date_cny"],
                  park["demand_charge_month_to_date_cny"]):
        assert round(value, 2) == run["demand_cny"]
    assert _html_kpi(html, "demand charge, month to date") == f"{run['demand_cny']:,.2f} CNY"
    assert run["green_pct"] > 0 and run["cost_cny"] > 0 and run["demand_cny"] > 0
    assert today["partial"] is (not whole_day)
