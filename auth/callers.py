"""Caller verification: who may be calling from a number, PIN checks, and the lockout counters.

Failures are counted per caller number and per entered contact ID in Redis sorted sets (a sliding
15-minute window on the injected clock); three within the window lock that number or ID for 15
minutes. While Redis is unreachable (`casestore.redisguard`), failures are counted in the database
instead (`AuthFailure`, subjects stored as hashes): a lock then lasts until the third-latest
failure leaves the 15-minute window. Without either counter no PIN attempt is accepted: lockouts
fail closed. Counts taken in one store are not seen by the other once Redis returns.
"""

from __future__ import annotations

import hashlib
import logging
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

import redis
from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from auth.pins import check_pin
from casestore.models import AuthFailure, Contact, ContactPhone, District
from casestore.phones import mask
from casestore.redisguard import BREAKER, ERRORS

log = logging.getLogger("supportline.auth")

MAX_FAILURES = 3
WINDOW_SECONDS = 15 * 60
LOCK_SECONDS = 15 * 60


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


def verify_pin(pepper: str, contact: Contact | None, pin: str) -> bool:
    """True when `contact` exists, is active and `pin` matches its keyed hash."""
    if contact is None or not contact.active or not contact.district.active:
        return False
    return check_pin(pepper, contact.contact_id, pin, contact.pin_hash)


class Lockout:
    """Failure counters and locks in Redis, keyed by caller number and by contact ID."""

    def __init__(self, client: redis.Redis, prefix: str = "sl", session: Session | None = None) -> None:
        """`session`: the database stand-in used while Redis is unreachable (without one, PIN
        attempts are refused then: a lockout never fails open)."""
        self.redis = client
        self.prefix = prefix
        self.session = session

    def _keys(self, kind: str, value: str) -> tuple[str, str]:
        return f"{self.prefix}:fail:{kind}:{value}", f"{self.prefix}:lock:{kind}:{value}"

    @staticmethod
    def _subjects(number: str | None, contact_id: str | None) -> list[tuple[str, str]]:
        subjects = []
        if number:
            subjects.append(("num", number))
        if contact_id:
            subjects.append(("cid", contact_id[:16]))
        return subjects

    def locked(self, now: datetime, number: str | None = None, contact_id: str | None = None) -> bool:
        subjects = self._subjects(number, contact_id)
        if not subjects:
            return False
        if BREAKER.usable():
            try:
                keys = [self._keys(kind, value)[1] for kind, value in subjects]
                ts = now.timestamp()
                result = any(until is not None and float(until) > ts for until in self.redis.mget(keys))
                BREAKER.succeeded()
                return result
            except ERRORS as exc:
                BREAKER.failed(exc)
        return self._db_locked(now, subjects)

    def record_failure(
        self, now: datetime, number: str | None = None, contact_id: str | None = None
    ) -> bool:
        """Count one failed attempt; True when this failure locked the number or contact ID."""
        if BREAKER.usable():
            try:
                result = self._redis_record_failure(now, number, contact_id)
                BREAKER.succeeded()
                return result
            except ERRORS as exc:
                BREAKER.failed(exc)
        return self._db_record_failure(now, self._subjects(number, contact_id))

    def _redis_record_failure(
        self, now: datetime, number: str | None = None, contact_id: str | None = None
    ) -> bool:
        ts = now.timestamp()
        locked = False
        for kind, value in self._subjects(number, contact_id):
            fail_key, lock_key = self._keys(kind, value)
            pipe = self.redis.pipeline(transaction=True)
            pipe.zremrangebyscore(fail_key, "-inf", ts - WINDOW_SECONDS)
            pipe.zadd(fail_key, {f"{ts:.6f}:{uuid.uuid4().hex}": ts})
            pipe.zcard(fail_key)
            pipe.expire(fail_key, WINDOW_SECONDS + 60)
            count = pipe.execute()[2]
            if count >= MAX_FAILURES:
                self.redis.set(lock_key, f"{ts + LOCK_SECONDS:.3f}", ex=LOCK_SECONDS + 60)
                locked = True
        if locked:
            log.warning(
                "lockout: number=%s contact_id=%s", mask(number), "set" if contact_id else "none"
            )
        else:
            log.info("verification failure: number=%s", mask(number))
        return locked

    def clear(self, number: str | None = None, contact_id: str | None = None) -> None:
        """Forget failures after a successful verification (locks stay until they expire)."""
        subjects = self._subjects(number, contact_id)
        if not subjects:
            return
        if BREAKER.usable():
            try:
                self.redis.delete(*[self._keys(kind, value)[0] for kind, value in subjects])
                BREAKER.succeeded()
                return
            except ERRORS as exc:
                BREAKER.failed(exc)
        if self.session is not None:
            self.session.execute(delete(AuthFailure).where(AuthFailure.subject.in_([_digest(s) for s in subjects])))

    # -- the database stand-in (Redis unreachable): counting still works, so lockouts fail closed --

    def _need_session(self) -> Session:
        if self.session is None:
            raise RuntimeError("Redis is unreachable and no database session was given: refusing PIN attempts")
        return self.session

    def _db_counts(self, now: datetime, subjects: list[tuple[str, str]]) -> list[int]:
        session = self._need_session()
        since = now - timedelta(seconds=WINDOW_SECONDS)
        return [
            int(session.scalar(select(func.count()).select_from(AuthFailure)
                               .where(AuthFailure.subject == _digest(subj), AuthFailure.at > since)) or 0)
            for subj in subjects
        ]

    def _db_locked(self, now: datetime, subjects: list[tuple[str, str]]) -> bool:
        return any(n >= MAX_FAILURES for n in self._db_counts(now, subjects))

    def _db_record_failure(self, now: datetime, subjects: list[tuple[str, str]]) -> bool:
        session = self._need_session()
        for subj in subjects:
            session.add(AuthFailure(subject=_digest(subj), at=now))
        session.flush()
        locked = self._db_locked(now, subjects)
        if locked:
            log.warning("lockout (degraded mode, counted in the database)")
        return locked


def _digest(subject: tuple[str, str]) -> str:
    """A subject as stored by the database stand-in: no numbers or contact IDs in clear."""
    return hashlib.sha256(f"{subject[0]}:{subject[1]}".encode()).hexdigest()[:64]
