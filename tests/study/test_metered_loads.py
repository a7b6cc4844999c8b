"""A year of metered loads as study input (``--loads CSV``): replaces the calendar-built columns it names."""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
import pytest

from microgrid.cli import main
from microgrid.errors import UserError
from microgrid.study.year import year_inputs
from tests.paths import SMALL_SITE


def _metered_year(path, tz: str, step_min: int = 15, column: str = "load_factory_kw") -> pd.DataFrame:
    """A synthetic metered year at ``step_min``: 200 kW at night, 520 kW from 08 to 20 h, 5 kW more each month."""
    index = pd.date_range("2026-01-01", "2027-01-01", freq=f"{step_min}min", tz=tz, inclusive="left")
    kw = np.where((index.hour >= 8) & (index.hour < 20), 520.0, 200.0) + 5.0 * (index.month - 1)
    frame = pd.DataFrame({"timestamp": [t.isoformat() for t in index], column: kw})
    frame.to_csv(path, index=False)
    return frame


def test_metered_column_replaces_the_profile_for_the_whole_year(small_site, tmp_path):
    _metered_year(tmp_path / "loads.csv", small_site.timezone)
    built = year_inputs(small_site, 2026, step_min=60)
    metered = year_inputs(small_site, 2026, step_min=60, loads_csv=tmp_path / "loads.csv")
    day = metered.day_frame(date(2026, 7, 15))["load_factory_kw"].to_numpy()
    # 15-min rows averaged to the hourly study step; July adds 6 x 5 kW
    np.testing.assert_allclose(day, [230.0] * 8 + [550.0] * 12 + [230.0] * 4)
    assert not np.allclose(built.day_frame(date(2026, 7, 15))["load_factory_kw"].to_numpy(), day)
    # weather and PV are untouched by the load file
    pd.testing.assert_series_equal(built.frame["pv_pv_roof_kw"], metered.frame["pv_pv_roof_kw"])
    assert "metered loads from" in metered.load_source and "load_factory_kw" in metered.load_source


@pytest.mark.parametrize(("edit", "message"), [
    (lambda f: f.rename(columns={"load_factory_kw": "load_office_kw"}),
     "has column(s) ['load_office_kw'] that the site does not use"),
    (lambda f: f.assign(load_factory_kw=f["load_factory_kw"].where(f.index != 100, -3.0)),
     "column 'load_factory_kw' at 2026-01-02T01:00:00+08:00 is -3.0 (kW must be a finite number >= 0)"),
    (lambda f: f.iloc[: len(f) // 2], "but the plan needs 2026-01-01T00:00:00+08:00 to 2027-01-01T00:00:00+08:00"),
])
def test_bad_load_files_name_the_problem(small_site, tmp_path, edit, message):
    frame = _metered_year(tmp_path / "good.csv", small_site.timezone)
    edit(frame).to_csv(tmp_path / "bad.csv", index=False)
    with pytest.raises(UserError) as err:
        year_inputs(small_site, 2026, step_min=60, loads_csv=tmp_path / "bad.csv")
    assert err.value.message.startswith("--loads: ") and message in err.value.message


@pytest.mark.slow
def test_study_cli_plans_the_metered_year(small_site, tmp_path, capsys):
    _metered_year(tmp_path / "loads.csv", small_site.timezone, step_min=60)
    out = tmp_path / "study"
    code = main(["study", str(SMALL_SITE), "--year", "2026", "--resolution", "60", "--loads",
                 str(tmp_path / "loads.csv"), "--out", str(out), "--quiet"])
    assert code == 0, capsys.readouterr()
    schedule = pd.read_csv(out / "schedule.csv")
    # the load the study planned for is the metered year: 12 h x 200 + 12 h x 520 kW a day, plus 5 kW per
    # month index in every hour of that month
    days_in_month = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31]
    expected = sum(n * (12 * 200.0 + 12 * 520.0 + 24 * 5.0 * m) for m, n in enumerate(days_in_month))
    assert schedule["factory_load_kw"].sum() == pytest.approx(expected, rel=1e-9)
    about = pd.read_excel(out / "study.xlsx", sheet_name="About").set_index("item")["value"]
    assert about["loads"].startswith(f"metered loads from {tmp_path / 'loads.csv'} (load_factory_kw)")
