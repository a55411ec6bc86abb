"""routing.decision: who gets a call, as a table (issue #14 item 2). Pure data in, a decision out:
no Redis, no database, no Flask; the presence view is a plain mapping."""

from __future__ import annotations

import hashlib
from collections import Counter
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from routing.callqueue import queue_score
from routing.decision import (
    ADVISOR,
    HOLD_ROUND_SECONDS,
    MAX_ADVISOR_ATTEMPTS,
    OWNER,
    CallFacts,
    DialOwner,
    HoldsView,
    Hunt,
    JoinLine,
    PresenceView,
    ReserveFrom,
    TakeMessage,
    WaitForOwner,
    decide,
    in_team_order,
    join_line,
    offer_for,
)
from routing.selection import AdvisorView, TeamView

NOW = datetime(2026, 3, 3, 15, 0, tzinfo=UTC)


def adv(pk: int, team: str | None, *skills: str, active: bool = True) -> AdvisorView:
    return AdvisorView(
        pk=pk, name=f"A{pk}", reach=f"+1555000{pk:04d}", skills=frozenset(skills), team=team, active=active
    )


@dataclass(frozen=True)
class Tables:
    """The part of the routing tables a decision reads (RoutingTables is another such Roster)."""

    advisors: tuple[AdvisorView, ...]
    teams: tuple[TeamView, ...]


# The owner (1) on Campus; two more on Campus, two on Partner, one on State; 7 knows no SIS.
TEAMS = (TeamView("Campus", "campus", 1), TeamView("Partner", "partner", 2), TeamView("State", "state_reporting", 3))
ROSTER = (
    adv(1, "Campus", "sis", "finance"),
    adv(2, "Campus", "sis"),
    adv(3, "Campus", "sis"),
    adv(4, "Partner", "sis"),
    adv(5, "Partner", "sis"),
    adv(6, "State", "sis", "state_reporting"),
    adv(7, "Campus", "finance"),
)
TABLES = Tables(ROSTER, TEAMS)
CASE_CALL = CallFacts(sid="CA-case", route=OWNER, skill="sis", owner_pk=1, district_team="Partner")


def seen(*, line_ahead: bool = False, mine: tuple[int, ...] = (), **states: str) -> PresenceView:
    """PresenceView(a1="available", ...): state by advisor; anyone not named is offline."""
    return PresenceView({int(k[1:]): v for k, v in states.items()}, frozenset(mine), line_ahead)


def all_free(**overrides: str) -> PresenceView:
    return seen(**{f"a{a.pk}": "available" for a in ROSTER} | overrides)


def pks(pool: tuple[AdvisorView, ...]) -> list[int]:
    return [a.pk for a in pool]


# --- live: Redis reachable --------------------------------------------------------------------------
LIVE = [
    pytest.param(CASE_CALL, all_free(), DialOwner, None, id="owner free: dial the owner"),
    pytest.param(
        CASE_CALL,
        seen(a1="on_call", mine=(1,)),
        DialOwner,
        None,
        id="owner already reserved for this call: dial them again, not a second advisor",
    ),
    pytest.param(CASE_CALL, all_free(a1="on_call"), WaitForOwner, "owner_busy", id="owner on a call: wait for them"),
    pytest.param(CASE_CALL, all_free(a1="wrap_up"), WaitForOwner, "owner_busy", id="owner wrapping up: wait"),
    pytest.param(
        CASE_CALL,
        all_free(a1="away"),
        ReserveFrom,
        [4, 5, 2, 3, 6],
        id="owner away: skilled advisors, the district's team first",
    ),
    pytest.param(CASE_CALL, all_free(a1="offline"), ReserveFrom, [4, 5, 2, 3, 6], id="owner offline: skilled"),
    pytest.param(
        replace(CASE_CALL, tried=("advisor:1",)),
        all_free(),
        ReserveFrom,
        [4, 5, 2, 3, 6],
        id="owner already tried: skilled, without the owner",
    ),
    pytest.param(
        replace(CASE_CALL, route=ADVISOR, tried=("advisor:4",)),
        all_free(),
        ReserveFrom,
        [5, 1, 2, 3, 6],
        id="advisor already tried: not again this round",
    ),
    pytest.param(
        replace(CASE_CALL, route=ADVISOR, round_attempts=MAX_ADVISOR_ATTEMPTS),
        all_free(),
        JoinLine,
        "round_over",
        id="max advisor attempts: the line",
    ),
    pytest.param(
        CASE_CALL,
        all_free(a1="away", line_ahead=True),
        JoinLine,
        "others_waiting",
        id="line competes: behind those already waiting",
    ),
    pytest.param(
        CASE_CALL,
        seen(a1="away", a2="on_call", a4="wrap_up", a7="available"),
        JoinLine,
        "nobody_free",
        id="no one skilled free: the line",
    ),
    pytest.param(
        replace(CASE_CALL, route="general", skill=None, owner_pk=None, district_team=None),
        seen(a7="available", a6="available"),
        ReserveFrom,
        [7, 6],
        id="general call: anyone free",
    ),
    pytest.param(
        replace(CASE_CALL, skill="state_reporting", district_team=None),
        all_free(a1="away"),
        ReserveFrom,
        [6],
        id="state reporting: only the skilled team",
    ),
]


@pytest.mark.parametrize(("call", "view", "kind", "detail"), LIVE)
def test_who_gets_the_call(call, view, kind, detail):
    decision = decide(call, TABLES, view, NOW)
    assert type(decision) is kind
    if isinstance(decision, ReserveFrom):
        assert pks(decision.pool) == detail
        assert decision.skill == call.skill and decision.owner_pk is None
    if isinstance(decision, JoinLine):
        assert decision.reason == detail and decision.entry.sid == call.sid
    if isinstance(decision, DialOwner):
        assert decision.owner_pk == call.owner_pk


@pytest.mark.parametrize(
    ("view", "route", "owner_waits"),
    [
        pytest.param(all_free(), OWNER, True, id="dial the owner: the route and the owner wait stay as they were"),
        pytest.param(all_free(a1="on_call"), OWNER, True, id="waiting for the owner"),
        pytest.param(all_free(a1="away"), ADVISOR, False, id="owner passed over: the advisors' route"),
    ],
)
def test_the_call_route_after_the_owner_stage(view, route, owner_waits):
    decision = decide(replace(CASE_CALL, owner_waits=True), TABLES, view, NOW)
    assert (decision.route, decision.owner_waits) == (route, owner_waits)


def test_waiting_for_the_owner_keeps_the_line_for_them_a_while():
    queued = NOW - timedelta(seconds=20)
    call = replace(CASE_CALL, queued_at=queued, priority_rank=1, tried=("advisor:4", "oncall:9"))
    decision = decide(call, TABLES, all_free(a1="on_call"), NOW, owner_wait_seconds=60)
    assert isinstance(decision, WaitForOwner)
    entry = decision.entry
    assert entry.owner_pk == 1 and entry.owner_until == queued.timestamp() + 60
    assert entry.owner_only(NOW.timestamp()) and not entry.owner_only((queued + timedelta(seconds=60)).timestamp())
    assert entry.score == queue_score(1, queued.timestamp())
    assert entry.teams[:1] == ("Partner",) and entry.skill == "sis"
    # The advisor this call just tried is not offered it again for one hold round.
    assert entry.exclude == (4,) and entry.exclude_until == NOW.timestamp() + HOLD_ROUND_SECONDS


def test_back_in_line_keeps_what_the_call_waits_for():
    call = replace(CASE_CALL, route=ADVISOR, owner_waits=True, queued_at=NOW - timedelta(minutes=3))
    decision = join_line(call, TABLES, NOW)
    assert decision.reason == "in_line" and (decision.route, decision.owner_waits) == (ADVISOR, True)
    assert decision.entry.queued_at == call.queued_at.timestamp() and decision.entry.owner_until is not None


def test_a_new_caller_in_line_is_queued_from_now_at_medium_priority():
    decision = decide(replace(CASE_CALL, route=ADVISOR), TABLES, seen(), NOW)
    assert isinstance(decision, JoinLine)
    assert decision.entry.queued_at == NOW.timestamp() and decision.entry.rank == 2  # Priority.MEDIUM
    assert decision.entry.owner_until is None


# --- degraded: Redis unreachable ----------------------------------------------------------------------
def rotated(sid: str, team: list[int]) -> list[int]:
    start = int(hashlib.sha1(sid.encode()).hexdigest(), 16) % len(team)
    return team[start:] + team[:start]


DEGRADED = [
    pytest.param(
        CASE_CALL,
        frozenset(),
        [1, *rotated("CA-case", [4, 5]), 2, 3, 6],
        id="owner first, then the district's team (rotated), then the other teams in order",
    ),
    pytest.param(
        replace(CASE_CALL, route=ADVISOR),
        frozenset(),
        [*rotated("CA-case", [4, 5]), 1, 2, 3, 6],
        id="route advisor: the owner is one of the skilled advisors",
    ),
    pytest.param(CASE_CALL, frozenset({1, 4}), [5, 2, 3, 6], id="advisors held in the database are skipped"),
    pytest.param(
        replace(CASE_CALL, tried=("advisor:1", "advisor:5")), frozenset(), [4, 2, 3, 6], id="tried this call: not again"
    ),
    pytest.param(
        replace(CASE_CALL, round_attempts=MAX_ADVISOR_ATTEMPTS),
        frozenset(),
        [1, *rotated("CA-case", [4, 5]), 2, 3, 6],
        id="one more advisor than a live round (no line)",
    ),
    pytest.param(
        replace(CASE_CALL, round_attempts=MAX_ADVISOR_ATTEMPTS + 1),
        frozenset(),
        [1],
        id="attempts over: only the owner",
    ),
    pytest.param(
        replace(CASE_CALL, route=ADVISOR, round_attempts=MAX_ADVISOR_ATTEMPTS + 1),
        frozenset(),
        None,
        id="attempts over, no owner: a message",
    ),
    pytest.param(CASE_CALL, frozenset({1, 2, 3, 4, 5, 6}), None, id="everyone busy: a message"),
    pytest.param(replace(CASE_CALL, skill="payroll", route=ADVISOR), frozenset(), None, id="nobody skilled: a message"),
]


@pytest.mark.parametrize(("call", "busy", "order"), DEGRADED)
def test_the_degraded_hunt(call, busy, order):
    decision = decide(call, TABLES, HoldsView(busy), NOW)
    assert decision.route == (ADVISOR if call.route == OWNER else call.route)
    if order is None:
        assert isinstance(decision, TakeMessage)
    else:
        assert isinstance(decision, Hunt) and list(decision.candidates) == order


def test_the_rotation_spreads_concurrent_calls_over_the_first_team():
    """Without presence, 200 calls at once start the first team at different places: each of its
    advisors is first for some of them, and the other teams keep their order behind."""
    team = Tables(tuple(adv(pk, "Campus", "sis") for pk in range(10, 15)) + (adv(20, "Partner", "sis"),), TEAMS)
    firsts = Counter()
    for n in range(200):
        call = CallFacts(sid=f"CA{n:032x}", route=ADVISOR, skill="sis", district_team="Campus")
        decision = decide(call, team, HoldsView(), NOW)
        assert isinstance(decision, Hunt)
        assert sorted(decision.candidates[:5]) == [10, 11, 12, 13, 14] and decision.candidates[5] == 20
        firsts[decision.candidates[0]] += 1
    assert set(firsts) == {10, 11, 12, 13, 14} and min(firsts.values()) >= 20


def test_the_same_call_hunts_in_the_same_order():
    one = decide(CASE_CALL, TABLES, HoldsView(), NOW)
    assert decide(CASE_CALL, TABLES, HoldsView(), NOW + timedelta(hours=1)) == one


# --- the dispatcher's decision for a caller in line ---------------------------------------------------
def waiting(**kw):
    call = replace(CASE_CALL, route=ADVISOR, **kw)
    return join_line(call, TABLES, NOW).entry


@pytest.mark.parametrize(
    ("entry", "free", "at", "pool", "owner"),
    [
        pytest.param(waiting(), {2, 4}, NOW, [2, 4], None, id="free advisors fit"),
        pytest.param(waiting(), {1, 2}, NOW, [1, 2], 1, id="the free owner comes first"),
        pytest.param(waiting(owner_waits=True), {2, 4}, NOW, None, None, id="waiting for the owner alone: nobody else"),
        pytest.param(
            waiting(owner_waits=True),
            {2, 4},
            NOW + timedelta(seconds=61),
            [2, 4],
            None,
            id="owner wait over: anyone fitting",
        ),
        pytest.param(waiting(tried=("advisor:4",)), {4}, NOW, None, None, id="who just missed the call: not again yet"),
        pytest.param(
            waiting(tried=("advisor:4",)),
            {4},
            NOW + timedelta(seconds=HOLD_ROUND_SECONDS),
            [4],
            None,
            id="after a hold round: again",
        ),
        pytest.param(waiting(), {7}, NOW, None, None, id="nobody free fits"),
    ],
)
def test_the_dispatchers_offer(entry, free, at, pool, owner):
    decision = offer_for(entry, ROSTER, free, at)
    if pool is None:
        assert decision is None
    else:
        assert decision is not None and pks(decision.pool) == pool and decision.owner_pk == owner


def test_naive_time_is_refused():
    with pytest.raises(ValueError, match="naive"):
        decide(CASE_CALL, TABLES, seen(), datetime(2026, 3, 3, 15, 0))  # noqa: DTZ001


# --- properties ---------------------------------------------------------------------------------------
STATES = st.sampled_from(["available", "on_call", "wrap_up", "away", "offline"])
ROSTERS = st.lists(
    st.builds(
        adv,
        st.integers(1, 12),
        st.sampled_from(["Campus", "Partner", "State", None]),
        st.sampled_from(["sis", "finance"]),
        active=st.booleans(),
    ),
    max_size=10,
    unique_by=lambda a: a.pk,
)
CALLS = st.builds(
    CallFacts,
    sid=st.text("abc0123456789", min_size=1, max_size=12),
    route=st.sampled_from([OWNER, ADVISOR]),
    skill=st.sampled_from(["sis", "finance", None]),
    owner_pk=st.one_of(st.none(), st.integers(1, 12)),
    district_team=st.sampled_from(["Campus", "Partner", None]),
    tried=st.lists(st.integers(1, 12).map(lambda pk: f"advisor:{pk}"), max_size=4).map(tuple),
    round_attempts=st.integers(0, 3),
)


@settings(max_examples=300, deadline=None)
@given(
    call=CALLS,
    roster=ROSTERS,
    states=st.dictionaries(st.integers(1, 12), STATES),
    busy=st.frozensets(st.integers(1, 12)),
    line_ahead=st.booleans(),
)
def test_never_a_tried_busy_or_ineligible_advisor(call, roster, states, busy, line_ahead):
    """Whatever the roster and presence: nobody tried this round, nobody not free (live) or held
    (degraded), nobody inactive, and nobody without the skill unless they are the case owner."""
    tables = Tables(tuple(roster), TEAMS)
    by_pk = {a.pk: a for a in roster}
    view = PresenceView(states, line_ahead=line_ahead)
    live = decide(call, tables, view, NOW)
    degraded = decide(call, tables, HoldsView(busy), NOW)
    chosen = {DialOwner: lambda d: [d.owner_pk], ReserveFrom: lambda d: pks(d.pool), Hunt: lambda d: list(d.candidates)}
    for decision, ok in ((live, view.free), (degraded, lambda pk: pk not in busy)):
        for pk in chosen.get(type(decision), lambda d: [])(decision):
            a = by_pk[pk]
            assert a.target not in call.tried and a.active and ok(pk)
            assert call.skill is None or call.skill in a.skills or (pk == call.owner_pk and call.route == OWNER)
    if isinstance(live, ReserveFrom):
        assert live.pool == tuple(in_team_order(live.pool, call.skill, live.preferred_teams))
