"""Issue #13 item 3: a line-wide ceiling on PIN failures. An attacker spoofing caller IDs across
many contacts used to get 276 guesses an hour (23 contacts x 3 per 15 minutes); past the ceiling
(PIN_FAILURE_CEILING wrong PINs in 10 minutes) the line turns strict for an hour: every number and
contact ID gets one try per window, every call one try after a pause, and the crossing is logged
once and counted (`supportline_pin_ceiling_crossings_total`, `supportline_pin_ceiling_active`).
"""

from __future__ import annotations

import itertools
import logging

import pytest

from auth.callers import DEFAULT_LINE_CEILING, Lockout
from casestore.redisguard import Breaker
from tests.factories import World
from tests.webhooks.test_metrics import delta, scrape, value

CONTACTS = 23


def guesses_per_hour(redis_client, clock, ceiling: int, hours: int = 2) -> list[int]:
    """An attacker with a fresh spoofed number for every call, trying each of 23 contact IDs
    from three calls at once, every 5 minutes (the line refuses what it must): the wrong PINs
    evaluated in each hour."""
    lockout = Lockout(redis_client, ceiling=ceiling, breaker=Breaker())
    numbers = itertools.count()
    counts = []
    for _hour in range(hours):
        n = 0
        for _step in range(12):
            for c, _call in itertools.product(range(CONTACTS), range(3)):
                verdict = lockout.attempt(
                    clock(), False, number=f"+1763{next(numbers):07d}", contact_id=f"{300000 + c}"
                )
                n += not verdict.refused
            clock.advance(minutes=5)
        counts.append(n)
    return counts


def test_an_attacker_across_23_contacts_gets_far_fewer_guesses_an_hour(redis_client, clock, caplog):
    caplog.set_level(logging.WARNING, logger="supportline.auth")
    without = guesses_per_hour(redis_client, clock, ceiling=0)
    assert without == [276, 276]  # the figure of the issue: 23 x 3 per 15 minutes
    assert "ceiling" not in caplog.text
    redis_client.flushdb()
    with_ceiling = guesses_per_hour(redis_client, clock, ceiling=DEFAULT_LINE_CEILING)
    assert max(with_ceiling) <= 115, with_ceiling  # 112 an hour: 2.5 times fewer
    # One warning per strict spell (an hour each), not one per call.
    assert 1 <= caplog.text.count("over the line-wide ceiling") <= 2


@pytest.fixture
def settings_overrides(settings_overrides):
    return {**settings_overrides, "pin_failure_ceiling": 3}


def test_past_the_ceiling_every_caller_waits_and_gets_one_try_and_it_is_logged_once_and_counted(
    sim, world: World, client, clock, caplog
):
    caplog.set_level(logging.WARNING, logger="supportline.auth")
    before = scrape(client)
    assert value(before, "supportline_pin_ceiling_active") == 0
    # Three wrong PINs from three numbers on three contact IDs: nobody is locked, but the line is at its ceiling.
    for i, cid in enumerate(["900001", "900002", "900003"]):
        t = sim.call(f"+1763555010{i}", keys=[f"{cid}#", "9999#"])
        assert t.said("did not match") if i < 2 else t.said("paused")  # the third call crossed it: it ends
    assert caplog.text.count("over the line-wide ceiling") == 1
    middle = scrape(client)
    assert delta(before, middle, "supportline_pin_ceiling_crossings_total") == 1
    assert value(middle, "supportline_pin_ceiling_active") == 1
    assert value(middle, "supportline_pin_failures_line") == 3

    # Now Omar, from his own number: a pause before the PIN prompt, and one wrong PIN ends the call.
    t = sim.call(World.OMAR_PHONE, keys=["1111#", "1357#"])
    assert "5 s of silence" in t.text
    assert t.said("paused") and not t.said("Thank you, Omar")
    # The right PIN still works for a caller who has not failed (after the pause).
    t = sim.call(World.DANA_PHONE, keys=["4821#"])
    assert "5 s of silence" in t.text and t.said("Thank you, Dana")
    after = scrape(client)
    assert caplog.text.count("over the line-wide ceiling") == 1  # still once
    assert delta(middle, after, "supportline_pin_ceiling_crossings_total") == 0

    # An hour later, with no failure since, the line is back to normal.
    clock.advance(minutes=61)
    t = sim.call(World.SHARED_PHONE, keys=["104300#", "1111#", "104300#", "2468#"])
    assert "s of silence" not in t.text and t.said("Thank you, Jo")
    assert value(scrape(client), "supportline_pin_ceiling_active") == 0


def test_with_redis_down_the_ceiling_is_counted_in_the_database(
    settings_overrides, engine, session_factory, dead_redis, clock, telephony, world: World
):
    from tests.conftest import AUTH_TOKEN, BASE_URL
    from twilio_doubles.simulator import CallSimulator, advance_clock
    from webhooks import create_app

    app = create_app(
        settings_overrides,
        engine=engine,
        sessions=session_factory,
        redis_client=dead_redis,
        clock=clock,
        telephony=telephony,
    )
    sim = CallSimulator(app.test_client(), base_url=BASE_URL, auth_token=AUTH_TOKEN, advance=advance_clock(clock))
    for i, cid in enumerate(["900001", "900002", "900003"]):
        sim.call(f"+1763555010{i}", keys=[f"{cid}#", "9999#"])
    t = sim.call(World.OMAR_PHONE, keys=["1111#", "1357#"])
    assert "5 s of silence" in t.text and t.said("paused") and not t.said("Thank you, Omar")
    clock.advance(minutes=11)  # the failures left the 10-minute window
    t = sim.call(World.DANA_PHONE, keys=["4821#"])
    assert "s of silence" not in t.text and t.said("Thank you, Dana")


def test_the_ceiling_is_a_setting():
    from webhooks.config import load_settings

    assert load_settings({}, environ={}).pin_failure_ceiling == DEFAULT_LINE_CEILING == 30
    assert load_settings({}, environ={"PIN_FAILURE_CEILING": "0"}).pin_failure_ceiling == 0
    assert "PIN_FAILURE_CEILING" in " ".join(load_settings({"pin_failure_ceiling": -1}).problems())
