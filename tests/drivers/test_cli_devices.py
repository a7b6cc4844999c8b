"""``microgrid devices``: point table and one safe write, against the simulator on loopback."""

from __future__ import annotations

import asyncio
import contextlib
import re
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from microgrid.cli import main
from microgrid.clock import SteppedClock
from microgrid.site import load_site
from tests.drivers.badreply import Damage, DamagingProxy, byte_count_too_large, wrong_function_code
from tests.drivers.conftest import NOON
from tests.paths import SMALL_SITE


@contextlib.contextmanager
def served_site(tmp_path: Path, damage: dict[str, Damage] | None = None) -> Iterator[tuple[Path, object]]:
    """The small site served by the simulator on free ports (own event loop in a thread), and a copy of
    the site directory whose ports point at it (through a :class:`DamagingProxy` for the devices in
    ``damage``)."""
    from sim.park import Park

    site = load_site(SMALL_SITE)
    park = Park.from_site(site, SteppedClock(start=NOON), seed=1, bind="auto")
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    asyncio.run_coroutine_threadsafe(park.start(run=False), loop).result(10)
    proxies = []
    try:
        copy = tmp_path / "site"
        shutil.copytree(SMALL_SITE, copy)
        text = (copy / "site.yaml").read_text(encoding="utf-8")
        for row in park.endpoint_rows():
            configured = next(d.port for d in site.devices if d.id == row["device"])
            port = row["port"]
            if row["device"] in (damage or {}):
                proxy = DamagingProxy(port, damage[row["device"]])
                port = asyncio.run_coroutine_threadsafe(proxy.start(), loop).result(10).port
                proxies.append(proxy)
            text = re.sub(rf"\bport: {configured}\b", f"port: {port}", text)
        (copy / "site.yaml").write_text(text, encoding="utf-8")
        yield copy, park
    finally:
        for proxy in proxies:
            asyncio.run_coroutine_threadsafe(proxy.stop(), loop).result(10)
        asyncio.run_coroutine_threadsafe(park.stop(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(5)
        loop.close()


def test_point_table_of_every_device(tmp_path, capsys):
    with served_site(tmp_path) as (site_dir, _park):
        assert main(["devices", str(site_dir)]) == 0
    out = capsys.readouterr().out
    assert "site small_factory: 3 device(s)" in out
    for device in ("dev_meter_pcc  [online]  acrel_dtsd1352", "dev_pv_roof  [online]  sunspec_inverter", "dev_bat_factory  [online]"):
        assert device in out
    row = next(line for line in out.splitlines() if line.strip().startswith("m702_w_max_rtg"))
    cells = row.split()
    assert cells[1:3] == ["420000", "W"] and re.fullmatch(r"\d+\.\d", cells[3]) and cells[4:6] == ["s", "ok"]
    assert re.search(r"ct_ratio\s+20\s+\S+ s\s+ok", out)
    assert "m701_inv_st" in out and "(RUNNING)" in out
    assert out.rstrip().endswith("all devices answered")


def test_one_write_with_readback_and_the_refusals(tmp_path, capsys):
    with served_site(tmp_path) as (site_dir, park):
        assert main(["devices", str(site_dir), "--write", "dev_pv_roof.m704_w_max_lim_pct=50"]) == 0
        out = capsys.readouterr().out
        assert "dev_pv_roof.m704_w_max_lim_pct: ok 100.0 -> 50.0, readback 50.0" in out
        assert "dev_pv_roof.m704_w_max_lim_pct_ena: ok 0 -> 1, readback 1" in out  # enable after the value
        assert "falls back" in out  # the revert timer: nobody keeps it alive after the command
        assert park.device("dev_pv_roof").values["m704_w_max_lim_pct"] == 50.0

        assert main(["devices", str(site_dir), "--write", "dev_pv_roof.m704_w_max_lim_pct=-5"]) == 2
        assert "never wrapped" in capsys.readouterr().out
        assert main(["devices", str(site_dir), "--write", "dev_meter_pcc.p_kw=1"]) == 2
        assert "read-only" in capsys.readouterr().out
        assert main(["devices", str(site_dir), "--write", "dev_nope.p_kw=1"]) == 2
        assert "error: unknown device 'dev_nope'" in capsys.readouterr().err
        assert main(["devices", str(site_dir), "--write", "dev_pv_roof.m704_w_max_lim_pct"]) == 2
        assert "expected DEVICE.POINT=VALUE" in capsys.readouterr().err
    # nothing listens any more: offline, exit 4
    assert main(["devices", str(site_dir), "--device", "dev_meter_pcc"]) == 4
    out = capsys.readouterr().out
    assert "dev_meter_pcc  [offline]" in out and "1 device(s) offline" in out


@pytest.mark.parametrize(("damage", "message"), [
    (wrong_function_code, "reply has function code 4, not 3"),
    (byte_count_too_large, "undecodable reply"),
])
def test_a_meter_with_damaged_replies_is_reported_in_one_line(tmp_path, capsys, caplog, damage, message):
    """The PCC meter's replies carry another function code or a wrong byte count: no value is shown as read,
    the device's line names the bad reply, exit 4, and no pymodbus traceback."""
    with served_site(tmp_path, {"dev_meter_pcc": damage}) as (site_dir, _park):
        code = main(["devices", str(site_dir), "--device", "dev_meter_pcc", "--connect-delay", "0"])
    out = capsys.readouterr()
    assert code == 4, out
    detail = [line for line in out.out.splitlines() if message in line]
    assert len(detail) == 1 and "dev_meter_pcc  [offline]" in out.out
    assert " ok " not in out.out.split("dev_meter_pcc  [offline]")[1]
    assert "Traceback" not in out.err and not [r for r in caplog.records if r.exc_info]


@pytest.mark.parametrize("text", ["dev.p=1", "dev.p=0xAA", "dev.p=-2.5", "dev.p=enable"])
def test_write_argument_parsing(text):
    from microgrid.cli.devices import parse_write

    device, point, value = parse_write(text)
    assert (device, point) == ("dev", "p")
    assert value == {"dev.p=1": 1, "dev.p=0xAA": 0xAA, "dev.p=-2.5": -2.5, "dev.p=enable": "enable"}[text]
