"""DR events and metered intervals read back from the store and settled: every figure against the rule
recomputed with plain loops in tests/gridside/dr_store.py (not by calling settle())."""

from __future__ import annotations

from datetime import date

import pytest

from microgrid.errors import UserError
from microgrid.gridside.ledger import settlements, stored_events
from tests.gridside.dr_store import EVENTS, at, expected, site_with_gridside, write_store

FIGURES = ("metered_kwh", "baseline_kwh", "requested_kwh", "delivered_kwh", "shortfall_kwh", "compensation_cny",
           "penalty_cny", "cap_kw")


@pytest.fixture(scope="module")
def stored(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("ledger")
    site = site_with_gridside(tmp)
    store = write_store(site, f"sqlite:///{tmp / 'run.sqlite'}")
    yield site, store
    store.close()


def check(got, want) -> None:
    assert [s.event_id for s in got] == [w["event_id"] for w in want]
    for s, w in zip(got, want, strict=True):
        assert s.note_code == w["note_code"], s.event_id
        for name in FIGURES:
            if name in w:
                assert getattr(s, name) == pytest.approx(w[name], abs=1e-9), (s.event_id, name)
        if "baseline_days" in w:
            assert list(s.baseline_days) == w["baseline_days"], s.event_id
        if w["note_code"]:
            assert s.compensation_cny == 0.0 and s.penalty_cny == 0.0 and s.baseline_kwh is None
        else:
            assert s.delivery_pct == pytest.approx(100 * w["delivered_kwh"] / w["requested_kwh"])


def test_every_event_of_the_period_settled_from_the_store(stored):
    site, store = stored
    got = settlements(site, store, date(2026, 7, 7), date(2026, 7, 15))
    assert len(got) == len(EVENTS)
    check(got, expected(date(2026, 7, 7), date(2026, 7, 15)))
    # spot values worked out by hand: dr-am15 baseline = mean of 6, 8, 9, 10 July at 10:00-11:00
    am = next(s for s in got if s.event_id == "dr-am15")
    hand = sum(300 + 7 * d + 5 * (i % 8) for d in (6, 8, 9, 10) for i in range(40, 44)) / 4 / 4
    assert am.baseline_kwh == pytest.approx(hand) and am.metered_kwh == pytest.approx((300 + 310 + 320 + 330) / 4)
    eve = next(s for s in got if s.event_id == "dr-eve15")
    assert eve.end == at(15, 17, 30) and eve.metered_kwh == pytest.approx(250.0)  # cut where it was ended


def test_one_day_lists_only_its_events(stored):
    site, store = stored
    got = settlements(site, store, date(2026, 7, 13), date(2026, 7, 13))
    check(got, expected(date(2026, 7, 13), date(2026, 7, 13)))
    assert [s.event_id for s in got] == ["dr-mon13"]
    assert settlements(site, store, date(2026, 7, 11), date(2026, 7, 12)) == []
    assert [e.id for e in stored_events(store, at(15, 0), at(16, 0))] == ["dr-am15", "dr-pm15", "dr-eve15"]


def test_a_reversed_period_is_refused_with_the_cause(stored):
    site, store = stored
    with pytest.raises(UserError, match="2026-07-13 is before from 2026-07-15") as exc:
        settlements(site, store, date(2026, 7, 15), date(2026, 7, 13))
    assert exc.value.exit_code == 2 and exc.value.key == "uerr.dr_period"


def test_a_long_period_settles_every_event(stored):
    site, store = stored  # a report may cover years; only the API bounds its period
    assert len(settlements(site, store, date(2025, 1, 1), date(2026, 12, 31))) == len(EVENTS)
