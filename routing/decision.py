"""Who gets a call: one plain decision from the call's facts, the routing tables, a presence view and
`now` (`decide`). `ivr.flow.connect` only carries the decision out (reserve, claim, dial, join the
line, take a message) and, when carrying it out fails, asks again with the updated facts.

Why the line is drawn here. Taking an advisor must be atomic across workers and machines, so the
*taking* stays where the atomicity is: `routing.presence.Presence.reserve` (one Lua script, which
also picks the longest idle among equals) and, with Redis unreachable, `ivr.holds.claim` (a
compare-and-set on the advisor's database row). This module decides whom, from which pool, in
which order. Whoever carries that out may find the person gone meanwhile (taken by another call,
removed from the roster, held in the database) and asks again; the facts then say so (tried
targets, holds refused). Nothing here reads a clock, Redis or the database: the presence view is
data read by the caller (`PresenceView`, or `HoldsView` in degraded mode), so the same inputs give
the same decision, and the rules can be tested as a table (tests/routing/test_decision.py).

The rules, in the order the caller meets them (live: Redis reachable):
1. The case owner (route "owner"; active and not tried this round): free, or already reserved for
   this call -> `DialOwner`; on a call or wrapping up -> `WaitForOwner` (the line keeps the call for
   them for a while: `routing.callqueue`); away or offline -> passed over (and no longer waited
   for). Once the owner stage is over (passed over, tried, or not in the roster) the route is
   "advisor". Decisions carry the call's route and owner wait after them, for ivr to keep.
2. At most MAX_ADVISOR_ATTEMPTS advisors per hold round; then the line (`JoinLine`).
3. Others already waiting for the same advisors: the line, behind them (the dispatcher serves the
   line in order, this caller included).
4. Free advisors eligible for the skill and not tried -> `ReserveFrom` them, preferred teams first
   (`routing.selection.preferred_teams`); within a team rank `Presence.reserve` takes the longest
   idle, then fewest calls today, then lowest pk.
5. Nobody free -> the line.
Degraded (`HoldsView`: Redis unreachable, so no presence and no line): `Hunt` rings, in order, the
owner (route "owner"), then the eligible advisors not tried by team order, up to one more advisor
than a live round (there is no line to fall back on). Without presence to find the longest idle,
each call starts the first team at its own place (a sha1 of the call sid), so that concurrent calls
do not all race for the same first advisor. Advisors held in the database are skipped; nobody left
-> `TakeMessage`.

A caller going back in the line keeps their place (`join_line`: the entry only). A caller already
in line is served by the dispatcher (`ivr.dispatch`) with `offer_for`: the same owner and
eligibility rules, applied to the line entry and the advisors free at that moment.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Protocol

from casestore.types import Priority
from routing.callqueue import OWNER_WAIT_SECONDS, Waiting, entry_for
from routing.selection import AdvisorView, TeamView, eligible, preferred_teams

OWNER = "owner"
ADVISOR = "advisor"
MAX_ADVISOR_ATTEMPTS = 2  # advisors rung per hold round before the caller holds again
HUNT_ATTEMPTS = MAX_ADVISOR_ATTEMPTS + 1  # degraded: no line to hold in, so one more before a message
HOLD_ROUND_SECONDS = 30  # advisors who just missed the call are not offered it again for one hold round
FREE = "available"
BUSY_STATES = frozenset({"on_call", "wrap_up"})  # will be free soon: worth waiting for (the case owner)


# --- inputs ----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class CallFacts:
    """What routing needs to know about a call (ivr's CallState carries more; routing cannot import it)."""

    sid: str
    route: str = ""  # owner | advisor | general
    skill: str | None = None  # the case's product area; None: a general call, anyone may take it
    owner_pk: int | None = None
    owner_waits: bool = False  # the line keeps the call for the (busy) owner a while
    district_team: str | None = None
    tried: tuple[str, ...] = ()  # targets ("advisor:<pk>") dialled since the last hold round
    round_attempts: int = 0  # advisors dialled since the last hold round
    priority_rank: int | None = None  # the case's Priority.rank (medium when unknown)
    queued_at: datetime | None = None  # first joined the line
    response_due: datetime | None = None  # the case's response is due then (not yet responded to)

    @property
    def tried_advisors(self) -> tuple[int, ...]:
        return tuple(int(t.split(":", 1)[1]) for t in self.tried if t.startswith(f"{ADVISOR}:"))


class Roster(Protocol):
    """The part of the routing tables a decision reads (`routing.tables.RoutingTables` is one)."""

    @property
    def advisors(self) -> Sequence[AdvisorView]: ...

    @property
    def teams(self) -> Sequence[TeamView]: ...


class Seen(Protocol):
    """One advisor's presence as read (`routing.presence.AdvisorPresence` is one)."""

    @property
    def state(self) -> str: ...

    @property
    def call_sid(self) -> str | None: ...


@dataclass(frozen=True)
class PresenceView:
    """Live presence as seen at `now`: state by advisor pk (missing: offline), the advisors already
    reserved for this call (on_call holding its sid: a reservation is taken again, not a second
    one), and whether others in line wait for the advisors this call would take."""

    states: Mapping[int, str] = field(default_factory=dict)
    mine: frozenset[int] = frozenset()
    line_ahead: bool = False

    @classmethod
    def of(cls, snapshot: Mapping[int, Seen], call_sid: str, *, line_ahead: bool = False) -> PresenceView:
        mine = frozenset(pk for pk, p in snapshot.items() if p.state == "on_call" and p.call_sid == call_sid)
        return cls({pk: p.state for pk, p in snapshot.items()}, mine, line_ahead)

    def free(self, pk: int) -> bool:
        return self.states.get(pk) == FREE or pk in self.mine

    def busy(self, pk: int) -> bool:
        return self.states.get(pk) in BUSY_STATES


@dataclass(frozen=True)
class HoldsView:
    """Degraded mode (Redis unreachable): the advisors the database says are busy (`ivr.holds`), and
    those whose claim this request just lost."""

    busy: frozenset[int] = frozenset()


# --- decisions -------------------------------------------------------------------------------------
@dataclass(frozen=True, kw_only=True)
class Decision:
    """What routing decided. `route` and `owner_waits` are the call's after the decision (`decide`
    always sets them; the dispatcher's `offer_for` leaves them at their defaults, unused)."""

    route: str = ""
    owner_waits: bool = False


@dataclass(frozen=True, kw_only=True)
class DialOwner(Decision):
    """Reserve the case owner alone (atomically) and ring them."""

    owner_pk: int


@dataclass(frozen=True, kw_only=True)
class ReserveFrom(Decision):
    """Reserve the best free advisor of `pool` (atomically: `Presence.reserve`) and ring them.
    `pool` is in team order; `owner_pk` (the dispatcher only): a free owner, who comes first."""

    pool: tuple[AdvisorView, ...]
    skill: str | None
    preferred_teams: tuple[str, ...]
    owner_pk: int | None = None


@dataclass(frozen=True, kw_only=True)
class JoinLine(Decision):
    """Join the line (a caller already in it keeps their place) with this entry, and hold."""

    entry: Waiting
    reason: str  # round_over | others_waiting | nobody_free | owner_busy | in_line


@dataclass(frozen=True, kw_only=True)
class WaitForOwner(JoinLine):
    """The owner is on a call or wrapping up: wait in the line, kept for them a while."""


@dataclass(frozen=True, kw_only=True)
class Hunt(Decision):
    """Degraded: claim these advisors in the database in this order; ring the first one taken."""

    candidates: tuple[int, ...]


@dataclass(frozen=True, kw_only=True)
class TakeMessage(Decision):
    """Degraded, nobody to ring: record a message for an advisor."""


# --- the decision ----------------------------------------------------------------------------------
def decide(
    call: CallFacts,
    tables: Roster,
    seen: PresenceView | HoldsView,
    now: datetime,
    *,
    owner_wait_seconds: float = OWNER_WAIT_SECONDS,
) -> Decision:
    """Who gets the call now: see the module docstring for the rules."""
    _aware(now)
    if isinstance(seen, HoldsView):
        return _hunt(call, tables, seen)
    route, owner_waits = call.route, call.owner_waits
    if call.route == OWNER:
        owner = _owner(call, tables)
        if owner is not None:
            if seen.free(owner.pk):
                return DialOwner(owner_pk=owner.pk, route=OWNER, owner_waits=owner_waits)
            if seen.busy(owner.pk):
                entry = _entry(call, tables, now, owner_waits=True, owner_wait_seconds=owner_wait_seconds)
                return WaitForOwner(entry=entry, reason="owner_busy", route=OWNER, owner_waits=True)
            owner_waits = False
        route = ADVISOR
    pool = tuple(a for a in _untried(call, tables) if seen.free(a.pk))
    reason = (
        "round_over"
        if call.round_attempts >= MAX_ADVISOR_ATTEMPTS
        else "others_waiting"
        if seen.line_ahead
        else "nobody_free"
        if not pool
        else ""
    )
    if reason:
        entry = _entry(call, tables, now, owner_waits=owner_waits, owner_wait_seconds=owner_wait_seconds)
        return JoinLine(entry=entry, reason=reason, route=route, owner_waits=owner_waits)
    return ReserveFrom(
        pool=pool, skill=call.skill, preferred_teams=_teams(call, tables), route=route, owner_waits=owner_waits
    )


def join_line(
    call: CallFacts, tables: Roster, now: datetime, *, owner_wait_seconds: float = OWNER_WAIT_SECONDS
) -> JoinLine:
    """Back in the line (the caller chose to keep their place, or their offer went): nothing changes
    but the entry, which keeps any earlier place."""
    _aware(now)
    entry = _entry(call, tables, now, owner_waits=call.owner_waits, owner_wait_seconds=owner_wait_seconds)
    return JoinLine(entry=entry, reason="in_line", route=call.route, owner_waits=call.owner_waits)


def _hunt(call: CallFacts, tables: Roster, held: HoldsView) -> Hunt | TakeMessage:
    """Degraded: the owner first, then skilled advisors in team order (the first team rotated)."""
    route = ADVISOR if call.route == OWNER else call.route
    candidates: list[int] = []
    owner = _owner(call, tables) if call.route == OWNER else None
    if owner is not None:
        candidates.append(owner.pk)
    if call.round_attempts < HUNT_ATTEMPTS:
        pool = _untried(call, tables)
        if pool:
            first_team = [a for a in pool if a.team == pool[0].team]
            start = int(hashlib.sha1(call.sid.encode()).hexdigest(), 16) % len(first_team)
            ordered = first_team[start:] + first_team[:start] + pool[len(first_team) :]
            candidates += [a.pk for a in ordered if a.pk not in candidates]
    free = tuple(pk for pk in candidates if pk not in held.busy)
    if not free:
        return TakeMessage(route=route, owner_waits=call.owner_waits)
    return Hunt(candidates=free, route=route, owner_waits=call.owner_waits)


def offer_for(
    entry: Waiting, roster: Iterable[AdvisorView], free: AbstractSet[int], now: datetime
) -> ReserveFrom | None:
    """The dispatcher's decision for one caller in line, given the advisors free right now: the
    owner if free, and (unless the caller still waits for the owner alone) the free advisors, less
    those who just missed this call; None when nobody free fits."""
    now_ts = _aware(now).timestamp()
    usable = set(free) - entry.excluded(now_ts)
    pool = () if entry.owner_only(now_ts) else tuple(a for a in roster if a.pk in usable)
    owner = entry.owner_pk if entry.owner_pk in usable else None
    if owner is None and not any(eligible(a, entry.skill) for a in pool):
        return None
    return ReserveFrom(pool=pool, skill=entry.skill, preferred_teams=entry.teams, owner_pk=owner)


# --- team order ------------------------------------------------------------------------------------
def team_rank(advisor: AdvisorView, preferred_teams: Sequence[str]) -> int:
    """Position of the advisor's team in `preferred_teams` (others after all of them)."""
    teams = tuple(preferred_teams)
    return teams.index(advisor.team) if advisor.team in teams else len(teams)


def in_team_order(advisors: Iterable[AdvisorView], skill: str | None, teams: Sequence[str]) -> list[AdvisorView]:
    """The advisors eligible for `skill`, preferred teams first (in their order), by pk within a rank."""
    return sorted((a for a in advisors if eligible(a, skill)), key=lambda a: (team_rank(a, teams), a.pk))


# --- helpers ---------------------------------------------------------------------------------------
def _teams(call: CallFacts, tables: Roster) -> tuple[str, ...]:
    return preferred_teams(call.district_team, call.skill, tables.teams)


def _owner(call: CallFacts, tables: Roster) -> AdvisorView | None:
    """The case owner, if active (in the roster) and not tried this round."""
    owner = next((a for a in tables.advisors if a.pk == call.owner_pk), None)
    if owner is None or not owner.active or owner.target in call.tried:
        return None
    return owner


def _untried(call: CallFacts, tables: Roster) -> list[AdvisorView]:
    return [a for a in in_team_order(tables.advisors, call.skill, _teams(call, tables)) if a.target not in call.tried]


def _entry(call: CallFacts, tables: Roster, now: datetime, *, owner_waits: bool, owner_wait_seconds: float) -> Waiting:
    """The call's line entry: advisors it just tried are not offered it again for a hold round."""
    return entry_for(
        call.sid,
        priority_rank=call.priority_rank if call.priority_rank is not None else Priority.MEDIUM.rank,
        queued_at=call.queued_at or now,
        skill=call.skill,
        teams=_teams(call, tables),
        owner_pk=call.owner_pk,
        owner_waits=owner_waits,
        owner_wait_seconds=owner_wait_seconds,
        exclude=call.tried_advisors,
        exclude_until=now + timedelta(seconds=HOLD_ROUND_SECONDS),
        due_at=call.response_due,
    )


def _aware(now: datetime) -> datetime:
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError(f"naive datetime {now!r}: pass a tz-aware instant")
    return now
