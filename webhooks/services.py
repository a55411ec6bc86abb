"""The clients the app holds: settings, database engine and sessions, Redis, the clock, and the
degraded-mode breakers (`breakers`: one per app, shared by all its requests).

Built by `create_app` (never at import time) and kept in `app.extensions["supportline"]`.
Tests and the call simulator pass their own clock, engine or Redis in through `create_app`.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import redis
from flask import current_app
from redis import Redis
from redis.backoff import ExponentialBackoff
from redis.retry import Retry
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from casestore.db import make_engine, make_session_factory
from casestore.redisguard import Breakers
from ivr import staffing
from ivr.dispatch import Dispatcher, Offer
from ivr.jobs import JobContext, Jobs
from ivr.telephony import Telephony, TwilioTelephony
from routing.presence import Presence
from routing.tables import TablesCache
from webhooks.config import Settings

Clock = Callable[[], datetime]
log = logging.getLogger("supportline")


def system_clock() -> datetime:
    return datetime.now(UTC)


def shifted_clock(start: datetime, anchor: float | None = None) -> Clock:
    """A clock that reads `start` now (or at the real instant `anchor`, Unix seconds: every
    process given the same anchor shares one clock) and runs on at real speed (development only)."""
    if start.tzinfo is None:
        raise ValueError("SUPPORTLINE_CLOCK_START needs a UTC offset, e.g. 2026-11-24T10:00:00-06:00")
    offset = start - (system_clock() if anchor is None else datetime.fromtimestamp(anchor, UTC))
    return lambda: system_clock() + offset


_EMBEDDED_SERVERS: dict[str, Any] = {}  # instance path -> fakeredis.FakeServer


def make_redis(settings: Settings) -> redis.Redis:
    """A Redis client for REDIS_URL, or the in-process stand-in (fakeredis, with Lua) when embedded.

    The stand-in is shared by every client in this process, so one process with many threads works;
    it cannot be shared between processes (use a real Redis for several workers).
    """
    if settings.redis_embedded:
        import fakeredis

        server = _EMBEDDED_SERVERS.setdefault(str(settings.instance_path), fakeredis.FakeServer())
        return fakeredis.FakeRedis(server=server, decode_responses=True)
    # Fail fast: one quick retry, then the caller's degraded mode takes over (casestore.redisguard)
    # instead of redis-py's default retries with backoff of seconds on every command.
    return redis.Redis.from_url(
        settings.redis_url,
        decode_responses=True,
        socket_timeout=2.0,
        socket_connect_timeout=1.0,
        health_check_interval=30,
        retry=Retry(ExponentialBackoff(cap=0.1, base=0.01), 1),
    )


@dataclass
class Services:
    settings: Settings
    engine: Engine
    sessions: sessionmaker[Session]
    redis: Redis
    clock: Clock
    tables: TablesCache
    presence: Presence
    telephony: Telephony | None
    dispatcher: Dispatcher
    jobs: Jobs
    # Whether Redis and the database are usable now (casestore.redisguard): one per app, so all the
    # requests and threads of this app (one per process in production) share the cooldown and the
    # probe; never module-global, so two apps in one process (tests) do not share theirs.
    breakers: Breakers = field(default_factory=Breakers)
    # This process spooled call-log records the database has not had yet (webhooks/voice.py).
    spooled: threading.Event = field(default_factory=threading.Event)
    replaying: threading.Lock = field(default_factory=threading.Lock)

    @classmethod
    def build(
        cls,
        settings: Settings,
        *,
        engine: Engine | None = None,
        sessions: sessionmaker[Session] | None = None,
        redis_client: Redis | None = None,
        clock: Clock | None = None,
        telephony: Telephony | None = None,
    ) -> Services:
        engine = engine or make_engine(settings.database_url)
        sessions = sessions or make_session_factory(engine)
        client = redis_client if redis_client is not None else make_redis(settings)
        telephony = telephony if telephony is not None else make_telephony(settings)
        presence = Presence(client, settings.support_timezone, missed_limit=settings.autopause_misses)
        return cls(
            settings=settings,
            engine=engine,
            sessions=sessions,
            redis=client,
            clock=clock
            or (
                shifted_clock(datetime.fromisoformat(settings.clock_start), settings.clock_anchor)
                if settings.clock_start
                else system_clock
            ),
            tables=TablesCache(settings.routing_cache_seconds, settings.support_timezone, sessions),
            presence=presence,
            telephony=telephony,
            dispatcher=Dispatcher(
                client, presence, telephony=telephony, connect_url=connect_url(settings.public_base_url)
            ),
            jobs=Jobs(client),
        )

    def warm(self, connections: int = 4) -> None:
        """Load the routing tables and open pooled connections before the first call arrives.
        Failures are logged, not raised: a worker that cannot warm up still serves (or falls back)."""
        try:
            with self.sessions() as session:
                self.tables.get(session)
                # Presence lost with a Redis restart (or an in-process Redis): back from the database.
                restored = staffing.restore(session, self.presence, self.now())
                session.commit()
            if restored:
                log.info("restored the presence of %d advisor(s) from the database", len(restored))
            held = [self.engine.connect() for _ in range(max(1, connections))]
            for conn in held:
                conn.close()
            self.redis.ping()
        except Exception:
            log.exception("warm-up failed; the worker will serve and retry lazily")

    def job_context(self) -> JobContext:
        """What background jobs use in this process (`supportline worker`, tests)."""
        return JobContext(
            sessions=self.sessions,
            redis=self.redis,
            jobs=self.jobs,
            telephony=self.telephony,
            clock=self.now,
            base_url=self.settings.public_base_url,
            caller_id=self.settings.twilio_caller_id,
            tz_name=self.settings.support_timezone,
            tables=self.tables,
        )

    def now(self) -> datetime:
        now = self.clock()
        if now.tzinfo is None:
            raise ValueError("the clock must return tz-aware datetimes")
        return now


def make_telephony(settings: Settings) -> Telephony | None:
    """The Twilio REST client, when an account SID and auth token are configured; else None (the
    service still works: waiting callers pick up their advisor on their next hold round)."""
    if not settings.twilio_account_sid or not settings.twilio_auth_token:
        return None
    return TwilioTelephony(
        settings.twilio_account_sid, settings.twilio_auth_token, base_url=settings.twilio_api_base or None
    )


def connect_url(public_base_url: str):
    """Where a waiting call is redirected when an advisor is reserved for it."""
    base = public_base_url.rstrip("/")

    def build(sid: str, offer: Offer) -> str:
        return f"{base}/voice/connect?adv={offer.advisor_pk}&o={offer.token}"

    return build


def current_services() -> Services:
    """The running app's services (inside a request or app context)."""
    return current_app.extensions["supportline"]
