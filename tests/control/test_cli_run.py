"""``microgrid run``: argument checks, durations, and a short simulated run end to end."""

from __future__ import annotations

from datetime import timedelta

import pytest

from microgrid.cli import main
from microgrid.cli.run import parse_duration
from microgrid.errors import UserError
from tests.paths import SMALL_SITE


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("90s", 90), ("15m", 900), ("15min", 900), ("2h", 7200), ("1d", 86400), ("1h30m", 5400), ("0.5h", 1800)],
)
def test_parse_duration(text, seconds):
    assert parse_duration(text) == timedelta(seconds=seconds)


@pytest.mark.parametrize("text", ["", "2", "2x", "h2", "1d-2h", "0s"])
def test_parse_duration_rejects(text):
    with pytest.raises(UserError, match="--until"):
        parse_duration(text)


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["run", str(SMALL_SITE), "--speed", "10"], "error: --speed only applies with --sim"),
        (["run", str(SMALL_SITE), "--sim", "--speed", "fast"], "error: --speed: 'fast' is not a number (or 'max'"),
        (["run", str(SMALL_SITE), "--sim", "--speed", "0"], "error: --speed: '0' is not a speed factor greater than 0"),
        (["run", str(SMALL_SITE), "--sim", "--until", "soon"], "error: --until: 'soon' is not a duration"),
        (["run", str(SMALL_SITE), "--sim", "--cycle-s", "0.01"],
         "error: argument --cycle-s: '0.01' is not a control cycle in s between 0.2 and 60"),
    ],
)
def test_bad_arguments_exit_2_with_one_message(argv, message, capsys):
    try:
        code = main(argv)
    except SystemExit as exc:  # refused by argparse (shared validators)
        code = exc.code
    assert code == 2
    assert capsys.readouterr().err.startswith(message)


def test_short_simulated_run_prints_progress_and_summary(capsys):
    code = main(["run", str(SMALL_SITE), "--sim", "--auto-ports", "--speed", "max", "--until", "10m",
                 "--start", "2025-07-16T10:00", "--store", "memory", "--progress-min", "5"])
    out = capsys.readouterr().out
    assert code == 0
    assert "microgrid run small_factory: simulator, as fast as possible, cycle 2 s, start 2025-07-16 10:00" in out
    assert "07-16 10:05 normal" in out
    assert "KPI summary, 0.17 h of site time (300 cycles" in out
    for line in ("figures from", "green power", "CO2", "energy cost", "demand charge", "storage", "PV", "tracking",
                 "limits"):
        assert f"\n  {line}" in out
