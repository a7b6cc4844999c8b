"""Every command in README.md and README.zh-CN.md runs as written (quick start and the command table).

Adjustments, and only these: ``--until`` is shortened to 10 simulated minutes, ``--port`` gets a free port,
``--duration`` of the simulator is not waited for (it is stopped with Ctrl-C once the devices were read),
``make demo`` writes to a temporary directory, a ``--password-stdin`` command gets a password on standard input; ``make test`` is not run (it is this test suite). Commands run in a scratch directory that links
``site_configs/`` (so ``out/`` and ``var/`` land there, not in the repository).
"""

from __future__ import annotations

import os
import re
import shlex
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.paths import ROOT

READMES = (ROOT / "README.md", ROOT / "README.zh-CN.md")
_CELL = re.compile(r"^\|\s*`((?:[A-Z_]+=\S+\s+)*microgrid\s[^`]+)`\s*\|")


def table_commands(path: Path) -> list[str]:
    """Commands of the command table (first column), in order."""
    return [m.group(1) for line in path.read_text(encoding="utf-8").splitlines() if (m := _CELL.match(line))]


def quick_start_commands(path: Path) -> list[str]:
    """``make ...`` lines of the first fenced block (comments dropped)."""
    text = path.read_text(encoding="utf-8")
    block = text.split("```", 2)[1]
    return [line.split("#", 1)[0].strip() for line in block.splitlines() if line.strip().startswith("make ")]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _argv(command: str) -> tuple[dict[str, str], list[str]]:
    words = shlex.split(command)
    env: dict[str, str] = {}
    while "=" in words[0] and words[0].split("=", 1)[0].isupper():
        key, value = words.pop(0).split("=", 1)
        env[key] = value
    assert words[0] == "microgrid", command
    out = [sys.executable, "-m", "microgrid"]
    it = iter(words[1:])
    for word in it:
        out.append(word)
        if word == "--until":
            next(it)
            out.append("10m")
        elif word == "--port":
            next(it)
            out.append(str(_free_port()))
    return env, out


def _env(extra: dict[str, str]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MICROGRID_")}
    env.update(extra)
    env["PYTHONUNBUFFERED"] = "1"
    return env


def test_both_readmes_list_the_same_commands():
    english, chinese = (table_commands(p) for p in READMES)
    assert english and english == chinese
    assert quick_start_commands(READMES[0]) == quick_start_commands(READMES[1]) == ["make demo", "make test"]
    listed = {c.split()[1] for c in english if c.startswith("microgrid")} | {
        c.split()[2] for c in english if not c.startswith("microgrid")}
    from microgrid.cli import COMMANDS

    assert set(COMMANDS) <= listed, "every command of `microgrid --help` has a row in the README table"


@pytest.mark.slow
@pytest.mark.timeout(900)  # twelve commands: three plan a day, one a year of the small site, one a sweep of a month; the shared CI machine may be slow
def test_every_table_command_runs_as_written(tmp_path):
    (tmp_path / "site_configs").symlink_to(ROOT / "site_configs")
    sim = None
    try:
        for command in table_commands(READMES[0]):
            extra, argv = _argv(command)
            if argv[3] == "sim":  # runs until Ctrl-C: start it, read the devices (next row), then stop it
                sim = subprocess.Popen(argv, cwd=tmp_path, env=_env(extra), stdout=subprocess.PIPE,
                                       stderr=subprocess.STDOUT, text=True)
                lines = []
                for line in sim.stdout:  # bounded: the simulator prints its table and "Ctrl-C to stop", or exits
                    lines.append(line)
                    if "Ctrl-C to stop" in line:
                        break
                if sim.poll() is not None and "in use" in "".join(lines):
                    pytest.skip("the small factory's Modbus ports are taken by another program: " + "".join(lines))
                assert sim.poll() is None, "".join(lines)
                continue
            stdin = "Readme-pass-2026\n" if "--password-stdin" in argv else ""
            done = subprocess.run(argv, cwd=tmp_path, env=_env(extra), capture_output=True, text=True,
                                  input=stdin, timeout=280, check=False)
            assert done.returncode == 0, f"{command}\n{done.stdout[-1500:]}\n{done.stderr[-1500:]}"
            assert "Traceback" not in done.stderr, command
            if argv[3] == "devices":
                assert "all devices answered" in done.stdout
                sim.send_signal(signal.SIGINT)
                assert sim.wait(timeout=30) == 0
                sim = None
        assert (tmp_path / "out" / "plan" / "schedule.png").exists()
        assert (tmp_path / "out" / "report.html").exists()
        assert (tmp_path / "out" / "study" / "monthly.csv").exists() and (tmp_path / "out" / "target" / "sizing.json").exists()
        assert list((tmp_path / "var").glob("*.sqlite")), "users add made the site store"
        assert (tmp_path / "out" / "sweep" / "results.parquet").exists() and (tmp_path / "out" / "sweep" / "summary.html").exists()
    finally:
        if sim is not None and sim.poll() is None:
            sim.kill()
            sim.wait(timeout=10)


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_make_demo_runs_as_written(tmp_path):
    t0 = time.monotonic()
    done = subprocess.run(["make", "demo", "UNTIL=10m", f"PORT={_free_port()}", f"OUT={tmp_path / 'demo'}"],
                          cwd=ROOT, env=_env({}), capture_output=True, text=True, timeout=290, check=False)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    assert "KPI summary" in done.stdout and (tmp_path / "demo" / "schedule.csv").exists(), time.monotonic() - t0
