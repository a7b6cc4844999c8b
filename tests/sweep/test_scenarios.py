"""Scenario files: paths, overrides, expansion, and one clear line (exit 2) for every bad file."""

from __future__ import annotations

import textwrap

import pytest

from microgrid.cli import main
from microgrid.site import load_site
from microgrid.sweep.overrides import Override, PathError, apply_override, parse_path
from microgrid.sweep.scenarios import ScenarioError, SiteSource, cases, read_scenarios
from tests.paths import REFERENCE_PARK, SMALL_SITE


def _file(tmp_path, text: str):
    path = tmp_path / "scenarios.yaml"
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def small():
    return SiteSource.read(SMALL_SITE)


def test_paths_select_fields_items_by_index_id_and_all():
    data = {"assets": {"pv": [{"id": "a", "kwp": 100}, {"id": "b", "kwp": 50}]}, "grid": {"export_limit_kw": 0}}
    assert apply_override(data, Override("assets.pv[*].kwp", "scale", 1.5)) == 2
    assert [p["kwp"] for p in data["assets"]["pv"]] == [150, 75]
    assert apply_override(data, Override("assets.pv[b].kwp", "set", 10)) == 1
    assert apply_override(data, Override("assets.pv[0].kwp", "set", 20)) == 1
    assert [p["kwp"] for p in data["assets"]["pv"]] == [20, 10]
    apply_override(data, Override("grid.export_limit_kw", "set", 300))
    assert data["grid"]["export_limit_kw"] == 300
    # a new key is created: the site schema, not this module, decides whether it may exist
    apply_override(data, Override("study.seasonal_load_pct.load_x_kw", "set", [100] * 12))
    assert data["study"]["seasonal_load_pct"]["load_x_kw"] == [100] * 12
    with pytest.raises(PathError, match="no item with id 'zz'"):
        apply_override(data, Override("assets.pv[zz].kwp", "set", 1))
    with pytest.raises(PathError, match="out of range"):
        apply_override(data, Override("assets.pv[5].kwp", "set", 1))
    with pytest.raises(PathError, match="cannot scale"):
        apply_override({"a": "text"}, Override("a", "scale", 2))
    with pytest.raises(PathError):
        parse_path("assets..pv")


def test_lists_products_and_zips_expand_with_names_and_params(tmp_path, small):
    path = _file(tmp_path, """
        scenarios:
          - name: base
        sweeps:
          - name: "pv{pv}-ess{ess}"
            product:
              pv: {scale: ["assets.pv[*].kwp", "assets.pv[*].inverter_ac_kw"], values: [1.0, 1.5]}
              ess:
                set: assets.batteries[bat_factory].e_kwh
                values: [400, 800, 1200]
          - zip:
              tariff: {set: tariff.demand_charge_cny_per_kw_month, values: [30, 40]}
              export: {set: grid.export_limit_kw, values: [0, 200]}
        """)
    scenarios = read_scenarios(path)
    names = [s.name for s in scenarios]
    assert names[:3] == ["base", "pv1-ess400", "pv1-ess800"]
    assert len(names) == 1 + 6 + 2 and names[-1] == "tariff=40,export=200"
    built = {c.scenario.name: c for c in cases([small], scenarios, str(path))}
    big = built["pv1.5-ess1200"].site
    assert big.assets.pv[0].kwp == pytest.approx(750) and big.assets.pv[0].inverter_ac_kw == pytest.approx(630)
    assert big.assets.batteries[0].e_kwh == 1200
    assert built["tariff=40,export=200"].site.grid.export_limit_kw == 200
    assert built["base"].site == load_site(SMALL_SITE) and built["base"].digest != built["pv1-ess800"].digest
    assert built["pv1-ess800"].scenario.params == {"pv": 1.0, "ess": 800}


@pytest.mark.parametrize(("text", "expected"), [
    ("scenarios:\n  - name: x\n    set:\n      assets.batteries[0].e_kwhh: 5\n",
     "scenario 'x' on site 'small_factory': assets.batteries[0].e_kwhh: unknown field"),
    ("scenarios:\n  - name: x\n    set:\n      assets.batteries[0].e_kwh: -5\n",
     "scenario 'x' on site 'small_factory': assets.batteries[0].e_kwh: "),
    ("scenarios:\n  - name: x\n    set:\n      assets.batteries[ess_big].e_kwh: 5\n", "no item with id 'ess_big'"),
    ("sweeps:\n  - product:\n      pv: {scale: kwp, values: []}\n", "empty sweep"),
    ("scenarios: []\n", "empty sweep: no scenarios"),
    ("", "must be a mapping"),
    ("scenario:\n  - name: x\n", "scenario: unknown key"),
    ("scenarios:\n  - name: a\n  - name: a\n", "'a' appears twice"),
    ("scenarios:\n  - name: x\n    scale:\n      assets.pv[*].kwp: nan\n", "not a finite number"),
    ("scenarios:\n  - name: 'a b/c'\n", "a name is 1-80 letters"),
    ("sweeps:\n  - product:\n      pv: {values: [1]}\n", "exactly one of 'set' or 'scale'"),
    ("sweeps:\n  - name: '{pv}-{bat}'\n    product:\n      pv: {set: grid.export_limit_kw, values: [1]}\n",
     "not a dimension"),
    ("scenarios:\n  - name: x\n    sites: [elsewhere]\n", "not among the sites"),
    ("scenarios: {name: [\n", "not valid YAML"),
])
def test_bad_scenario_files_get_one_line_and_exit_2(tmp_path, capsys, text, expected):
    path = _file(tmp_path, text)
    code = main(["sweep", str(SMALL_SITE), "--scenarios", str(path), "--year", "2026", "--scheduler", "in-process",
                 "--out", str(tmp_path / "out")])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2
    assert len(err) == 1 and err[0].startswith("error: ") and expected in err[0], err
    assert not (tmp_path / "out").exists()  # nothing ran, nothing written


def test_scenario_valid_for_one_site_but_not_another_is_refused_before_running(tmp_path):
    path = _file(tmp_path, "scenarios:\n  - name: x\n    set:\n      assets.batteries[bat_factory].e_kwh: 500\n")
    with pytest.raises(ScenarioError, match="on site 'putian_hitech'.*no item with id 'bat_factory'"):
        cases([SiteSource.read(SMALL_SITE), SiteSource.read(REFERENCE_PARK)], read_scenarios(path), str(path))
    # restricted to the site it fits, it is fine
    path.write_text("scenarios:\n  - name: x\n    sites: [small_factory]\n    set:\n"
                    "      assets.batteries[bat_factory].e_kwh: 500\n", encoding="utf-8")
    built = cases([SiteSource.read(SMALL_SITE), SiteSource.read(REFERENCE_PARK)], read_scenarios(path), str(path))
    assert [c.key for c in built] == ["small_factory/x"]


def test_bad_cli_arguments_exit_2(tmp_path, capsys):
    path = _file(tmp_path, "scenarios:\n  - name: base\n")
    for extra in (["--months", "9-3"], ["--scheduler", "localhost:8786"], ["--workers", "0"]):
        with pytest.raises(SystemExit) as exc:
            main(["sweep", str(SMALL_SITE), "--scenarios", str(path), "--year", "2026", *extra])
        assert exc.value.code == 2, extra
        assert "error: argument" in capsys.readouterr().err
