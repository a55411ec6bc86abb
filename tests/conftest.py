"""Shared fixtures: a migrated database (SQLite, or PostgreSQL via TEST_DATABASE_URL), a Redis
(the in-process stand-in, or a real server via TEST_REDIS_URL), a fake clock, the app, and the
fake Twilio REST server.

Each test runs inside a transaction that is rolled back afterwards; code under test that commits
only releases a SAVEPOINT (`join_transaction_mode="create_savepoint"`).
"""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import redis as redis_lib
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import sessionmaker

from casestore.db import make_engine, upgrade
from twilio_doubles.fake_twilio import FakeTwilio

TEST_DATABASE_URL = os.environ.get("TEST_DATABASE_URL", "")
TEST_REDIS_URL = os.environ.get("TEST_REDIS_URL", "")

AUTH_TOKEN = "test-auth-token-0123456789abcdef"
PIN_PEPPER = "test-pin-pepper-0123456789abcdef"
BASE_URL = "https://ivr.example.test"


class FakeClock:
    """A settable clock: tests move time instead of sleeping."""

    def __init__(self, start: datetime) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def set(self, when: datetime) -> None:
        assert when.tzinfo is not None
        self.now = when

    def advance(self, **delta: float) -> datetime:
        self.now = self.now + timedelta(**delta)
        return self.now


def _reset_postgres(engine) -> None:
    name = make_url(str(engine.url)).database or ""
    if "test" not in name:
        raise RuntimeError(f"refusing to wipe database {name!r}: its name must contain 'test'")
    with engine.begin() as conn:
        conn.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))


@pytest.fixture(scope="session")
def database_url(tmp_path_factory) -> str:
    if TEST_DATABASE_URL:
        return TEST_DATABASE_URL
    return f"sqlite:///{tmp_path_factory.mktemp('db') / 'test.sqlite3'}"


@pytest.fixture(scope="session")
def engine(database_url):
    eng = make_engine(database_url)
    if eng.dialect.name == "postgresql":
        _reset_postgres(eng)
    upgrade(eng)
    yield eng
    eng.dispose()


@pytest.fixture
def connection(engine):
    conn = engine.connect()
    trans = conn.begin()
    yield conn
    trans.rollback()
    conn.close()


@pytest.fixture
def session_factory(connection):
    return sessionmaker(bind=connection, join_transaction_mode="create_savepoint", expire_on_commit=False)


@pytest.fixture
def session(session_factory):
    s = session_factory()
    yield s
    s.close()


@pytest.fixture
def redis_client():
    if TEST_REDIS_URL:
        client = redis_lib.Redis.from_url(TEST_REDIS_URL, decode_responses=True)
        client.flushdb()
        yield client
        client.flushdb()
        client.close()
    else:
        import fakeredis

        yield fakeredis.FakeRedis(server=fakeredis.FakeServer(), decode_responses=True)


@pytest.fixture
def dead_redis():
    """A Redis client for a port nobody listens on: every command fails at once (degraded mode)."""
    from redis.backoff import NoBackoff
    from redis.retry import Retry

    return redis_lib.Redis(
        host="127.0.0.1", port=1, socket_connect_timeout=0.2, decode_responses=True, retry=Retry(NoBackoff(), 0)
    )


@pytest.fixture
def breakers(app):
    """The test app's degraded-mode breakers (`Services.breakers`, casestore.redisguard). Each app
    has its own, built with it: every test starts with Redis and the database considered
    reachable, and what one app opens never leaks into another (or into the next test)."""
    return app.extensions["supportline"].breakers


@pytest.fixture
def redis_breaker(breakers):
    """The test app's Redis breaker."""
    return breakers.redis


@pytest.fixture
def clock():
    # A Tuesday morning in Chicago (CST, UTC-6), well inside support hours.
    return FakeClock(datetime(2026, 11, 17, 15, 0, tzinfo=UTC))


@pytest.fixture
def settings_overrides(tmp_path) -> dict:
    return {
        "development": False,
        "twilio_auth_tokens": (AUTH_TOKEN,),
        "twilio_account_sid": "AC" + "0" * 32,
        "public_base_url": BASE_URL,
        "secret_key": "test-secret-key-0123456789abcdef",
        "pin_pepper": PIN_PEPPER,
        "overflow_number": "+16125550100",
        "instance_path": tmp_path / "instance",
        "database_url": "sqlite://",  # never used: the test engine is handed in
        "routing_cache_seconds": 0,  # tests change routing tables and expect the next call to see it
    }


@pytest.fixture
def app(settings_overrides, engine, session_factory, redis_client, clock, telephony):
    from webhooks import create_app

    return create_app(
        settings_overrides,
        engine=engine,
        sessions=session_factory,
        redis_client=redis_client,
        clock=clock,
        telephony=telephony,
    )


@pytest.fixture
def telephony():
    """The outbound-call interface, recording every request (REST redirects of waiting callers)."""
    from ivr.telephony import RecordingTelephony

    return RecordingTelephony()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


@pytest.fixture
def repo_root() -> Path:
    return Path(__file__).resolve().parent.parent


@pytest.fixture
def sim(client, clock):
    """The call simulator on the test app: signed requests, following every action URL."""
    from twilio_doubles.simulator import CallSimulator, advance_clock

    return CallSimulator(client, base_url=BASE_URL, auth_token=AUTH_TOKEN, advance=advance_clock(clock))


@pytest.fixture
def world(session, redis_client, clock):
    """A small routing table built directly with the models: two districts (one hosted), contacts
    with PINs, advisors covering the product areas, cases in several states, an on-call rotation.
    Every advisor is signed in (available) at the start."""
    from routing.presence import Presence
    from tests.factories import build_world

    w = build_world(session, PIN_PEPPER)
    presence = Presence(redis_client, "America/Chicago")
    for advisor in (w.priya, w.marcus, w.lena):
        presence.set_state(advisor.id, "available", clock())
    return w


@pytest.fixture
def api_auth(session):
    """Make an account with an API token; returns its Authorization header. `api_auth("viewer")`."""
    from auth.admins import new_api_token
    from casestore.models import AdminUser
    from casestore.types import AdminRole

    def make(role: str = "admin", username: str | None = None) -> dict[str, str]:
        user = AdminUser(username=username or f"{role}-user", password_hash="!", role=AdminRole(role), active=True)
        token = new_api_token(user)
        session.add(user)
        session.commit()
        return {"Authorization": f"Bearer {token}"}

    return make


@pytest.fixture
def fake_twilio(monkeypatch):
    """A running fake Twilio REST server (`twilio_doubles.fake_twilio`); stopped (and its port
    closed) after the test."""
    for var in (
        "HTTP_PROXY",
        "HTTPS_PROXY",
        "ALL_PROXY",
        "http_proxy",
        "https_proxy",
        "all_proxy",
        "TWILIO_EDGE",
        "TWILIO_REGION",
    ):
        monkeypatch.delenv(var, raising=False)
    fake = FakeTwilio().start()
    try:
        yield fake
    finally:
        fake.stop()
