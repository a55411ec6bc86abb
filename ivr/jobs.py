"""Background jobs on RQ: the queue, timers on the service's clock, and what a job may use.

Jobs are plain functions in `ivr` modules (e.g. `ivr.paging.run_step`), enqueued on the RQ queue
`supportline` in Redis and run by `supportline worker` processes on any machine. Timers
(escalation delays) are RQ scheduled jobs whose due time comes from the service's clock, not the
machine's: `schedule(at=...)` files them in RQ's ScheduledJobRegistry and `release_due(now)`
moves the due ones onto the queue. The worker calls `release_due` every second with its clock;
tests call it after moving their fake clock, then run a burst worker.

A job may run twice (a retry, two workers, a timer released twice): jobs must be idempotent, and
give themselves fixed job ids so that scheduling the same timer again replaces it.

RQ stores pickled payloads, so it needs a Redis connection that does not decode responses:
`binary_twin` makes one that talks to the same server and database as the service's client.
A job finds the database, Redis, telephony and clock through `context()`, which the worker (or a
test) installs with `set_context`.

Request ids: a job enqueued or scheduled while `REQUEST_ID` is set (the web layer sets it for each
request; the worker sets it from `job.meta` while running a job) carries it in
`job.meta["request_id"]`, so its log lines, and those of the jobs it schedules in turn, can be
matched with the webhook that started it.

Heartbeats: each `supportline worker` records itself alive (`beat`) every 10 s in the sorted set
`HEARTBEAT_KEY`, and `GET /readyz` reads it (`webhooks.health`); a worker that stops cleanly
removes itself (`forget`).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import redis
from rq import Queue
from rq.job import Job
from sqlalchemy.orm import Session, sessionmaker

log = logging.getLogger("supportline.jobs")

QUEUE_NAME = "supportline"

# The request (or the job) being served in this thread; None outside both.
REQUEST_ID: ContextVar[str | None] = ContextVar("supportline_request_id", default=None)


def _meta() -> dict[str, str] | None:
    rid = REQUEST_ID.get()
    return {"request_id": rid} if rid else None


def binary_twin(client: redis.Redis) -> redis.Redis:
    """A client for the same server and database that returns bytes (what RQ needs)."""
    kw = client.connection_pool.connection_kwargs
    if "server" in kw:  # fakeredis: share the in-process server
        import fakeredis

        return fakeredis.FakeRedis(server=kw["server"], db=kw.get("db", 0))
    keep = {
        k: kw[k]
        for k in (
            "host",
            "port",
            "db",
            "username",
            "password",
            "path",
            "socket_timeout",
            "socket_connect_timeout",
            "ssl_cert_reqs",
            "ssl_ca_certs",
        )
        if k in kw
    }
    pool = redis.ConnectionPool(connection_class=client.connection_pool.connection_class, **keep)
    return redis.Redis(connection_pool=pool)


class Jobs:
    """The RQ queue with service-clock timers."""

    def __init__(self, client: redis.Redis) -> None:
        self.connection = binary_twin(client)
        self.queue = Queue(QUEUE_NAME, connection=self.connection)

    def enqueue(self, func: Callable, *args: Any, job_id: str | None = None) -> Job:
        return self.queue.enqueue(func, *args, job_id=job_id, result_ttl=3600, failure_ttl=7 * 86400, meta=_meta())

    def schedule(self, at: datetime, func: Callable, *args: Any, job_id: str | None = None) -> Job:
        if at.tzinfo is None:
            raise ValueError("schedule() needs a tz-aware instant")
        return self.queue.enqueue_at(
            at, func, *args, job_id=job_id, result_ttl=3600, failure_ttl=7 * 86400, meta=_meta()
        )

    def release_due(self, now: datetime) -> int:
        """Move every scheduled job due at `now` (service clock) onto the queue."""
        registry = self.queue.scheduled_job_registry
        moved = 0
        for job_id in registry.get_jobs_to_enqueue(now.timestamp()):
            job_id = job_id.decode() if isinstance(job_id, bytes) else job_id
            try:
                job = Job.fetch(job_id, connection=self.connection)
            except Exception:
                registry.remove(job_id)
                continue
            registry.remove(job)
            self.queue._enqueue_job(job)
            moved += 1
        return moved

    def scheduled(self) -> list[str]:
        return [j.decode() if isinstance(j, bytes) else j for j in self.queue.scheduled_job_registry.get_job_ids()]


@dataclass
class JobContext:
    """What jobs may use, installed once per worker process."""

    sessions: sessionmaker[Session]
    redis: redis.Redis
    jobs: Jobs
    telephony: Any  # ivr.telephony.Telephony | None
    clock: Callable[[], datetime]
    base_url: str
    caller_id: str
    tz_name: str
    tables: Any  # routing.tables.TablesCache

    def now(self) -> datetime:
        return self.clock()


_context: JobContext | None = None


def set_context(ctx: JobContext | None) -> None:
    global _context
    _context = ctx


def context() -> JobContext:
    if _context is None:
        raise RuntimeError("no job context: jobs run in `supportline worker` (or a test that sets one)")
    return _context


HEARTBEAT_KEY = "sl:workers:seen"
HEARTBEAT_TTL_SECONDS = 30


def beat(client, name: str, now: float | None = None) -> None:
    """This worker is alive at `now` (wall clock, seconds): one Redis round trip. Entries older
    than the TTL are pruned, and the key itself expires when no worker beats for the TTL."""
    now = time.time() if now is None else now
    pipe = client.pipeline(transaction=False)
    pipe.zadd(HEARTBEAT_KEY, {name: now})
    pipe.zremrangebyscore(HEARTBEAT_KEY, "-inf", now - HEARTBEAT_TTL_SECONDS)
    pipe.expire(HEARTBEAT_KEY, HEARTBEAT_TTL_SECONDS)
    pipe.execute()


def forget(client, name: str) -> None:
    """A worker that stops cleanly leaves no heartbeat behind."""
    client.zrem(HEARTBEAT_KEY, name)
