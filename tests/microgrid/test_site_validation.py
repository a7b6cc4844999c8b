"""Site validation: the bundled sites are valid; each broken variant yields its exact message."""

from __future__ import annotations

import copy
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

from microgrid.cli import main
from microgrid.site import SiteError, load_site, site_from_mapping
from tests.paths import REFERENCE_PARK, SMALL_SITE


def _small_mapping() -> dict:
    return yaml.safe_load((SMALL_SITE / "site.yaml").read_text(encoding="utf-8"))


def test_reference_park_is_valid_and_matches_design(reference_site):
    site = reference_site
    assert site.id == "putian_hitech"
    assert site.grid.declared_demand_kw == 6000
    assert site.grid.export_limit_kw == 0
    assert [t.id for t in site.tenants] == ["shoes", "electronics", "food", "coatings", "rnd", "logistics"]
    assert site.pv_kwp_total() == 5200
    assert {t.id: t.sn_kva for t in site.network.transformers} == {
        "tx_shoes": 2000, "tx_electronics": 2500, "tx_food": 1600,
        "tx_coatings": 2000, "tx_rnd": 800, "tx_logistics": 1250,
    }
    tie = site.network.switches[0]
    assert (tie.id, tie.closed) == ("tie_ab", False)
    shared = site.asset("ess_shared")
    assert (shared.p_discharge_max_kw, shared.e_kwh, shared.tenant) == (2500, 5000, None)
    assert shared.round_trip_efficiency == pytest.approx(0.88, abs=0.001)
    assert site.emission_factor().kg_co2_per_kwh == 0.4211
    assert site.asset("ev_logistics").p_max_kw == 1200
    # 20 m³ between 45 and 65 °C: 20 × 1.163 × 20 kWh_th
    assert site.asset("hp_shoes").tank_capacity_kwh_th == pytest.approx(465.2)


def test_small_site_is_valid(small_site):
    assert [a for a in small_site.all_asset_ids()] == ["pv_roof", "bat_factory"]


def _both(*mutations: Callable[[dict], None]) -> Callable[[dict], None]:
    def mutate(data: dict) -> None:
        for m in mutations:
            m(data)

    return mutate


def _set(path: str, value) -> Callable[[dict], None]:
    def mutate(data: dict) -> None:
        *parents, last = path.split(".")
        node = data
        for key in parents:
            node = node[int(key)] if key.isdigit() else node[key]
        if last.isdigit():
            node[int(last)] = value
        else:
            node[last] = value

    return mutate


def _drop_window(index: int) -> Callable[[dict], None]:
    return lambda d: d["tariff"]["seasons"][0]["windows"].pop(index)


def _add_device_clash(d: dict) -> None:
    d["devices"][2]["port"] = 15121


def _rename_key(path: list, old: str, new: str) -> Callable[[dict], None]:
    def mutate(data: dict) -> None:
        node = data
        for key in path:
            node = node[key]
        node[new] = node.pop(old)

    return mutate


def _add_isolated_bus(d: dict) -> None:
    d["network"]["buses"].append({"id": "spare_lv", "vn_kv": 0.4})


def _add_tenant_without_profile(d: dict) -> None:
    d["tenants"].append({"id": "canteen", "name": "Canteen", "bus": "factory_lv"})


CASES = [
    ("soc_min_above_max", _set("assets.batteries.0.soc_min_pct", 96),
     "assets.batteries[0].soc_min_pct: must be below soc_max_pct (95)"),
    ("soc_initial_outside", _set("assets.batteries.0.soc_initial_pct", 5),
     "assets.batteries[0].soc_initial_pct: must lie between soc_min_pct (10) and soc_max_pct (95)"),
    ("unknown_bus", _set("assets.pv.0.bus", "roof_bus"), "assets.pv[0].bus: unknown bus 'roof_bus'"),
    ("unknown_tenant", _set("assets.batteries.0.tenant", "acme"), "assets.batteries[0].tenant: unknown tenant 'acme'"),
    ("duplicate_id", _set("assets.batteries.0.id", "pv_roof"),
     "assets.batteries[0].id: duplicate id 'pv_roof' (already used at assets.pv[0])"),
    ("same_endpoint", _add_device_clash,
     "devices[2]: same endpoint 127.0.0.1:15121 unit 1 as devices[1] ('dev_pv_roof')"),
    ("tariff_gap", _drop_window(3), "tariff.seasons[0].windows: 12:00–15:00 is not covered by any period"),
    ("tariff_overlap", _set("tariff.seasons.0.windows.1.end", "11:00"),
     "tariff.seasons[0].windows[2]: overlaps an earlier window (10:00–11:00 covered twice)"),
    ("month_missing", _set("tariff.seasons.1.months", [7, 8]),
     "tariff.seasons: months [9] are in no season (every month needs exactly one)"),
    ("zero_rating", _set("assets.pv.0.kwp", 0), "assets.pv[0].kwp: input should be greater than 0 (got 0)"),
    ("negative_power", _set("assets.batteries.0.p_charge_max_kw", -200),
     "assets.batteries[0].p_charge_max_kw: input should be greater than 0 (got -200)"),
    ("transformer_too_small", _set("assets.pv.0.inverter_ac_kw", 900),
     "assets.pv[0].inverter_ac_kw: PV and storage on bus 'factory_lv' can inject 1100 kW, more than "
     "transformer 'tx_factory' carries (1000 kVA)"),
    ("unknown_timezone", _set("site.location.timezone", "Asia/Shangai"),
     "site.location.timezone: unknown time zone 'Asia/Shangai' (use an IANA name such as Asia/Shanghai)"),
    ("unknown_map", _set("devices.1.map", "sma_tripower"), "devices[1].map: unknown register map 'sma_tripower' (known: "),
    ("role_does_not_fit_map", _set("devices.0.role", "pv_inverter"),
     "devices[0].role: 'pv_inverter' does not fit map 'acrel_dtsd1352', which is a meter device"),
    ("typo_field", _rename_key(["assets", "batteries", 0], "e_kwh", "e_kwhh"),
     "assets.batteries[0].e_kwhh: unknown field (check the spelling; see site_configs/README.md)"),
    ("missing_field", _rename_key(["grid"], "declared_demand_kw", "declared_demand"),
     "grid.declared_demand_kw: required field is missing"),
    ("isolated_bus", _add_isolated_bus, "network.buses[2]: bus 'spare_lv' is not connected to the grid bus 'grid_10kv'"),
    ("unknown_emission_factor", _set("emissions.default", "fujian_2030"),
     "emissions.default: unknown emission factor 'fujian_2030'"),
    ("profile_column_missing", _add_tenant_without_profile,
     "tenants[1]: profile column 'load_canteen_kw' missing in summer_weekday.csv"),
    ("bad_resolution", _set("site.resolution_min", 7),
     "site.resolution_min: must divide 60 (5, 10, 15, 20, 30 or 60) (got 7)"),
    ("window_end_before_start", _set("tariff.seasons.0.windows.7.end", "22:00"),
     "tariff.seasons[0].windows[7]: end 22:00 must be after start 22:00"),
    ("bad_time_format", _set("tariff.seasons.0.windows.0.end", "8:00"),
     "tariff.seasons[0].windows[0].end: string should match pattern"),
    ("host_and_serial_port", _set("devices.0.serial_port", "/dev/ttyUSB0"),
     "devices[0]: give either 'host' (Modbus TCP / RTU over TCP) or 'serial_port' (serial RTU)"),
    ("unknown_map_option", _set("devices.1.map_options", {"firmware": "x"}),
     "devices[1].map_options.firmware: map 'sunspec_inverter' has no option 'firmware' (has: none)"),
    ("bad_map_option_choice", _set("devices.2", {"id": "dev_bat_factory", "serves": "bat_factory", "role": "storage",
                                                 "map": "sungrow_sh", "host": "127.0.0.1", "port": 15122,
                                                 "map_options": {"battery_power": "register_9999"}}),
     "devices[2].map_options.battery_power: 'register_9999' is not a choice (choices: register_13022, register_5214)"),
    ("serial_line_settings_differ", _both(_set("devices.0", {"id": "dev_meter_pcc", "serves": "meter_pcc", "role": "meter",
                                                             "map": "acrel_dtsd1352", "serial_port": "/dev/ttyUSB0"}), _set("devices.1", {"id": "dev_pv_roof", "serves": "pv_roof", "role": "pv_inverter",
                                                       "map": "sunspec_inverter", "serial_port": "/dev/ttyUSB0",
                                                       "baudrate": 19200, "unit_id": 2})),
     "devices[1]: baudrate/parity/stopbits/bytesize (19200, 'N', 1, 8) differs from devices[0]"),
]


@pytest.mark.parametrize(("name", "mutate", "expected"), CASES, ids=[c[0] for c in CASES])
def test_broken_site_reports_exact_problem(name, mutate, expected):
    data = _small_mapping()
    mutate(data)
    with pytest.raises(SiteError) as info:
        site_from_mapping(copy.deepcopy(data), base_dir=SMALL_SITE, source="site.yaml")
    assert any(p.startswith(expected) for p in info.value.problems), info.value.problems
    assert info.value.exit_code == 2


def _write_site(tmp_path: Path, text: str) -> Path:
    shutil.copytree(SMALL_SITE / "profiles", tmp_path / "profiles")
    (tmp_path / "site.yaml").write_text(text, encoding="utf-8")
    return tmp_path


@pytest.mark.parametrize(("name", "mutate", "expected"), CASES[:16], ids=[c[0] for c in CASES[:16]])
def test_cli_exit_code_two_and_one_line_per_problem(tmp_path, capsys, name, mutate, expected):
    data = _small_mapping()
    mutate(data)
    site_dir = _write_site(tmp_path, yaml.safe_dump(data, allow_unicode=True, sort_keys=False))
    assert main(["validate", str(site_dir)]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert lines[0].startswith("error: ") and "problem(s)" in lines[0]
    assert any(line.strip().startswith(expected) for line in lines[1:]), err


def test_yaml_syntax_error_names_the_line(tmp_path, capsys):
    text = (SMALL_SITE / "site.yaml").read_text(encoding="utf-8").replace("declared_demand_kw: 800", "declared_demand_kw: [800")
    site_dir = _write_site(tmp_path, text)
    assert main(["validate", str(site_dir)]) == 2
    err = capsys.readouterr().err
    line_no = next(i for i, line in enumerate(text.splitlines(), 1) if "declared_demand_kw: [800" in line)
    assert "not valid YAML" in err
    assert f"line {line_no + 1}" in err or f"line {line_no}" in err, err


def test_duplicate_yaml_key_is_an_error(tmp_path, capsys):
    text = (SMALL_SITE / "site.yaml").read_text(encoding="utf-8").replace(
        "  export_limit_kw: 0\n", "  export_limit_kw: 0\n  export_limit_kw: 100\n", 1
    )
    site_dir = _write_site(tmp_path, text)
    assert main(["validate", str(site_dir)]) == 2
    assert "duplicate key 'export_limit_kw'" in capsys.readouterr().err


def test_missing_site_path(capsys, tmp_path):
    assert main(["validate", str(tmp_path / "nowhere")]) == 2
    assert "site file not found" in capsys.readouterr().err


def test_validate_prints_summary(capsys):
    assert main(["validate", str(REFERENCE_PARK)]) == 0
    out = capsys.readouterr().out
    for expected in (
        "declared demand 6,000 kW",
        "export limit    zero export (anti-backflow)",
        "PV installed    5,200 kWp",
        "storage         3,000 kW / 6,000 kWh",
        "tenants         6",
        "buses           14",
        "OK: site is valid",
    ):
        assert expected in out


def test_every_problem_reported_at_once():
    data = _small_mapping()
    data["assets"]["batteries"][0]["soc_min_pct"] = 99
    data["assets"]["pv"][0]["bus"] = "nowhere"
    data["site"]["location"]["timezone"] = "Mars/Olympus"
    with pytest.raises(SiteError) as info:
        site_from_mapping(data, base_dir=SMALL_SITE)
    assert len(info.value.problems) == 3


def test_load_site_accepts_the_yaml_file_itself():
    assert load_site(SMALL_SITE / "site.yaml").id == "small_factory"
