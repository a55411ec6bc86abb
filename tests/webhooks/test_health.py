"""`/healthz` and `/readyz`: the database (migrations at head), Redis, and the RQ workers'
heartbeats, in one database and one Redis round trip per poll."""

from __future__ import annotations

import threading
import time

import pytest
import redis as redis_lib
from sqlalchemy import event, text

from casestore.db import make_engine, make_session_factory, upgrade
from ivr.jobs import HEARTBEAT_KEY, HEARTBEAT_TTL_SECONDS, beat, forget
from webhooks import health


def ready(client, strict: bool = False):
    res = client.get("/readyz?strict=1" if strict else "/readyz")
    return res.status_code, res.get_json()


def app_on(settings_overrides, redis_client, clock, **services):
    from webhooks import create_app

    return create_app(settings_overrides, redis_client=redis_client, clock=clock, **services)


class CountingRedis:
    """Counts round trips: each command called on the client, and each pipeline executed."""

    def __init__(self, real) -> None:
        self.real = real
        self.trips = 0

    def pipeline(self, *a, **k):
        pipe = self.real.pipeline(*a, **k)
        execute = pipe.execute

        def counted(*aa, **kk):
            self.trips += 1
            return execute(*aa, **kk)

        pipe.execute = counted
        return pipe

    def __getattr__(self, name):
        attr = getattr(self.real, name)
        if not callable(attr):
            return attr

        def counted(*a, **k):
            self.trips += 1
            return attr(*a, **k)

        return counted


@pytest.fixture
def no_offer(monkeypatch):
    from webhooks import fallback

    monkeypatch.delenv(fallback.OUTAGE_LINE_ENV, raising=False)


def test_ready_without_a_worker_says_so_and_stays_ready(no_offer, client):
    status, body = ready(client)
    assert status == 200, body
    assert body["status"] == "ready"
    assert body["checks"] == {"database": "ok", "redis": "ok"}
    assert body["workers"] == f"none seen in {HEARTBEAT_TTL_SECONDS} s"
    assert body["migrations"].startswith("at head ")
    assert "fallback_contacts" not in body  # the outage offer is not configured


def test_strict_counts_the_workers(client, app):
    svc = app.extensions["supportline"]
    status, body = ready(client, strict=True)
    assert status == 503 and body["checks"]["workers"] == "none seen in 30 s"
    beat(svc.redis, "host-a:101")
    beat(svc.redis, "host-b:202")
    status, body = ready(client, strict=True)
    assert status == 200, body
    assert body["checks"]["workers"] == "ok"
    assert body["workers"] == "2 seen in the last 30 s (host-a:101, host-b:202)"
    forget(svc.redis, "host-b:202")
    assert ready(client)[1]["workers"] == "1 seen in the last 30 s (host-a:101)"


def test_a_heartbeat_older_than_30_s_does_not_count_and_the_key_expires(client, app):
    svc = app.extensions["supportline"]
    beat(svc.redis, "host-a:101", now=time.time() - HEARTBEAT_TTL_SECONDS - 1)
    assert 0 < svc.redis.ttl(HEARTBEAT_KEY) <= HEARTBEAT_TTL_SECONDS
    status, body = ready(client, strict=True)
    assert status == 503 and body["workers"] == "none seen in 30 s"
    beat(svc.redis, "host-b:202")  # a later beat prunes the stale entry
    assert svc.redis.zrange(HEARTBEAT_KEY, 0, -1) == ["host-b:202"]


def test_the_worker_timer_loop_beats_and_removes_itself_when_stopped(app, world):
    from workers.worker import _timers, worker_name

    svc = app.extensions["supportline"]
    stop = threading.Event()
    timer = threading.Thread(target=_timers, args=(svc, stop), daemon=True)
    timer.start()
    deadline = time.monotonic() + 10
    while not svc.redis.zscore(HEARTBEAT_KEY, worker_name()) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert svc.redis.zscore(HEARTBEAT_KEY, worker_name()) is not None
    status, _ = ready(app.test_client(), strict=True)
    assert status == 200
    stop.set()
    timer.join(timeout=10)
    assert svc.redis.zscore(HEARTBEAT_KEY, worker_name()) is None


def test_one_database_and_one_redis_round_trip_per_poll(client, app, monkeypatch):
    svc = app.extensions["supportline"]
    statements: list[str] = []

    def listener(conn, cursor, stmt, *a):
        if stmt != "BEGIN":  # SQLite's BEGIN is emitted in-process (casestore.db); PostgreSQL: below
            statements.append(stmt)

    event.listen(svc.engine, "before_cursor_execute", listener)
    counting = CountingRedis(health.probe_client(svc.redis))
    monkeypatch.setattr(health, "probe_client", lambda client: counting)
    try:
        for polls in range(1, 4):
            assert ready(client)[0] == 200
            assert len(statements) == polls, statements
            assert counting.trips == polls
    finally:
        event.remove(svc.engine, "before_cursor_execute", listener)


def test_on_postgresql_the_poll_is_one_message_and_no_transaction(app, client, tmp_path):
    """At the protocol level (libpq trace): the SELECT only; no BEGIN before it or ROLLBACK after."""
    svc = app.extensions["supportline"]
    if svc.engine.dialect.name != "postgresql":
        pytest.skip("PostgreSQL only (TEST_DATABASE_URL)")
    from psycopg import pq

    with open(tmp_path / "libpq.trace", "w") as trace:

        def checkout(dbapi_conn, _rec, _proxy):
            dbapi_conn.pgconn.trace(trace.fileno())
            dbapi_conn.pgconn.set_trace_flags(pq.Trace.SUPPRESS_TIMESTAMPS | pq.Trace.REGRESS_MODE)

        def checkin(dbapi_conn, _rec):
            if dbapi_conn is not None:
                dbapi_conn.pgconn.untrace()

        event.listen(svc.engine, "checkout", checkout)
        event.listen(svc.engine, "checkin", checkin)
        try:
            assert ready(client)[0] == 200
        finally:
            event.remove(svc.engine, "checkout", checkout)
            event.remove(svc.engine, "checkin", checkin)
    with open(tmp_path / "libpq.trace") as trace:
        sent = [line.split("\t")[2] for line in trace if line.startswith("F\t")]
    assert sent == ["Query"], sent


def test_redis_unreachable_is_not_ready(settings_overrides, engine, session_factory, clock):
    dead = redis_lib.Redis(host="127.0.0.1", port=1, socket_connect_timeout=0.2, decode_responses=True)
    app = app_on(settings_overrides, dead, clock, engine=engine, sessions=session_factory)
    started = time.perf_counter()
    status, body = ready(app.test_client())
    assert time.perf_counter() - started < 1  # no retries in the probe
    assert status == 503 and body["checks"]["database"] == "ok"
    assert body["checks"]["redis"].startswith("error: ")
    assert body["workers"] == "unknown (Redis unreachable)"


def test_database_unreachable_is_not_ready(settings_overrides, redis_client, clock):
    app = app_on(
        dict(settings_overrides, database_url="postgresql+psycopg://nobody@127.0.0.1:1/unreachable"),
        redis_client,
        clock,
    )
    status, body = ready(app.test_client())
    assert status == 503
    assert body["checks"] == {"database": "error: OperationalError", "redis": "ok"}
    assert "password" not in str(body) and "nobody" not in str(body)


@pytest.fixture
def sqlite_engine(tmp_path):
    eng = make_engine(f"sqlite:///{tmp_path / 'probe.sqlite3'}")
    yield eng
    eng.dispose()


def _app_with(settings_overrides, redis_client, clock, eng):
    return app_on(settings_overrides, redis_client, clock, engine=eng, sessions=make_session_factory(eng))


def test_a_schema_behind_the_code_is_not_ready(settings_overrides, redis_client, clock, sqlite_engine):
    heads, _known = health.code_revisions()
    from alembic.script import ScriptDirectory

    from casestore.db import alembic_config

    head = ScriptDirectory.from_config(alembic_config(None)).get_revision(next(iter(heads)))
    upgrade(sqlite_engine, head.down_revision)
    status, body = ready(_app_with(settings_overrides, redis_client, clock, sqlite_engine).test_client())
    assert status == 503
    assert body["checks"]["database"] == "migrations not at head"
    assert f"schema {head.down_revision}" in body["migrations"] and "supportline db upgrade" in body["migrations"]


def test_a_schema_from_a_newer_release_still_serves(settings_overrides, redis_client, clock, sqlite_engine):
    upgrade(sqlite_engine)
    with sqlite_engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = 'f00dfeed0042'"))
    status, body = ready(_app_with(settings_overrides, redis_client, clock, sqlite_engine).test_client())
    assert status == 200, body
    assert "newer than this code" in body["migrations"]


def test_a_database_without_migrations_is_not_ready(settings_overrides, redis_client, clock, sqlite_engine):
    status, body = ready(_app_with(settings_overrides, redis_client, clock, sqlite_engine).test_client())
    assert status == 503
    assert body["checks"]["database"] == "migrations not applied (run supportline db upgrade)"


def test_polls_do_not_pile_up_behind_a_hung_check(client):
    assert health._db_check_running.acquire(blocking=False)  # a check stuck on a dead database
    try:
        status, body = ready(client)
    finally:
        health._db_check_running.release()
    assert status == 503 and body["checks"]["database"] == "error: the previous check has not finished"
    assert ready(client)[0] == 200


@pytest.fixture
def offer_on(monkeypatch):
    """FALLBACK_OUTAGE_LINE set before the app is built (list this fixture before `app`)."""
    from webhooks import fallback

    monkeypatch.setenv(fallback.OUTAGE_LINE_ENV, "+16125550199")


def test_the_fallback_contacts_file_is_reported_when_the_offer_is_on(offer_on, app, client, world, session_factory):
    from webhooks import fallback

    assert ready(client)[1]["fallback_contacts"] == "missing"
    fallback.refresh(session_factory, app.extensions["supportline"].settings)
    status, body = ready(client)
    assert status == 200 and body["fallback_contacts"].startswith("2 numbers, ")


def test_healthz_checks_nothing(settings_overrides, clock):
    dead = redis_lib.Redis(host="127.0.0.1", port=1, socket_connect_timeout=0.2)
    app = app_on(dict(settings_overrides, database_url="postgresql+psycopg://nobody@127.0.0.1:1/x"), dead, clock)
    res = app.test_client().get("/healthz")
    assert res.status_code == 200 and res.get_json() == {"status": "ok"}
