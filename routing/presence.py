"""Advisor presence (available / on_call / wrap_up / away / offline) and atomic reservation, in Redis.

What it owns. Who is free right now, shared by every gunicorn worker and machine: one Redis hash
per advisor, plus the decision "which free advisor takes this call" and the taking of that advisor,
done as one atomic step (`Presence.reserve`). The roster (who exists, skills, teams, active) stays
in the database; callers hand it in as `routing.selection.AdvisorView`s. Eligibility and team order
are `routing.selection`'s rules; this module layers "is free, and for how long" on top. It never
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
redis-py `register_script`). Redis runs a script without interleaving any other command, so two
concurrent reservations can never both see the same advisor as free: the second sees them on_call.
A read-then-write from Python (even with a pipeline) would have that race. Every other transition
(release, accepted, call_ended, set_state, reconcile) is also a small script that checks the state
and the call sid it expects before writing, so a late or duplicate Twilio callback cannot free an
advisor who has moved on to another call.

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


# --- Lua -------------------------------------------------------------------------------------------
# Shared helpers. Timestamps travel as Python float reprs and are written back with %.17g, which
# round-trips a double exactly (tostring's %.14g would drop the microseconds).
_PRELUDE = """
local function num(v)
  if v == false or v == nil or v == '' then return nil end
  return tonumber(v)
end
local function fmt(x) return string.format('%.17g', x) end
-- the state as seen at `now`: an elapsed wrap-up is available since its end
local function effective(state, wrap_until, now)
  state = state or 'offline'
  if state == 'wrap_up' then
    local w = num(wrap_until)
    if w ~= nil and w <= now then return 'available', w end
  end
  return state, nil
end
"""

# KEYS[i]: advisor hashes (the owner first when ARGV[4] == '1').
# ARGV: now, today, call_sid, has_owner, then (pk, team_rank) per key.
_RESERVE = _PRELUDE + """
local now = tonumber(ARGV[1])
local today = ARGV[2]
local sid = ARGV[3]
local has_owner = ARGV[4] == '1'
local best = nil
for i = 1, #KEYS do
  local f = redis.call('HMGET', KEYS[i], 'state', 'idle_since', 'since', 'wrap_until',
                       'calls_today', 'calls_date', 'call_sid')
  local pk = tonumber(ARGV[3 + 2 * i])
  if f[1] == 'on_call' and f[7] == sid then return pk end
  local eff, wrap_end = effective(f[1], f[4], now)
  if eff == 'available' then
    local c = {i = i, pk = pk, rank = tonumber(ARGV[4 + 2 * i]),
               idle = wrap_end or num(f[2]) or num(f[3]) or 0, calls = 0}
    if f[6] == today then c.calls = num(f[5]) or 0 end
    if has_owner and i == 1 then
      c.rank = -1  -- the free owner beats everyone
    end
    if best == nil
       or c.rank < best.rank
       or (c.rank == best.rank and (c.idle < best.idle
           or (c.idle == best.idle and (c.calls < best.calls
               or (c.calls == best.calls and c.pk < best.pk))))) then
      best = c
    end
  end
end
if best == nil then return false end
redis.call('HSET', KEYS[best.i], 'state', 'on_call', 'since', ARGV[1], 'idle_since', fmt(best.idle),
           'call_sid', sid, 'accepted_sid', '', 'wrap_until', '')
return best.pk
"""

# KEYS: advisor hash, registry. ARGV: now, new state, reason, pk. Returns 1 when something changed.
_SET_STATE = _PRELUDE + """
local now = tonumber(ARGV[1])
local new = ARGV[2]
local f = redis.call('HMGET', KEYS[1], 'state', 'wrap_until', 'away_reason')
local eff, wrap_end = effective(f[1], f[2], now)
redis.call('SADD', KEYS[2], ARGV[4])
if new == 'available' then
  if eff == 'available' then
    if wrap_end ~= nil then  -- write the elapsed wrap-up down; idle since it ended
      redis.call('HSET', KEYS[1], 'state', 'available', 'since', fmt(wrap_end),
                 'idle_since', fmt(wrap_end), 'wrap_until', '')
      return 1
    end
    return 0
  end
  redis.call('HSET', KEYS[1], 'state', 'available', 'since', ARGV[1], 'idle_since', ARGV[1],
             'missed', '0', 'away_reason', '', 'call_sid', '', 'accepted_sid', '', 'wrap_until', '')
  return 1
end
if eff == new then
  if new == 'away' and f[3] ~= ARGV[3] then
    redis.call('HSET', KEYS[1], 'away_reason', ARGV[3])
    return 1
  end
  if new == 'wrap_up' and num(f[2]) ~= nil then  -- open-ended now; `since` keeps its start
    redis.call('HSET', KEYS[1], 'wrap_until', '')
    return 1
  end
  return 0
end
local reason = ''
if new == 'away' then reason = ARGV[3] end
redis.call('HSET', KEYS[1], 'state', new, 'since', ARGV[1], 'away_reason', reason,
           'call_sid', '', 'accepted_sid', '', 'wrap_until', '')
return 1
"""

# KEYS: advisor hash. ARGV: now, call_sid, missed ('1'/'0'), limit, reason.
# Returns the new state, or '' when the sid is not the advisor's unaccepted reservation.
_RELEASE = """
local f = redis.call('HMGET', KEYS[1], 'state', 'call_sid', 'accepted_sid', 'missed')
if f[1] ~= 'on_call' or f[2] ~= ARGV[2] or f[3] == ARGV[2] then return '' end
local missed = tonumber(f[4] or '0') or 0
if ARGV[3] == '1' then missed = missed + 1 end
local limit = tonumber(ARGV[4])
if limit > 0 and missed >= limit then
  redis.call('HSET', KEYS[1], 'state', 'away', 'since', ARGV[1], 'away_reason', ARGV[5],
             'missed', tostring(missed), 'call_sid', '', 'accepted_sid', '')
  return 'away'
end
redis.call('HSET', KEYS[1], 'state', 'available', 'since', ARGV[1], 'missed', tostring(missed),
           'call_sid', '', 'accepted_sid', '')
return 'available'
"""

# KEYS: advisor hash. ARGV: call_sid, today. Returns 1 when counted (0: wrong sid or duplicate).
_ACCEPTED = """
local f = redis.call('HMGET', KEYS[1], 'state', 'call_sid', 'accepted_sid', 'calls_today', 'calls_date')
if f[1] ~= 'on_call' or f[2] ~= ARGV[1] or f[3] == ARGV[1] then return 0 end
local calls = 0
if f[5] == ARGV[2] then calls = tonumber(f[4]) or 0 end
redis.call('HSET', KEYS[1], 'missed', '0', 'calls_today', tostring(calls + 1),
           'calls_date', ARGV[2], 'accepted_sid', ARGV[1])
return 1
"""

# KEYS: advisor hash. ARGV: now, wrap_until, call_sid ('' = whatever call they hold).
_CALL_ENDED = """
local f = redis.call('HMGET', KEYS[1], 'state', 'call_sid')
if f[1] ~= 'on_call' then return 0 end
if ARGV[3] ~= '' and f[2] ~= ARGV[3] then return 0 end
redis.call('HSET', KEYS[1], 'state', 'wrap_up', 'since', ARGV[1], 'wrap_until', ARGV[2],
           'call_sid', '', 'accepted_sid', '')
return 1
"""

# KEYS: advisor hash, registry. ARGV: expected sid ('' = only when there is no record), since,
# call_sid ('' = wrap-up), wrap_until, pk. Returns 1 when the record was written.
_ADOPT = """
if ARGV[1] == '' then
  if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
else
  local f = redis.call('HMGET', KEYS[1], 'state', 'call_sid', 'accepted_sid')
  if f[1] ~= 'on_call' or f[2] ~= ARGV[1] or f[3] == ARGV[1] then return 0 end
end
redis.call('SADD', KEYS[2], ARGV[5])
if ARGV[3] ~= '' then
  redis.call('HSET', KEYS[1], 'state', 'on_call', 'since', ARGV[2], 'call_sid', ARGV[3],
             'accepted_sid', '', 'wrap_until', '', 'away_reason', '')
else
  redis.call('HSET', KEYS[1], 'state', 'wrap_up', 'since', ARGV[2], 'wrap_until', ARGV[4],
             'idle_since', ARGV[4], 'call_sid', '', 'accepted_sid', '', 'away_reason', '')
end
return 1
"""

# KEYS: advisor hash. ARGV: now, active ('1'/'0'), max_wrap_seconds, check_sid ('1'/'0'), dead sid.
# Returns the advisor's state at `now` after a change, or '' when nothing changed.
_RECONCILE = _PRELUDE + """
local now = tonumber(ARGV[1])
local f = redis.call('HMGET', KEYS[1], 'state', 'call_sid', 'since', 'wrap_until')
if not f[1] or f[1] == 'offline' then return '' end
if ARGV[2] == '0' then
  redis.call('HSET', KEYS[1], 'state', 'offline', 'since', ARGV[1], 'away_reason', '',
             'call_sid', '', 'accepted_sid', '', 'wrap_until', '')
  return 'offline'
end
if f[1] == 'on_call' and ARGV[4] == '1' and (f[2] or '') == ARGV[5] then
  redis.call('HSET', KEYS[1], 'state', 'wrap_up', 'since', ARGV[1], 'wrap_until', ARGV[1],
             'call_sid', '', 'accepted_sid', '')
  return 'available'
end
if f[1] == 'wrap_up' then
  local limit = (num(f[3]) or now) + tonumber(ARGV[3])
  local w = num(f[4])
  if w == nil or w > limit then
    redis.call('HSET', KEYS[1], 'wrap_until', fmt(limit))
    return (effective('wrap_up', fmt(limit), now))
  end
end
return ''
"""


# --- Python side -----------------------------------------------------------------------------------
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


def team_rank(advisor: AdvisorView, preferred_teams: tuple[str, ...] | list[str]) -> int:
    """Position of the advisor's team in `preferred_teams` (others after all of them)."""
    teams = tuple(preferred_teams)
    return teams.index(advisor.team) if advisor.team in teams else len(teams)


class Presence:
    """Advisor presence and reservation, in Redis. `tz` is the desk's zone: calls_today resets at
    local midnight there."""

    def __init__(self, client: redis.Redis, tz: str | tzinfo = "America/Chicago", prefix: str = "sl",
                 missed_limit: int = MISSED_LIMIT) -> None:
        """`missed_limit`: missed calls in a row that set an advisor away (0: never)."""
        self.redis = client
        self.missed_limit = max(0, int(missed_limit))
        self.tz = ZoneInfo(tz) if isinstance(tz, str) else tz
        self._base = f"{{{prefix}:presence}}"
        self.registry_key = f"{self._base}:advisors"
        self._reserve = client.register_script(_RESERVE)
        self._set_state = client.register_script(_SET_STATE)
        self._release = client.register_script(_RELEASE)
        self._accepted = client.register_script(_ACCEPTED)
        self._call_ended = client.register_script(_CALL_ENDED)
        self._reconcile = client.register_script(_RECONCILE)
        self._adopt = client.register_script(_ADOPT)

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
            keys=[self.key(advisor_pk), self.registry_key],
            args=[_arg(now_ts), value, reason or "", int(advisor_pk)],
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
            keys=keys,
            args=[_arg(now_ts), self._today(now), call_sid, "1" if owner_pk is not None else "0", *pairs],
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
                args=[_arg(now_ts), call_sid, "1" if missed else "0", self.missed_limit,
                      f"missed {self.missed_limit} calls in a row"],
            )
        )
        return result or None

    def accepted(self, advisor_pk: int, call_sid: str, now: datetime) -> bool:
        """The advisor accepted the call they hold: missed_in_a_row resets, calls_today counts it
        (once; a duplicate callback or another sid does nothing)."""
        _ts(now)
        return bool(self._accepted(keys=[self.key(advisor_pk)], args=[call_sid, self._today(now)]))

    def call_ended(
        self,
        advisor_pk: int,
        now: datetime,
        wrap_seconds: float = DEFAULT_WRAP_SECONDS,
        *,
        call_sid: str | None = None,
    ) -> bool:
        """The advisor's call ended: wrap_up until now + wrap_seconds, then available (lazily).
        Only an on_call advisor changes (away/offline set meanwhile stays); pass `call_sid` to act
        only if it is still the call they hold."""
        now_ts = _ts(now)
        if wrap_seconds < 0:
            raise ValueError("wrap_seconds must be >= 0")
        return bool(
            self._call_ended(
                keys=[self.key(advisor_pk)],
                args=[_arg(now_ts), _arg(now_ts + wrap_seconds), call_sid or ""],
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
                args=[replacing or "", _arg(_ts(since)), call_sid or "",
                      _arg(_ts(wrap_until)) if wrap_until is not None else "", int(advisor_pk)],
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
