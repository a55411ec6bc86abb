"""Advisor presence and atomic reservation (routing.presence), on the `redis_client` fixture:
the in-process fakeredis (with Lua), or a real Redis when TEST_REDIS_URL is set. Time only moves
through the injected clock; nothing sleeps."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest
import redis as redis_lib
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from routing.presence import AUTOPAUSE_REASON, Presence, PresenceState
from routing.selection import AdvisorView

CHICAGO = "America/Chicago"


def adv(pk: int, team: str | None = None, skills: tuple[str, ...] = ("billing",), active: bool = True) -> AdvisorView:
    return AdvisorView(
        pk=pk, name=f"Advisor {pk}", reach=f"client:a{pk}", skills=frozenset(skills), team=team, active=active
    )


@pytest.fixture
def presence(redis_client) -> Presence:
    return Presence(redis_client, tz=CHICAGO)


def make_available(presence: Presence, clock, advisors, step: float = 1.0) -> None:
    """Advisors become available in list order, `step` seconds apart (the first idles longest)."""
    for a in advisors:
        presence.set_state(a.pk, "available", clock.now)
        clock.advance(seconds=step)


def take(presence: Presence, advisors, sid: str, now, **kw):
    kw.setdefault("skill", "billing")
    kw.setdefault("preferred_teams", ())
    return presence.reserve(advisors, call_sid=sid, now=now, **kw)


# --- states ------------------------------------------------------------------------------------------
def test_unknown_advisor_is_offline(presence, clock):
    p = presence.get(7, clock.now)
    assert p.state == "offline" and p.call_sid is None and p.calls_today == 0 and p.missed_in_a_row == 0


def test_naive_datetimes_are_refused(presence, clock):
    naive = datetime(2026, 11, 17, 9, 0)  # noqa: DTZ001
    with pytest.raises(ValueError):
        presence.get(1, naive)
    with pytest.raises(ValueError):
        presence.set_state(1, "available", naive)
    with pytest.raises(ValueError):
        presence.reserve([adv(1)], skill=None, preferred_teams=(), call_sid="CA1", now=naive)
    with pytest.raises(ValueError):
        presence.release(1, "CA1", naive, missed=True)
    with pytest.raises(ValueError):
        presence.reconcile({1: True}, None, naive, 60)


def test_set_state_changes_and_validation(presence, clock):
    assert presence.set_state(1, PresenceState.AVAILABLE, clock.now)
    start = clock.now.timestamp()
    p = presence.get(1, clock.now)
    assert (p.state, p.since, p.idle_since) == ("available", start, start)

    clock.advance(minutes=5)
    assert presence.set_state(1, "available", clock.now) is False  # already available: keeps its place
    assert presence.get(1, clock.now).idle_since == start

    assert presence.set_state(1, "away", clock.now, reason="lunch")
    p = presence.get(1, clock.now)
    assert (p.state, p.away_reason, p.since) == ("away", "lunch", clock.now.timestamp())
    assert presence.set_state(1, "away", clock.now, reason="training")
    assert presence.get(1, clock.now).away_reason == "training"

    assert presence.set_state(1, "offline", clock.now)
    p = presence.get(1, clock.now)
    assert p.state == "offline" and p.away_reason is None

    clock.advance(minutes=1)
    presence.set_state(1, "available", clock.now)
    assert presence.get(1, clock.now).idle_since == clock.now.timestamp()  # back: idle from now

    with pytest.raises(ValueError):
        presence.set_state(1, "on_call", clock.now)
    with pytest.raises(ValueError):
        presence.set_state(1, "lunch", clock.now)


def test_snapshot_and_available_count(presence, clock):
    team = [adv(1), adv(2), adv(3, skills=("network",)), adv(4, active=False), adv(5)]
    make_available(presence, clock, team)
    presence.set_state(5, "away", clock.now)
    snap = presence.snapshot([1, 2, 3, 4, 5, 6], clock.now)
    assert {pk: p.state for pk, p in snap.items()} == {
        1: "available",
        2: "available",
        3: "available",
        4: "available",
        5: "away",
        6: "offline",
    }
    # 3 lacks the skill, 4 is inactive in the roster, 5 is away
    assert presence.available_count(team, "billing", clock.now) == 2
    assert presence.available_count(team, None, clock.now) == 3
    take(presence, team, "CA1", clock.now)
    assert presence.available_count(team, "billing", clock.now) == 1


# --- wrap-up -----------------------------------------------------------------------------------------
def test_wrap_up_ends_exactly_at_now_plus_wrap_seconds(presence, clock):
    team = [adv(1)]
    make_available(presence, clock, team)
    assert take(presence, team, "CA1", clock.now) == 1
    presence.accepted(1, "CA1", clock.now)
    clock.advance(minutes=7)
    ended = clock.now
    assert presence.call_ended(1, ended, wrap_seconds=60)

    p = presence.get(1, ended + timedelta(seconds=59, microseconds=999_999))
    assert p.state == "wrap_up" and p.wrap_until == ended.timestamp() + 60 and p.call_sid is None
    assert take(presence, team, "CA2", ended + timedelta(seconds=59, microseconds=999_999)) is None

    at_end = ended + timedelta(seconds=60)
    p = presence.get(1, at_end)
    assert p.state == "available"
    assert p.since == p.idle_since == at_end.timestamp()  # idle since the wrap-up ended
    assert presence.available_count(team, "billing", at_end) == 1
    assert take(presence, team, "CA2", at_end) == 1


def test_reserving_after_wrap_up_writes_down_idle_since_for_a_release(presence, clock):
    team = [adv(1), adv(2)]
    make_available(presence, clock, team)  # 1 idles longest
    assert take(presence, team, "CA1", clock.now) == 1
    presence.accepted(1, "CA1", clock.now)
    presence.call_ended(1, clock.now, wrap_seconds=0)  # available at once, idle from now
    wrap_end = clock.now.timestamp()
    clock.advance(seconds=30)
    assert take(presence, team, "CA2", clock.now) == 2  # 2 has idled since before 1's call ended
    assert take(presence, team, "CA3", clock.now) == 1
    assert presence.release(1, "CA3", clock.now, missed=False) == "available"
    assert presence.get(1, clock.now).idle_since == wrap_end


def test_call_ended_only_moves_an_advisor_on_that_call(presence, clock):
    team = [adv(1)]
    make_available(presence, clock, team)
    assert take(presence, team, "CA1", clock.now) == 1
    assert presence.call_ended(1, clock.now, call_sid="CA-old") is False
    assert presence.get(1, clock.now).state == "on_call"
    presence.set_state(1, "away", clock.now, reason="supervisor")
    assert presence.call_ended(1, clock.now) is False  # away set during the call stays
    assert presence.get(1, clock.now).state == "away"


def test_manual_wrap_up_is_open_ended(presence, clock):
    presence.set_state(1, "wrap_up", clock.now)
    clock.advance(hours=2)
    p = presence.get(1, clock.now)
    assert p.state == "wrap_up" and p.wrap_until is None


# --- choice order ------------------------------------------------------------------------------------
def test_owner_first_when_free(presence, clock):
    team = [adv(1), adv(2), adv(3)]
    make_available(presence, clock, team)  # 1 idled longest
    # the owner need not be among the candidates nor have the skill
    assert take(presence, team, "CA1", clock.now, owner_pk=3) == 3
    assert take(presence, team, "CA2", clock.now, owner_pk=3) == 1  # owner busy: next best


def test_owner_not_free_falls_back_to_candidates(presence, clock):
    team = [adv(1), adv(2)]
    make_available(presence, clock, team)
    presence.set_state(9, "away", clock.now)
    assert take(presence, team, "CA1", clock.now, owner_pk=9) == 1
    assert take(presence, team, "CA2", clock.now, owner_pk=42) == 2  # owner without any presence


def test_preferred_team_beats_longest_idle(presence, clock):
    team = [adv(1, team="tier1"), adv(2, team="tier2"), adv(3, team="hosting"), adv(4, team=None)]
    make_available(presence, clock, team)
    prefs = ("hosting", "tier2")
    assert take(presence, team, "CA1", clock.now, preferred_teams=prefs) == 3
    assert take(presence, team, "CA2", clock.now, preferred_teams=prefs) == 2
    assert take(presence, team, "CA3", clock.now, preferred_teams=prefs) == 1  # then longest idle
    assert take(presence, team, "CA4", clock.now, preferred_teams=prefs) == 4
    assert take(presence, team, "CA5", clock.now, preferred_teams=prefs) is None


def test_longest_idle_first(presence, clock):
    team = [adv(1), adv(2), adv(3)]
    make_available(presence, clock, [team[2], team[0], team[1]])  # 3 idle longest, then 1, then 2
    assert [take(presence, team, f"CA{i}", clock.now) for i in range(3)] == [3, 1, 2]


def test_same_idle_since_tie_broken_by_calls_today_then_pk(presence, clock):
    team = [adv(1), adv(2), adv(3)]
    # give 1 and 2 a call each earlier today, 2 one more
    for pk, calls in ((1, 1), (2, 2)):
        presence.set_state(pk, "available", clock.now)
        for n in range(calls):
            assert take(presence, [adv(pk)], f"CA-early-{pk}-{n}", clock.now) == pk
            presence.accepted(pk, f"CA-early-{pk}-{n}", clock.now)
            presence.call_ended(pk, clock.now, wrap_seconds=0)
    presence.set_state(1, "offline", clock.now)
    presence.set_state(2, "offline", clock.now)
    clock.advance(minutes=10)
    for a in team:  # all available at the same instant
        presence.set_state(a.pk, "available", clock.now)
    assert [presence.get(pk, clock.now).calls_today for pk in (1, 2, 3)] == [1, 2, 0]
    assert take(presence, team, "CA1", clock.now) == 3  # fewest calls today
    assert take(presence, team, "CA2", clock.now) == 1
    assert take(presence, team, "CA3", clock.now) == 2

    presence.set_state(4, "available", clock.now)
    presence.set_state(5, "available", clock.now)
    assert take(presence, [adv(5), adv(4)], "CA4", clock.now) == 4  # full tie: lowest pk


def test_only_eligible_candidates_are_taken(presence, clock):
    team = [adv(1, skills=("network",)), adv(2, active=False), adv(3)]
    make_available(presence, clock, team)
    assert take(presence, team, "CA1", clock.now) == 3
    assert take(presence, team, "CA2", clock.now) is None
    assert take(presence, team, "CA3", clock.now, skill=None) == 1  # a general call takes anyone active


def test_away_offline_and_on_call_are_never_reserved(presence, clock):
    team = [adv(1), adv(2), adv(3)]
    make_available(presence, clock, team)
    presence.set_state(1, "away", clock.now, reason="lunch")
    presence.set_state(2, "offline", clock.now)
    assert take(presence, team, "CA1", clock.now) == 3
    assert take(presence, team, "CA2", clock.now) is None
    assert take(presence, [], "CA3", clock.now) is None


def test_reserving_again_with_the_held_sid_returns_the_same_advisor(presence, clock):
    team = [adv(1), adv(2)]
    make_available(presence, clock, team)
    assert take(presence, team, "CA1", clock.now) == 1
    assert take(presence, team, "CA1", clock.now) == 1  # retried webhook: no second advisor
    assert presence.get(2, clock.now).state == "available"


# --- release / accepted / autopause ------------------------------------------------------------------
def test_release_keeps_idle_since_so_the_advisor_stays_at_the_front(presence, clock):
    team = [adv(1), adv(2)]
    make_available(presence, clock, team)
    idle = presence.get(1, clock.now).idle_since
    assert take(presence, team, "CA1", clock.now) == 1
    clock.advance(seconds=20)
    assert presence.release(1, "CA1", clock.now, missed=False) == "available"
    p = presence.get(1, clock.now)
    assert (p.state, p.idle_since, p.call_sid, p.missed_in_a_row) == ("available", idle, None, 0)
    assert take(presence, team, "CA2", clock.now) == 1


def test_release_with_another_sid_does_nothing(presence, clock):
    team = [adv(1)]
    make_available(presence, clock, team)
    assert take(presence, team, "CA1", clock.now) == 1
    assert presence.release(1, "CA-late", clock.now, missed=True) is None
    p = presence.get(1, clock.now)
    assert (p.state, p.call_sid, p.missed_in_a_row) == ("on_call", "CA1", 0)
    # after a real release, the duplicate callback for CA1 changes nothing either
    assert presence.release(1, "CA1", clock.now, missed=True) == "available"
    assert presence.release(1, "CA1", clock.now, missed=True) is None
    assert presence.get(1, clock.now).missed_in_a_row == 1
    # a late release of the previous call cannot free the advisor from the next one
    assert take(presence, team, "CA2", clock.now) == 1
    assert presence.release(1, "CA1", clock.now, missed=False) is None
    assert presence.get(1, clock.now).call_sid == "CA2"


def test_accepted_counts_once_and_cannot_be_released(presence, clock):
    team = [adv(1)]
    make_available(presence, clock, team)
    assert take(presence, team, "CA1", clock.now) == 1
    assert presence.accepted(1, "CA-other", clock.now) is False
    assert presence.accepted(1, "CA1", clock.now) is True
    assert presence.accepted(1, "CA1", clock.now) is False  # duplicate callback
    p = presence.get(1, clock.now)
    assert p.calls_today == 1 and p.accepted
    assert presence.release(1, "CA1", clock.now, missed=True) is None  # a late no-answer callback
    assert presence.get(1, clock.now).state == "on_call"


def test_two_missed_in_a_row_autopause(presence, clock):
    team = [adv(1), adv(2)]
    make_available(presence, clock, team)
    assert take(presence, team, "CA1", clock.now) == 1
    assert presence.release(1, "CA1", clock.now, missed=True) == "available"
    assert presence.get(1, clock.now).missed_in_a_row == 1
    assert take(presence, team, "CA2", clock.now) == 1
    clock.advance(seconds=20)
    assert presence.release(1, "CA2", clock.now, missed=True) == "away"
    p = presence.get(1, clock.now)
    assert (p.state, p.away_reason, p.missed_in_a_row, p.since) == (
        "away",
        "missed 2 calls in a row",
        2,
        clock.now.timestamp(),
    )
    assert p.away_reason == AUTOPAUSE_REASON
    assert take(presence, team, "CA3", clock.now) == 2
    assert take(presence, team, "CA4", clock.now) is None
    # back from the autopause: the counter starts over
    presence.set_state(1, "available", clock.now)
    assert presence.get(1, clock.now).missed_in_a_row == 0
    assert take(presence, team, "CA5", clock.now) == 1
    assert presence.release(1, "CA5", clock.now, missed=True) == "available"


def test_accepted_call_resets_the_missed_counter(presence, clock):
    team = [adv(1)]
    make_available(presence, clock, team)
    take(presence, team, "CA1", clock.now)
    presence.release(1, "CA1", clock.now, missed=True)
    take(presence, team, "CA2", clock.now)
    presence.accepted(1, "CA2", clock.now)
    assert presence.get(1, clock.now).missed_in_a_row == 0
    presence.call_ended(1, clock.now, wrap_seconds=0)
    take(presence, team, "CA3", clock.now)
    assert presence.release(1, "CA3", clock.now, missed=True) == "available"  # one miss, not two
    assert presence.release(1, "CA3", clock.now, missed=False) is None


def test_a_release_that_is_not_a_miss_does_not_count(presence, clock):
    team = [adv(1)]
    make_available(presence, clock, team)
    for n in range(3):
        take(presence, team, f"CA{n}", clock.now)
        assert presence.release(1, f"CA{n}", clock.now, missed=False) == "available"
    assert presence.get(1, clock.now).missed_in_a_row == 0


# --- calls today -------------------------------------------------------------------------------------
def test_calls_today_resets_at_local_midnight_not_utc(presence, clock):
    team = [adv(1)]

    def one_call(sid: str) -> None:
        assert take(presence, team, sid, clock.now) == 1
        assert presence.accepted(1, sid, clock.now)
        assert presence.call_ended(1, clock.now, wrap_seconds=0)

    clock.set(datetime(2026, 11, 17, 22, 0, tzinfo=UTC))  # 16:00 CST, Nov 17
    presence.set_state(1, "available", clock.now)
    one_call("CA1")
    one_call("CA2")
    assert presence.get(1, clock.now).calls_today == 2
    clock.set(datetime(2026, 11, 18, 0, 30, tzinfo=UTC))  # UTC date changed; 18:30 CST Nov 17
    assert presence.get(1, clock.now).calls_today == 2
    one_call("CA3")
    assert presence.get(1, clock.now).calls_today == 3
    clock.set(datetime(2026, 11, 18, 5, 59, 59, tzinfo=UTC))  # 23:59:59 CST
    assert presence.get(1, clock.now).calls_today == 3
    clock.set(datetime(2026, 11, 18, 6, 0, tzinfo=UTC))  # local midnight, Nov 18
    assert presence.local_date(clock.now).isoformat() == "2026-11-18"
    assert presence.get(1, clock.now).calls_today == 0
    assert presence.snapshot([1], clock.now)[1].calls_today == 0
    one_call("CA4")
    assert presence.get(1, clock.now).calls_today == 1


def test_yesterdays_calls_do_not_count_in_the_tie_break(presence, clock):
    team = [adv(1), adv(2)]

    def calls(pk: int, n: int) -> None:
        presence.set_state(pk, "available", clock.now)
        for i in range(n):
            sid = f"CA-{pk}-{clock.now.timestamp()}-{i}"
            assert take(presence, [adv(pk)], sid, clock.now) == pk
            presence.accepted(pk, sid, clock.now)
            presence.call_ended(pk, clock.now, wrap_seconds=0)
        presence.set_state(pk, "offline", clock.now)

    clock.set(datetime(2026, 11, 18, 3, 0, tzinfo=UTC))  # 21:00 CST, Nov 17 (Nov 18 in UTC)
    calls(2, 3)
    clock.set(datetime(2026, 11, 18, 15, 0, tzinfo=UTC))  # 09:00 CST, Nov 18
    calls(1, 1)
    for a in team:  # both free at the same instant
        presence.set_state(a.pk, "available", clock.now)
    assert [presence.get(pk, clock.now).calls_today for pk in (1, 2)] == [1, 0]
    assert take(presence, team, "CA-new", clock.now) == 2  # yesterday's 3 calls do not count


# --- reconcile ---------------------------------------------------------------------------------------
def test_reconcile_offlines_inactive_and_removed_advisors(presence, clock):
    team = [adv(1), adv(2), adv(3)]
    make_available(presence, clock, team)
    assert take(presence, team, "CA1", clock.now) == 1
    changes = presence.reconcile({1: True, 2: False}, None, clock.now, max_wrap_seconds=300)
    assert changes == {2: "offline", 3: "offline"}
    snap = presence.snapshot([1, 2, 3], clock.now)
    assert [snap[pk].state for pk in (1, 2, 3)] == ["on_call", "offline", "offline"]
    assert presence.reconcile({1: True, 2: False}, None, clock.now, max_wrap_seconds=300) == {}


def test_reconcile_frees_an_advisor_stuck_on_an_ended_call(presence, clock):
    team = [adv(1), adv(2), adv(3)]
    make_available(presence, clock, team)
    assert take(presence, team, "CA-dead", clock.now) == 1
    assert take(presence, team, "CA-live", clock.now) == 2
    presence.set_state(3, "away", clock.now, reason="lunch")
    clock.advance(minutes=30)
    roster = {1: True, 2: True, 3: True}
    assert presence.reconcile(roster, None, clock.now, max_wrap_seconds=300) == {}  # no truth given
    assert presence.reconcile(roster, {"CA-live"}, clock.now, max_wrap_seconds=300) == {1: "available"}
    p1 = presence.get(1, clock.now)
    assert (p1.state, p1.call_sid, p1.idle_since) == ("available", None, clock.now.timestamp())
    assert presence.get(2, clock.now).call_sid == "CA-live"
    assert presence.get(3, clock.now).state == "away"
    assert presence.release(1, "CA-dead", clock.now, missed=True) is None  # late callback
    assert take(presence, team, "CA-next", clock.now) == 1


def test_reconcile_caps_long_wrap_ups(presence, clock):
    team = [adv(1), adv(2), adv(3)]
    make_available(presence, clock, team)
    start = clock.now
    for pk, sid in ((1, "CA1"), (2, "CA2")):
        assert take(presence, team, sid, start) == pk
        presence.accepted(pk, sid, start)
    presence.call_ended(1, start, wrap_seconds=3600)
    presence.call_ended(2, start, wrap_seconds=60)
    presence.set_state(3, "wrap_up", start)  # open-ended
    roster = {1: True, 2: True, 3: True}
    clock.advance(seconds=30)
    assert presence.reconcile(roster, None, clock.now, max_wrap_seconds=120) == {1: "wrap_up", 3: "wrap_up"}
    assert presence.get(1, clock.now).wrap_until == start.timestamp() + 120
    assert presence.get(2, clock.now).wrap_until == start.timestamp() + 60
    assert presence.get(3, start + timedelta(seconds=120)).state == "available"
    # a wrap-up already past the cap reads as available immediately
    presence.set_state(4, "wrap_up", start)
    later = start + timedelta(minutes=10)
    assert presence.get(4, later).state == "wrap_up"
    assert presence.reconcile({**roster, 4: True}, None, later, max_wrap_seconds=120) == {4: "available"}
    assert presence.get(4, later).state == "available"
    assert presence.reconcile({**roster, 4: True}, None, later, max_wrap_seconds=120) == {}


def test_bytes_clients_work_too(clock):
    import fakeredis

    raw = fakeredis.FakeRedis(server=fakeredis.FakeServer())  # decode_responses=False
    presence = Presence(raw, tz=CHICAGO)
    presence.set_state(1, "available", clock.now)
    assert presence.reserve([adv(1)], skill="billing", call_sid="CA1", now=clock.now) == 1
    assert presence.get(1, clock.now).call_sid == "CA1"
    assert presence.release(1, "CA1", clock.now, missed=True) == "available"
    assert presence.reconcile({}, None, clock.now, 60) == {1: "offline"}


def test_keys_share_one_cluster_slot(presence):
    assert presence.key(5) == "{sl:presence}:advisor:5"
    assert presence.registry_key == "{sl:presence}:advisors"


# --- concurrency -------------------------------------------------------------------------------------
def worker_clients(redis_client, n: int) -> list[redis_lib.Redis]:
    """`n` clients of the same server, each with its own connection pool, like separate gunicorn
    workers (one redis-py pool allows 100 connections, fewer than the threads here)."""
    pool = redis_client.connection_pool
    return [
        redis_lib.Redis(
            connection_pool=redis_lib.ConnectionPool(
                connection_class=pool.connection_class, max_connections=100, **pool.connection_kwargs
            )
        )
        for _ in range(n)
    ]


def _reserve_all(workers: list[Presence], team, sids, now) -> dict[str, int | None]:
    results: dict[str, int | None] = {}
    errors: list[BaseException] = []
    barrier = threading.Barrier(len(sids))
    lock = threading.Lock()

    def worker(presence: Presence, sid: str) -> None:
        try:
            barrier.wait(timeout=30)
            got = presence.reserve(team, skill="billing", preferred_teams=("a",), call_sid=sid, now=now)
            with lock:
                results[sid] = got
        except BaseException as exc:  # pragma: no cover - reported below
            with lock:
                errors.append(exc)

    threads = [threading.Thread(target=worker, args=(workers[i % len(workers)], sid)) for i, sid in enumerate(sids)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not errors, errors
    assert len(results) == len(sids)
    return results


def test_concurrent_reservations_never_share_an_advisor(redis_client, clock):
    presence = Presence(redis_client, tz=CHICAGO)
    team = [adv(pk, team="a" if pk % 2 else "b") for pk in range(1, 51)]
    make_available(presence, clock, team, step=0.5)
    now = clock.now
    clients = worker_clients(redis_client, 4)
    workers = [Presence(c, tz=CHICAGO) for c in clients]
    try:
        for round_ in range(2):
            sids = [f"CA{round_}-{n:03d}" for n in range(200)]
            results = _reserve_all(workers, team, sids, now)
            won = {sid: pk for sid, pk in results.items() if pk is not None}
            assert len(won) == 50 and sum(pk is None for pk in results.values()) == 150
            assert sorted(won.values()) == list(range(1, 51))  # every advisor exactly once
            snap = presence.snapshot(range(1, 51), now)
            assert {snap[pk].call_sid: pk for pk in won.values()} == won  # each holds the sid it won
            for sid, pk in won.items():
                assert presence.release(pk, sid, now, missed=False) == "available"
            assert presence.available_count(team, "billing", now) == 50
    finally:
        for c in clients:
            c.close()
            c.connection_pool.disconnect()


# --- properties --------------------------------------------------------------------------------------
N_ADVISORS = 5
TEAMS = ("a", "b", None)
PROP_TEAM = [adv(pk, team=TEAMS[pk % 3]) for pk in range(1, N_ADVISORS + 1)]
SIDS = [f"CA{n}" for n in range(6)]

pks = st.integers(1, N_ADVISORS)
sids = st.sampled_from(SIDS)
ops = st.one_of(
    st.tuples(st.just("advance"), st.sampled_from([0.0, 0.5, 1.0, 30.0, 59.999, 60.0, 61.0, 600.0])),
    st.tuples(st.just("reserve"), sids, st.one_of(st.none(), pks), st.sampled_from([(), ("a",), ("b", "a")])),
    st.tuples(st.just("release"), pks, sids, st.booleans()),
    st.tuples(st.just("accepted"), pks, sids),
    st.tuples(st.just("call_ended"), pks, st.sampled_from([0, 1, 60]), st.one_of(st.none(), sids)),
    st.tuples(st.just("set_state"), pks, st.sampled_from(["available", "wrap_up", "away", "offline"])),
    st.tuples(st.just("reconcile"), st.frozensets(sids), st.sampled_from([30, 120])),
)


def expected_choice(snap, owner, prefs) -> int | None:
    """The reservation rule, restated in Python over a snapshot."""
    if owner is not None and snap[owner].available:
        return owner
    free = [p for p in snap.values() if p.available]
    if not free:
        return None

    def rank(p):
        a = PROP_TEAM[p.pk - 1]
        team_rank = prefs.index(a.team) if a.team in prefs else len(prefs)
        return team_rank, p.idle_since, p.calls_today, p.pk

    return min(free, key=rank).pk


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(steps=st.lists(ops, max_size=40))
def test_random_operations_keep_presence_consistent(redis_client, steps):
    redis_client.flushdb()
    presence = Presence(redis_client, tz=CHICAGO)
    now = datetime(2026, 11, 17, 23, 59, tzinfo=UTC)
    all_pks = range(1, N_ADVISORS + 1)
    for a in PROP_TEAM:
        presence.set_state(a.pk, "available", now)
        now += timedelta(seconds=1)

    for op in steps:
        kind = op[0]
        before = presence.snapshot(all_pks, now)
        if kind == "advance":
            now += timedelta(seconds=op[1])
        elif kind == "reserve":
            _, sid, owner, prefs = op
            got = presence.reserve(
                PROP_TEAM, skill="billing", preferred_teams=prefs, call_sid=sid, now=now, owner_pk=owner
            )
            holder = [p.pk for p in before.values() if p.call_sid == sid]
            if holder:
                assert got == holder[0]  # the call already holds an advisor: the same one
            else:
                assert got == expected_choice(before, owner, prefs)
                if got is not None:
                    assert before[got].state == "available"  # never away, offline or busy
        elif kind == "release":
            _, pk, sid, missed = op
            result = presence.release(pk, sid, now, missed)
            held = before[pk].state == "on_call" and before[pk].call_sid == sid and not before[pk].accepted
            assert (result is not None) == held
            if result == "available":
                assert presence.get(pk, now).idle_since == before[pk].idle_since
        elif kind == "accepted":
            presence.accepted(op[1], op[2], now)
        elif kind == "call_ended":
            presence.call_ended(op[1], now, wrap_seconds=op[2], call_sid=op[3])
        elif kind == "set_state":
            presence.set_state(op[1], op[2], now)
        else:
            presence.reconcile(dict.fromkeys(all_pks, True), set(op[1]), now, max_wrap_seconds=op[2])

        after = presence.snapshot(all_pks, now)
        held_sids = [p.call_sid for p in after.values() if p.call_sid is not None]
        assert len(held_sids) == len(set(held_sids))  # no call holds two advisors
        for p in after.values():
            assert (p.state == "on_call") == (p.call_sid is not None)  # one sid, only while on a call
            assert p.state in {"available", "on_call", "wrap_up", "away", "offline"}
            if p.state == "available":
                assert p.idle_since is not None and p.idle_since <= now.timestamp()
            if p.accepted:
                assert p.calls_today >= 1
