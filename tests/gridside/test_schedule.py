"""DR schedule file: events in site time, one clear error per bad entry, refusals named."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from microgrid.control.gridcaps import GridCaps
from microgrid.errors import UserError
from microgrid.gridside.schedule import load_schedule, read_schedule

TZ = ZoneInfo("Asia/Shanghai")


def test_events_load_in_site_time_and_refusals_are_named(small_site, tmp_path):
    path = tmp_path / "dr.yaml"
    path.write_text('- {id: am, start: "2026-07-15T10:00", end: "2026-07-15T11:00", max_import_kw: 300}\n'
                    '- {id: big, start: "2026-07-15T12:00", end: "2026-07-15T13:00", max_import_kw: 9000}\n'
                    '- {id: old, start: "2026-07-14T12:00", end: "2026-07-14T13:00", max_import_kw: 300}\n')
    caps = GridCaps(small_site)
    refused = load_schedule(caps, path, datetime(2026, 7, 15, 8, 0, tzinfo=TZ), small_site.timezone)
    assert list(caps.events) == ["am"] and caps.events["am"].start == datetime(2026, 7, 15, 10, 0, tzinfo=TZ)
    assert refused == ["big: max import 9000 kW is outside 0 … 800 kW"]


@pytest.mark.parametrize(("text", "needle"), [
    ("- {id: a, start: soon, end: '2026-07-15T11:00', max_import_kw: 1}\n", "entry 1 field 'start'"),
    ("- {id: a, start: '2026-07-15T10:00', end: '2026-07-15T11:00'}\n", "exactly one"),
    ("{id: a}\n", "a list of events"),
    ("- [1, 2\n", "cannot read"),
])
def test_bad_files_are_one_clear_error(tmp_path, text, needle):
    path = tmp_path / "dr.yaml"
    path.write_text(text)
    with pytest.raises(UserError, match=needle):
        read_schedule(path, "Asia/Shanghai")
