"""DR events over the operator API on the real runtime: announce, refuse with the cause, list, end; audited."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import httpx

from api import Settings
from api.serve import app_for_runtime, ensure_demo_user
from tests.control.aio import async_test
from tests.control.simloop import close_loop, open_loop

TZ = ZoneInfo("Asia/Shanghai")
START = datetime(2026, 7, 15, 9, 0, tzinfo=TZ)


@async_test
async def test_dr_events_over_the_api(small_site, tmp_path):
    loop = await open_loop(small_site, START, tmp_path)
    rt = loop.runtime
    try:
        await rt.start()
        app = app_for_runtime(rt, loop.store, rt.site, Settings.for_dev())
        headers = {"Authorization": f"Bearer {ensure_demo_user(loop.store)}"}
        start, end = START + timedelta(minutes=30), START + timedelta(minutes=90)
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client:
            ok = await client.post("/api/v1/dr-events", headers=headers, json={
                "id": "dr1", "start": start.isoformat(), "end": end.isoformat(), "max_import_kw": 300})
            assert ok.status_code == 201, ok.text
            assert ok.json()["cap_kw"] == 300 and ok.json()["user"] == "demo"
            bad = await client.post("/api/v1/dr-events", headers=headers, json={
                "id": "dr2", "start": start.isoformat(), "end": (start + timedelta(minutes=5)).isoformat(),
                "max_import_kw": 300})
            assert bad.status_code == 422 and "lasts 5 min" in bad.json()["detail"]
            naive = await client.post("/api/v1/dr-events", headers=headers, json={
                "id": "dr3", "start": "2026-07-15T10:00:00", "end": "2026-07-15T11:00:00", "max_import_kw": 300})
            assert naive.status_code == 422
            listed = (await client.get("/api/v1/dr-events", headers=headers)).json()
            assert [e["id"] for e in listed["items"]] == ["dr1"]
            assert listed["import_cap_kw"] == small_site.grid.import_cap_kw  # not yet in force
            assert rt.gridcaps.import_cap_kw(start + timedelta(minutes=1)) == 300
            gone = await client.delete("/api/v1/dr-events/dr1", headers=headers)
            assert gone.status_code == 204
            assert (await client.delete("/api/v1/dr-events/dr1", headers=headers)).status_code == 404
        assert rt.gridcaps.events == {}
        kinds = [e.kind for e in rt.events.recent]
        assert "dr_event" in kinds and "dr_event_ended" in kinds
    finally:
        await close_loop(loop)
