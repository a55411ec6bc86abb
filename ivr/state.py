"""Per-call state, kept in Redis so any worker on any machine can take the next webhook.

A call's state is one JSON document under `sl:call:{CallSid}` with a TTL; `seq` counts the
responses given, and every action URL carries it (`n=`), so a retried request can be recognised
and answered with the response it got the first time (see `CallStore.begin`).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from typing import Any

import redis

CALL_TTL_SECONDS = 6 * 3600
RESPONSE_TTL_SECONDS = 3600


@dataclass
class CallState:
    sid: str
    from_e164: str | None = None
    started_at: str = ""
    seq: int = 0
    step: str = "new"
    # Verification.
    candidate_pk: int | None = None  # contact matched by caller ID, awaiting PIN
    entered_contact_id: str | None = None
    verified_pk: int | None = None
    district_pk: int | None = None
    district_name: str = ""
    hosted: bool = False
    district_team: str | None = None
    failures: int = 0
    # Menus and routing.
    tries: dict[str, int] = field(default_factory=dict)
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


class CallStore:
    """Call state and replayable answers in Redis, read and written in one round trip each."""

    def __init__(self, client: redis.Redis, prefix: str = "sl") -> None:
        self.redis = client
        self.prefix = prefix

    def key(self, sid: str) -> str:
        return f"{self.prefix}:call:{sid}"

    def answer_key(self, sid: str, url: str) -> str:
        return f"{self.prefix}:resp:{sid}:{hashlib.sha1(url.encode()).hexdigest()}"

    @staticmethod
    def _decode(raw: str | None) -> CallState | None:
        if raw is None:
            return None
        data: dict[str, Any] = json.loads(raw)
        known = CallState.__dataclass_fields__
        return CallState(**{k: v for k, v in data.items() if k in known})

    def load(self, sid: str) -> CallState | None:
        return self._decode(self.redis.get(self.key(sid)))

    def begin(self, sid: str, url: str) -> tuple[str | None, CallState | None]:
        """The answer already given to this (CallSid, URL), if any, and the call's state.

        URLs carry the response counter `n`, so a genuine second entry has a new URL, while a
        Twilio retry of the same request gets the same answer and runs no side effect twice.
        """
        answer, raw = self.redis.mget(self.answer_key(sid, url), self.key(sid))
        return answer, self._decode(raw)

    def finish(self, sid: str, url: str, twiml: str, state: CallState | None, forget: bool) -> None:
        pipe = self.redis.pipeline(transaction=False)
        if forget:
            pipe.delete(self.key(sid))
        else:
            pipe.set(self.answer_key(sid, url), twiml, ex=RESPONSE_TTL_SECONDS)
            if state is not None:
                pipe.set(self.key(sid), json.dumps(asdict(state)), ex=CALL_TTL_SECONDS)
        pipe.execute()
