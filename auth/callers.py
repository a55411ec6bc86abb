"""Caller verification: who may be calling from a number, PIN checks, and the lockout counters.

Failures are counted per caller number and per entered contact ID (the subjects) in a sliding
15-minute window on the injected clock; three within the window lock that number or ID for 15
minutes. "May this caller try, and record the try" is one atomic step (`Lockout.attempt`), taken
once the PIN has been checked: refused when a subject is locked or out of tries (the check is then
not used, so a right PIN is refused like a wrong one), else a wrong PIN is counted against every
subject at once and a right one forgets their failures. However many calls guess in parallel,
across workers and machines, at most three wrong PINs per subject are ever judged.

Line-wide, failures of all callers are counted in a sliding 10-minute window too: at `ceiling`
failures the line turns strict, and stays so for an hour after its failures were last at the
ceiling. Meanwhile every number and contact ID gets one try per window instead of three, and the
flow gives each caller one try per call, after a pause. Crossing it logs one warning (not again
until the hour is over) and the flow counts it. (With Redis down, the line is strict only while
its failures in the window are at the ceiling.)

In Redis: a sorted set of failures and a lock key per subject, and the line's failures and
strict-until key, the whole step one Lua script. While Redis is unreachable (the app's breaker,
`casestore.redisguard`, handed to `Lockout`), the database stands in (`AuthFailure`, subjects
stored as hashes), one attempt per subject at a time (a transaction lock per subject on
PostgreSQL; SQLite lets one writer in at a time), so the same bound holds; a lock then lasts until
the third-latest failure leaves the window. Without either store no PIN attempt is accepted:
lockouts fail closed. Counts taken in one store are not seen by the other once Redis returns.
"""

from __future__ import annotations

import hashlib
import logging
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import redis
from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session, joinedload

from auth.pins import SCHEME, check_pin
from casestore.models import AuthFailure, Contact, ContactPhone, District
from casestore.phones import mask
from casestore.redisguard import ERRORS, Breaker

log = logging.getLogger("supportline.auth")

MAX_FAILURES = 3
WINDOW_SECONDS = 15 * 60
LOCK_SECONDS = 15 * 60
LINE_WINDOW_SECONDS = 10 * 60
LINE_HOLD_SECONDS = 60 * 60  # the line stays strict this long after its failures were over the ceiling
DEFAULT_LINE_CEILING = 30  # line-wide wrong PINs per LINE_WINDOW_SECONDS (Settings.pin_failure_ceiling)


@dataclass(frozen=True)
class CallerMatch:
    """What the caller ID tells us: exactly one contact (ask PIN) or not (ask contact ID)."""

    contact_pk: int | None
    shared: bool


def contacts_for_number(session: Session, e164: str | None) -> list[Contact]:
    """Active contacts of active districts with this number (several when it is a shared line)."""
    if not e164:
        return []
    stmt = (
        select(Contact)
        .join(ContactPhone, ContactPhone.contact_id == Contact.id)
        .join(District, District.id == Contact.district_id)
        .where(ContactPhone.e164 == e164, Contact.active.is_(True), District.active.is_(True))
        .distinct()
    )
    return list(session.scalars(stmt))


def match_caller(session: Session, e164: str | None) -> CallerMatch:
    contacts = contacts_for_number(session, e164)
    if len(contacts) == 1:
        return CallerMatch(contact_pk=contacts[0].id, shared=False)
    return CallerMatch(contact_pk=None, shared=len(contacts) > 1)


def contact_by_contact_id(session: Session, contact_id: str) -> Contact | None:
    """The active contact (of an active district) with this keypad contact ID."""
    if not contact_id.isdigit():
        return None
    stmt = (
        select(Contact)
        .join(District, District.id == Contact.district_id)
        .where(Contact.contact_id == contact_id, Contact.active.is_(True), District.active.is_(True))
    )
    return session.scalars(stmt).first()


def candidate(session: Session, contact_pk: int | None) -> Contact | None:
    """The active contact awaiting a PIN (with district and team), or None: one and the same
    query either way (no row has id 0), so a known contact ID is not slower to answer."""
    stmt = (
        select(Contact)
        .join(District, District.id == Contact.district_id)
        .options(joinedload(Contact.district).joinedload(District.team))
        .where(Contact.id == (contact_pk or 0), Contact.active.is_(True), District.active.is_(True))
    )
    return session.scalars(stmt).first()


# Checked when there is no contact, so that a wrong PIN costs one HMAC either way.
_NO_HASH = f"{SCHEME}${'0' * 64}"


def verify_pin(pepper: str, contact: Contact | None, pin: str, contact_id: str | None = None) -> bool:
    """True when `contact` exists, is active and `pin` matches its keyed hash. Without a contact
    the PIN is still hashed (bound to `contact_id`, the one typed) and compared, and fails."""
    if contact is None or not contact.active or not contact.district.active:
        check_pin(pepper, contact_id or "0", pin, _NO_HASH)
        return False
    return check_pin(pepper, contact.contact_id, pin, contact.pin_hash)


@dataclass(frozen=True)
class Verdict:
    """What the lockout made of one PIN attempt."""

    refused: bool  # locked, or out of tries: answer as locked out, whatever the PIN was
    strict: bool = False  # the line was over its ceiling (one try per call)
    locked: bool = False  # this wrong PIN locked the number or contact ID
    line_crossed: bool = False  # ... and took the line over its ceiling (once per strict spell)


# KEYS: line failures, line strict-until, then (failures, lock) per subject.
# ARGV: now, window, limit, member, right (1/0), lock seconds, ceiling (0: none), line window, hold.
# Returns {status (0 refused, 1 right, 2 wrong and counted), strict, locked, line crossed}.
_ATTEMPT = """
local ts, window, limit = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local lock_s, ceiling = tonumber(ARGV[6]), tonumber(ARGV[7])
local line_window, hold = tonumber(ARGV[8]), tonumber(ARGV[9])
local strict = 0
local until_ = redis.call('GET', KEYS[2])
if until_ and tonumber(until_) > ts then limit = 1; strict = 1 end
for i = 3, #KEYS, 2 do
  local lock = redis.call('GET', KEYS[i + 1])
  if lock and tonumber(lock) > ts then return {0, strict, 0, 0} end
  redis.call('ZREMRANGEBYSCORE', KEYS[i], '-inf', ts - window)
  if redis.call('ZCARD', KEYS[i]) >= limit then return {0, strict, 0, 0} end
end
if ARGV[5] == '1' then
  for i = 3, #KEYS, 2 do redis.call('DEL', KEYS[i]) end
  return {1, strict, 0, 0}
end
local locked, crossed = 0, 0
for i = 3, #KEYS, 2 do
  redis.call('ZADD', KEYS[i], ts, ARGV[4])
  redis.call('EXPIRE', KEYS[i], window + 60)
  if redis.call('ZCARD', KEYS[i]) >= limit then
    redis.call('SET', KEYS[i + 1], string.format('%.3f', ts + lock_s), 'EX', lock_s + 60)
    locked = 1
  end
end
if ceiling > 0 then
  redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ts - line_window)
  redis.call('ZADD', KEYS[1], ts, ARGV[4])
  redis.call('EXPIRE', KEYS[1], line_window + 60)
  if redis.call('ZCARD', KEYS[1]) >= ceiling then
    if strict == 0 then crossed = 1 end
    redis.call('SET', KEYS[2], string.format('%.3f', ts + hold), 'EX', hold + 60)
  end
end
return {2, strict, locked, crossed}
"""


class Lockout:
    """Failure counters and locks in Redis, keyed by caller number and by contact ID, and the
    line-wide failure ceiling (`ceiling` failures per LINE_WINDOW_SECONDS; 0 = no ceiling)."""

    def __init__(
        self,
        client: redis.Redis,
        prefix: str = "sl",
        session: Session | None = None,
        ceiling: int = DEFAULT_LINE_CEILING,
        *,
        breaker: Breaker,
    ) -> None:
        """`session`: the database stand-in used while Redis is unreachable (without one, PIN
        attempts are refused then: a lockout never fails open). `breaker`: the app's Redis
        breaker (`casestore.redisguard.Breakers.redis`), which says whether Redis is usable now."""
        self.redis = client
        self.prefix = prefix
        self.session = session
        self.ceiling = max(0, int(ceiling))
        self.breaker = breaker

    def _keys(self, kind: str, value: str) -> tuple[str, str]:
        return f"{self.prefix}:fail:{kind}:{value}", f"{self.prefix}:lock:{kind}:{value}"

    def _script_keys(self, subjects: Iterable[tuple[str, str]]) -> list[str]:
        keys = [f"{self.prefix}:fail:line", f"{self.prefix}:strict:line"]
        for kind, value in subjects:
            keys += self._keys(kind, value)
        return keys

    @staticmethod
    def _subjects(number: str | None, contact_id: str | None) -> list[tuple[str, str]]:
        subjects = []
        if number:
            subjects.append(("num", number))
        if contact_id:
            subjects.append(("cid", contact_id[:16]))
        return subjects

    def locked(self, now: datetime, number: str | None = None, contact_id: str | None = None) -> bool:
        """A quick look (to turn a locked caller away early); `attempt` is what decides."""
        return self.locked_for(now, number, contact_id) > 0

    def locked_for(self, now: datetime, number: str | None = None, contact_id: str | None = None) -> float:
        """Seconds until the number and the contact ID may both try again (0 when neither is
        locked), for the lockout message; like `locked`, a look, never a decision."""
        subjects = self._subjects(number, contact_id)
        if not subjects:
            return 0.0
        if self.breaker.usable():
            try:
                keys = [self._keys(kind, value)[1] for kind, value in subjects]
                untils = [float(until) for until in self.redis.mget(keys) if until is not None]
                self.breaker.succeeded()
                return max([0.0, *(until - now.timestamp() for until in untils)])
            except ERRORS as exc:
                self.breaker.failed(exc)
        return self._db_locked_for(now, subjects)

    def attempt(self, now: datetime, right: bool, number: str | None = None, contact_id: str | None = None) -> Verdict:
        """Decide on one PIN attempt whose check came out `right`, and record it, in one atomic
        step: refused when the number or contact ID is locked or out of tries (then the check
        must not be used), else a right PIN forgets their failures and a wrong one counts against
        both (locking at the limit) and against the line."""
        subjects = tuple(self._subjects(number, contact_id))
        verdict = None
        if self.breaker.usable():
            try:
                member = f"{now.timestamp():.6f}:{uuid.uuid4().hex}"
                status, strict, locked, crossed = self.redis.eval(
                    _ATTEMPT,
                    2 + 2 * len(subjects),
                    *self._script_keys(subjects),
                    f"{now.timestamp():.6f}",
                    WINDOW_SECONDS,
                    MAX_FAILURES,
                    member,
                    "1" if right else "0",
                    LOCK_SECONDS,
                    self.ceiling,
                    LINE_WINDOW_SECONDS,
                    LINE_HOLD_SECONDS,
                )
                self.breaker.succeeded()
                verdict = Verdict(status == 0, bool(strict), bool(locked), bool(crossed))
            except ERRORS as exc:
                self.breaker.failed(exc)
        if verdict is None:
            verdict = self._db_attempt(now, right, subjects)
        self._log(verdict, right, dict(subjects))
        return verdict

    def _log(self, verdict: Verdict, right: bool, subjects: dict[str, str]) -> None:
        if verdict.line_crossed:
            log.warning(
                "PIN failures over the line-wide ceiling: %d in %d minutes; every caller gets one try",
                self.ceiling,
                LINE_WINDOW_SECONDS // 60,
            )
        if verdict.refused or right:
            return
        if verdict.locked:
            log.warning(
                "lockout: number=%s contact_id=%s", mask(subjects.get("num")), "set" if "cid" in subjects else "none"
            )
        else:
            log.info("verification failure: number=%s", mask(subjects.get("num")))

    def line_strict(self, now: datetime) -> bool:
        """Is the line over its failure ceiling (every caller gets one try, after a pause)?"""
        if not self.ceiling:
            return False
        if self.breaker.usable():
            try:
                until = self.redis.get(f"{self.prefix}:strict:line")
                self.breaker.succeeded()
                return until is not None and float(until) > now.timestamp()
            except ERRORS as exc:
                self.breaker.failed(exc)
        if self.session is None:
            return True
        return self._db_line_count(now) >= self.ceiling

    def line_figures(self, now: datetime) -> tuple[int, bool]:
        """Wrong PINs of all callers in the last LINE_WINDOW_SECONDS, and whether the line is
        strict, read from Redis (for the metrics; Redis errors propagate)."""
        pipe = self.redis.pipeline(transaction=False)
        pipe.zcount(f"{self.prefix}:fail:line", f"({now.timestamp() - LINE_WINDOW_SECONDS}", "+inf")
        pipe.get(f"{self.prefix}:strict:line")
        count, until = pipe.execute()
        return int(count), until is not None and float(until) > now.timestamp()

    # -- the database stand-in (Redis unreachable): counting still works, so lockouts fail closed --

    def _need_session(self) -> Session:
        if self.session is None:
            raise RuntimeError("Redis is unreachable and no database session was given: refusing PIN attempts")
        return self.session

    def _db_counts(self, now: datetime, subjects: Iterable[tuple[str, str]]) -> list[int]:
        session = self._need_session()
        since = now - timedelta(seconds=WINDOW_SECONDS)
        return [
            int(
                session.scalar(
                    select(func.count())
                    .select_from(AuthFailure)
                    .where(AuthFailure.subject == _digest(subj), AuthFailure.at > since)
                )
                or 0
            )
            for subj in subjects
        ]

    def _db_locked_for(self, now: datetime, subjects: list[tuple[str, str]]) -> float:
        """In the database a lock lasts until the MAX_FAILURES-th latest failure leaves the window."""
        session = self._need_session()
        since = now - timedelta(seconds=WINDOW_SECONDS)
        longest = 0.0
        for subj in subjects:
            times = session.scalars(
                select(AuthFailure.at)
                .where(AuthFailure.subject == _digest(subj), AuthFailure.at > since)
                .order_by(AuthFailure.at.desc())
                .limit(MAX_FAILURES)
            ).all()
            if len(times) >= MAX_FAILURES:
                oldest = times[-1] if times[-1].tzinfo else times[-1].replace(tzinfo=UTC)
                longest = max(longest, (oldest + timedelta(seconds=WINDOW_SECONDS) - now).total_seconds())
        return longest

    def _db_line_count(self, now: datetime) -> int:
        since = now - timedelta(seconds=LINE_WINDOW_SECONDS)
        return int(
            self._need_session().scalar(
                select(func.count())
                .select_from(AuthFailure)
                .where(AuthFailure.subject == _digest(_LINE), AuthFailure.at > since)
            )
            or 0
        )

    def _db_attempt(self, now: datetime, right: bool, subjects: tuple[tuple[str, str], ...]) -> Verdict:
        """The same decision in the database, one attempt per subject at a time: PostgreSQL takes
        a transaction lock per subject (held until the unit of work ends); on SQLite a read that
        another writer overtook cannot turn into a write, so the request fails instead (closed)."""
        session = self._need_session()
        if session.get_bind().dialect.name == "postgresql":
            for key in sorted({_lock_key(s) for s in subjects}):  # one order: no deadlock
                session.execute(select(func.pg_advisory_xact_lock(_LOCK_SPACE, key)))
        strict = bool(self.ceiling) and self._db_line_count(now) >= self.ceiling
        limit = 1 if strict else MAX_FAILURES
        if any(n >= limit for n in self._db_counts(now, subjects)):
            return Verdict(refused=True, strict=strict)
        digests = [_digest(s) for s in subjects]
        if right:
            session.execute(delete(AuthFailure).where(AuthFailure.subject.in_(digests)))
            return Verdict(refused=False, strict=strict)
        session.add_all([AuthFailure(subject=d, at=now) for d in digests])
        crossed = False
        if self.ceiling:
            session.add(AuthFailure(subject=_digest(_LINE), at=now))
            session.flush()
            crossed = not strict and self._db_line_count(now) >= self.ceiling
        session.flush()
        locked = any(n >= limit for n in self._db_counts(now, subjects))
        if locked:
            log.warning("lockout (degraded mode, counted in the database)")
        return Verdict(refused=False, strict=strict, locked=locked, line_crossed=crossed)


_LINE = ("line", "all")
_LOCK_SPACE = 0x5350494E  # first key of pg_advisory_xact_lock(int, int): "PIN tries per subject"


def _lock_key(subject: tuple[str, str]) -> int:
    return int(_digest(subject)[:8], 16) - 2**31


def _digest(subject: tuple[str, str]) -> str:
    """A subject as stored by the database stand-in: no numbers or contact IDs in clear."""
    return hashlib.sha256(f"{subject[0]}:{subject[1]}".encode()).hexdigest()[:64]
