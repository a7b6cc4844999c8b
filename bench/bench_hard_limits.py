"""Benchmark: hard limits held on the TRUE flows, for the reference park and generated parks.

For each site, one closed-loop run (simulator over Modbus TCP on loopback + drivers + runtime, stepped
clock, in-memory store; see ``tests/control/limitloop.py``) and, from the simulator's true flows:

- seconds with import above the PCC import cap, export above the export limit, and power through each
  transformer (its tenant meter, true value) above its rating;
- realised peak (highest 15-min mean of the true import) against the planned peak (the peak of the plan in
  force at the start), as a ratio; realised energy cost (true import at the plan's prices) against the plan's
  over the same cycles;
- wall time of the run (machine-dependent; the limits are not).

Run: ``.venv/bin/python bench/bench_hard_limits.py [--sites 5] [--hours 24] [--from 00:00] [--cycle-s 10]``
(also ``bench/bench_closed_loop.py --limits``). Results go to docs/performance.md.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from microgrid.site import load_site  # noqa: E402
from tests.control.limitloop import judge, run_day  # noqa: E402
from tests.sitegen import generate_site  # noqa: E402


async def one_site(site, start: datetime, hours: float, cycle_s: float) -> dict:
    trafo_s: dict[str, float] = {}
    trafos = {t.lv_bus: t for t in site.network.transformers}
    meters = {m.id: trafos[m.bus] for m in site.meters if m.scope == "tenant" and m.bus in trafos}
    t0 = time.perf_counter()
    day = await run_day(site, start, cycle_s=cycle_s, hours=hours, intraday_every_min=60,
                        _progress=lambda rt, park: _watch(park, trafo_s, meters, cycle_s))
    wall = time.perf_counter() - t0
    cap, export = site.grid.import_cap_kw, site.grid.export_limit_kw
    realised, plan_peak = day.realised_peak_kw(), day.first_plan_peak_kw()
    cost, plan_cost = day.cost_cny()
    return {"site": site.id, "wall_s": wall, "cap_kw": cap, "s_above_cap": day.seconds_above(cap),
            "s_above_export": day.seconds_above(export, sign=-1.0), "s_above_transformer": trafo_s,
            "realised_peak_kw": realised, "planned_peak_kw": plan_peak,
            "peak_ratio": realised / plan_peak if plan_peak > 0 else float("nan"),
            "cost_ratio": cost / plan_cost if plan_cost > 0 else float("nan"),
            "judged": "; ".join(judge(day)) or "all held"}


def _watch(park, trafo_s, meters, cycle_s) -> None:
    state = park.state()
    for meter_id, trafo in meters.items():
        if state.meter_kw.get(meter_id, 0.0) > trafo.sn_kva * trafo.max_loading_pct / 100:
            trafo_s[trafo.id] = trafo_s.get(trafo.id, 0.0) + cycle_s


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sites", type=int, default=5, help="generated sites (seeds 0..N-1) besides the reference park")
    parser.add_argument("--hours", type=float, default=24.0)
    parser.add_argument("--from", dest="start", default="00:00", help="local start time HH:MM")
    parser.add_argument("--day", default="2026-07-15", help="simulated local day (a July weekday)")
    parser.add_argument("--cycle-s", type=float, default=10.0)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        sites = [load_site(ROOT / "site_configs" / "putian_hitech")]
        sites += [load_site(generate_site(seed, tmp)) for seed in range(args.sites)]
        print(f"{args.day} {args.start} + {args.hours:g} h, cycle {args.cycle_s:g} s (shared machine)")
        print("| site | import cap kW | s above cap | s above export limit | s above a transformer | "
              "realised / planned peak kW | ratio | realised / planned cost | judged (tests/control/limitloop.py) | wall s |")
        print("|---|---|---|---|---|---|---|---|---|---|")
        for site in sites:
            start = datetime.fromisoformat(f"{args.day}T{args.start}").replace(tzinfo=ZoneInfo(site.timezone))
            r = asyncio.run(one_site(site, start, args.hours, args.cycle_s))
            trafo = ", ".join(f"{k} {v:.0f}" for k, v in r["s_above_transformer"].items()) or "0"
            print(f"| {r['site']} | {r['cap_kw']:.0f} | {r['s_above_cap']:.0f} | {r['s_above_export']:.0f} | {trafo} | "
                  f"{r['realised_peak_kw']:.0f} / {r['planned_peak_kw']:.0f} | {r['peak_ratio']:.3f} | {r['cost_ratio']:.3f} | "
                  f"{r['judged']} | {r['wall_s']:.0f} |",
                  flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
