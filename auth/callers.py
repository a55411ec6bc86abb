"""Caller verification: who may be calling from a number, PIN checks, and the lockout counters.

Failures are counted per caller number and per entered contact ID in Redis sorted sets (a sliding
15-minute window on the injected clock); three within the window lock that number or ID for 15
minutes. Redis errors propagate: the caller of these functions fails closed (no PIN is accepted
without a working counter).
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import datetime

import redis
from sqlalchemy import select
from sqlalchemy.orm import Session

from auth.pins import check_pin
from casestore.models import Contact, ContactPhone, District
from casestore.phones import mask

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

    def __init__(self, client: redis.Redis, prefix: str = "sl") -> None:
        self.redis = client
        self.prefix = prefix

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
        keys = [self._keys(kind, value)[1] for kind, value in self._subjects(number, contact_id)]
        if not keys:
            return False
        ts = now.timestamp()
        return any(until is not None and float(until) > ts for until in self.redis.mget(keys))

    def record_failure(
        self, now: datetime, number: str | None = None, contact_id: str | None = None
    ) -> bool:
        """Count one failed attempt; True when this failure locked the number or contact ID."""
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
        keys = [self._keys(kind, value)[0] for kind, value in self._subjects(number, contact_id)]
        if keys:
            self.redis.delete(*keys)
