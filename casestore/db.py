"""Engines, sessions and migrations.

Callers own the unit of work: `session_scope()` opens one session, commits once at the end and
rolls back on any error. Repositories only `flush()`.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, MetaData, create_engine, event
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

MIGRATIONS = Path(__file__).with_name("migrations")
# SQLite: plain BEGIN (deferred); concurrent writers are serialised by the busy timeout.
_WRITE_LOCK_EARLY = False


def make_engine(url: str, **kwargs) -> Engine:
    """An engine for `url`; SQLite gets foreign keys on, a busy timeout and its folder created."""
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        kwargs.setdefault("connect_args", {"timeout": 15, "check_same_thread": False})
        engine = create_engine(url, **kwargs)

        @event.listens_for(engine, "connect")
        def _sqlite_connect(dbapi_conn, _record):
            # Let SQLAlchemy, not pysqlite, emit BEGIN, so SAVEPOINTs and transactional DDL work.
            dbapi_conn.isolation_level = None
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA journal_mode=WAL")
            cur.close()

        @event.listens_for(engine, "begin")
        def _sqlite_begin(conn):
            conn.exec_driver_sql("BEGIN IMMEDIATE" if _WRITE_LOCK_EARLY else "BEGIN")

        return engine
    # No pre-ping (it would add a round trip to every request): a connection that died with a
    # database restart fails one request, which the web layer answers with its fallback, and
    # SQLAlchemy then invalidates the pool. Recycling keeps idle connections from going stale.
    kwargs.setdefault("pool_recycle", 1800)
    # One pooled connection per server thread (gunicorn gthread runs 8 per worker by default), so
    # a busy worker never opens and closes overflow connections per request.
    kwargs.setdefault("pool_size", 10)
    kwargs.setdefault("max_overflow", 10)
    # A database that stopped answering fails a request within seconds, not minutes: connecting
    # gives up after 2 s (libpq's minimum) and a checkout from a full pool after 2 s.
    kwargs.setdefault("pool_timeout", 2)
    if url.startswith("postgresql"):
        kwargs.setdefault("connect_args", {"connect_timeout": 2})
    return create_engine(url, **kwargs)


def unreachable(exc: BaseException) -> bool:
    """Does this error mean the database cannot be reached (so every request would fail the same
    way), rather than that this one transaction failed (a deadlock, a serialization failure, a
    constraint, SQLite's "database is locked")? Only the first kind should open the breaker that
    answers every webhook with the fallback (`casestore.redisguard.Breakers.db`)."""
    if isinstance(exc, OSError):
        return True
    if not isinstance(exc, DBAPIError):
        return False
    if exc.connection_invalidated:
        return True  # the connection died under the request: server gone or restarting
    orig = exc.orig
    # Drivers raise their base OperationalError for connection failures; transaction failures
    # are subclasses (psycopg's DeadlockDetected, SerializationFailure, LockNotAvailable...).
    if isinstance(exc, OperationalError) and type(orig).__name__ == "OperationalError":
        return "database is locked" not in str(orig)
    return isinstance(exc, InterfaceError)


def make_session_factory(bind) -> sessionmaker[Session]:
    return sessionmaker(bind=bind, expire_on_commit=False)


@contextmanager
def session_scope(factory: sessionmaker[Session]) -> Iterator[Session]:
    """One unit of work: commit once if the block succeeds, roll back otherwise."""
    session = factory()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


def alembic_config(engine_or_connection) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["connection"] = engine_or_connection
    return cfg


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Run the migrations up to `revision` (head by default)."""
    with engine.begin() as conn:
        command.upgrade(alembic_config(conn), revision)


def wipe(engine: Engine) -> None:
    """Drop every table the database has (ours and Alembic's), for a demo started over (`--reset`)."""
    tables = MetaData()
    tables.reflect(engine)
    tables.drop_all(engine)


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def head_revision() -> str | None:
    return ScriptDirectory.from_config(alembic_config(None)).get_current_head()


def at_head(engine: Engine) -> bool:
    return current_revision(engine) == head_revision()
