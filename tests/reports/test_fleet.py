"""``microgrid report SITE SITE ...``: the fleet view, each park from its own metered store, and the total."""

from __future__ import annotations

import shutil
from datetime import date

import pandas as pd
import pytest
import yaml

from microgrid.cli import main
from microgrid.site import load_site
from microgrid.store import Store, energy_sources_from_site
from tests.paths import SMALL_SITE
from tests.reports.synthetic_meters import telemetry_from_schedule
from tests.reports.test_from_store import baseline_frames

DAY = date(2025, 7, 8)


def _metered_store(site, path) -> str:
    url = f"sqlite:///{path}"
    samples, _ = telemetry_from_schedule(site, baseline_frames(site, DAY, 1), sample_s=10.0)
    store = Store.open(url, site_id=site.id, energy_sources=energy_sources_from_site(site))
    store.write_telemetry(samples)
    store.close()
    return url


@pytest.fixture
def two_sites(tmp_path):
    """The small site and a second park (other id, 800 instead of 500 kWp PV)."""
    other = tmp_path / "park_b"
    shutil.copytree(SMALL_SITE, other)
    data = yaml.safe_load((other / "site.yaml").read_text(encoding="utf-8"))
    data["site"]["id"] = "park_b"
    data["assets"]["pv"][0]["kwp"] = 800
    (other / "site.yaml").write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return [SMALL_SITE, other]


@pytest.fixture
def two_parks(two_sites, tmp_path):
    """The two sites with one metered day each in their own stores."""
    urls = [_metered_store(load_site(p), tmp_path / f"{p.name}.sqlite") for p in two_sites]
    return two_sites, urls


def test_fleet_report_lists_each_park_as_its_own_report_and_adds_them_up(two_parks, tmp_path, capsys):
    paths, urls = two_parks
    span = ["--from", str(DAY), "--to", str(DAY), "--roll-up"]
    singles = []
    for path, url in zip(paths, urls, strict=True):
        out = tmp_path / f"{path.name}.csv"
        assert main(["report", str(path), *span, "--store", url, "--out", str(out)]) == 0
        frame = pd.read_csv(out)
        singles.append(frame[(frame["level"] == "total") & (frame["entity"] == "park")].iloc[0])
    fleet_csv = tmp_path / "fleet.csv"
    code = main(["report", *map(str, paths), *span, "--store", urls[0], "--store", urls[1], "--out", str(fleet_csv)])
    printed = capsys.readouterr().out
    assert code == 0 and "fleet of 2 parks" in printed and "total:" in printed
    fleet = pd.read_csv(fleet_csv).set_index("site_id")
    assert list(fleet.index) == ["small_factory", "park_b", "fleet total"]
    for single, site_id in zip(singles, ["small_factory", "park_b"], strict=True):
        for col in ("consumption_kwh", "green_total_kwh", "green_ratio_pct", "co2_location_kg", "cost_total_cny"):
            assert fleet.loc[site_id, col] == pytest.approx(single[col], rel=1e-7, abs=1e-3), col
        assert fleet.loc[site_id, "data_source"] == "metered"
    # the parks differ, so the total is not one park twice
    assert fleet.loc["park_b", "pv_generated_kwh"] > 1.5 * fleet.loc["small_factory", "pv_generated_kwh"]
    total = fleet.loc["fleet total"]
    for col in ("consumption_kwh", "green_total_kwh", "co2_location_kg", "cost_total_cny"):
        assert total[col] == pytest.approx(singles[0][col] + singles[1][col], rel=1e-7, abs=1e-3), col
    expected_ratio = 100 * (singles[0]["green_total_kwh"] + singles[1]["green_total_kwh"]) / (
        singles[0]["consumption_kwh"] + singles[1]["consumption_kwh"])
    assert total["green_ratio_pct"] == pytest.approx(expected_ratio, rel=1e-7, abs=1e-3)
    html = tmp_path / "fleet.html"
    assert main(["report", *map(str, paths), *span, "--store", urls[0], "--store", urls[1], "--out", str(html)]) == 0
    text = html.read_text(encoding="utf-8")
    assert "园区群报告" in text and "park_b" in text and "fleet total" in text and "<svg" in text


@pytest.mark.parametrize(("extra", "message"), [
    (["--tenant", "factory"], "--tenant: a fleet report covers whole parks"),
    (["--store", "sqlite:///x.sqlite"], "--store: given 1 time(s) for 2 sites"),
])
def test_fleet_report_user_errors(two_sites, tmp_path, capsys, extra, message):
    paths = two_sites
    code = main(["report", *map(str, paths), "--from", str(DAY), "--to", str(DAY), *extra,
                 "--out", str(tmp_path / "f.html")])
    assert code == 2 and message in capsys.readouterr().err
    assert not (tmp_path / "f.html").exists()
