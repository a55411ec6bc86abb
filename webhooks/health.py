"""Liveness and readiness probes.

`GET /healthz`: the process answers. Nothing else is checked.

`GET /readyz`: can this process serve calls? Cheap enough to poll every second: one database round
trip (reading the migration revision proves the database answers *and* says whether the schema is
the one this code expects; on PostgreSQL it runs in autocommit, so no BEGIN/ROLLBACK round trips)
and one Redis round trip (PING and the workers' heartbeats in one pipeline, on a client of its own
that gives up at once instead of retrying, so a probe of a dead Redis takes milliseconds, not the
seconds the service's client spends on retries). The code's own head
revision is read from the migration scripts once per process (it cannot change under a running
process). At most one database check runs at a time per process: polls that arrive while one hangs
answer "not ready" at once instead of piling up threads on a dead database.

Readiness (200 vs 503) counts:
- `database`: reachable, and the schema at this code's head. A schema *behind* the code is not
  ready (run `supportline db upgrade`). A schema at a revision this code does not know is taken to be
  a newer release's, which migrations keep compatible with the release before it: ready, with the
  fact reported under `migrations`, so that a rolling deploy (migrate first, then restart the web
  processes one by one) does not take every old process out of service at once.
- `redis`: reachable.

RQ workers are reported, not counted: `"workers": "2 seen in the last 30 s"` or `"none seen in 30 s"`
(each `supportline worker` leaves a heartbeat every 10 s, `ivr.jobs.beat`). Without a worker
no outage page goes out, but the web tier still answers, verifies, routes and queues calls; taking
it out of the load balancer because the worker is down would turn a paging fault into a full
outage. Monitoring should alert on it: `GET /readyz?strict=1` counts the workers too (503 when none
was seen), for an alerting probe, not for the load balancer.

When the fallback URL's outage offer is configured, `fallback_contacts` tells how many hosted
contact numbers the local file holds and how old it is (information only).
"""

from __future__ import annotations

import threading
import time

import redis
from flask import Blueprint, jsonify, request
from redis.backoff import NoBackoff
from redis.retry import Retry
from sqlalchemy import text

from ivr.jobs import HEARTBEAT_KEY, HEARTBEAT_TTL_SECONDS
from webhooks import fallback
from webhooks.services import current_services

bp = Blueprint("health", __name__)

_db_check_running = threading.Lock()
_scripts_lock = threading.Lock()
_scripts: tuple[frozenset[str], frozenset[str]] | None = None  # (heads, every known revision)


@bp.get("/healthz")
def healthz():
    return jsonify(status="ok")


def code_revisions() -> tuple[frozenset[str], frozenset[str]]:
    """This code's head revision(s) and every revision it knows, from the migration scripts (once)."""
    global _scripts
    if _scripts is None:
        with _scripts_lock:
            if _scripts is None:
                from alembic.script import ScriptDirectory

                from casestore.db import alembic_config

                script = ScriptDirectory.from_config(alembic_config(None))
                _scripts = (frozenset(script.get_heads()), frozenset(rev.revision for rev in script.walk_revisions()))
    return _scripts


def _database_revisions(engine) -> set[str]:
    """One round trip: the schema's revision(s). Raises when the database cannot be reached."""
    with engine.connect() as conn:
        if conn.dialect.name == "postgresql":
            # Autocommit: the SELECT is the only message; no BEGIN before it, no ROLLBACK after.
            conn = conn.execution_options(isolation_level="AUTOCOMMIT")
        return {str(v) for v in conn.execute(text("SELECT version_num FROM alembic_version")).scalars()}


def _no_version_table(exc: Exception) -> bool:
    message = str(getattr(exc, "orig", exc)).lower()
    return "alembic_version" in message and ("no such table" in message or "does not exist" in message)


def check_database(engine) -> tuple[str, str]:
    """(`database` check, `migrations` note)."""
    heads, known = code_revisions()
    if not _db_check_running.acquire(blocking=False):
        return "error: the previous check has not finished", "unknown"
    try:
        current = _database_revisions(engine)
    except Exception as exc:  # readiness reports the fault, it never raises
        if _no_version_table(exc):
            return "migrations not applied (run supportline db upgrade)", "none"
        return f"error: {type(exc).__name__}", "unknown"
    finally:
        _db_check_running.release()
    code = ",".join(sorted(heads))
    schema = ",".join(sorted(current)) or "none"
    if current == heads:
        return "ok", f"at head {code}"
    if current and not current & known:
        # Written by a newer release than this process runs (a rolling deploy): still served.
        return "ok", f"schema {schema} is newer than this code ({code})"
    return "migrations not at head", f"schema {schema}, code {code} (run supportline db upgrade)"


_probes: dict[int, tuple[object, object]] = {}
_probes_lock = threading.Lock()
_PROBE_KEYS = (
    "host",
    "port",
    "db",
    "username",
    "password",
    "path",
    "decode_responses",
    "encoding",
    "encoding_errors",
    "client_name",
    "protocol",
)


def probe_client(client):
    """A client for the same Redis server and database as `client` with no retries and 1 s
    timeouts, made once per client; an in-process stand-in (fakeredis) is used as it is."""
    pool = getattr(client, "connection_pool", None)
    kw = getattr(pool, "connection_kwargs", None)
    if pool is None or not isinstance(kw, dict) or "server" in kw:
        return client
    with _probes_lock:
        cached = _probes.get(id(client))
        if cached is not None and cached[0] is client:
            return cached[1]
        keep = {k: kw[k] for k in _PROBE_KEYS if k in kw}
        keep.update({k: v for k, v in kw.items() if k.startswith("ssl_")})
        probe = redis.Redis(
            connection_pool=redis.ConnectionPool(
                connection_class=pool.connection_class,
                socket_timeout=1.0,
                socket_connect_timeout=1.0,
                retry=Retry(NoBackoff(), 0),
                health_check_interval=0,
                **keep,
            )
        )
        if len(_probes) > 16:  # apps built and dropped (tests): keep this small
            _probes.clear()
        _probes[id(client)] = (client, probe)
        return probe


def check_redis(client, now: float) -> tuple[str, list[str] | None]:
    """(`redis` check, names of the workers seen in the last 30 s or None when unknown): one round trip."""
    try:
        pipe = client.pipeline(transaction=False)
        pipe.ping()
        pipe.zrangebyscore(HEARTBEAT_KEY, now - HEARTBEAT_TTL_SECONDS, "+inf")
        _pong, names = pipe.execute()
    except Exception as exc:
        return f"error: {type(exc).__name__}", None
    return "ok", sorted(n.decode() if isinstance(n, bytes) else str(n) for n in names)


def _workers_line(names: list[str] | None) -> str:
    if names is None:
        return "unknown (Redis unreachable)"
    if not names:
        return f"none seen in {HEARTBEAT_TTL_SECONDS} s"
    return f"{len(names)} seen in the last {HEARTBEAT_TTL_SECONDS} s ({', '.join(names[:10])})"


@bp.get("/readyz")
def readyz():
    svc = current_services()
    strict = request.args.get("strict", "") not in ("", "0", "false", "no")
    checks: dict[str, str] = {}
    checks["database"], migrations = check_database(svc.engine)
    checks["redis"], workers = check_redis(probe_client(svc.redis), time.time())
    if strict:
        checks["workers"] = "ok" if workers else _workers_line(workers)
    ready = all(v == "ok" for v in checks.values())
    body = {
        "status": "ready" if ready else "not ready",
        "checks": checks,
        "migrations": migrations,
        "workers": _workers_line(workers),
    }
    cfg = fallback.config(svc.settings)
    if cfg.offers_outage_line:
        body["fallback_contacts"] = fallback.describe_cache(cfg)
    return jsonify(body), (200 if ready else 503)
