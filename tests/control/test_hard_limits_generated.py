"""Hard limits on generated parks, judged on the simulator's TRUE flows (issue 12 acceptance).

Every generated site (tests/sitegen) runs in closed loop over real Modbus TCP on a stepped clock, from the
plan made at start, through the July afternoon in which its import cap binds (15:00–19:00: the peak and
critical-peak hours, where the unmanaged net demand crosses the cap). For every physics step: import above
the cap or export above the limit for at most 2 consecutive control cycles and never by more than 2 % of
the cap; battery power within its rating; SoC and tank temperature inside their bounds; no EV/deferrable
energy left undelivered at a deadline.

Which parks: ``SEEDS`` below. The control cycle is 10 s (the site files say 2 s): SunSpec devices drop to their safe state when their
heartbeat register has not changed for 30 s, so no slower cycle is faithful; 10 s keeps 20 sites × 4 h
inside the test-time budget (a whole day each would be six times as long). Deterministic: time moves only by control cycles; no wall-clock assertion.
"""

from __future__ import annotations

import os
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from microgrid.site import load_site
from tests.control.aio import async_test
from tests.control.limitloop import judge, run_day
from tests.sitegen import generate_site

TZ = ZoneInfo("Asia/Shanghai")
START = datetime(2026, 7, 15, 15, 0, tzinfo=TZ)  # a July Wednesday (critical-peak month)
SEEDS = [int(x) for x in os.environ.get("MICROGRID_LIMIT_SEEDS", " ".join(map(str, range(20)))).replace(",", " ").split()]
"""Generated parks to run: the issue's 20 (seeds 0–19, about one CPU-minute each on this machine, see
docs/performance.md; ``make test`` spreads them over the cores). ``MICROGRID_LIMIT_SEEDS="0 4"`` picks some
for the inner loop: seed 0, and seed 4 (a 240 kW cap with a shiftable load that stops deferring at its backlog
limit: the oscillation found on 2026-12-07)."""


@pytest.mark.slow
@pytest.mark.parametrize("seed", SEEDS)
@async_test
async def test_generated_site_keeps_every_hard_limit(seed, tmp_path):
    site = load_site(generate_site(seed, tmp_path))
    day = await run_day(site, START, cycle_s=10.0, hours=4.0, intraday_every_min=60)
    assert day.steps, "the loop did not run"
    assert judge(day) == []
    # the loop really commanded the flexible assets (not left to their local control)
    commanded = set(day.runtime._commanded)
    assert {b.id for b in site.assets.batteries} <= commanded
    assert {h.id for h in site.assets.heat_pumps} <= commanded
