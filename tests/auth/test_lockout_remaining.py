"""`Lockout.locked_for`: how long until a locked number or contact ID may try again, for the
lockout message (issue #15 item 5c), in Redis and in the database stand-in."""

from __future__ import annotations

from datetime import timedelta

import pytest

from auth.callers import LOCK_SECONDS, MAX_FAILURES, WINDOW_SECONDS, Lockout
from casestore.redisguard import Breaker

NUMBER = "+16125550134"


def test_redis_lock_counts_down(redis_client, clock):
    lockout = Lockout(redis_client, breaker=Breaker())
    assert lockout.locked_for(clock(), number=NUMBER) == 0
    for _ in range(MAX_FAILURES - 1):
        lockout.attempt(clock(), False, number=NUMBER, contact_id="104233")
        clock.advance(minutes=1)
    assert lockout.locked_for(clock(), number=NUMBER) == 0  # not locked yet
    assert lockout.attempt(clock(), False, number=NUMBER, contact_id="104233").locked
    assert lockout.locked_for(clock(), number=NUMBER) == pytest.approx(LOCK_SECONDS)
    clock.advance(minutes=10)
    assert lockout.locked_for(clock(), number=NUMBER) == pytest.approx(LOCK_SECONDS - 600)
    assert lockout.locked_for(clock(), contact_id="104233") == pytest.approx(LOCK_SECONDS - 600)
    assert lockout.locked_for(clock(), number="+16125559999") == 0
    assert lockout.locked_for(clock()) == 0
    clock.advance(minutes=6)
    assert lockout.locked_for(clock(), number=NUMBER) == 0


def test_database_lock_lasts_until_the_oldest_counted_failure_leaves_the_window(dead_redis, session, clock):
    lockout = Lockout(dead_redis, session=session, breaker=Breaker())
    start = clock()
    for _ in range(MAX_FAILURES):
        lockout.attempt(clock(), False, number=NUMBER)
        clock.advance(minutes=2)
    # Failures at +0, +2 and +4 minutes; now +6: locked until the first leaves, at +15.
    assert lockout.locked(clock(), number=NUMBER)
    assert lockout.locked_for(clock(), number=NUMBER) == pytest.approx(WINDOW_SECONDS - 6 * 60)
    clock.set(start + timedelta(minutes=15, seconds=1))
    assert lockout.locked_for(clock(), number=NUMBER) == 0
