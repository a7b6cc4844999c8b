"""``microgrid run --sim --quiet`` for a simulated hour with communication faults: the console shows the
alarms and the summary, nothing else (no pymodbus lines, no progress); the JSON-lines log file keeps the
library warnings with the device named."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.paths import ROOT, SMALL_SITE

FAULTS = """\
description: comms trouble on every link of the small factory
faults:
  - {type: response_delay, target: dev_pv_roof, at_s: 300, duration_s: 120, delay_s: 4.0}
  - {type: device_offline, target: dev_bat_factory, at_s: 900, duration_s: 120, mode: refuse}
  - {type: device_offline, target: dev_meter_pcc, at_s: 1800, duration_s: 60, mode: silent}
"""

def _run(tmp_path: Path, *extra: str) -> subprocess.CompletedProcess:
    faults = tmp_path / "faults.yaml"
    faults.write_text(FAULTS, encoding="utf-8")
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    env.pop("MICROGRID_DEV", None)
    return subprocess.run(
        [sys.executable, "-m", "microgrid", "run", str(SMALL_SITE), "--sim", "--auto-ports", "--speed", "max",
         "--until", "1h", "--cycle-s", "10", "--start", "2025-07-16T10:00", "--store", "memory", "--faults", str(faults), *extra],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=280, check=False,
    )


@pytest.mark.slow
def test_quiet_hour_prints_only_alarms_and_summary(tmp_path):
    log_file = tmp_path / "log" / "run.jsonl"
    done = _run(tmp_path, "--quiet", "--log-file", str(log_file))
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stderr.strip() == "", done.stderr[-2000:]
    lines = [line for line in done.stdout.splitlines() if line.strip()]
    first = next(i for i, line in enumerate(lines) if line.startswith("KPI summary"))
    alarms, summary = lines[:first], lines[first:]
    assert all("[alarm]" in line for line in alarms), alarms  # before the summary: alarm lines only
    assert all(line.startswith("  ") for line in summary[1:]) and len(summary) <= 20, summary
    # the faults happened: the battery's port refused and the meter went silent, each an alarm on the console
    assert any("bat_factory" in line for line in alarms), alarms
    assert len(alarms) <= 20, alarms

    records = [json.loads(line) for line in log_file.read_text(encoding="utf-8").splitlines()]
    assert all({"ts", "level", "logger", "device", "message"} <= set(r) for r in records)
    library = [r for r in records if r["logger"].startswith("pymodbus")]
    assert library, "the refused and silent links produce pymodbus warnings; they belong in the log file"
    assert all(r["level"] in ("warning", "error", "critical") for r in library)
    assert all(r["device"] and "dev_" in r["device"] for r in library), library[:3]
    alarm_events = [r for r in records if r["logger"] == "microgrid.events" and r.get("severity") == "alarm"]
    assert len(alarm_events) == len(alarms)


def test_log_level_is_checked(tmp_path):
    done = subprocess.run([sys.executable, "-m", "microgrid", "--log-level", "loud", "validate", str(SMALL_SITE)],
                          cwd=ROOT, capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 2
    assert "--log-level" in done.stderr and "Traceback" not in done.stderr
