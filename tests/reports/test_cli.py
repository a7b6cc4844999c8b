"""``microgrid report``: metered from a store, simulated/planned fallback, user errors."""

from __future__ import annotations

from datetime import date

import openpyxl
import pandas as pd
import pytest

from microgrid.cli import main
from microgrid.store import Store, energy_sources_from_site
from tests.paths import SMALL_SITE
from tests.reports.synthetic_meters import telemetry_from_schedule
from tests.reports.test_from_store import baseline_frames

DAY = date(2025, 7, 8)


@pytest.fixture
def store_url(small_site, tmp_path):
    """A store holding one metered day of the small site (as a `run` would leave it)."""
    url = f"sqlite:///{tmp_path / 'run.sqlite'}"
    samples, _ = telemetry_from_schedule(small_site, baseline_frames(small_site, DAY, 1), sample_s=10.0)
    store = Store.open(url, site_id="small_factory", energy_sources=energy_sources_from_site(small_site))
    store.write_telemetry(samples)
    store.close()
    return url


def test_metered_report_in_three_formats(store_url, tmp_path, capsys):
    html = tmp_path / "out" / "report.html"
    args = ["report", str(SMALL_SITE), "--from", "2025-07-08", "--to", "2025-07-08", "--store", store_url,
            "--roll-up"]
    assert main([*args, "--out", str(html)]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"wrote {html} (html; metered data, coverage 100.0 %")
    assert "METERED data" in html.read_text(encoding="utf-8")
    assert main([*args, "--out", str(tmp_path / "r.csv")]) == 0
    frame = pd.read_csv(tmp_path / "r.csv")
    assert set(frame["data_source"]) == {"metered"} and set(frame["entity"]) == {"park", "factory"}
    assert main([*args, "--tenant", "factory", "--format", "xlsx", "--out", str(tmp_path / "t.dat")]) == 0
    with open(tmp_path / "t.dat", "rb") as fh:  # written as xlsx despite the suffix (--format wins)
        summary = openpyxl.load_workbook(fh)["Summary"]
    assert summary["B4"].value == "factory"


def test_no_metered_data_falls_back_to_a_simulation_hook(small_site, tmp_path, monkeypatch, capsys):
    calls = []

    def simulate_days(site, first_day, last_day, *, store):
        calls.append((first_day, last_day))
        samples, _ = telemetry_from_schedule(site, baseline_frames(site, first_day, 1), sample_s=10.0)
        store.write_telemetry(samples)

    monkeypatch.setattr("microgrid.reports.simulated.simulation_hook", lambda: simulate_days)
    out = tmp_path / "sim.html"
    code = main(["report", str(SMALL_SITE), "--from", "2025-07-08", "--to", "2025-07-08", "--data-dir",
                 str(tmp_path / "empty"), "--out", str(out)])
    assert code == 0 and calls == [(DAY, DAY)]
    err = capsys.readouterr().err
    assert "note: no store at" in err and "simulating 2025-07-08..2025-07-08 instead" in err
    first_page = out.read_text(encoding="utf-8").split('class="page"')[0]
    assert "SIMULATED data — not metered" in first_page
    assert not (tmp_path / "empty").exists()  # the report never creates an empty store


def test_no_metered_data_falls_back_to_the_plans(tmp_path, monkeypatch):
    monkeypatch.setattr("microgrid.reports.simulated.simulation_hook", lambda: None)
    out = tmp_path / "plan.csv"
    assert main(["report", str(SMALL_SITE), "--from", "2025-07-08", "--to", "2025-07-08", "--data-dir",
                 str(tmp_path), "--out", str(out)]) == 0
    frame = pd.read_csv(out)
    assert set(frame["data_source"]) == {"planned"}
    park = frame[(frame["level"] == "total") & (frame["entity"] == "park")].iloc[0]
    assert park["consumption_kwh"] > 0 and park["coverage_pct"] == 100.0


@pytest.mark.parametrize("extra, message", [
    (["--from", "2025-13-01", "--to", "2025-07-08"], "error: argument --from: '2025-13-01' is not a date (use YYYY-MM-DD"),
    (["--from", "2025-07-08", "--to", "2025-07-01"], "error: --to: 2025-07-01 is before --from 2025-07-08"),
    (["--from", "2025-07-08", "--to", "2025-07-08", "--tenant", "nope"],
     "error: --tenant: 'nope' is not a tenant of site 'small_factory' (tenants: factory)"),
    (["--from", "2025-07-08", "--to", "2025-07-08", "--simulate", "never"], "error: no metered data: no store at"),
    (["--from", "2025-07-08", "--to", "2025-07-08", "--min-coverage", "0"],
     "error: argument --min-coverage: '0' is not a percentage greater than 0 and at most 100"),
])
def test_user_errors_exit_2_with_one_message(tmp_path, capsys, extra, message):
    try:
        code = main(["report", str(SMALL_SITE), *extra, "--data-dir", str(tmp_path), "--out", str(tmp_path / "x.html")])
    except SystemExit as exc:  # refused by argparse (shared validators)
        code = exc.code
    assert code == 2
    err = capsys.readouterr().err
    assert err.startswith(message) and "Traceback" not in err
