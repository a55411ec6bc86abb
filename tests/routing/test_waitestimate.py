"""The expected wait on hold (`routing.waitestimate`): the live departures rate, the advisors'
elapsed-aware releases, the configured default, and the line's record of departures."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from routing.callqueue import CallQueue
from routing.waitestimate import (
    DEPARTURE_WINDOW_SECONDS,
    MIN_DEPARTURES,
    WaitFacts,
    departure_rate,
    expected_wait,
    kth_release,
)

NOW = datetime(2026, 11, 17, 16, 0, tzinfo=UTC)
T = NOW.timestamp()


def ago(*seconds: float) -> tuple[float, ...]:
    return tuple(T - s for s in seconds)


CASES = [
    # (what, facts, expected seconds)
    ("nobody staffed: no honest estimate", WaitFacts(position=3, staffed=0), None),
    ("not behind anyone", WaitFacts(position=0, staffed=2), 0.0),
    (
        "surge, first seconds, no history: the default handle time less what each call has run",
        WaitFacts(position=1, staffed=1, call_started=ago(10)),
        290.0,
    ),
    (
        "one advisor 4 min into a 5 min call frees in one, the next caller a handle later",
        WaitFacts(position=2, staffed=1, call_started=ago(240)),
        360.0,
    ),
    (
        "an advisor past the average is expected to finish soon (a fifth of the handle), not at once",
        WaitFacts(position=1, staffed=1, call_started=ago(900)),
        60.0,
    ),
    (
        "a wrapping-up advisor frees when the wrap-up ends",
        WaitFacts(position=1, staffed=2, call_started=ago(5), wrap_until=(T + 20,)),
        20.0,
    ),
    ("a free advisor takes the first caller now", WaitFacts(position=1, staffed=2, free=1, call_started=ago(5)), 0.0),
    (
        "recent handle history replaces the default",
        WaitFacts(position=3, staffed=2, call_started=ago(10, 20), handle_seconds=100.0),
        180.0,  # frees at 80 and 90; the third release is 80 + 100
    ),
    (
        "the configured default when there is no history",
        WaitFacts(position=1, staffed=1, call_started=ago(30), default_handle_seconds=120.0),
        90.0,
    ),
    ("signed in but no detail (on a call with no start): a whole handle time", WaitFacts(position=1, staffed=1), 300.0),
    (
        "first minute of a surge: 10 departures over the last 20 s say 0.5 callers a second",
        WaitFacts(
            position=20, staffed=15, call_started=ago(*[5] * 15), departures=ago(*range(2, 21, 2)), handle_seconds=12.0
        ),
        40.0,  # the old rule (position x 300 s / 15) said 400 s
    ),
    (
        "first seconds of a surge, the first calls ended: their handle time, not the default",
        WaitFacts(position=20, staffed=15, call_started=ago(*[3] * 15), handle_seconds=12.0),
        21.0,  # 15 free at 9 s, the next 15 at 21 s
    ),
    (
        "too few departures to go by: the advisors' releases",
        WaitFacts(position=1, staffed=1, call_started=ago(60), departures=ago(1, 2)),
        240.0,
    ),
    (
        "a burst of departures shorter than a handle time says nothing of the rate: the releases",
        WaitFacts(position=6, staffed=6, call_started=ago(*[1] * 6), departures=ago(*[0.5] * 6)),
        299.0,  # a rate over half a second would have said 1 s
    ),
    (
        "the rate once the departures span a handle time",
        WaitFacts(position=6, staffed=6, call_started=ago(*[1] * 6), departures=ago(*range(10, 301, 10))),
        60.0,  # 30 over 300 s
    ),
]


@pytest.mark.parametrize(("what", "facts", "expected"), CASES, ids=[c[0] for c in CASES])
def test_expected_wait(what, facts, expected):
    assert expected_wait(facts, NOW) == expected


def test_departures_outside_the_window_do_not_count():
    old = ago(*[DEPARTURE_WINDOW_SECONDS + 10 + i for i in range(20)])
    assert departure_rate(old, T, 60.0) is None
    assert departure_rate(ago(*range(1, MIN_DEPARTURES)), T, 1.0) is None
    assert departure_rate(ago(*range(1, 31)), T, 30.0) == pytest.approx(30 / 30)
    assert departure_rate(ago(*range(1, 31)), T, 31.0) is None  # less than a handle time: too little
    assert departure_rate(ago(*range(1, 31)), T, 3600.0) is None


facts_st = st.builds(
    WaitFacts,
    position=st.integers(1, 300),
    staffed=st.integers(0, 30),
    free=st.integers(0, 5),
    call_started=st.lists(st.floats(T - 3600, T + 5), max_size=30).map(tuple),
    wrap_until=st.lists(st.floats(T - 120, T + 120), max_size=10).map(tuple),
    departures=st.lists(st.floats(T - 600, T), max_size=40).map(tuple),
    handle_seconds=st.none() | st.floats(0, 3600),
    default_handle_seconds=st.floats(1, 3600),
)


@given(facts=facts_st)
@settings(max_examples=200, deadline=None)
def test_never_negative_and_monotone_in_position(facts):
    wait = expected_wait(facts, NOW)
    if facts.staffed == 0:
        assert wait is None
        return
    assert wait is not None and wait >= 0
    later = expected_wait(replace(facts, position=facts.position + 1), NOW)
    assert later is not None and later >= wait


@given(position=st.integers(1, 50), staffed=st.integers(1, 20), handle=st.floats(10, 1000))
@settings(max_examples=60, deadline=None)
def test_with_every_advisor_just_started_it_is_the_plain_rule_rounded_up(position, staffed, handle):
    facts = WaitFacts(position=position, staffed=staffed, call_started=(T,) * staffed)
    rounds = (position - 1) // staffed + 1
    assert kth_release(facts, T, handle) == pytest.approx(rounds * handle)


def test_the_line_records_departures_by_skill(redis_client):
    q = CallQueue(redis_client)
    q.departed("a", "attendance", NOW - timedelta(seconds=10))
    q.departed("b", None, NOW - timedelta(seconds=5))
    q.departed("c", "grade_book", NOW - timedelta(seconds=1))
    q.departed("old", "attendance", NOW - timedelta(seconds=DEPARTURE_WINDOW_SECONDS + 1))
    assert sorted(q.departures(None, NOW)) == sorted(ago(10, 5, 1))  # a general call: everyone's
    assert sorted(q.departures("attendance", NOW)) == sorted(ago(10, 5))  # its skill and general calls
    q.departed("d", None, NOW + timedelta(seconds=DEPARTURE_WINDOW_SECONDS))  # trims the old ones
    assert q.departures("attendance", NOW + timedelta(seconds=DEPARTURE_WINDOW_SECONDS)) == (
        T + DEPARTURE_WINDOW_SECONDS,
    )
