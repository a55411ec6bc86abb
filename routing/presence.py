"""Advisor presence (available / on_call / wrap_up / away / offline) and atomic reservation, in Redis.

What it owns. Who is free right now, shared by every gunicorn worker and machine: one Redis hash
per advisor, plus the last step of "which free advisor takes this call" and the taking of that
advisor, done as one atomic step (`Presence.reserve`). Whom to ask for, from which pool, in which
team order is `routing.decision`'s (on `routing.selection`'s eligibility and team order); this module
layers "is free, and for how long" on top. The roster (who exists, skills, teams, active) stays in
the database; callers hand it in as `routing.selection.AdvisorView`s. It never
reads the clock: every method takes `now`, which must be tz-aware (a naive datetime raises
ValueError). It imports only `routing`, redis and the standard library.

Redis keys (`prefix` defaults to "sl"; the `{sl:presence}` hash tag keeps every key in one cluster
slot, so the multi-key Lua scripts also run on Redis Cluster):
  * `{sl:presence}:advisor:<pk>`  hash, one per advisor who ever had a presence:
        state         stored state: available | on_call | wrap_up | away | offline
        since         epoch seconds of the last state change
        idle_since    epoch seconds when they last became available (the "longest idle" key)
        calls_today   calls accepted on `calls_date` ...
        calls_date    ... the local date (in the desk's `tz`) the count is for; another date reads as 0
        missed        missed reservations in a row (reset by an accepted call or by becoming available)
        away_reason   why they are away ("missed 2 calls in a row" for the autopause), else ""
        call_sid      the call they hold while on_call, else ""
        accepted_sid  == call_sid once that call was accepted, else ""
        wrap_until    epoch seconds the wrap-up ends ("" = open-ended, until `reconcile` caps it)
    No record means offline. No key expires: presence lasts until it is changed.
  * `{sl:presence}:advisors`  set of advisor pks with a record (so `reconcile` finds advisors who
    left the roster).

Wrap-up ends lazily, without timers: a stored `wrap_up` whose `wrap_until <= now` *is* available
(since, and idle since, `wrap_until`), both when read and when reserving, so an injected clock
drives it. A reservation taken from an elapsed wrap-up writes that idle_since down first.

Why reservation is atomic. Several workers may route calls at the same moment. `reserve` reads the
candidates' presence, picks the best one and marks them on_call in ONE Lua script (EVALSHA through
redis-py `register_script`; the scripts are in `routing.presencelua`). Redis runs a script without
interleaving any other command, so two concurrent reservations can never both see the same advisor
as free: the second sees them on_call. A read-then-write from Python (even with a pipeline) would
have that race. Every other transition (release, accepted, call_ended, set_state, reconcile) is also
a small script that checks the state and the call sid it expects before writing, so a late or
duplicate Twilio callback cannot free an advisor who has moved on to another call.

Choice order in `reserve`: the case owner, if given and free; otherwise, among candidates eligible
for the skill, preferred teams first (their order in `preferred_teams`, others after), then longest
idle (smallest idle_since), then fewest calls today, then lowest pk. Reserving again with the call
sid an advisor already holds returns that advisor (a retried webhook does not take a second one).

Life of a call: reserve -> (whisper accepted) accepted -> call_ended -> wrap_up -> available; or
reserve -> release (no answer / busy / declined: straight back to available keeping idle_since, so
they stay at the front; `missed=True` counts toward the autopause: 2 in a row -> away).
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, tzinfo
from typing import Any
from zoneinfo import ZoneInfo

import redis

from routing import presencelua as lua
from routing.decision import team_rank
from routing.selection import AdvisorView, eligible

MISSED_LIMIT = 2
AUTOPAUSE_REASON = f"missed {MISSED_LIMIT} calls in a row"
DEFAULT_WRAP_SECONDS = 60


class PresenceState(str, enum.Enum):
    AVAILABLE = "available"
    ON_CALL = "on_call"
    WRAP_UP = "wrap_up"
    AWAY = "away"
    OFFLINE = "offline"

    def __str__(self) -> str:
        return self.value


STATES = frozenset(s.value for s in PresenceState)


@dataclass(frozen=True)
class AdvisorPresence:
    """One advisor's presence as seen at `now` (an elapsed wrap-up already reads as available)."""

    pk: int
    state: str
    since: float | None  # epoch seconds
    idle_since: float | None  # epoch seconds they last became available
    calls_today: int  # for the local date of `now`
    missed_in_a_row: int
    away_reason: str | None
    call_sid: str | None
    wrap_until: float | None  # stored wrap-up end, epoch seconds; None when open-ended or unset
    accepted: bool  # the held call (call_sid) was accepted

    @property
    def available(self) -> bool:
        return self.state == PresenceState.AVAILABLE.value


def _ts(now: datetime) -> float:
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError(f"naive datetime {now!r}: pass a tz-aware instant")
    return now.timestamp()


def _arg(x: float) -> str:
    return repr(float(x))


def _text(v: object) -> str:
    if v is None:
        return ""
    return v.decode() if isinstance(v, bytes) else str(v)


def _float(v: str) -> float | None:
    return float(v) if v else None


def _state(state: PresenceState | str) -> str:
    value = state.value if isinstance(state, PresenceState) else str(state)
    if value not in STATES:
        raise ValueError(f"unknown presence state {state!r}; one of {sorted(STATES)}")
    return value


class Presence:
    """Advisor presence and reservation, in Redis. `tz` is the desk's zone: calls_today resets at
    local midnight there."""

    def __init__(
        self,
        client: redis.Redis,
        tz: str | tzinfo = "America/Chicago",
        prefix: str = "sl",
        missed_limit: int = MISSED_LIMIT,
    ) -> None:
        """`missed_limit`: missed calls in a row that set an advisor away (0: never)."""
        self.redis = client
        self.missed_limit = max(0, int(missed_limit))
        self.tz = ZoneInfo(tz) if isinstance(tz, str) else tz
        self._base = f"{{{prefix}:presence}}"
        self.registry_key = f"{self._base}:advisors"
        self._reserve = client.register_script(lua.RESERVE)
        self._set_state = client.register_script(lua.SET_STATE)
        self._release = client.register_script(lua.RELEASE)
        self._accepted = client.register_script(lua.ACCEPTED)
        self._call_ended = client.register_script(lua.CALL_ENDED)
        self._reconcile = client.register_script(lua.RECONCILE)
        self._adopt = client.register_script(lua.ADOPT)

    def key(self, advisor_pk: int) -> str:
        return f"{self._base}:advisor:{int(advisor_pk)}"

    def _today(self, now: datetime) -> str:
        return now.astimezone(self.tz).date().isoformat()

    def local_date(self, now: datetime) -> date:
        _ts(now)
        return now.astimezone(self.tz).date()

    # -- reading ------------------------------------------------------------------------------------
    def _view(self, pk: int, raw: dict[Any, Any] | None, now_ts: float, today: str) -> AdvisorPresence:
        rec = {_text(k): _text(v) for k, v in (raw or {}).items()}
        state = rec.get("state") or PresenceState.OFFLINE.value
        since = _float(rec.get("since", ""))
        idle = _float(rec.get("idle_since", ""))
        wrap_until = _float(rec.get("wrap_until", ""))
        if state == PresenceState.WRAP_UP.value and wrap_until is not None and wrap_until <= now_ts:
            state, since, idle = PresenceState.AVAILABLE.value, wrap_until, wrap_until
        calls = int(rec.get("calls_today") or 0) if rec.get("calls_date") == today else 0
        call_sid = rec.get("call_sid") or None
        return AdvisorPresence(
            pk=int(pk),
            state=state,
            since=since,
            idle_since=idle,
            calls_today=calls,
            missed_in_a_row=int(rec.get("missed") or 0),
            away_reason=rec.get("away_reason") or None,
            call_sid=call_sid,
            wrap_until=wrap_until,
            accepted=bool(call_sid) and rec.get("accepted_sid") == call_sid,
        )

    def get(self, advisor_pk: int, now: datetime) -> AdvisorPresence:
        now_ts = _ts(now)
        return self._view(advisor_pk, self.redis.hgetall(self.key(advisor_pk)), now_ts, self._today(now))

    def snapshot(self, advisor_pks: Iterable[int], now: datetime) -> dict[int, AdvisorPresence]:
        now_ts = _ts(now)
        today = self._today(now)
        pks = list(dict.fromkeys(int(pk) for pk in advisor_pks))
        pipe = self.redis.pipeline(transaction=False)
        for pk in pks:
            pipe.hgetall(self.key(pk))
        return {pk: self._view(pk, raw, now_ts, today) for pk, raw in zip(pks, pipe.execute(), strict=True)}

    def available_count(self, candidates: Iterable[AdvisorView], skill: str | None, now: datetime) -> int:
        """How many eligible advisors are free at `now` (for staffing-based wait estimates)."""
        pool = [a.pk for a in candidates if eligible(a, skill)]
        return sum(1 for p in self.snapshot(pool, now).values() if p.available)

    # -- changing -----------------------------------------------------------------------------------
    def set_state(self, advisor_pk: int, state: PresenceState | str, now: datetime, reason: str | None = None) -> bool:
        """Set an advisor's presence (advisor, supervisor or app). True when something changed.

        * available: from any other state, idle from `now` and the missed counter resets; already
          available (an elapsed wrap-up included) keeps its place in line.
        * away: `reason` is stored for supervisors (kept only for away); setting away again updates it.
        * wrap_up: open-ended (until set available, or `reconcile` caps it at max_wrap_seconds).
        * offline.
        on_call is refused (ValueError): only `reserve` puts an advisor on a call, so every on_call
        advisor holds a call sid that `reconcile` can check. Any change drops a held call sid, so
        that call's later callbacks do nothing.
        """
        now_ts = _ts(now)
        value = _state(state)
        if value == PresenceState.ON_CALL.value:
            raise ValueError("on_call is entered only through reserve()")
        changed = self._set_state(
            keys=[self.key(advisor_pk), self.registry_key], args=[_arg(now_ts), value, reason or "", int(advisor_pk)]
        )
        return bool(changed)

    def reserve(
        self,
        candidates: Iterable[AdvisorView],
        *,
        skill: str | None,
        preferred_teams: tuple[str, ...] | list[str] = (),
        call_sid: str,
        now: datetime,
        owner_pk: int | None = None,
    ) -> int | None:
        """Atomically choose and take the best free advisor for the call; their pk, or None.

        The owner (if given and free, whatever the skill) first; else candidates eligible for
        `skill` (re-checked here), preferred teams first, then longest idle, fewest calls today,
        lowest pk. The chosen advisor is on_call holding `call_sid`.
        """
        now_ts = _ts(now)
        if not call_sid:
            raise ValueError("reserve() needs the call sid")
        pool: dict[int, int] = {}
        for a in candidates:
            if eligible(a, skill) and a.pk != owner_pk:
                pool.setdefault(a.pk, team_rank(a, preferred_teams))
        keys: list[str] = []
        pairs: list[int] = []
        if owner_pk is not None:
            keys.append(self.key(owner_pk))
            pairs += [int(owner_pk), -1]
        for pk, rank in sorted(pool.items()):
            keys.append(self.key(pk))
            pairs += [pk, rank]
        if not keys:
            return None
        taken = self._reserve(
            keys=keys, args=[_arg(now_ts), self._today(now), call_sid, "1" if owner_pk is not None else "0", *pairs]
        )
        return None if taken is None else int(taken)

    def release(self, advisor_pk: int, call_sid: str, now: datetime, missed: bool) -> str | None:
        """A reservation not accepted (no answer, busy, whisper declined): back to available at
        once, keeping idle_since. `missed` counts toward the autopause: at `missed_limit` in a row
        the advisor goes away with reason "missed N calls in a row" (AUTOPAUSE_REASON for 2).
        Returns the new state ("available" or "away"), or None when `call_sid` is not the
        advisor's unaccepted reservation (a late or duplicate callback: nothing changes)."""
        now_ts = _ts(now)
        result = _text(
            self._release(
                keys=[self.key(advisor_pk)],
                args=[
                    _arg(now_ts),
                    call_sid,
                    "1" if missed else "0",
                    self.missed_limit,
                    f"missed {self.missed_limit} calls in a row",
                ],
            )
        )
        return result or None

    def accepted(self, advisor_pk: int, call_sid: str, now: datetime) -> bool:
        """The advisor accepted the call they hold: missed_in_a_row resets, calls_today counts it
        (once; a duplicate callback or another sid does nothing)."""
        _ts(now)
        return bool(self._accepted(keys=[self.key(advisor_pk)], args=[call_sid, self._today(now)]))

    def call_ended(
        self, advisor_pk: int, now: datetime, wrap_seconds: float = DEFAULT_WRAP_SECONDS, *, call_sid: str | None = None
    ) -> bool:
        """The advisor's call ended: wrap_up until now + wrap_seconds, then available (lazily).
        Only an on_call advisor changes (away/offline set meanwhile stays); pass `call_sid` to act
        only if it is still the call they hold."""
        now_ts = _ts(now)
        if wrap_seconds < 0:
            raise ValueError("wrap_seconds must be >= 0")
        return bool(
            self._call_ended(
                keys=[self.key(advisor_pk)], args=[_arg(now_ts), _arg(now_ts + wrap_seconds), call_sid or ""]
            )
        )

    def adopt(
        self,
        advisor_pk: int,
        *,
        since: datetime,
        call_sid: str | None,
        wrap_until: datetime | None = None,
        replacing: str | None = None,
    ) -> bool:
        """Make presence follow a hold the database knows of (`ivr.holds`): on a call with
        `call_sid` since `since`, or (no `call_sid`) in wrap-up until `wrap_until`. Written only
        where the record is missing (rebuilding after a Redis loss) or, with `replacing`, where the
        advisor holds that unaccepted reservation (Redis reserved someone the database says is
        busy with another call). True when written."""
        if not call_sid and wrap_until is None:
            raise ValueError("adopt() needs a call_sid or a wrap_until")
        return bool(
            self._adopt(
                keys=[self.key(advisor_pk), self.registry_key],
                args=[
                    replacing or "",
                    _arg(_ts(since)),
                    call_sid or "",
                    _arg(_ts(wrap_until)) if wrap_until is not None else "",
                    int(advisor_pk),
                ],
            )
        )

    def reconcile(
        self,
        advisor_pk_to_active: dict[int, bool],
        live_call_sids: set[str] | None,
        now: datetime,
        max_wrap_seconds: float,
    ) -> dict[int, str]:
        """Converge presence to the truth; returns {pk: state at `now`} for advisors it changed.

        * advisors inactive in the roster, or no longer in it, become offline;
        * with `live_call_sids`, an advisor on_call for a sid not in it goes to wrap_up ending at
          now (available at once): nobody stays stuck on a call Twilio says has ended;
        * a wrap-up longer than `max_wrap_seconds` from its start (or open-ended) is cut to that.
        Each change is a compare-and-set script, so it is safe beside live traffic.
        """
        now_ts = _ts(now)
        roster = {int(pk): bool(active) for pk, active in advisor_pk_to_active.items()}
        pks = set(roster) | {int(_text(m)) for m in self.redis.smembers(self.registry_key)}
        ordered = sorted(pks)
        views = self.snapshot(ordered, now)
        changes: dict[int, str] = {}
        for pk in ordered:
            active = roster.get(pk, False)
            view = views[pk]
            check_sid = (
                active
                and live_call_sids is not None
                and view.state == PresenceState.ON_CALL.value
                and (view.call_sid or "") not in live_call_sids
            )
            result = _text(
                self._reconcile(
                    keys=[self.key(pk)],
                    args=[
                        _arg(now_ts),
                        "1" if active else "0",
                        _arg(max_wrap_seconds),
                        "1" if check_sid else "0",
                        (view.call_sid or "") if check_sid else "",
                    ],
                )
            )
            if result:
                changes[pk] = result
        return changes
