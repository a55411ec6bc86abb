"""Per-call state, kept in Redis so any worker on any machine can take the next webhook.

A call's state is one JSON document under `sl:call:{CallSid}` with a TTL; `seq` counts the
responses given, and every action URL carries it (`n=`), so a retried request can be recognised
and answered with the response it got the first time (see `CallStore.begin`).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any, cast

import redis
from sqlalchemy.orm import Session

from casestore.models import CallStateRow
from casestore.redisguard import ERRORS, Breaker
from ivr.prompts import Language, language_of

CALL_TTL_SECONDS = 6 * 3600
RESPONSE_TTL_SECONDS = 3600


@dataclass
class CallState:
    sid: str
    from_e164: str | None = None
    started_at: str = ""
    seq: int = 0
    step: str = "new"
    language: Language = "en"  # the caller's (ivr.prompts.Language): chosen at the greeting, remembered per contact
    language_offer: bool = False  # 9 at the PIN or contact ID prompt switches language (until another entry)
    language_chosen: bool = False  # the caller pressed 9 this call: remember the language on the contact
    # Verification.
    candidate_pk: int | None = None  # contact matched by caller ID, awaiting PIN
    entered_contact_id: str | None = None
    verified_pk: int | None = None
    district_pk: int | None = None
    district_name: str = ""
    hosted: bool = False
    district_team: str | None = None
    failures: int = 0
    ceiling_crossings: int = 0  # times this call's wrong PIN took the line over its ceiling (metrics)
    # Menus and routing.
    tries: dict[str, int] = field(default_factory=dict)
    pending_number: str | None = None  # a spoken case number or contact ID read back, awaiting its yes
    case_pk: int | None = None
    case_number: int | None = None
    incident_pk: int | None = None  # the outage incident this call opened or joined
    followup_pk: int | None = None  # our outbound follow-up call (3 x 10) this call answers
    owner_pk: int | None = None
    owner_waits: bool = False  # the owner is busy: the line keeps this call for them a while
    priority_rank: int | None = None
    response_due: str | None = None  # ISO instant the case's response is due, while unanswered
    logged_cases: list[int] = field(default_factory=list)  # cases this call has a log entry on
    skill: str | None = None
    route: str = ""  # owner, advisor, general, oncall
    attempt: int = 0
    round_attempts: int = 0  # advisors dialled since the last hold round
    tried: list[str] = field(default_factory=list)
    current_target: str | None = None
    queued_at: str | None = None
    path: list[str] = field(default_factory=list)

    @property
    def verified(self) -> bool:
        return self.verified_pk is not None

    def bump(self, key: str) -> int:
        self.tries[key] = self.tries.get(key, 0) + 1
        return self.tries[key]

    def visit(self, step: str) -> None:
        self.step = step
        if not self.path or self.path[-1] != step:
            self.path.append(step)
            del self.path[:-60]


def call_key(sid: str, prefix: str = "sl") -> str:
    """Where a call's state is kept in Redis."""
    return f"{prefix}:call:{sid}"


class CallStore:
    """Call state and replayable answers in Redis, read and written in one round trip each.

    While Redis is unreachable (`breaker`, the app's: `casestore.redisguard`), state goes to the
    database (`CallStateRow`, with `session`) instead, so a call in progress carries on; answers are not
    kept for replay then (a Twilio retry runs the step again). When Redis returns, a call whose
    state is only in the database is found there on its next request.
    """

    def __init__(
        self, client: redis.Redis, prefix: str = "sl", session: Session | None = None, *, breaker: Breaker
    ) -> None:
        self.redis = client
        self.prefix = prefix
        self.session = session
        self.breaker = breaker

    def key(self, sid: str) -> str:
        return call_key(sid, self.prefix)

    def answer_key(self, sid: str, url: str) -> str:
        return f"{self.prefix}:resp:{sid}:{hashlib.sha1(url.encode()).hexdigest()}"

    @staticmethod
    def _decode(raw: str | bytes | dict | None) -> CallState | None:
        if raw is None:
            return None
        data: dict[str, Any] = json.loads(raw) if isinstance(raw, (str, bytes)) else raw
        known = CallState.__dataclass_fields__
        state = CallState(**{k: v for k, v in data.items() if k in known})
        state.language = language_of(state.language)
        return state

    def load(self, sid: str) -> CallState | None:
        if self.breaker.usable():
            try:
                state = self._decode(self.redis.get(self.key(sid)))
                self.breaker.succeeded()
                if state is not None:
                    return state
            except ERRORS as exc:
                self.breaker.failed(exc)
        state = self._db_load(sid)
        if state is None and not self.breaker.usable() and self.breaker.probe(self.redis.ping):
            return self.load(sid)  # Redis is back (see `begin`)
        return state

    def begin(self, sid: str, url: str, *, may_exist: bool = True) -> tuple[str | None, CallState | None]:
        """The answer already given to this (CallSid, URL), if any, and the call's state.

        URLs carry the response counter `n`, so a genuine second entry has a new URL, while a
        Twilio retry of the same request gets the same answer and runs no side effect twice.
        `may_exist=False` (a call's first request) skips the database look-up on a Redis miss.
        """
        if self.breaker.usable():
            try:
                found, raw = self.redis.mget(self.answer_key(sid, url), self.key(sid))
                answer = cast("str | None", found)  # the clients decode responses
                self.breaker.succeeded()
                if raw is not None or not may_exist:
                    return answer, self._decode(raw)
                return answer, self._db_load(sid)
            except ERRORS as exc:
                self.breaker.failed(exc)
        if not may_exist:
            return None, None
        state = self._db_load(sid)
        if state is None and self.breaker.probe(self.redis.ping):
            # Redis is back and this process had not noticed: the state may be there (another
            # process wrote it), so look again rather than send the caller back to the greeting.
            return self.begin(sid, url, may_exist=True)
        return None, state

    def finish(
        self,
        sid: str,
        url: str,
        twiml: str,
        state: CallState | None,
        forget: bool,
        now: datetime | None = None,
        cache: bool = True,
    ) -> None:
        if self.breaker.usable():
            try:
                pipe = self.redis.pipeline(transaction=False)
                if forget:
                    pipe.delete(self.key(sid))
                else:
                    if cache:
                        pipe.set(self.answer_key(sid, url), twiml, ex=RESPONSE_TTL_SECONDS)
                    if state is not None:
                        pipe.set(self.key(sid), json.dumps(asdict(state)), ex=CALL_TTL_SECONDS)
                pipe.execute()
                self.breaker.succeeded()
                return
            except ERRORS as exc:
                self.breaker.failed(exc)
        self._db_save(sid, None if forget else state, now or datetime.now(UTC))

    # -- the database stand-in ---------------------------------------------------------------

    def _db_load(self, sid: str) -> CallState | None:
        if self.session is None:
            return None
        row = self.session.get(CallStateRow, f"call:{sid}")
        return self._decode(row.data) if row is not None else None

    def _db_save(self, sid: str, state: CallState | None, now: datetime) -> None:
        if self.session is None:
            raise RuntimeError("Redis is unreachable and no database session was given for the call state")
        key = f"call:{sid}"
        row = self.session.get(CallStateRow, key)
        if state is None:
            if row is not None:
                self.session.delete(row)
        elif row is None:
            self.session.add(CallStateRow(key=key, data=asdict(state), updated_at=now))
        else:
            row.data, row.updated_at = asdict(state), now
        self.session.commit()


def mark(
    session: Session | None, client: redis.Redis, key: str, value: str, ttl: int, now: datetime, *, breaker: Breaker
) -> None:
    """A short-lived marker (an accepted whisper): Redis, or the database stand-in."""
    if breaker.usable():
        try:
            client.set(key, value, ex=ttl)
            breaker.succeeded()
            return
        except ERRORS as exc:
            breaker.failed(exc)
    if session is None:
        raise RuntimeError("Redis is unreachable and no database session was given")
    if session.get(CallStateRow, key) is None:
        session.add(CallStateRow(key=key, data={"value": value}, updated_at=now))


def marked(session: Session | None, client: redis.Redis, key: str, *, breaker: Breaker) -> bool:
    if breaker.usable():
        try:
            found = client.get(key) is not None
            breaker.succeeded()
            if found:
                return True
        except ERRORS as exc:
            breaker.failed(exc)
    return session is not None and session.get(CallStateRow, key) is not None
