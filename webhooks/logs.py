"""Logs: one JSON object a line (`LOG_FORMAT=json`, the default outside development) or plain text
(`LOG_FORMAT=text`, the default in development), a request id on every line, and no phone numbers.

* `configure(development)` puts one handler on the root logger (stderr), replacing the one it put
  there before, so calling it again (every `create_app`) never stacks handlers. Other handlers
  (pytest's, an operator's) are left alone. The root level is `LOG_LEVEL` when set (DEBUG, INFO,
  WARNING, ERROR); otherwise it is raised to INFO when it is unset or higher, so the webhook lines
  are written. `LOG_LEVEL=WARNING` drops them (e.g. for `supportline call`, or a benchmark).
* Every record becomes `{"ts", "level", "logger", "message"}`, plus `request_id` when the record
  was written while serving a request or running a job that one enqueued, plus the structured
  fields a record carries in `extra` (only the names in `FIELDS`), plus `exc_info` as text.
  The webhook line (see `webhooks.metrics`) is `event="webhook"` with `call_sid`, `step`,
  `outcome`, `ms` and `status`.
* Phone numbers: every call site masks (`casestore.phones.mask`); as a second line of defence the
  formatters mask anything in a message or a traceback that looks like a phone number (E.164, a
  NANP number in any usual notation, or a bare 10-11 digit run) down to its last four digits.
  Nothing here logs form fields, so `Digits` (PINs, contact IDs) never reach a log line.
* Request id: `X-Request-Id` from the request, else Twilio's `I-Twilio-Idempotency-Token`, else
  a new one (only `[A-Za-z0-9._:@/+=-]`, at most 128 characters, are taken as given). It is echoed
  in the `X-Request-Id` response header, set on the context variable `ivr.jobs.REQUEST_ID` for the
  request's lifetime, carried into RQ jobs enqueued meanwhile (`job.meta["request_id"]`) and
  restored by the worker while it runs such a job (`workers.worker`).
"""

from __future__ import annotations

import json
import logging
import os
import re
import sys
import time
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime

from flask import Flask, Response, g, request
from werkzeug.datastructures import Headers

from casestore.phones import mask
from ivr.jobs import REQUEST_ID

FORMATS = ("json", "text")
LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
REQUEST_ID_HEADER = "X-Request-Id"
TWILIO_TOKEN_HEADER = "I-Twilio-Idempotency-Token"
# Structured fields a record may carry in `extra=`; anything else stays out of the JSON line.
FIELDS = ("event", "call_sid", "step", "outcome", "ms", "status", "job_id", "job", "path", "method")

_ID_OK = re.compile(r"[A-Za-z0-9._:@/+=-]{1,128}")
_PHONE = re.compile(
    r"""(?<![\w+])(?:
          \+\d(?:[\s.()-]{0,2}\d){6,14}                        # +16125550134, +1 (612) 555-0134
        | (?:1[\s.-]?)?\(?\d{3}\)?[\s.-]?\d{3}[\s.-]?\d{4}      # (612) 555-0134, 612.555.0134, 6125550134
        | 1\d{10}                                              # 16125550134
        )(?![\w])(?!\.\d)""",
    re.X,
)


def redact(text: str) -> str:
    """Mask anything that looks like a phone number down to its last four digits."""
    if not text or not any(ch.isdigit() for ch in text):
        return text
    return _PHONE.sub(lambda m: mask(m.group(0)), text)


def log_format(development: bool, environ: Mapping[str, str] | None = None) -> str:
    """`LOG_FORMAT` (json | text); json by default, text in development. Anything else: the default."""
    raw = ((os.environ if environ is None else environ).get("LOG_FORMAT") or "").strip().lower()
    if raw in FORMATS:
        return raw
    return "text" if development else "json"


def log_level(environ: Mapping[str, str] | None = None) -> int | None:
    """`LOG_LEVEL` as a logging level, or None when unset (or not a level name)."""
    raw = ((os.environ if environ is None else environ).get("LOG_LEVEL") or "").strip().upper()
    return getattr(logging, raw) if raw in LEVELS else None


def current_request_id() -> str | None:
    return REQUEST_ID.get()


class JsonFormatter(logging.Formatter):
    """One JSON object a line: ts (UTC, ms), level, logger, message, request_id, FIELDS, exc_info."""

    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, object] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "level": record.levelname,
            "logger": record.name,
            "message": redact(record.getMessage()),
        }
        rid = getattr(record, "request_id", None) or REQUEST_ID.get()
        if rid:
            out["request_id"] = rid
        for name in FIELDS:
            value = getattr(record, name, None)
            if value is not None:
                out[name] = value
        if record.exc_info:
            out["exc_info"] = redact(self.formatException(record.exc_info))
        elif record.exc_text:
            out["exc_info"] = redact(record.exc_text)
        if record.stack_info:
            out["stack_info"] = redact(self.formatStack(record.stack_info))
        return json.dumps(out, ensure_ascii=False, default=str)


class TextFormatter(logging.Formatter):
    """Plain text for development: time, level, logger, [request id], message; phone numbers masked."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)-7s %(name)s %(rid)s%(message)s")

    def format(self, record: logging.LogRecord) -> str:
        rid = getattr(record, "request_id", None) or REQUEST_ID.get()
        record.rid = f"[{rid[:12]}] " if rid else ""
        return redact(super().format(record))


class _StderrHandler(logging.StreamHandler):
    """Writes to whatever `sys.stderr` is at the time (a test runner may swap it between tests)."""

    def __init__(self) -> None:
        logging.Handler.__init__(self)

    @property
    def stream(self):
        return sys.stderr


def formatter(fmt: str) -> logging.Formatter:
    return JsonFormatter() if fmt == "json" else TextFormatter()


def configure(development: bool, environ: Mapping[str, str] | None = None) -> str:
    """Install the service's root handler (idempotent); returns the format in use."""
    fmt = log_format(development, environ)
    root = logging.getLogger()
    for old in [h for h in root.handlers if getattr(h, "_supportline", False)]:
        root.removeHandler(old)
    handler = _StderrHandler()
    handler._supportline = True  # type: ignore[attr-defined]
    handler.setFormatter(formatter(fmt))
    root.addHandler(handler)
    level = log_level(environ)
    if level is not None:
        root.setLevel(level)
    elif root.level == logging.NOTSET or root.level > logging.INFO:
        root.setLevel(logging.INFO)
    return fmt


def gunicorn_logger_class():
    """gunicorn's logger with our formatter on its error and access handlers (so that, with
    LOG_FORMAT=json, the master's and the access lines are JSON too). Use as `logger_class`."""
    from gunicorn import glogging

    class GunicornLogger(glogging.Logger):
        def setup(self, cfg) -> None:
            super().setup(cfg)
            fmt = log_format(
                development=os.environ.get("SUPPORTLINE_DEV", "").strip().lower() in {"1", "true", "yes", "on"}
            )
            for log in (self.error_log, self.access_log):
                for handler in log.handlers:
                    handler.setFormatter(formatter(fmt))

    return GunicornLogger


# --------------------------------------------------------------------------- request ids


def request_id_from(headers: Mapping[str, str] | Headers) -> str:
    """The caller's request id (X-Request-Id, then Twilio's idempotency token) if well-formed,
    else a new one."""
    for name in (REQUEST_ID_HEADER, TWILIO_TOKEN_HEADER):
        value = (headers.get(name) or "").strip()
        if value and _ID_OK.fullmatch(value):
            return value
    return uuid.uuid4().hex


def init_app(app: Flask) -> None:
    """Request id and start time for every request; the id goes back in the response header."""

    @app.before_request
    def _begin() -> None:
        g.request_started = time.perf_counter()
        g.request_id = request_id_from(request.headers)
        g.request_id_token = REQUEST_ID.set(g.request_id)

    @app.after_request
    def _echo(response: Response) -> Response:
        rid = g.get("request_id")
        if rid:
            response.headers[REQUEST_ID_HEADER] = rid
        return response

    @app.teardown_request
    def _end(_exc) -> None:
        token = g.pop("request_id_token", None)
        if token is not None:
            try:
                REQUEST_ID.reset(token)
            except ValueError:  # set in another context (should not happen): just clear it
                REQUEST_ID.set(None)


def elapsed_ms() -> float | None:
    started = g.get("request_started")
    return None if started is None else (time.perf_counter() - started) * 1000


def log_webhook(logger: logging.Logger, *, step: str, call_sid: str, outcome: str, ms: float, status: int) -> None:
    """The one line per webhook: `event="webhook"` with its fields (plain text says the same)."""
    logger.info(
        "webhook step=%s call=%s outcome=%s status=%s ms=%.1f",
        step,
        call_sid,
        outcome,
        status,
        ms,
        extra={
            "event": "webhook",
            "call_sid": call_sid,
            "step": step,
            "outcome": outcome,
            "ms": round(ms, 1),
            "status": status,
        },
    )
