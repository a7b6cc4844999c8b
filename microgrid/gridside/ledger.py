"""The DR events stored for a period, settled from the stored PCC interval energies (report section and API).

Events come from the store's audit (``dr_event`` events: the accepted event as announced, the last one per id
wins; ``dr_event_ended``: the window cut at that time, an event ended before its start is dropped). The metered
import is the PCC meter's ``e_import_kwh`` per interval as mean kW; an interval without a stored value is
missing (the baseline rule skips days with a gap, an event whose window has a gap is "not metered").
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime, timedelta

import pandas as pd

from microgrid.control.gridcaps import DREvent
from microgrid.errors import UserError
from microgrid.gridside.settlement import Settlement, settle
from microgrid.site.metering import MeteringTopology
from microgrid.site.models import Site
from microgrid.store import Store

MAX_DAYS = 366
"""Longest period the API settles at once (days); a report settles its whole period."""


def stored_events(store: Store, start: datetime, end: datetime) -> list[DREvent]:
    """DR events whose window overlaps ``[start, end)``, as last announced and cut where ended early."""
    events: dict[str, DREvent] = {}
    ended: dict[str, datetime] = {}
    for category in ("dr_event", "dr_event_ended"):
        cursor = None
        while True:
            page = store.events(category=category, limit=1000, cursor=cursor)
            for e in page.items:
                if category == "dr_event" and isinstance(e.data.get("event"), dict):
                    event = DREvent.from_dict(e.data["event"])
                    events[event.id] = event
                    ended.pop(event.id, None)  # a re-announced id starts afresh
                elif category == "dr_event_ended" and e.data.get("id") and e.data.get("end"):
                    ended[str(e.data["id"])] = datetime.fromisoformat(str(e.data["end"]))
            if not page.next_cursor:
                break
            cursor = page.next_cursor
    out = []
    for event in events.values():
        stop = min(event.end, ended.get(event.id, event.end))
        if stop > event.start and event.start < end and stop > start:
            out.append(replace(event, end=stop))
    return sorted(out, key=lambda e: (e.start, e.id))


def metered_import_kw(store: Store, meter_id: str, start: datetime, end: datetime) -> pd.Series:
    """Mean PCC import per interval, kW (index: interval starts in the store's zone; NaN where missing)."""
    step = store.interval_min
    frame = store.interval_frame(start, end, source_ids=[meter_id], quantities=["e_import_kwh"])
    index = pd.date_range(pd.Timestamp(start), pd.Timestamp(end), freq=f"{step}min", inclusive="left")
    values = pd.Series(frame["value"].to_numpy(dtype=float) * 60.0 / step, index=pd.DatetimeIndex(frame["ts"]))
    values = values[~values.index.duplicated(keep="last")]
    return values.reindex(index.tz_convert("UTC")).set_axis(index)


def settlements(site: Site, store: Store, first_day: date, last_day: date) -> list[Settlement]:
    """Every DR event overlapping the local days ``[first_day, last_day]``, settled (docs/gridside.md)."""
    if last_day < first_day:
        raise UserError.of("uerr.dr_period", last=str(last_day), first=str(first_day))
    pcc = MeteringTopology(site).pcc
    if pcc is None:
        raise UserError.of("uerr.dr_no_pcc", site=site.id)
    dr = site.gridside.demand_response
    start, _ = store.day_bounds(first_day)
    _, end = store.day_bounds(last_day)
    lookback, _ = store.day_bounds(first_day - timedelta(days=dr.baseline.lookback_days))
    known = stored_events(store, lookback, end)  # the period's events and those of the baseline days
    events = [e for e in known if e.end > start]
    if not events:
        return []
    metered = metered_import_kw(store, pcc.id, lookback, end)
    tz = metered.index.tz
    # days with an event of their own are no similar days (the rule's exclude_event_days)
    event_days = {e.start.astimezone(tz).date() for e in known}
    return [settle(event, metered, dr, site.timezone, event_days) for event in events]
