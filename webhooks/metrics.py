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

* **Read at scrape time** from Redis and the database (`LiveCollector`, in `webhooks.scrape_gauges`,
  which lists them), so every worker reports the same shared truth.

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

import contextlib
import glob
import hmac
import ipaddress
import logging
import os
import re
from dataclasses import dataclass
from typing import Any

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
from sqlalchemy import select

from casestore.models import CallLog
from ivr import flow
from webhooks import logs
from webhooks.scrape_gauges import LiveCollector

log = logging.getLogger("supportline.metrics")
webhook_log = logging.getLogger("supportline.webhook")

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
TOKEN_ENV = "METRICS_TOKEN"

# 1 ms .. 5 s: a webhook normally answers in a few ms; Twilio gives up at 15 s.
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
OUTCOMES = ("ok", "replayed", "fault", "forbidden")
LOCKOUT_REASONS = ("too_many_failures", "already_locked")
KNOWN_CALL_OUTCOMES = (
    "connected",
    "abandoned",
    "hung_up",
    "callback_requested",
    "message_recorded",
    "callback_pending",
    "locked_out",
    "closed",
    "no_input",
    "ended_in_menu",
)
WEBHOOK_BLUEPRINTS = ("voice", "oncall")
VOICE_STEPS = frozenset(flow.STEPS) | {"fallback"}
_LABEL_OK = re.compile(r"[a-z][a-z0-9_]{0,31}")

disable_created_metrics()  # no `_created` series beside every counter
if os.environ.get(MULTIPROC_ENV):
    os.makedirs(os.environ[MULTIPROC_ENV], exist_ok=True)  # the counters below write files there

WEBHOOK_SECONDS = Histogram(
    "supportline_webhook_duration_seconds",
    "Webhook latency, request in to response out, by step.",
    ["step"],
    buckets=LATENCY_BUCKETS,
)
WEBHOOK_RESPONSES = Counter(
    "supportline_webhook_responses",
    "Webhook responses by step and outcome (ok, replayed, fault, forbidden).",
    ["step", "outcome"],
)
CALLS = Counter(
    "supportline_calls", "Calls ended, by the call log's final outcome (counted at Twilio's final status).", ["outcome"]
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
    def of(cls, state: Any) -> CallMark:
        if state is None:
            return cls()
        return cls(
            failures=int(getattr(state, "failures", 0) or 0),
            step=str(getattr(state, "step", "") or ""),
            ceiling_crossings=int(getattr(state, "ceiling_crossings", 0) or 0),
        )


def call_open(session, sid: str) -> bool:
    """Is the call's log row there and not yet closed? (Asked before a status callback runs.)"""
    return session.scalar(select(CallLog.id).where(CallLog.call_sid == sid, CallLog.ended_at.is_(None))) is not None


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
        logs.log_webhook(webhook_log, step=step, call_sid=str(call_sid)[:64], outcome=outcome, ms=ms, status=status)
    except Exception:
        log.warning("metrics: webhook bookkeeping failed", exc_info=True)
    return response


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
            return Response(
                "unauthorized\n",
                status=401,
                mimetype="text/plain",
                headers={"WWW-Authenticate": 'Bearer realm="metrics"'},
            )
        return Response(
            "forbidden: /metrics is served to localhost, or with METRICS_TOKEN\n", status=403, mimetype="text/plain"
        )
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
        with contextlib.suppress(FileNotFoundError):
            os.remove(name)


def child_exit(server, worker) -> None:
    """gunicorn `child_exit`: a worker died; its live gauges leave with it (counters stay summed)."""
    if multiproc_dir():
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)
