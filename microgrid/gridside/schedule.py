"""DR schedule file (``gridside.demand_response.schedule_file``): events announced ahead, loaded at start.

YAML, a list of events (times local ISO with or without offset; without, the site's time zone)::

    - {id: dr_0715_am, start: "2026-07-15T10:00", end: "2026-07-15T11:00", max_import_kw: 3500}
    - {id: dr_0715_pm, start: "2026-07-15T17:00", end: "2026-07-15T18:00", reduction_kw: 800}

A bad file is one clear error naming the entry and field (exit 2); an event the caps refuse (e.g. out of
range) is refused like any command (audited) and named in the returned list.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from microgrid.control.gridcaps import CommandRefused, DREvent, GridCaps
from microgrid.errors import UserError


class ScheduledEvent(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str = Field(pattern=r"^[A-Za-z0-9_.:-]{1,64}$")
    start: datetime
    end: datetime
    max_import_kw: float | None = Field(default=None, ge=0)
    reduction_kw: float | None = Field(default=None, gt=0)


def read_schedule(path: str | Path, timezone: str) -> list[DREvent]:
    """The events of a schedule file; :class:`UserError` naming the problem otherwise."""
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or []
    except (OSError, yaml.YAMLError) as exc:
        raise UserError.of("uerr.dr_unreadable", path=str(path), detail=str(exc)) from None
    if not isinstance(data, list):
        raise UserError.of("uerr.dr_not_list", path=str(path))
    tz = ZoneInfo(timezone)
    out = []
    for i, item in enumerate(data):
        try:
            e = ScheduledEvent.model_validate(item)
        except ValidationError as exc:
            err = exc.errors()[0]
            field = ".".join(str(x) for x in err["loc"])
            raise UserError.of("uerr.dr_field", path=str(path), n=i + 1, field=field, detail=err["msg"]) from None
        start = e.start if e.start.tzinfo else e.start.replace(tzinfo=tz)
        end = e.end if e.end.tzinfo else e.end.replace(tzinfo=tz)
        if (e.max_import_kw is None) == (e.reduction_kw is None):
            raise UserError.of("uerr.dr_one_of", path=str(path), n=i + 1, id=e.id)
        out.append(DREvent(id=e.id, start=start, end=end, max_import_kw=e.max_import_kw, reduction_kw=e.reduction_kw,
                           source="schedule", user=path.name))
    return out


def load_schedule(caps: GridCaps, path: str | Path, now: datetime, timezone: str) -> list[str]:
    """Hand the file's future events to ``caps``; returns 'id: cause' for each one refused."""
    refused = []
    for event in read_schedule(path, timezone):
        if event.end <= now:
            continue
        try:
            caps.add_event(event, now)
        except CommandRefused as exc:
            refused.append(f"{event.id}: {exc}")
    return refused
