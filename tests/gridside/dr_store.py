"""A stored fortnight of the small site with DR events, and the settlement rule recomputed with plain loops.

The store is written as the controller writes it: PCC interval energies (``e_import_kwh`` per 15 min) and the
DR events through the real :class:`GridCaps` into the real :class:`StoreAdapter` (``dr_event`` /
``dr_event_ended`` events). Import on an ordinary day ``d`` at interval ``i``: ``300 + 7 d + 5 (i mod 8)`` kW;
the event windows of 15 July have their own metered values; 14 July's event window has a metering gap.
"""

from __future__ import annotations

import shutil
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from microgrid.control.events import Event
from microgrid.control.gridcaps import DREvent, GridCaps
from microgrid.control.store_adapter import StoreAdapter
from microgrid.site import load_site
from microgrid.store import IntervalEnergy, Store, energy_sources_from_site
from tests.paths import SMALL_SITE

TZ = ZoneInfo("Asia/Shanghai")
FIRST, LAST = date(2026, 7, 5), date(2026, 7, 15)  # Sunday .. Wednesday
STEP = 15
RATE, PENALTY = 2.5, 1.0
GRIDSIDE = f"""
gridside:
  demand_response:
    compensation_cny_per_kwh: {RATE}
    shortfall_penalty_cny_per_kwh: {PENALTY}
    baseline: {{rule: similar_days, days: 5, lookback_days: 10, same_day_type: true, exclude_event_days: true,
               min_days: 3}}
"""


def at(day: int, hh: int, mm: int = 0) -> datetime:
    return datetime(2026, 7, day, hh, mm, tzinfo=TZ)


# (id, start, end, max_import_kw, reduction_kw, ended early at)
EVENTS = [
    ("dr-tue7", at(7, 10), at(7, 11), 250.0, None, None),  # too few metered similar days before it: no baseline
    ("dr-mon13", at(13, 10), at(13, 11), 300.0, None, None),
    ("dr-gap14", at(14, 12), at(14, 13), 300.0, None, None),  # its window has a metering gap
    ("dr-am15", at(15, 10), at(15, 11), 320.0, None, None),
    ("dr-pm15", at(15, 15), at(15, 16), None, 100.0, None),  # reduction against a baseline of 420 kW
    ("dr-eve15", at(15, 17), at(15, 18), 330.0, None, at(15, 17, 30)),  # ended after half an hour
]
EVENT_DAY_KW = {("dr-am15", k): 300.0 + 10 * k for k in range(4)}  # 300, 310, 320, 330 kW
EVENT_DAY_KW |= {("dr-pm15", k): 350.0 for k in range(4)}
EVENT_DAY_KW |= {("dr-eve15", k): 500.0 for k in range(4)}  # no reduction at all


def ordinary_kw(d: date, i: int) -> float:
    return 300.0 + 7 * d.day + 5 * (i % 8)


def metered() -> dict[datetime, float]:
    """The true mean import per interval start (local), kW; missing intervals absent."""
    out = {}
    d = FIRST
    while d <= LAST:
        for i in range(96):
            ts = datetime.combine(d, time(), TZ) + timedelta(minutes=STEP * i)
            out[ts] = ordinary_kw(d, i)
        d += timedelta(days=1)
    for eid, start, *_ in EVENTS:
        for k in range(4):
            if (eid, k) in EVENT_DAY_KW:
                out[start + timedelta(minutes=STEP * k)] = EVENT_DAY_KW[(eid, k)]
    del out[at(14, 12, 15)]  # the gap in dr-gap14's window
    return out


def site_with_gridside(tmp_path):
    folder = tmp_path / "site"
    shutil.copytree(SMALL_SITE, folder)
    with (folder / "site.yaml").open("a", encoding="utf-8") as fh:
        fh.write(GRIDSIDE)
    return load_site(folder)


def write_store(site, url: str) -> Store:
    """The fortnight's PCC energies and the DR events, as the controller stores them."""
    store = Store.open(url, site_id=site.id, timezone=site.timezone, energy_sources=energy_sources_from_site(site))
    rows = []
    for ts, kw in metered().items():
        for q, v in (("e_import_kwh", kw * STEP / 60), ("e_export_kwh", 0.0)):
            rows.append(IntervalEnergy(ts=ts, interval_min=STEP, source_id="meter_pcc", quantity=q, value=v,
                                       coverage_pct=100, flag="ok", method="counter"))
    store.write_interval_energies(rows)
    adapter = StoreAdapter(store, site)
    clock = {"now": at(1, 0)}
    caps = GridCaps(site, lambda kind, msg, sev, src, **data: adapter.add_event(
        Event(clock["now"], kind, msg, sev, src, data)), baseline=lambda a, b: 420.0)
    for eid, start, end, cap, red, ended in EVENTS:
        clock["now"] = start - timedelta(hours=2)  # announced two hours ahead
        caps.add_event(DREvent(eid, start, end, max_import_kw=cap, reduction_kw=red, source="api", user="op"),
                       clock["now"])
        if ended is not None:
            clock["now"] = ended
            caps.end_event(eid, ended, source="api", user="op")
    adapter.flush()
    return store


def expected(first: date, last: date) -> list[dict]:
    """Every event overlapping local days ``first .. last`` settled by the rule of docs/gridside.md, recomputed
    here from :func:`metered` with loops (kWh, CNY)."""
    kw = metered()
    event_days = {start.date() for _, start, *_ in EVENTS}
    out = []
    for eid, start, end, cap, red, ended in EVENTS:
        end = ended or end
        if not (first <= start.date() <= last):
            continue
        slots = []
        t = start
        while t < end:
            slots.append(t)
            t += timedelta(minutes=STEP)
        row = {"event_id": eid, "metered_kwh": sum(kw.get(s, 0.0) for s in slots) * STEP / 60,
               "baseline_kwh": None, "note_code": ""}
        if any(s not in kw for s in slots):
            row["note_code"] = "not_metered"
            out.append(row)
            continue
        days = []
        for back in range(1, 11):
            d = start.date() - timedelta(days=back)
            if len(days) == 5 or d.weekday() >= 5 or d in event_days:
                continue
            if all(datetime.combine(d, s.timetz()) in kw for s in slots):
                days.append(d)
        row["baseline_days"] = days
        if len(days) < 3:
            row["note_code"] = "no_baseline"
            out.append(row)
            continue
        base = [sum(kw[datetime.combine(d, s.timetz())] for d in days) / len(days) for s in slots]
        b = sum(base) * STEP / 60
        m = row["metered_kwh"]
        cap_kw = cap if cap is not None else 420.0 - red
        requested = red * len(slots) * STEP / 60 if red is not None else \
            sum(max(x - cap_kw, 0.0) for x in base) * STEP / 60
        delivered = max(b - m, 0.0)
        shortfall = max(requested - delivered, 0.0)
        row |= {"baseline_kwh": b, "requested_kwh": requested, "delivered_kwh": delivered,
                "shortfall_kwh": shortfall, "cap_kw": cap_kw,
                "compensation_cny": min(delivered, requested) * RATE, "penalty_cny": shortfall * PENALTY}
        out.append(row)
    return out
