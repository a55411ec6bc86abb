"""Prometheus metrics: `GET /metrics` (text exposition), and what the webhooks count.

Two kinds of figures:

* **Counted as it happens** (prometheus-client counters and a histogram, in this process):
    supportline_webhook_duration_seconds{step}            webhook latency, request in to response out
                                                          (signature check included), 1 ms .. 5 s
    supportline_webhook_responses_total{step,outcome}     outcome: ok | replayed | fault | forbidden
    supportline_calls_total{outcome}                      calls ended, by the call log's final outcome
                                                          (connected, abandoned, hung_up, locked_out,
                                                          callback_requested, message_recorded, ...)
    supportline_verification_failures_total               wrong PINs entered
    supportline_lockouts_total{reason}                    calls turned away locked out: reason
                                                          too_many_failures (this call's wrong PINs
                                                          locked it) or already_locked (the number or
                                                          contact ID was locked when the caller came)
    supportline_pin_ceiling_crossings_total               times wrong PINs of all callers reached
                                                          PIN_FAILURE_CEILING in 10 minutes (the line
                                                          turned strict; logged as a warning too)
  Under gunicorn, each worker counts for itself; with `PROMETHEUS_MULTIPROC_DIR` set (an empty
  directory, wiped when the master starts: see gunicorn.conf.py) the workers write their values
  there and `/metrics`, whichever worker serves it, adds them all up (prometheus-client's
  multiprocess mode; gunicorn's `child_exit` hook calls `child_exit` below). Without it, the
  default in-process registry is served (one process: tests, the demo).

* **Read at scrape time** from Redis and the database (`LiveCollector`), so every worker reports
  the same shared truth and nothing has to be kept in step:
    supportline_queue_waiting{skill}                     callers in the line now
    supportline_queue_longest_wait_seconds{skill}        the longest wait in the line now
    supportline_advisors{state}                          active advisors by presence
    supportline_pages_sent_today{channel}                pages handed to Twilio since local midnight
    supportline_pages_acknowledged_today{channel}        ... of which acknowledged or resolved from
                                                          the page itself (key 4 or 6 on the page call)
    supportline_incidents_acknowledged_today             incidents acknowledged since local midnight,
                                                          by any means (page key, SMS reply, the call)
    supportline_jobs_queued                               RQ jobs waiting for a worker
    supportline_jobs_oldest_queued_seconds                age of the oldest of them (job queue lag)
    supportline_jobs_scheduled                            timers filed (escalations, follow-ups)
    supportline_jobs_timer_lag_seconds                    how overdue the earliest timer is on the
                                                          service clock (a worker releases them)
    supportline_jobs_failed                               jobs in RQ's failed registry
    supportline_spool_pending                             call-log records spooled on this host while
                                                          the database was down, not yet replayed
    supportline_spool_dead_letters                        spooled records that could not be written,
                                                          kept in the dead-letter file (`ivr.spool`)
    supportline_pin_failures_line                         wrong PINs of all callers in the last 10 min
    supportline_pin_ceiling_active                        1 while the line is strict (over its ceiling)
    supportline_scrape_error{source}                      1 when a source (queue, presence, pages,
                                                          jobs, spool, pins) could not be read: its
                                                          gauges are left out, the rest of the page is served
    supportline_scrape_duration_seconds                   time spent reading them

Where the call figures come from. The voice webhook counts them from what it already holds,
without touching `ivr` or `auth`: a PIN failure is the call state's `failures` going up during the
step; a lockout is the step moving the call to `locked_out`; a ceiling crossing is its
`ceiling_crossings` going up; a call's final outcome is read from
its call-log row when Twilio's status callback closes it (a row still open before the step and
closed after it, so a repeated callback counts nothing).

Access: `/metrics` answers requests from the machine itself (loopback, and not relayed by a proxy:
no X-Forwarded-For / Forwarded / X-Real-IP) or carrying `Authorization: Bearer <METRICS_TOKEN>`
(a comma-separated list is accepted, for rotation). Anything else gets 401 (a token is set) or 403.
"""

from __future__ import annotations

import glob
import hmac
import ipaddress
import logging
import os
import re
import time
from dataclasses import dataclass
from datetime import datetime, time as dtime, timezone
from typing import Any, Iterable
from zoneinfo import ZoneInfo

import redis
from flask import Blueprint, Flask, Response, g, request
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    disable_created_metrics,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily
from sqlalchemy import func, select

from auth.callers import Lockout
from casestore.models import CallLog, Incident, Page
from ivr import flow
from routing.callqueue import GENERAL, SKILLS, CallQueue
from routing.presence import PresenceState
from webhooks import logs

log = logging.getLogger("supportline.metrics")
webhook_log = logging.getLogger("supportline.webhook")

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
TOKEN_ENV = "METRICS_TOKEN"

# 1 ms .. 5 s: a webhook normally answers in a few ms; Twilio gives up at 15 s.
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
OUTCOMES = ("ok", "replayed", "fault", "forbidden")
LOCKOUT_REASONS = ("too_many_failures", "already_locked")
KNOWN_CALL_OUTCOMES = (
    "connected", "abandoned", "hung_up", "callback_requested", "message_recorded", "callback_pending",
    "locked_out", "closed", "no_input", "ended_in_menu",
)
WEBHOOK_BLUEPRINTS = ("voice", "oncall")
VOICE_STEPS = frozenset(flow.STEPS) | {"fallback"}
_LABEL_OK = re.compile(r"[a-z][a-z0-9_]{0,31}")

disable_created_metrics()  # no `_created` series beside every counter
if os.environ.get(MULTIPROC_ENV):
    os.makedirs(os.environ[MULTIPROC_ENV], exist_ok=True)  # the counters below write files there

WEBHOOK_SECONDS = Histogram(
    "supportline_webhook_duration_seconds", "Webhook latency, request in to response out, by step.",
    ["step"], buckets=LATENCY_BUCKETS,
)
WEBHOOK_RESPONSES = Counter(
    "supportline_webhook_responses", "Webhook responses by step and outcome (ok, replayed, fault, forbidden).",
    ["step", "outcome"],
)
CALLS = Counter(
    "supportline_calls", "Calls ended, by the call log's final outcome (counted at Twilio's final status).",
    ["outcome"],
)
VERIFICATION_FAILURES = Counter("supportline_verification_failures", "Wrong PINs entered by callers.")
LOCKOUTS = Counter(
    "supportline_lockouts",
    "Calls turned away locked out: too_many_failures (this call locked it) or already_locked.",
    ["reason"],
)
PIN_CEILING_CROSSINGS = Counter(
    "supportline_pin_ceiling_crossings",
    "Times wrong PINs of all callers reached PIN_FAILURE_CEILING in 10 minutes (the line turned strict).",
)
for _reason in LOCKOUT_REASONS:
    LOCKOUTS.labels(_reason)
for _outcome in KNOWN_CALL_OUTCOMES:
    CALLS.labels(_outcome)


def multiproc_dir() -> str | None:
    return os.environ.get(MULTIPROC_ENV) or None


# --------------------------------------------------------------------------- counting


def _safe(fn):
    """Metrics never break a webhook: a failure to count is logged and forgotten."""

    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except Exception:
            log.warning("metrics: %s failed", fn.__name__, exc_info=True)
            return None

    wrapper.__name__ = fn.__name__
    wrapper.__doc__ = fn.__doc__
    return wrapper


def _label(value: str | None, default: str = "other") -> str:
    value = (value or "").strip().lower()
    return value if _LABEL_OK.fullmatch(value) else default


def step_label(blueprint: str | None, endpoint: str | None, view_args: dict | None) -> str:
    """A bounded step name: the voice steps the flow knows (else "unknown", so an unsigned
    request to /voice/<anything> cannot mint new series), or the on-call endpoint's name."""
    if blueprint == "voice":
        step = (view_args or {}).get("step", "")
        return step if step in VOICE_STEPS else "unknown"
    name = (endpoint or "").rpartition(".")[2]
    return name.replace("_", "-") or "unknown"


def note_webhook(call_sid: str, outcome: str = "ok") -> None:
    """What the view knows about this webhook, for the line and the counters written after it."""
    g.webhook_call_sid = call_sid
    g.webhook_outcome = outcome


@dataclass(frozen=True)
class CallMark:
    """The part of a call's state the counters compare before and after a step."""

    failures: int = 0
    step: str = ""
    ceiling_crossings: int = 0

    @classmethod
    def of(cls, state: Any) -> "CallMark":
        if state is None:
            return cls()
        return cls(failures=int(getattr(state, "failures", 0) or 0), step=str(getattr(state, "step", "") or ""),
                   ceiling_crossings=int(getattr(state, "ceiling_crossings", 0) or 0))


def call_open(session, sid: str) -> bool:
    """Is the call's log row there and not yet closed? (Asked before a status callback runs.)"""
    return session.scalar(
        select(CallLog.id).where(CallLog.call_sid == sid, CallLog.ended_at.is_(None))
    ) is not None


def ended_outcome(session, sid: str) -> str | None:
    """The call's final outcome, if its log row is closed now (asked after the status callback)."""
    row = session.execute(select(CallLog.outcome, CallLog.ended_at).where(CallLog.call_sid == sid)).first()
    return row.outcome if row is not None and row.ended_at is not None else None


@_safe
def observe_call(before: CallMark, after_state: Any, final_outcome: str | None) -> None:
    """Count PIN failures, lockouts and ended calls from one step that went through."""
    if after_state is not None:
        after = CallMark.of(after_state)
        failed = after.failures - before.failures
        if failed > 0:
            VERIFICATION_FAILURES.inc(failed)
        if after.step == "locked_out" and before.step != "locked_out":
            LOCKOUTS.labels("too_many_failures" if failed > 0 else "already_locked").inc()
        if after.ceiling_crossings > before.ceiling_crossings:
            PIN_CEILING_CROSSINGS.inc(after.ceiling_crossings - before.ceiling_crossings)
    if final_outcome:
        CALLS.labels(_label(final_outcome)).inc()


@_safe
def observe_webhook(step: str, outcome: str, seconds: float) -> None:
    WEBHOOK_SECONDS.labels(step).observe(seconds)
    WEBHOOK_RESPONSES.labels(step, outcome).inc()


def _webhook_finished(response: Response) -> Response:
    """After every voice and on-call webhook: the latency, the response counter and the log line."""
    if request.blueprint not in WEBHOOK_BLUEPRINTS:
        return response
    try:
        status = response.status_code
        step = step_label(request.blueprint, request.endpoint, request.view_args)
        outcome = g.get("webhook_outcome")
        if status == 403:
            outcome = "forbidden"
        elif outcome not in OUTCOMES:
            # The view did not say: a voice view that did not get that far was answered by the
            # error handler (fallback TwiML); an on-call view that returned normally went fine.
            outcome = "fault" if request.blueprint == "voice" or status >= 500 else "ok"
        call_sid = g.get("webhook_call_sid")
        if call_sid is None:
            form = request.form
            call_sid = form.get("CallSid") or form.get("MessageSid") or ""
        ms = logs.elapsed_ms() or 0.0
        observe_webhook(step, outcome, ms / 1000)
        logs.log_webhook(webhook_log, step=step, call_sid=str(call_sid)[:64], outcome=outcome, ms=ms,
                         status=status)
    except Exception:
        log.warning("metrics: webhook bookkeeping failed", exc_info=True)
    return response


# --------------------------------------------------------------------------- scrape-time gauges


class LiveCollector:
    """Gauges read from Redis and the database when /metrics is scraped. Each source is read on
    its own: one that fails is reported by `supportline_scrape_error{source}` = 1 and its gauges
    are left out; once Redis refuses a connection the other Redis sources are not tried again
    in the same scrape (each try could wait for the socket timeout)."""

    SOURCES = (("queue", True), ("presence", True), ("pages", False), ("jobs", True), ("spool", False),
               ("pins", True))

    def __init__(self, svc) -> None:
        self.svc = svc

    def collect(self) -> Iterable[GaugeMetricFamily]:
        started = time.perf_counter()
        now = self.svc.now()
        errors: dict[str, int] = {}
        families: list[GaugeMetricFamily] = []
        redis_down: Exception | None = None
        for source, needs_redis in self.SOURCES:
            if needs_redis and redis_down is not None:
                errors[source] = 1
                continue
            try:
                families.extend(getattr(self, f"_{source}")(now))
                errors[source] = 0
            except Exception as exc:
                errors[source] = 1
                if isinstance(exc, (redis.ConnectionError, redis.TimeoutError)):
                    redis_down = exc
                log.warning("metrics: %s gauges unavailable: %s: %s", source, type(exc).__name__, exc)
        yield from families
        err = GaugeMetricFamily(
            "supportline_scrape_error",
            "1 when a scrape-time source (Redis or the database) could not be read; its gauges are left out.",
            labels=["source"],
        )
        for source, _ in self.SOURCES:
            err.add_metric([source], errors[source])
        yield err
        yield GaugeMetricFamily(
            "supportline_scrape_duration_seconds", "Time spent reading the scrape-time gauges.",
            value=time.perf_counter() - started,
        )

    def _spool(self, now: datetime) -> list[GaugeMetricFamily]:
        from ivr import spool
        from webhooks.voice import spool_path  # webhooks.voice imports this module

        path = spool_path(self.svc)
        return [
            GaugeMetricFamily("supportline_spool_pending",
                              "Call-log records spooled on this host while the database was down, not yet replayed.",
                              value=spool.pending(path)),
            GaugeMetricFamily("supportline_spool_dead_letters",
                              "Spooled records that could not be written, kept in the dead-letter file on this host.",
                              value=spool.dead_letters(path)),
        ]

    def _midnight(self, now: datetime) -> datetime:
        tz = ZoneInfo(self.svc.settings.support_timezone)
        return datetime.combine(now.astimezone(tz).date(), dtime(0), tzinfo=tz)

    def _queue(self, now: datetime) -> list[GaugeMetricFamily]:
        entries = CallQueue(self.svc.redis).entries()
        now_ts = now.timestamp()
        skills = (*SKILLS, GENERAL)
        count = dict.fromkeys(skills, 0)
        longest = dict.fromkeys(skills, 0.0)
        for e in entries:
            skill = e.skill or GENERAL
            if skill not in count:
                skill = "other"
                count.setdefault(skill, 0)
                longest.setdefault(skill, 0.0)
            count[skill] += 1
            longest[skill] = max(longest[skill], max(0.0, now_ts - e.queued_at))
        waiting = GaugeMetricFamily("supportline_queue_waiting", "Callers waiting in the line now, by skill.",
                                    labels=["skill"])
        oldest = GaugeMetricFamily("supportline_queue_longest_wait_seconds",
                                   "The longest wait in the line now, by skill (0: nobody waits).", labels=["skill"])
        for skill in count:
            waiting.add_metric([skill], count[skill])
            oldest.add_metric([skill], round(longest[skill], 3))
        return [waiting, oldest]

    def _presence(self, now: datetime) -> list[GaugeMetricFamily]:
        with self.svc.sessions() as session:
            roster = self.svc.tables.get(session).advisors
        views = self.svc.presence.snapshot([a.pk for a in roster], now)
        by_state = {s.value: 0 for s in PresenceState}
        for view in views.values():
            by_state[view.state] = by_state.get(view.state, 0) + 1
        fam = GaugeMetricFamily("supportline_advisors", "Active advisors by presence now.", labels=["state"])
        for state, n in by_state.items():
            fam.add_metric([state], n)
        return [fam]

    def _pages(self, now: datetime) -> list[GaugeMetricFamily]:
        since = self._midnight(now)
        with self.svc.sessions() as session:
            rows = session.execute(
                select(Page.channel, Page.result, func.count())
                .where(Page.created_at >= since, Page.created_at <= now, Page.sid.is_not(None))
                .group_by(Page.channel, Page.result)
            ).all()
            incidents = session.scalar(
                select(func.count()).select_from(Incident)
                .where(Incident.acknowledged_at >= since, Incident.acknowledged_at <= now)
            )
        sent = {"voice": 0, "sms": 0}
        acked = {"voice": 0, "sms": 0}
        for channel, result, n in rows:
            sent[channel] = sent.get(channel, 0) + n
            if result in ("acknowledged", "resolved"):
                acked[channel] = acked.get(channel, 0) + n
        fam_sent = GaugeMetricFamily("supportline_pages_sent_today",
                                     "Outage pages handed to Twilio since local midnight, by channel.", labels=["channel"])
        fam_ack = GaugeMetricFamily("supportline_pages_acknowledged_today",
                                    "Of today's pages, those acknowledged or resolved from the page (key 4 or 6).",
                                    labels=["channel"])
        for channel in sent:
            fam_sent.add_metric([channel], sent[channel])
            fam_ack.add_metric([channel], acked.get(channel, 0))
        fam_inc = GaugeMetricFamily("supportline_incidents_acknowledged_today",
                                    "Incidents acknowledged since local midnight (page key, SMS reply or the call).",
                                    value=int(incidents or 0))
        return [fam_sent, fam_ack, fam_inc]

    def _jobs(self, now: datetime) -> list[GaugeMetricFamily]:
        from rq.job import Job

        jobs = self.svc.jobs
        queue, conn = jobs.queue, jobs.connection
        queued = int(queue.count)
        oldest_age = 0.0
        wall = datetime.now(timezone.utc)  # RQ stamps jobs with the machine's clock
        for job_id in queue.get_job_ids(0, 3):  # the head; skip ids whose job vanished meanwhile
            try:
                job = Job.fetch(job_id, connection=conn)
            except Exception:
                continue
            if job.enqueued_at is not None:
                at = job.enqueued_at if job.enqueued_at.tzinfo else job.enqueued_at.replace(tzinfo=timezone.utc)
                oldest_age = max(0.0, (wall - at).total_seconds())
            break
        scheduled_key = queue.scheduled_job_registry.key
        scheduled = int(conn.zcard(scheduled_key))
        first = conn.zrange(scheduled_key, 0, 0, withscores=True)
        timer_lag = max(0.0, now.timestamp() - float(first[0][1])) if first else 0.0  # service clock
        failed = int(conn.zcard(queue.failed_job_registry.key))
        return [
            GaugeMetricFamily("supportline_jobs_queued", "RQ jobs waiting for a worker.", value=queued),
            GaugeMetricFamily("supportline_jobs_oldest_queued_seconds",
                              "Age of the oldest job waiting for a worker (job queue lag; 0: none).",
                              value=round(oldest_age, 3)),
            GaugeMetricFamily("supportline_jobs_scheduled", "Timers filed (escalation steps, follow-ups).",
                              value=scheduled),
            GaugeMetricFamily("supportline_jobs_timer_lag_seconds",
                              "How overdue the earliest timer is on the service clock (0: none due).",
                              value=round(timer_lag, 3)),
            GaugeMetricFamily("supportline_jobs_failed", "Jobs in RQ's failed registry.", value=failed),
        ]


    def _pins(self, now: datetime) -> list[GaugeMetricFamily]:
        lockout = Lockout(self.svc.redis, ceiling=self.svc.settings.pin_failure_ceiling,
                          breaker=self.svc.breakers.redis)
        failures, strict = lockout.line_figures(now)
        return [
            GaugeMetricFamily("supportline_pin_failures_line",
                              "Wrong PINs of all callers in the last 10 minutes.", value=failures),
            GaugeMetricFamily("supportline_pin_ceiling_active",
                              "1 while the line is over its PIN-failure ceiling (one try per call, a pause).",
                              value=int(strict)),
        ]


class _InProcess:
    """The default registry (this process's counters, plus process and GC figures), as a collector."""

    def collect(self):
        return REGISTRY.collect()


def render(svc) -> bytes:
    """The exposition text: the counters (every worker's, in multiprocess mode) and the live gauges."""
    from prometheus_client import multiprocess

    registry = CollectorRegistry(auto_describe=False)
    if multiproc_dir():
        multiprocess.MultiProcessCollector(registry)
    else:
        registry.register(_InProcess())
    registry.register(LiveCollector(svc))
    return generate_latest(registry)


# --------------------------------------------------------------------------- access and the route


def _tokens() -> list[str]:
    return [t.strip() for t in os.environ.get(TOKEN_ENV, "").split(",") if t.strip()]


_PROXY_HEADERS = ("X-Forwarded-For", "Forwarded", "X-Real-IP")


def _is_local() -> bool:
    """From this machine, and not relayed by a proxy on this machine (which would make every
    outside request look local)."""
    try:
        loopback = ipaddress.ip_address((request.remote_addr or "").split("%")[0]).is_loopback
    except ValueError:
        return False
    return loopback and not any(h in request.headers for h in _PROXY_HEADERS)


def _has_token(tokens: list[str]) -> bool:
    scheme, _, given = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not given.strip():
        return False
    given_b = given.strip().encode()
    return any(hmac.compare_digest(given_b, t.encode()) for t in tokens)


bp = Blueprint("metrics", __name__)


@bp.get("/metrics")
def metrics_view() -> Response:
    tokens = _tokens()
    if not ((tokens and _has_token(tokens)) or _is_local()):
        if tokens:
            return Response("unauthorized\n", status=401, mimetype="text/plain",
                            headers={"WWW-Authenticate": 'Bearer realm="metrics"'})
        return Response("forbidden: /metrics is served to localhost, or with METRICS_TOKEN\n", status=403,
                        mimetype="text/plain")
    from webhooks.services import current_services

    body = render(current_services())
    return Response(body, status=200, headers={"Content-Type": CONTENT_TYPE_LATEST, "Cache-Control": "no-store"})


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
    app.after_request(_webhook_finished)


# --------------------------------------------------------------------------- gunicorn hooks


def clear_multiproc_dir() -> None:
    """At the master's start: drop the value files of a previous run (they would be added in)."""
    path = multiproc_dir()
    if not path:
        return
    os.makedirs(path, exist_ok=True)
    for name in glob.glob(os.path.join(path, "*.db")):
        try:
            os.remove(name)
        except FileNotFoundError:
            pass


def child_exit(server, worker) -> None:
    """gunicorn `child_exit`: a worker died; its live gauges leave with it (counters stay summed)."""
    if multiproc_dir():
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)
