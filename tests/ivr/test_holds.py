"""Advisor holds (`ivr.holds`): the database's reservation in degraded mode, and what presence is
rebuilt from after a Redis loss. Runs on SQLite and, in CI's second pass, on PostgreSQL."""

from __future__ import annotations

import threading
import time
import xml.etree.ElementTree as ET
from datetime import UTC, timedelta

import pytest
from sqlalchemy import delete, select, text
from sqlalchemy.orm import Session

from casestore.models import Advisor, AdvisorHold, CallLog
from ivr import holds, staffing
from routing.presence import Presence
from tests.conftest import AUTH_TOKEN, BASE_URL, TEST_DATABASE_URL
from tests.factories import World


def test_a_claim_holds_the_advisor_for_one_call_until_it_ends(session, world, clock):
    now = clock()
    pk = world.priya.id
    assert holds.claim(session, pk, "CA1", now) == holds.TAKEN
    assert holds.claim(session, pk, "CA2", now) == holds.HELD
    assert holds.claim(session, pk, "CA1", now) == holds.TAKEN  # the same call again (a retried webhook)
    assert set(holds.busy(session, now)) == {pk}
    assert holds.held_by(session, "CA1") == [pk]
    # The talk ends with a minute of wrap-up: still busy until then, free after.
    holds.end(session, pk, "CA1", now + timedelta(seconds=60))
    assert holds.held_by(session, "CA1") == []
    assert holds.claim(session, pk, "CA2", now + timedelta(seconds=59)) == holds.HELD
    assert pk in holds.busy(session, now + timedelta(seconds=59))
    assert pk not in holds.busy(session, now + timedelta(seconds=60))
    assert holds.claim(session, pk, "CA2", now + timedelta(seconds=60)) == holds.TAKEN
    assert session.get(AdvisorHold, pk).call_sid == "CA2"


def test_end_only_touches_the_calls_own_hold(session, world, clock):
    now = clock()
    holds.claim(session, world.priya.id, "CA1", now)
    holds.end(session, world.priya.id, "CA-other", now)  # a late callback of an earlier call
    assert holds.claim(session, world.priya.id, "CA2", now) == holds.HELD


def test_a_missed_ring_frees_at_once_and_the_final_status_frees_what_is_left(session, world, clock):
    now = clock()
    holds.claim(session, world.priya.id, "CA1", now)
    holds.end(session, world.priya.id, "CA1", now)
    assert holds.claim(session, world.priya.id, "CA2", now) == holds.TAKEN
    holds.claim(session, world.marcus.id, "CA2", now)
    holds.end_call(session, "CA2", now)  # the caller hung up: whatever CA2 held is free
    assert holds.busy(session, now) == {}


def test_a_hold_whose_call_has_ended_or_that_nobody_closed_does_not_keep_anyone(session, world, clock):
    now = clock()
    holds.claim(session, world.priya.id, "CAended", now)
    session.add(CallLog(call_sid="CAended", started_at=now, ended_at=now, outcome="connected"))
    holds.claim(session, world.marcus.id, "CAlost", now)
    session.flush()
    assert set(holds.busy(session, now)) == {world.marcus.id}
    later = now + holds.STALE_AFTER + timedelta(seconds=1)
    assert holds.busy(session, later) == {}
    assert holds.claim(session, world.marcus.id, "CAnext", later) == holds.TAKEN


def test_concurrent_claims_on_one_advisor_have_exactly_one_winner(engine):
    """Eight workers, each in its own transaction on its own connection, claim the same advisor
    for different calls at once: exactly one gets them."""
    with Session(engine) as s:
        advisor = Advisor(name="Hold Race", reach="+16125550199", signed_in_state="available")
        s.add(advisor)
        s.commit()
        pk = advisor.id
    from datetime import datetime

    now = datetime(2026, 11, 24, 16, tzinfo=UTC)
    barrier = threading.Barrier(8)
    wins: list[str] = []
    errors: list[BaseException] = []

    def worker(i: int) -> None:
        try:
            with Session(engine) as s:
                barrier.wait(timeout=10)
                if holds.claim(s, pk, f"CArace{i}", now) == holds.TAKEN:
                    wins.append(f"CArace{i}")
                s.commit()
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(8)]
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=30)
        assert not errors, errors
        assert len(wins) == 1
        with Session(engine) as s:
            assert s.get(AdvisorHold, pk).call_sid == wins[0]
    finally:
        with Session(engine) as s:
            s.execute(delete(AdvisorHold).where(AdvisorHold.advisor_id == pk))
            s.execute(delete(Advisor).where(Advisor.id == pk))
            s.commit()


@pytest.mark.skipif(not TEST_DATABASE_URL.startswith("postgresql"), reason="PostgreSQL row locks (CI's second pass)")
def test_a_claim_never_waits_for_a_row_another_transaction_has_locked(engine):
    """Two webhooks at once, each releasing its own call's advisor and then claiming the other's
    (a missed ring, then the next advisor): with claims that waited for row locks this is a
    deadlock that PostgreSQL breaks only after a second. A locked row counts as busy instead."""
    from datetime import datetime

    now = datetime(2026, 11, 24, 16, tzinfo=UTC)
    with Session(engine) as s:
        a, b = Advisor(name="Lock A", reach="+16125550191"), Advisor(name="Lock B", reach="+16125550192")
        s.add_all([a, b])
        s.commit()
        pa, pb = a.id, b.id
    s1, s2 = Session(engine), Session(engine)
    try:
        for s in (s1, s2):
            s.execute(text("SET lock_timeout = '2s'"))  # a regression fails here instead of hanging
        assert holds.claim(s1, pa, "CA1", now) == holds.claim(s2, pb, "CA2", now) == holds.TAKEN
        s1.commit()
        s2.commit()
        holds.end(s1, pa, "CA1", now)  # each releases its own advisor (row locked until commit)...
        holds.end(s2, pb, "CA2", now)
        started = time.perf_counter()
        # ...and tries the other's: being released right now (not held by a call), at once.
        assert holds.claim(s1, pb, "CA1", now) == holds.LOCKED
        assert holds.claim(s2, pa, "CA2", now) == holds.LOCKED
        assert time.perf_counter() - started < 0.5
        s1.commit()
        s2.commit()
        assert holds.claim(s1, pb, "CA1", now) == holds.TAKEN  # once committed, free to take
        s1.commit()
    finally:
        s1.close()
        s2.close()
        with Session(engine) as s:
            s.execute(delete(AdvisorHold).where(AdvisorHold.advisor_id.in_([pa, pb])))
            s.execute(delete(Advisor).where(Advisor.id.in_([pa, pb])))
            s.commit()


# --------------------------------------------------------------------------- presence after a loss


def test_presence_rebuilt_after_a_redis_loss_keeps_advisors_on_their_calls(session, world, redis_client, clock):
    now = clock()
    for advisor in (world.priya, world.marcus, world.lena):
        advisor.signed_in_state = "available"
    holds.claim(session, world.priya.id, "CAtalking", now)  # still talking
    holds.claim(session, world.marcus.id, "CAdone", now)
    holds.end(session, world.marcus.id, "CAdone", now + timedelta(seconds=45))  # wrapping up
    session.flush()
    redis_client.flushdb()  # Redis lost everything
    presence = Presence(redis_client)
    restored = staffing.restore(session, presence, now)
    assert restored == {world.priya.id: "on_call", world.marcus.id: "wrap_up", world.lena.id: "available"}
    assert presence.get(world.priya.id, now).call_sid == "CAtalking"
    assert presence.get(world.marcus.id, now + timedelta(seconds=44)).state == "wrap_up"
    assert presence.get(world.marcus.id, now + timedelta(seconds=45)).state == "available"
    # Nobody reserves Priya for another call; the dispatcher's reconcile keeps her on it (her
    # call's state went with Redis, but the database still holds her for it).
    assert presence.reserve([], skill=None, call_sid="CAnew", now=now, owner_pk=world.priya.id) is None
    staffing.reconcile(session, presence, redis_client, now, 60)
    assert presence.get(world.priya.id, now).state == "on_call"
    # The call ends (its final status): reconcile frees her.
    holds.end_call(session, "CAtalking", now)
    staffing.reconcile(session, presence, redis_client, now, 60)
    assert presence.get(world.priya.id, now).state == "available"


def test_adopt_only_writes_a_missing_record_or_replaces_the_expected_reservation(redis_client, world, clock):
    now = clock()
    presence = Presence(redis_client)
    presence.set_state(world.priya.id, "available", now)  # the world fixture did this already
    assert not presence.adopt(world.priya.id, since=now, call_sid="CAx")  # she has a record
    assert presence.reserve([], skill=None, call_sid="CAmine", now=now, owner_pk=world.priya.id) == world.priya.id
    assert not presence.adopt(world.priya.id, since=now, call_sid="CAx", replacing="CAother")
    assert presence.adopt(world.priya.id, since=now, call_sid="CAx", replacing="CAmine")
    assert presence.get(world.priya.id, now).call_sid == "CAx"
    with pytest.raises(ValueError):
        presence.adopt(world.priya.id, since=now, call_sid=None)


# --------------------------------------------------------------------------- through the webhooks


@pytest.fixture
def degraded_sim(settings_overrides, engine, session_factory, clock, telephony, dead_redis):
    """The app with a Redis nobody listens on: every call is routed in degraded mode."""
    from twilio_doubles.simulator import CallSimulator
    from webhooks import create_app

    app = create_app(
        settings_overrides,
        engine=engine,
        sessions=session_factory,
        redis_client=dead_redis,
        clock=clock,
        telephony=telephony,
    )
    return CallSimulator(app.test_client(), base_url=BASE_URL, auth_token=AUTH_TOKEN)


def _up_to_the_dial(sim, sid: str) -> ET.Element:
    """A verified caller with case 240117, step by step, left at the answer after the case number."""
    base = {"CallSid": sid, "From": World.DANA_PHONE, "To": "+18005550100", "CallStatus": "in-progress"}
    root = ET.fromstring(sim.post("/voice/incoming", base))
    root = ET.fromstring(sim.post(root.find("Gather").get("action"), dict(base, Digits="4821")))
    return ET.fromstring(sim.post(root.find("Gather").get("action"), dict(base, Digits="240117")))


def _dialled(root: ET.Element) -> str | None:
    dial = root.find("Dial")
    return None if dial is None else (next(iter(dial)).text or "").strip()


def test_with_redis_down_two_calls_at_once_never_get_the_same_advisor(degraded_sim, world, session):
    """Three callers for the grade book at once, with Redis down and two grade book advisors:
    the owner, then the other advisor, then a message; when the first call ends its advisor is
    free for the next."""
    first = _up_to_the_dial(degraded_sim, "CAdeg1")
    second = _up_to_the_dial(degraded_sim, "CAdeg2")
    third = _up_to_the_dial(degraded_sim, "CAdeg3")
    assert _dialled(first) == "+16125550101"  # Priya, the owner
    assert _dialled(second) == "+16125550102"  # Marcus: Priya is held for CAdeg1
    assert _dialled(third) is None and third.find("Record") is not None  # nobody free: a message
    assert {h.advisor_id: h.call_sid for h in session.scalars(select(AdvisorHold))} == {
        world.priya.id: "CAdeg1",
        world.marcus.id: "CAdeg2",
    }
    # CAdeg1 hangs up; the next caller gets Priya again.
    degraded_sim.post(
        "/voice/status",
        {"CallSid": "CAdeg1", "From": World.DANA_PHONE, "CallStatus": "completed", "CallDuration": "30"},
    )
    assert _dialled(_up_to_the_dial(degraded_sim, "CAdeg4")) == "+16125550101"


def test_a_redis_reservation_is_not_put_through_to_an_advisor_the_database_holds(sim, world, session, clock):
    """Redis was restored without knowing of a call put through in degraded mode: the Redis
    reservation of that advisor is checked against the hold, presence follows the database, and
    the caller goes to the next advisor."""
    holds.claim(session, world.priya.id, "CAdegraded", clock())
    session.flush()
    t = sim.call(World.DANA_PHONE, keys=["4821#", "240117#"], dial=["accept"])
    assert t.connected_to == "+16125550102"  # Marcus, not Priya
    assert "+16125550101" not in t.dialled


def test_reconcile_frees_an_advisor_whose_call_ended_while_redis_was_unreachable(session, world, redis_client, clock):
    """Redis was only unreachable (its data survived): the call's final status went to the
    database, so Redis still holds the advisor on a call, with the call's state left behind.
    The call-log row says the call is over: reconcile frees the advisor."""
    from casestore.redisguard import Breaker
    from ivr.state import CallState, CallStore

    now = clock()
    presence = Presence(redis_client)
    assert presence.reserve([], skill=None, call_sid="CAgone", now=now, owner_pk=world.priya.id) == world.priya.id
    CallStore(redis_client, breaker=Breaker()).finish(
        "CAgone", "/voice/menu?n=3", "<Response/>", CallState(sid="CAgone"), False
    )
    session.add(CallLog(call_sid="CAgone", started_at=now, ended_at=now, outcome="connected"))
    session.flush()
    assert staffing.reconcile(session, presence, redis_client, now, 60)[world.priya.id] == "available"


def _held_on(session, redis_client, world, sid: str, now):
    """Priya reserved for `sid` and its hold claimed, the call's state in Redis: a call put
    through whose end (Dial result, final status) was never heard."""
    from casestore.redisguard import Breaker
    from ivr.state import CallState, CallStore

    presence = Presence(redis_client)
    assert presence.reserve([], skill=None, call_sid=sid, now=now, owner_pk=world.priya.id) == world.priya.id
    assert holds.claim(session, world.priya.id, sid, now) == holds.TAKEN
    CallStore(redis_client, breaker=Breaker()).finish(sid, "/voice/menu?n=3", "<Response/>", CallState(sid=sid), False)
    session.flush()
    return presence


def test_reconcile_frees_an_advisor_whose_call_twilio_says_is_over(session, world, redis_client, clock):
    """Issue #13 item 5: the call's end callbacks were lost (a database outage); the carrier
    says the call is completed: one reconcile pass frees the advisor and ends the hold."""
    from ivr.telephony import RecordingTelephony

    now = clock()
    presence = _held_on(session, redis_client, world, "CAlost", now)
    twilio = RecordingTelephony()
    twilio.inbound("CAlost")
    staffing.reconcile(session, presence, redis_client, now, 60, telephony=twilio)
    assert presence.get(world.priya.id, now).state == "on_call"  # still talking, says the carrier
    twilio.end_call("CAlost")
    assert staffing.reconcile(session, presence, redis_client, now, 60, telephony=twilio)[world.priya.id] == "available"
    assert holds.held_by(session, "CAlost") == [] and holds.busy(session, now) == {}


def test_reconcile_frees_an_advisor_held_longer_than_the_longest_call_without_a_webhook(
    session, world, redis_client, clock
):
    """No carrier to ask (or it cannot say): an advisor held on one call for longer than the
    longest plausible talk, with no webhook since, is freed."""
    now = clock()
    presence = _held_on(session, redis_client, world, "CAforever", now)
    longest = timedelta(hours=4)
    later = now + longest - timedelta(minutes=1)
    staffing.reconcile(session, presence, redis_client, later, 60, longest_call=longest)
    assert presence.get(world.priya.id, later).state == "on_call"
    later = now + longest + timedelta(minutes=1)
    assert (
        staffing.reconcile(session, presence, redis_client, later, 60, longest_call=longest)[world.priya.id]
        == "available"
    )
    assert holds.held_by(session, "CAforever") == []
