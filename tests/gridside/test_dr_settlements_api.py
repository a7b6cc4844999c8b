"""``GET /api/v1/dr-settlements``: the stored DR events of a period settled, as JSON; viewer access; bad periods
answer 422 with the cause. Figures against the rule recomputed in tests/gridside/dr_store.py."""

from __future__ import annotations

from datetime import date

import httpx
import pytest

from api import Settings, create_app
from tests.api.inproc import InProcessControl, ManualClock
from tests.control.aio import async_test
from tests.gridside.dr_store import at, expected, site_with_gridside, write_store


@async_test
async def test_settlements_of_a_period_over_the_api(tmp_path):
    site = site_with_gridside(tmp_path)
    store = write_store(site, f"sqlite:///{tmp_path / 'run.sqlite'}")
    viewer = store.create_user("viewer_user", "viewer")[1]
    app = create_app(Settings.for_dev(), store, InProcessControl(site, store, ManualClock(at(16, 9))), site)
    try:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client:
            path = "/api/v1/dr-settlements?from=2026-07-14&to=2026-07-15"
            assert (await client.get(path)).status_code == 401
            r = await client.get(path, headers={"Authorization": f"Bearer {viewer}"})
            assert r.status_code == 200, r.text
            body = r.json()
            want = expected(date(2026, 7, 14), date(2026, 7, 15))
            assert [s["event_id"] for s in body["items"]] == [w["event_id"] for w in want]
            for s, w in zip(body["items"], want, strict=True):
                assert s["note_code"] == w["note_code"]
                for name in ("metered_kwh", "baseline_kwh", "requested_kwh", "delivered_kwh", "shortfall_kwh",
                             "compensation_cny", "penalty_cny"):
                    if name in w:
                        assert s[name] == pytest.approx(w[name], abs=1e-9), (s["event_id"], name)
            assert body["compensation_cny"] == pytest.approx(sum(w.get("compensation_cny", 0) for w in want))
            assert body["penalty_cny"] == pytest.approx(sum(w.get("penalty_cny", 0) for w in want))
            assert body["terms"]["baseline"]["days"] == 5
            for query, cause in (("from=2026-07-15&to=2026-07-14", "before from"),
                                 ("from=2025-01-01&to=2026-07-14", "at most 366"),
                                 ("from=2026-07-15", "to"), ("from=2026-13-01&to=2026-07-14", "from")):
                bad = await client.get(f"/api/v1/dr-settlements?{query}", headers={"Authorization": f"Bearer {viewer}"})
                assert bad.status_code == 422 and cause in bad.text, (query, bad.text)
    finally:
        store.close()
