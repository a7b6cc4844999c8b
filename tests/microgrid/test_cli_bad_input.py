"""Bad input closes: every case exits with the README's code (2 = bad input) and one ``error:`` line (plus
indented problem lines), without a traceback and without writing anything (no output file, no store, no
``network.csv``, no ``out/``)."""

from __future__ import annotations

import os
from datetime import date
from pathlib import Path

import pytest

from microgrid.cli import main
from tests.paths import SMALL_SITE

SITE = str(SMALL_SITE)


@pytest.fixture(scope="module")
def inputs(tmp_path_factory, small_site) -> Path:
    """Damaged input files next to each other in one directory (a copy per test is made by ``workdir``)."""
    from microgrid.planning import build_dispatch_inputs, horizon_for_day
    from optimizer.baseline import baseline_schedule

    d = tmp_path_factory.mktemp("bad_inputs")
    frame = baseline_schedule(build_dispatch_inputs(small_site, horizon_for_day(small_site, date(2025, 7, 15)))).frame
    text = frame.to_csv()
    (d / "truncated.csv").write_text(text[: len(text) // 2].rsplit(",", 3)[0], encoding="utf-8")
    nan = frame.copy()
    nan.loc[nan.index[5], "pv_roof_kw"] = float("nan")
    nan.to_csv(d / "nan.csv")
    huge = frame.copy()
    huge["bat_factory_kw"] = 1e12
    huge.to_csv(d / "huge.csv")
    (d / "binary.yaml").write_bytes(bytes(range(256)) * 4)
    (d / "duplicate.yaml").write_text("faults:\n  - type: load_step\n    target: factory\n    type: meter_loss\n"
                                      "    delta_kw: 5\n", encoding="utf-8")
    (d / "nan.yaml").write_text("faults:\n  - type: load_step\n    target: factory\n    at_s: 10\n"
                                "    delta_kw: .nan\n", encoding="utf-8")
    return d


CASES = [
    # (id, argv, environment, words in the error line)
    ("run-store-ftp", ["run", SITE, "--sim", "--store", "ftp://x/y", "--until", "1m"], {}, "'ftp' is not a database"),
    ("report-store-ftp", ["report", SITE, "--from", "2025-07-01", "--to", "2025-07-01", "--out", "r.html",
                          "--store", "ftp://x/y"], {}, "'ftp' is not a database"),
    ("users-store-ftp", ["users", "--store", "ftp://x/y", "add", "li.wei"], {}, "'ftp' is not a database"),
    ("users-env-store-ftp", ["users", "list"], {"MICROGRID_STORE_URL": "ftp://x/y"}, "'ftp' is not a database"),
    ("users-store-dir-impossible", ["users", "--store", "sqlite:////proc/no/such/users.db", "list"], {},
     "cannot create the directory /proc/no/such"),
    ("report-far-future", ["report", SITE, "--from", "9999-12-30", "--to", "9999-12-31", "--out", "r.html"], {},
     "'9999-12-30' is outside"),
    ("sim-faults-binary", ["sim", SITE, "--faults", "binary.yaml", "--auto-ports", "--duration", "1"], {},
     "is not a text (UTF-8 YAML) file"),
    ("sim-faults-duplicate-key", ["sim", SITE, "--faults", "duplicate.yaml", "--auto-ports", "--duration", "1"], {},
     "duplicate key 'type'"),
    ("sim-faults-nan", ["sim", SITE, "--faults", "nan.yaml", "--auto-ports", "--duration", "1"], {},
     "fault scenario nan.yaml: 1 problem(s)"),
    ("run-faults-duplicate-key", ["run", SITE, "--sim", "--faults", "duplicate.yaml", "--until", "1m",
                                 "--store", "memory"], {}, "duplicate key 'type'"),
    ("devices-write-inf", ["devices", SITE, "--write", "dev_bat_factory.m704_w_set=inf"], {},
     "inf is not a finite number"),
    ("devices-write-nan", ["devices", SITE, "--write", "dev_bat_factory.m704_w_set=nan"], {},
     "nan is not a finite number"),
    ("check-nan", ["check", SITE, "--schedule", "nan.csv"], {}, "unusable values"),
    ("check-truncated", ["check", SITE, "--schedule", "truncated.csv"], {}, "unusable values"),
    ("check-1e12", ["check", SITE, "--schedule", "huge.csv"], {}, "unusable values"),
    ("run-speed-0", ["run", SITE, "--sim", "--speed", "0", "--until", "1m"], {}, "--speed: '0' is not a speed"),
    ("sim-speed-0", ["sim", SITE, "--speed", "0"], {}, "'0' is not a speed factor"),
    ("run-progress-negative", ["run", SITE, "--sim", "--progress-min", "-1"], {}, "'-1' is not a number of site"),
    ("run-cycle-nan", ["run", SITE, "--sim", "--cycle-s", "nan"], {}, "'nan' is not a finite number"),
    ("devices-connect-delay-negative", ["devices", SITE, "--connect-delay", "-1"], {}, "'-1' is not a delay"),
    ("run-start-far-future", ["run", SITE, "--sim", "--start", "9999-12-31T23:00", "--until", "1m", "--store",
                              "memory", "--auto-ports"], {}, "--start: '9999-12-31T23:00' is outside"),
    ("sim-start-not-a-time", ["sim", SITE, "--start", "noon", "--auto-ports"], {}, "is not an ISO 8601 time"),
    ("dev-mode-all-interfaces", ["run", SITE, "--sim", "--port", "8123", "--host", "0.0.0.0", "--until", "1m"],
     {"MICROGRID_DEV": "1"}, "MICROGRID_DEV=1 serves on loopback only"),
    ("trust-every-proxy", ["run", SITE, "--sim", "--port", "8123", "--until", "1m"],
     {"MICROGRID_DEV": "1", "MICROGRID_TRUST_PROXY": "1"}, "invalid server settings"),
]


def _tree(root: Path) -> dict[str, int]:
    return {str(p.relative_to(root)): p.stat().st_size for p in root.rglob("*")}


@pytest.mark.parametrize(("argv", "env", "words"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_bad_input_exits_2_in_one_line_and_writes_nothing(argv, env, words, inputs, tmp_path, monkeypatch, capsys):
    work = tmp_path / "work"
    work.mkdir()
    for f in inputs.iterdir():
        (work / f.name).write_bytes(f.read_bytes())
    monkeypatch.chdir(work)
    monkeypatch.setenv("MICROGRID_DATA_DIR", str(work / "var"))
    for key in ("MICROGRID_DEV", "MICROGRID_SECRET", "MICROGRID_STORE_URL", "MICROGRID_TRUST_PROXY"):
        monkeypatch.delenv(key, raising=False)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    before = _tree(work)
    try:
        code = main(argv)
    except SystemExit as exc:  # argparse refusals
        code = exc.code
    out = capsys.readouterr()
    assert code == 2, out
    lines = out.err.splitlines()
    assert lines and lines[0].startswith("error: ") and words in lines[0], out.err
    assert all(line.startswith("  ") for line in lines[1:]), out.err  # only indented problem lines follow
    assert "Traceback" not in out.err + out.out
    assert _tree(work) == before, "nothing written"
    assert not os.path.exists(work / "network.csv")
