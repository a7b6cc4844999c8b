"""The store under both engines while the runtime writes and the API reads at the same time.

A writer thread stands in for the controller runtime: every cycle it queues telemetry and an event in a
:class:`~microgrid.store.BufferedStore` and flushes it, as the runtime does once per control cycle. The main
thread reads the same telemetry through the served API. Readers must never fail nor see a sample that was
not written, and at the end every written sample is readable, exactly.
"""

from __future__ import annotations

import threading
import uuid
from datetime import UTC, datetime, timedelta

import pytest

from api import Settings, create_app
from microgrid.store import BufferedStore, Store, TelemetrySample
from tests.api.conftest import NOW, client
from tests.api.inproc import InProcessControl, ManualClock
from tests.api.server import live_server

CYCLES = 60
SAMPLES_PER_CYCLE = 5
MAX_READS = 400


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request, tmp_path):
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'store.sqlite'}"
    return request.getfixturevalue("pg_url")


@pytest.mark.slow
def test_runtime_writes_and_api_reads_at_the_same_time(store_url, small_site):
    site = small_site.model_copy(update={"id": f"c_{uuid.uuid4().hex[:8]}"})  # fresh rows on a shared server
    store = Store.open(store_url, site_id=site.id, timezone=site.timezone)
    meter = site.meters[0].id
    token = store.create_user(f"viewer_{uuid.uuid4().hex[:6]}", "viewer")[1]
    control = InProcessControl(site, store, ManualClock(NOW))
    app = create_app(Settings.for_dev(auth_rate_per_min=6000, auth_burst=1000), store, control, site)
    start = NOW - timedelta(minutes=30)
    written: dict[str, float] = {}
    errors: list[BaseException] = []
    done = threading.Event()

    def runtime() -> None:
        buffered = BufferedStore(Store.open(store_url, site_id=site.id, timezone=site.timezone),
                                 roll_up_every_s=None)
        try:
            for cycle in range(CYCLES):
                samples = []
                for k in range(SAMPLES_PER_CYCLE):
                    ts = start + timedelta(seconds=2 * (cycle * SAMPLES_PER_CYCLE + k))
                    value = 1000.0 + cycle + k / 10
                    samples.append(TelemetrySample(ts=ts, source_id=meter, quantity="p_kw", value=value))
                buffered.add_telemetry(samples)
                buffered.record_event("control", f"cycle {cycle}")
                report = buffered.flush(force=True)
                assert buffered.healthy, report
                for s in samples:
                    written[s.ts.isoformat()] = s.value
        except BaseException as exc:  # noqa: BLE001 - handed to the main thread
            errors.append(exc)
        finally:
            buffered.store.close()
            done.set()

    params = {"quantity": "p_kw", "start": start.isoformat(), "end": (NOW + timedelta(hours=1)).isoformat(),
              "limit": 5000}
    with live_server(app) as url, client(url, token) as http:
        writer = threading.Thread(target=runtime, name="runtime-writer")
        writer.start()
        reads, seen = 0, 0
        while not done.is_set() and reads < MAX_READS:
            resp = http.get(f"/api/v1/telemetry/{meter}", params=params)
            assert resp.status_code == 200, resp.text
            items = resp.json()["items"]
            assert len(items) >= seen  # rows only ever appear
            seen = len(items)
            values = [i["value"] for i in items]
            assert all(1000.0 <= v < 1000.0 + CYCLES + 1 for v in values)
            reads += 1
        writer.join()
        assert not errors, errors
        final = http.get(f"/api/v1/telemetry/{meter}", params=params).json()["items"]
        events = http.get("/api/v1/events", params={"limit": 500}).json()["items"]
    store.close()
    assert reads >= 1
    assert len(final) == CYCLES * SAMPLES_PER_CYCLE == len(written)
    got = {_iso(i["ts"]): i["value"] for i in final}
    assert got == {_iso(k): v for k, v in written.items()}
    assert sum(1 for e in events if e["message"].startswith("cycle ")) == CYCLES


def _iso(ts: str) -> str:
    """The instant in UTC, so that the API's and the writer's spellings compare."""
    return datetime.fromisoformat(ts.replace("Z", "+00:00")).astimezone(UTC).isoformat()
