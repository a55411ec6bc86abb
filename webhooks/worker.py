"""`supportline worker`: runs background jobs (RQ) and the timers that feed them.

One process runs an RQ `SimpleWorker` on the `supportline` queue (jobs run in the worker process
itself, so pooled database connections are never shared across a fork) and a timer thread that,
every second, moves due scheduled jobs onto the queue using the service's clock, and every 30 s
starts paging for any incident that missed its start (`ivr.paging.sweep`), runs follow-ups whose
timer was lost (`ivr.lifecycle.sweep`) and gives cases without one a response-due time. Run any number, on any
machine: jobs are idempotent. With the embedded Redis (development), the web process runs one in a
thread instead (with the dispatcher's pass), since nothing else can reach its Redis.
"""

from __future__ import annotations

import logging
import threading

from rq import SimpleWorker

from ivr import lifecycle, paging
from ivr.jobs import set_context

log = logging.getLogger("supportline.worker")

TICK_SECONDS = 1.0
SWEEP_SECONDS = 30.0


def _timers(svc, stop: threading.Event) -> None:
    ticks = 0
    ctx = svc.job_context()
    while not stop.is_set():
        try:
            svc.jobs.release_due(svc.now())
            if ticks % int(SWEEP_SECONDS / TICK_SECONDS) == 0:
                paging.sweep(ctx)
                lifecycle.sweep(ctx)
                with svc.sessions() as session:
                    lifecycle.fill_response_due(session, svc.tables.get(session).calendar)
                    session.commit()
        except Exception:
            log.exception("timer pass failed (will retry)")
        ticks += 1
        stop.wait(TICK_SECONDS)


def run_worker(svc, *, burst: bool = False, stop: threading.Event | None = None) -> None:
    """Run jobs until stopped (or, with `burst`, until the queue is empty)."""
    set_context(svc.job_context())
    stop = stop or threading.Event()
    if burst:
        svc.jobs.release_due(svc.now())
        SimpleWorker([svc.jobs.queue], connection=svc.jobs.connection).work(burst=True, with_scheduler=False)
        return
    timer = threading.Thread(target=_timers, args=(svc, stop), name="job-timers", daemon=True)
    timer.start()
    worker = SimpleWorker([svc.jobs.queue], connection=svc.jobs.connection)
    try:
        worker.work(with_scheduler=False, logging_level="INFO")
    finally:
        stop.set()


def start_in_process(svc) -> threading.Thread:
    """A worker in a daemon thread of this process (embedded Redis: development only). It also
    serves the waiting line each second, as `supportline dispatcher` would."""
    stop = threading.Event()
    set_context(svc.job_context())

    def loop() -> None:
        timer = threading.Thread(target=_timers, args=(svc, stop), name="job-timers", daemon=True)
        timer.start()
        worker = SimpleWorker([svc.jobs.queue], connection=svc.jobs.connection)
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
