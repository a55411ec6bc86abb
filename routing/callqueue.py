"""The waiting line: callers no fitting advisor could take yet, in Redis so every worker sees one line.

What it owns. Who is waiting, in which order, for what (skill, preferred teams, the case owner),
and the plain arithmetic of "where am I in the line and how long will it be". It does not take
advisors (that is `routing.presence`) and does not talk to Twilio (that is `ivr.dispatch`).

Order: priority first (critical before high before medium before low), then the earlier of the
time the caller joined and the time their case's response is due (so an overdue case goes ahead
of callers of the same priority), then who came first.
Everything an entry needs for matching lives in a hash beside the sorted set, so a dispatcher can
read the whole line in one round trip.

Owner preference: a caller whose case owner is busy (on a call or wrapping up) waits for the owner
alone until `owner_until` (queue time + 60 s by default), then takes anyone fitting; the owner is
still tried first whenever they are free.

Expected wait (what the caller is told): `routing.waitestimate`, from the caller's position here,
the advisors' presence and the live departures rate, which this module records: every caller who
leaves the line for an advisor (`departed`) is kept for `DEPARTURE_WINDOW_SECONDS` in
`{sl:queue}:departed` with their skill, and `departures` reads back the ones competing with a call.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from datetime import datetime

import redis

from casestore.types import ProductArea
from routing.waitestimate import DEPARTURE_WINDOW_SECONDS

SKILLS = tuple(p.value for p in ProductArea)
OWNER_WAIT_SECONDS = 60
_PRIORITY_WEIGHT = 1e11  # far above any epoch-seconds value, so priority dominates


@dataclass(frozen=True)
class Waiting:
    """One caller in the line. Times are epoch seconds."""

    sid: str
    rank: int  # Priority.rank: 0 critical ... 3 low
    queued_at: float
    skill: str | None = None  # None: a general call, anyone may take it
    teams: tuple[str, ...] = ()  # preferred teams, in order
    owner_pk: int | None = None
    owner_until: float | None = None  # only the owner may take the call before this
    exclude: tuple[int, ...] = ()  # advisors who just missed this call ...
    exclude_until: float | None = None  # ... are not offered it again before this
    due_at: float | None = None  # the case's response is due then (not yet responded to)

    def excluded(self, now_ts: float) -> frozenset[int]:
        if not self.exclude or self.exclude_until is None or now_ts >= self.exclude_until:
            return frozenset()
        return frozenset(self.exclude)

    @property
    def score(self) -> float:
        """Priority first; within a priority, by the earlier of the time the caller joined and the
        time their case's response is due (an overdue case goes ahead), then by who came first."""
        order_at = self.queued_at if self.due_at is None else min(self.queued_at, self.due_at)
        return queue_score(self.rank, order_at)

    def owner_only(self, now_ts: float) -> bool:
        return self.owner_pk is not None and self.owner_until is not None and now_ts < self.owner_until

    def competes_with(self, other: Waiting) -> bool:
        """Could the advisors who would take `other` take this call too (and the other way)?"""
        return self.skill is None or other.skill is None or self.skill == other.skill

    def encode(self) -> str:
        return json.dumps(asdict(self), separators=(",", ":"))

    @classmethod
    def decode(cls, raw: str | bytes) -> Waiting:
        data = json.loads(raw)
        data["teams"] = tuple(data.get("teams") or ())
        data["exclude"] = tuple(data.get("exclude") or ())
        return cls(**{k: v for k, v in data.items() if k in cls.__dataclass_fields__})


def queue_score(priority_rank: int, queued_at: float) -> float:
    return priority_rank * _PRIORITY_WEIGHT + queued_at


def position_in(entries: list[Waiting], sid: str) -> int | None:
    """1-based place of `sid` among the callers competing with it (None if not waiting)."""
    me = next((e for e in entries if e.sid == sid), None)
    if me is None:
        return None
    ahead = 0
    for e in entries:
        if e.sid == sid:
            break
        if e.competes_with(me):
            ahead += 1
    return ahead + 1


GENERAL = "general"  # the index of general calls (no skill): they compete with everyone


class CallQueue:
    """The line in Redis: `{sl:queue}:line` (sorted set, score = priority then queue time),
    `{sl:queue}:meta` (hash sid -> entry JSON), and one sorted set per skill (general calls in
    their own) so that a caller's place and "is anyone ahead for the same advisors" cost O(log n),
    however long the line. One hash tag, so it works on Redis Cluster too."""

    def __init__(self, client: redis.Redis, prefix: str = "sl") -> None:
        self.redis = client
        base = f"{{{prefix}:queue}}"
        self.line_key = f"{base}:line"
        self.meta_key = f"{base}:meta"
        self._skill_base = f"{base}:by-skill"
        self.departed_key = f"{base}:departed"

    def skill_key(self, skill: str | None) -> str:
        return f"{self._skill_base}:{skill or GENERAL}"

    def join(self, entry: Waiting) -> None:
        """Add the caller, or update what they wait for; a caller already in line keeps their place."""
        pipe = self.redis.pipeline(transaction=True)
        pipe.zadd(self.line_key, {entry.sid: entry.score}, nx=True)
        pipe.zadd(self.skill_key(entry.skill), {entry.sid: entry.score}, nx=True)
        pipe.hset(self.meta_key, entry.sid, entry.encode())
        pipe.execute()

    def leave(self, sid: str) -> bool:
        """Take the caller out of the line; True when they were in it."""
        pipe = self.redis.pipeline(transaction=True)
        pipe.zrem(self.line_key, sid)
        for skill in (*SKILLS, None):
            pipe.zrem(self.skill_key(skill), sid)
        pipe.hdel(self.meta_key, sid)
        return bool(pipe.execute()[0])

    def departed(self, sid: str, skill: str | None, now: datetime) -> None:
        """The caller left the line for an advisor at `now` (the live departures rate); departures
        older than the window are dropped on the way."""
        ts = now.timestamp()
        pipe = self.redis.pipeline(transaction=False)
        pipe.zadd(self.departed_key, {f"{skill or GENERAL}|{sid}": ts})
        pipe.zremrangebyscore(self.departed_key, "-inf", ts - DEPARTURE_WINDOW_SECONDS)
        pipe.execute()

    def departures(self, skill: str | None, now: datetime) -> tuple[float, ...]:
        """Epoch seconds of the recent departures of callers competing with a call of `skill`
        (the same skill or general calls; every departure for a general call)."""
        ts = now.timestamp()
        rows: list[tuple[bytes | str, float]] = list(
            self.redis.zrangebyscore(self.departed_key, ts - DEPARTURE_WINDOW_SECONDS, ts, withscores=True)  # type: ignore[arg-type]
        )
        out = []
        for member, score in rows:
            their = (member.decode() if isinstance(member, bytes) else member).split("|", 1)[0]
            if skill is None or their in (skill, GENERAL):
                out.append(float(score))
        return tuple(out)

    def position(self, entry: Waiting) -> int:
        """1-based place among the callers competing with `entry` (same skill, or general calls;
        a general call competes with everyone)."""
        pipe = self.redis.pipeline(transaction=False)
        if entry.skill is None:
            pipe.zcount(self.line_key, "-inf", entry.score)
        else:
            pipe.zcount(self.skill_key(entry.skill), "-inf", entry.score)
            pipe.zcount(self.skill_key(None), "-inf", entry.score)
        return max(1, sum(int(n) for n in pipe.execute()))

    def others_waiting_for(self, sid: str, skill: str | None) -> bool:
        """Is anyone else in line for the advisors a call with `skill` would take?"""
        pipe = self.redis.pipeline(transaction=False)
        if skill is None:
            pipe.zcard(self.line_key)
        else:
            pipe.zcard(self.skill_key(skill))
            pipe.zcard(self.skill_key(None))
        pipe.zscore(self.line_key, sid)
        *counts, mine = pipe.execute()
        return sum(int(n) for n in counts) - (1 if mine is not None else 0) > 0

    def entries(self) -> list[Waiting]:
        """The whole line in order (two commands in one round trip)."""
        pipe = self.redis.pipeline(transaction=True)
        pipe.zrange(self.line_key, 0, -1)
        pipe.hgetall(self.meta_key)
        sids, meta = pipe.execute()
        out = []
        for sid in sids:
            raw = meta.get(sid)
            if raw is not None:
                out.append(Waiting.decode(raw))
        return out

    def get(self, sid: str) -> Waiting | None:
        raw = self.redis.hget(self.meta_key, sid)
        return Waiting.decode(raw) if raw is not None else None

    def waiting(self) -> int:
        return int(self.redis.zcard(self.line_key))


def entry_for(
    sid: str,
    *,
    priority_rank: int,
    queued_at: datetime,
    skill: str | None,
    teams: tuple[str, ...],
    owner_pk: int | None,
    owner_waits: bool,
    owner_wait_seconds: float = OWNER_WAIT_SECONDS,
    exclude: tuple[int, ...] = (),
    exclude_until: datetime | None = None,
    due_at: datetime | None = None,
) -> Waiting:
    """A line entry; `owner_waits` when the owner is busy but will be free (on a call, wrap-up);
    `exclude` advisors who just missed the call, until `exclude_until`."""
    ts = queued_at.timestamp()
    return Waiting(
        sid=sid,
        rank=priority_rank,
        queued_at=ts,
        skill=skill,
        teams=tuple(teams),
        owner_pk=owner_pk,
        owner_until=(ts + owner_wait_seconds) if (owner_pk is not None and owner_waits) else None,
        exclude=tuple(exclude),
        exclude_until=exclude_until.timestamp() if exclude and exclude_until else None,
        due_at=due_at.timestamp() if due_at is not None else None,
    )
