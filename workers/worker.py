"""`supportline worker`: runs background jobs (RQ) and the timers that feed them.

One process runs an RQ `SimpleWorker` on the `supportline` queue (jobs run in the worker process
itself, so pooled database connections are never shared across a fork) and a timer thread that,
every second, moves due scheduled jobs onto the queue using the service's clock, and every 30 s
starts paging for any incident that missed its start (`ivr.paging.sweep`), runs follow-ups whose
timer was lost (`ivr.lifecycle.sweep`), gives cases without one a response-due time, and writes
call-log records spooled while the database was down (`ivr.spool.replay`). Run any number, on any
machine: jobs are idempotent. With the embedded Redis (development), the web process runs one in a
thread instead (with the dispatcher's pass), since nothing else can reach its Redis.

The timer thread also leaves a **heartbeat** every 10 s: this worker's name (host:pid) and the
time in the sorted set `sl:workers:seen`, whose TTL is 30 s, so `GET /readyz` can tell whether any
worker has been seen in the last 30 s (one Redis round trip), and a stopped worker removes itself.
Every 5 minutes (and at start) it rewrites the fallback URL's hosted-contacts file from the
database (`webhooks.fallback.refresh`), on the machine it runs on.

While a job runs, the request id it was enqueued under (`job.meta["request_id"]`) is the current
one (`ivr.jobs.REQUEST_ID`): every log line the job writes carries it, and so do the jobs it
schedules. Each job ends with one `event="job"` log line (job id, function, outcome, ms).
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import threading
import time

from rq import SimpleWorker
from rq.timeouts import TimerDeathPenalty

from ivr import lifecycle, paging
from ivr.jobs import REQUEST_ID, beat, forget, set_context
from webhooks import fallback
from webhooks.voice import replay_spool

log = logging.getLogger("supportline.worker")

TICK_SECONDS = 1.0
SWEEP_SECONDS = 30.0
HEARTBEAT_SECONDS = 10.0


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def _heartbeat(svc, name: str) -> None:
    try:
        beat(svc.redis, name)
    except Exception as exc:  # Redis away: /readyz will say no worker was seen, which is true enough
        log.warning("heartbeat not written: %s", exc)


def _refresh_fallback(svc) -> None:
    try:
        fallback.refresh(svc.sessions, svc.settings)
    except Exception:
        log.exception("fallback contacts file not refreshed (the old one stays)")


class Worker(SimpleWorker):
    """RQ's in-process worker, running each job under the request id that enqueued it."""

    def execute_job(self, job, queue):
        meta = job.meta or {}
        rid = meta.get("request_id") if isinstance(meta, dict) else None
        token = REQUEST_ID.set(rid if isinstance(rid, str) else None)
        started = time.perf_counter()
        try:
            return super().execute_job(job, queue)
        finally:
            try:
                status = job.get_status(refresh=False)
                outcome = getattr(status, "value", status) or "unknown"
            except Exception:
                outcome = "unknown"
            ms = (time.perf_counter() - started) * 1000
            log.info(
                "job %s %s outcome=%s ms=%.1f",
                job.id,
                job.func_name,
                outcome,
                ms,
                extra={"event": "job", "job_id": job.id, "job": job.func_name, "outcome": outcome, "ms": round(ms, 1)},
            )
            REQUEST_ID.reset(token)


class ThreadWorker(Worker):
    """The same, run from a thread that is not the main one (the in-process worker of
    development mode). Only the main thread may handle signals, and the web server there owns
    SIGINT and SIGTERM: no handlers of its own, and job timeouts by a timer thread instead of
    SIGALRM."""

    death_penalty_class = TimerDeathPenalty

    def _install_signal_handlers(self) -> None:
        pass


def _timers(svc, stop: threading.Event) -> None:
    ticks = 0
    ctx = svc.job_context()
    name = worker_name()
    next_beat = next_refresh = time.monotonic()
    while not stop.is_set():
        started = time.monotonic()
        if started >= next_beat:
            next_beat = started + HEARTBEAT_SECONDS
            _heartbeat(svc, name)
        try:
            svc.jobs.release_due(svc.now())
            if ticks % int(SWEEP_SECONDS / TICK_SECONDS) == 0:
                paging.sweep(ctx)
                lifecycle.sweep(ctx)
                with svc.sessions() as session:
                    replay_spool(svc, session)
                with svc.sessions() as session:
                    lifecycle.fill_response_due(session, svc.tables.get(session).calendar)
                    session.commit()
        except Exception:
            log.exception("timer pass failed (will retry)")
        if started >= next_refresh:
            next_refresh = started + fallback.REFRESH_SECONDS
            _refresh_fallback(svc)
        ticks += 1
        stop.wait(TICK_SECONDS)
    with contextlib.suppress(Exception):
        forget(svc.redis, name)


def run_worker(svc, *, burst: bool = False, stop: threading.Event | None = None) -> None:
    """Run jobs until stopped (or, with `burst`, until the queue is empty)."""
    set_context(svc.job_context())
    stop = stop or threading.Event()
    if burst:
        svc.jobs.release_due(svc.now())
        Worker([svc.jobs.queue], connection=svc.jobs.connection).work(burst=True, with_scheduler=False)
        return
    timer = threading.Thread(target=_timers, args=(svc, stop), name="job-timers", daemon=True)
    timer.start()
    worker = Worker([svc.jobs.queue], connection=svc.jobs.connection)
    try:
        worker.work(with_scheduler=False, logging_level="INFO")
    finally:
        stop.set()
        timer.join(timeout=5)  # lets the timer thread remove this worker's heartbeat


def start_in_process(svc, stop: threading.Event | None = None) -> threading.Thread:
    """A worker in a daemon thread of this process (embedded Redis: development only). It also
    serves the waiting line each second, as `supportline dispatcher` would. Set `stop` to end it."""
    stop = stop or threading.Event()
    set_context(svc.job_context())

    def loop() -> None:
        timer = threading.Thread(target=_timers, args=(svc, stop), name="job-timers", daemon=True)
        timer.start()
        worker = ThreadWorker([svc.jobs.queue], connection=svc.jobs.connection)
        while not stop.is_set():
            try:
                worker.work(burst=True, with_scheduler=False, logging_level="WARNING")
                with svc.sessions() as session:
                    roster = svc.tables.get(session).advisors
                svc.dispatcher.run(roster, svc.now())
            except Exception:
                log.exception("in-process worker pass failed")
            stop.wait(TICK_SECONDS)

    thread = threading.Thread(target=loop, name="job-worker", daemon=True)
    thread.start()
    return thread
