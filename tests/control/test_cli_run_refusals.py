"""``microgrid run --sim --port``: refusals are one clear line with exit 2, before anything starts, and leave
no store file behind (README: a port in use, insecure server settings, --port with a memory store)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys

import pytest

from tests.paths import SMALL_SITE


def _run(tmp_path, *extra: str, env_extra: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MICROGRID_")}
    env.update(env_extra or {})
    return subprocess.run([sys.executable, "-m", "microgrid", "run", str(SMALL_SITE), "--sim", "--auto-ports",
                           "--speed", "max", "--until", "10m", *extra],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120, check=False)


def _assert_refused(done: subprocess.CompletedProcess, tmp_path, message: str) -> None:
    assert done.returncode == 2, done.stderr
    errors = [line for line in done.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and errors[0].startswith(f"error: {message}"), done.stderr
    assert all(line.startswith(("error:", "  ")) for line in done.stderr.splitlines()), done.stderr
    assert "Traceback" not in done.stderr and "KPI summary" not in done.stdout
    assert not list(tmp_path.rglob("*.db")), "a run that never started leaves no store"


def test_port_in_use_is_one_line_exit_2_and_no_store_left(tmp_path):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        done = _run(tmp_path, "--port", str(port), env_extra={"MICROGRID_DEV": "1"})
    _assert_refused(done, tmp_path, f"--port: 127.0.0.1:{port} is in use by another program")


@pytest.mark.parametrize(("env", "message"), [
    ({}, "refusing to start with insecure settings"),
    ({"MICROGRID_SECRET": "changethis"}, "refusing to start with insecure settings"),
])
def test_insecure_settings_are_refused_before_the_simulator_starts(tmp_path, env, message):
    done = _run(tmp_path, "--port", "1", env_extra=env)
    _assert_refused(done, tmp_path, message)
    assert "MICROGRID_SECRET" in done.stderr and "MICROGRID_DEV=1" in done.stderr


def test_port_with_memory_store_is_refused(tmp_path):
    done = _run(tmp_path, "--port", "8000", "--store", "memory", env_extra={"MICROGRID_DEV": "1"})
    _assert_refused(done, tmp_path, "--port needs a database store")
