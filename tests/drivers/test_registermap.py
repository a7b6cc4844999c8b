"""Register-map schema, loader and codec (drivers/registermap.py) and the bundled map files."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import sunspec2.device

from drivers.registermap import (
    Point,
    RegisterMap,
    RegisterMapError,
    apply_ratios,
    available_maps,
    bit_names,
    check_range,
    decode,
    encode,
    enum_value,
    load_map,
    load_map_file,
)

EXPECTED_MAPS = {
    "sunspec_inverter",
    "sunspec_battery",
    "huawei_sun2000",
    "sungrow_sg",
    "sungrow_sh",
    "cn_pcs",
    "cn_bms",
    "heat_pump_controller",
    "flex_load_controller",
    "acrel_dtsd1352",
    "chint_dtsu666",
}


def _point(**kw) -> Point:
    base = {"id": "x", "address": 0}
    base.update(kw)
    return Point(**base)


# ------------------------------------------------------------------------------------------ bundled maps


def test_all_named_maps_exist_and_load():
    assert set(available_maps()) >= EXPECTED_MAPS
    for name in EXPECTED_MAPS:
        rmap = load_map(name)
        assert rmap.name == name
        assert rmap.points, name
        assert rmap.capability in rmap.capabilities
        for point in rmap.points:
            assert point.address is not None and point.word_order in ("big", "little")
            assert point.source, f"{name}.{point.id} has no source"


def test_illustrative_maps_say_so():
    for name in ("cn_pcs", "cn_bms", "heat_pump_controller", "flex_load_controller"):
        assert load_map(name).vendor_published is False
    for name in ("sunspec_inverter", "huawei_sun2000", "sungrow_sg", "acrel_dtsd1352"):
        assert load_map(name).vendor_published is True


def test_load_map_is_cached_and_unknown_name_is_a_user_error():
    assert load_map("sungrow_sg") is load_map("sungrow_sg")
    with pytest.raises(RegisterMapError) as err:
        load_map("no_such_device")
    assert "unknown register map 'no_such_device'" in str(err.value)
    assert "sungrow_sg" in str(err.value)


def test_documented_numbers_become_wire_addresses():
    sg = load_map("sungrow_sg")
    assert sg.number_offset == 1
    assert (sg.point("p_ac_w").number, sg.point("p_ac_w").address, sg.point("p_ac_w").table) == (
        5031,
        5030,
        "input",
    )
    assert sg.point("p_limit_switch").address == 5006
    assert sg.point("p_limit_pct").address == 5007
    sh = load_map("sungrow_sh")
    assert sh.point("ems_mode").address == 13049
    assert sh.point("charge_cmd").address == 13050
    assert sh.point("charge_power_w").address == 13051
    # input and holding tables overlap at 12999 (system state vs start/stop)
    assert sh.point("system_state").address == sh.point("start_stop").address == 12999
    hw = load_map("huawei_sun2000")
    assert hw.number_offset == 0 and hw.default_unit_id == 1 and hw.connect_delay_s == 1.5
    assert load_map("huawei_smartlogger").default_unit_id == 0  # the plant controller itself
    assert hw.point("p_control_mode").address == 47415
    assert hw.point("feed_in_limit_w").address == 47416
    assert hw.point("bat_forced_cmd").address == 47100


def test_sunspec_maps_match_pysunspec2_layout():
    for name in ("sunspec_inverter", "sunspec_battery"):
        rmap = load_map(name)
        assert rmap.point("sunspec_marker").address == 40000
        address = 40002
        for mid in rmap.sunspec_models:
            model = sunspec2.device.Model(model_id=mid)
            id_point = rmap.point(f"m{mid}_id")
            l_point = rmap.point(f"m{mid}_l")
            assert id_point.address == address and id_point.default == mid
            assert l_point.default == model.len - 2, (name, mid)
            for pname, p in model.points.items():
                assert rmap.sunspec_point(mid, pname).address == address + p.offset, (mid, pname)
            address += model.len
        assert rmap.point("sunspec_end_id").address == address
        assert rmap.point("sunspec_end_id").default == 0xFFFF


def test_sunspec_scale_factor_points_exist():
    inv = load_map("sunspec_inverter")
    w = inv.sunspec_point(701, "W")
    assert w.scale_sf == "m701_w_sf" and inv.sf_point(w).type == "i16"
    assert inv.sunspec_point(704, "WMaxLimPct").min == 0 and inv.sunspec_point(704, "WMaxLimPct").max == 100
    assert load_map("sunspec_battery").sunspec_point(802, "CtrlHb").revert_s == 30


# ------------------------------------------------------------------------------------------------ codec


def test_u32_little_word_order_matches_sungrow_manual():
    p = load_map("sungrow_sg").point("p_ac_w")
    assert encode(p, 0x01020304) == [0x0304, 0x0102]
    assert decode(p, [0x0304, 0x0102]) == 0x01020304


def test_i32_big_word_order():
    p = load_map("huawei_sun2000").point("bat_p_w")
    assert encode(p, -12345) == [0xFFFF, 0xCFC7]
    assert decode(p, [0xFFFF, 0xCFC7]) == -12345


def test_negative_value_never_wraps_into_unsigned_register():
    p = load_map("sungrow_sg").point("p_limit_pct")
    with pytest.raises(ValueError, match="point p_limit_pct: -1"):
        encode(p, -1.0)
    with pytest.raises(ValueError, match="point x: 70000"):
        encode(_point(type="i16"), 70000)


def test_scale_rounds_to_nearest_raw_step():
    p = load_map("sungrow_sg").point("p_limit_pct")
    assert encode(p, 55.55) == [556]  # 0.1 % steps
    assert decode(p, [556]) == pytest.approx(55.6)
    assert decode(p, [1]) == 0.1  # no binary noise


def test_offset_points():
    current = load_map("cn_bms").point("i_a")
    assert encode(current, -12.3) == [15877]
    assert decode(current, [15877]) == pytest.approx(-12.3)
    temp = load_map("cn_bms").point("temp_cell_max_c")
    assert decode(temp, [65]) == 25.0
    assert encode(temp, 25) == [65]


def test_sunspec_scale_factor_and_sentinels():
    w = load_map("sunspec_inverter").sunspec_point(701, "W")
    assert encode(w, 123450, sf=1) == [12345]
    assert decode(w, [12345], sf=1) == 123450.0
    assert decode(w, [0x8000], sf=1) is None  # int16 not implemented
    assert decode(w, [100], sf=-32768) is None  # scale factor not implemented
    with pytest.raises(ValueError, match="needs the value of scale factor 'm701_w_sf'"):
        decode(w, [1])
    st = load_map("sunspec_inverter").sunspec_point(701, "InvSt")
    assert decode(st, [0xFFFF]) is None
    assert decode(st, [3]) == 3
    hz = load_map("sunspec_inverter").sunspec_point(701, "Hz")
    assert decode(hz, [0xFFFF, 0xFFFF], sf=-2) is None
    assert decode(hz, encode(hz, 50.01, sf=-2), sf=-2) == pytest.approx(50.01)


def test_float32_points():
    p = load_map("chint_dtsu666").point("p_w")  # raw float x 0.1 W
    regs = encode(p, 1234.5)
    assert len(regs) == 2
    assert decode(p, regs) == pytest.approx(1234.5)
    assert decode(p, [0x7FC0, 0x0000]) is None  # NaN


def test_strings_pad_and_strip():
    p = load_map("sunspec_inverter").point("sunspec_marker")
    assert encode(p, "SunS") == [0x5375, 0x6E53]
    assert decode(p, [0x5375, 0x6E53]) == "SunS"
    mn = load_map("sunspec_inverter").sunspec_point(1, "Mn")
    regs = encode(mn, "ParkSim")
    assert len(regs) == 16 and regs[-1] == 0
    assert decode(mn, regs) == "ParkSim"
    assert decode(mn, [0] * 16) is None  # all NUL = not implemented
    with pytest.raises(ValueError, match="exceeds 32 bytes"):
        encode(mn, "x" * 33)


def test_enums_bits_ranges_and_ratios():
    sw = load_map("sungrow_sg").point("p_limit_switch")
    assert enum_value(sw, "enable") == 0xAA
    with pytest.raises(KeyError):
        enum_value(sw, "maybe")
    flags = load_map("cn_bms").point("flags")
    assert bit_names(flags, 0b101) == ["charge_not_allowed", "fatal_fault"]
    pct = load_map("sungrow_sg").point("p_limit_pct")
    check_range(pct, 50)
    with pytest.raises(ValueError, match="above its maximum 110"):
        check_range(pct, 111)
    acrel = load_map("acrel_dtsd1352")
    p = acrel.point("p_kw")
    assert p.multiply_by == ["pt_ratio", "ct_ratio"]
    secondary = decode(p, encode(p, 0.5))
    assert apply_ratios(p, secondary, {"pt_ratio": 100, "ct_ratio": 80}) == pytest.approx(4000.0)


def test_read_blocks_merge_contiguous_points_within_limit():
    sg = load_map("sungrow_sg")
    blocks = sg.read_blocks(
        [sg.point(i) for i in ("p_ac_w", "q_ac_var", "pf", "f_hz", "p_limit_switch", "p_limit_pct")]
    )
    assert [(t, a, c) for t, a, c, _ in blocks] == [("holding", 5006, 2), ("input", 5030, 6)]
    # a gap splits a read unless max_gap allows it
    pts = [sg.point("f_hz"), sg.point("work_state")]
    assert len(sg.read_blocks(pts)) == 2
    assert [(a, c) for _, a, c, _ in sg.read_blocks(pts, max_gap=1)] == [(5035, 3)]


# ------------------------------------------------------------------------------------------------ loader


def _write_map(tmp_path: Path, body: str, name: str = "test_map") -> Path:
    path = tmp_path / f"{name}.yaml"
    header = (
        f"name: {name}\ntitle: t\nvendor_published: false\nsource: s\ncapability: meter\n"
        "number_offset: 1\npoints:\n"
    )
    path.write_text(header + body)
    return path


def test_loader_reports_every_problem(tmp_path: Path):
    path = _write_map(
        tmp_path,
        "  - {id: a, number: 1, type: u32}\n"
        "  - {id: b, number: 2}\n"  # overlaps a (addresses 0-1)
        "  - {id: a, number: 10}\n"  # duplicate id
        "  - {id: c, number: 20, scale_sf: nope}\n"
        "  - {id: d, number: 0}\n",  # address -1
    )
    with pytest.raises(RegisterMapError) as err:
        load_map_file(path)
    text = str(err.value)
    assert "point a: duplicate id" in text
    assert "points a and b overlap in the holding table at address 1" in text
    assert "point c: refers to unknown point 'nope'" in text
    assert "point d: address -1 outside 0..65535" in text


def test_same_address_in_different_tables_is_fine(tmp_path: Path):
    path = _write_map(tmp_path, "  - {id: a, number: 1}\n  - {id: b, number: 1, table: input}\n")
    rmap = load_map_file(path)
    assert rmap.point("a").address == rmap.point("b").address == 0


def test_loader_rejects_name_mismatch_and_bad_points(tmp_path: Path):
    path = _write_map(tmp_path, "  - {id: a, number: 1}\n", name="other")
    path.rename(tmp_path / "renamed.yaml")
    with pytest.raises(RegisterMapError, match="must equal the file stem 'renamed'"):
        load_map_file(tmp_path / "renamed.yaml")
    bad = _write_map(tmp_path, "  - {id: s, number: 1, type: string}\n")
    with pytest.raises(RegisterMapError, match="string points need 'count'"):
        load_map_file(bad)
    bad = _write_map(tmp_path, "  - {id: c, number: 1, table: coil, type: u16}\n")
    with pytest.raises(RegisterMapError, match="coil points must have type bool"):
        load_map_file(bad)


def test_register_map_point_lookup_errors_name_the_map():
    rmap = RegisterMap(
        name="m",
        title="t",
        vendor_published=False,
        source="s",
        capability="meter",
        points=[{"id": "a", "address": 5}],
    )
    assert rmap.point("a").end == 6 and rmap.has("a") and not rmap.has("b")
    with pytest.raises(KeyError, match="map m has no point 'b'"):
        rmap.point("b")


def test_bool_points_and_nan_refused_for_integers():
    di = load_map("cn_bms").point("ems_comm_timeout")
    assert di.table == "discrete_input" and di.address == 10
    assert decode(di, [1]) == 1
    with pytest.raises(ValueError, match="NaN/inf"):
        encode(_point(type="u16"), math.nan)
