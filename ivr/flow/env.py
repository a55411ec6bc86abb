"""What a step is given and what it gives back: `CallInput` (one webhook request, parsed),
`CallEnv` (session, Redis, `now`, the app's breakers, the line's settings and the services built
from them) and
`StepResult` (the TwiML and what to do with the call's state)."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from functools import cached_property
from zoneinfo import ZoneInfo

import redis
from sqlalchemy.orm import Session

from auth.callers import DEFAULT_LINE_CEILING, Lockout
from casestore.redisguard import ERRORS, Breakers
from ivr.dispatch import Dispatcher
from ivr.jobs import Jobs
from ivr.state import CallState, CallStore
from routing.callqueue import CallQueue
from routing.presence import DEFAULT_WRAP_SECONDS, Presence
from routing.tables import RoutingTables, TablesCache
from routing.waitestimate import DEFAULT_HANDLE_SECONDS

log = logging.getLogger("supportline.ivr")


@dataclass
class CallInput:
    """What one webhook request carried, already parsed from the form and the query string."""

    step: str
    sid: str
    from_raw: str = ""
    digits: str | None = None
    query: Mapping[str, str] = field(default_factory=dict)
    form: Mapping[str, str] = field(default_factory=dict)

    def arg(self, name: str, default: str = "") -> str:
        return self.query.get(name, default)

    @property
    def speech(self) -> str:
        """What the caller said to a speech Gather (Twilio's `SpeechResult`), "" when they keyed or said nothing."""
        return self.form.get("SpeechResult", "")

    @property
    def confidence(self) -> str | None:
        """Twilio's `Confidence` for `speech` ("0.0".."1.0"), None when missing (`ivr.speech_intents.confidence`)."""
        return self.form.get("Confidence")


@dataclass
class CallEnv:
    """Everything a step may use besides its input; built by the web layer for each request."""

    session: Session
    redis: redis.Redis
    now: datetime
    pin_pepper: str
    breakers: Breakers  # the app's (`Services.breakers`): shared by all its requests, never per request
    presence: Presence  # the app's, like the dispatcher (`Services`)
    dispatcher: Dispatcher
    tz_name: str = "America/Chicago"
    region: str = "US"
    overflow_number: str = ""
    hold_music_url: str = ""
    tables_cache: TablesCache | None = None
    wrap_seconds: float = DEFAULT_WRAP_SECONDS
    owner_wait_seconds: float = 60.0
    default_handle_seconds: float = DEFAULT_HANDLE_SECONDS  # the expected wait's, before any history
    jobs: Jobs | None = None  # background jobs (outage paging); None: no paging from this env
    pin_failure_ceiling: int = DEFAULT_LINE_CEILING  # line-wide wrong PINs per 10 minutes; 0 = none

    @cached_property
    def tables(self) -> RoutingTables:
        """The routing tables for this request (loaded once; cached per process by TablesCache)."""
        cache = self.tables_cache or TablesCache(ttl=0, tz_name=self.tz_name)
        return cache.get(self.session)

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.tz_name)

    @cached_property
    def calls(self) -> CallStore:
        return CallStore(self.redis, session=self.session, breaker=self.breakers.redis)

    @cached_property
    def lockout(self) -> Lockout:
        return Lockout(self.redis, session=self.session, ceiling=self.pin_failure_ceiling, breaker=self.breakers.redis)

    @cached_property
    def queue(self) -> CallQueue:
        return CallQueue(self.redis)

    def dispatch(self) -> None:
        """Let the dispatcher give any free advisor to the right waiting caller (never raises:
        the caller in front of us must not pay for a problem with someone else's call)."""
        if not self.breakers.redis.usable():
            return
        try:
            self.dispatcher.run(self.tables.advisors, self.now)
        except ERRORS as exc:
            self.breakers.redis.failed(exc)
        except Exception:
            log.exception("dispatch failed")


@dataclass
class StepResult:
    """A step's TwiML and what to do with the call's state once the database has committed."""

    twiml: str
    state: CallState | None = None  # save this state
    forget: bool = False  # the call is over: drop its state
    cache: bool = True  # keep the answer for a retry of the same request
