"""Live figures (presence, the waiting line, today's counters) come from Redis; this module says what
the console and the API do while Redis cannot be reached (the running app's Redis breaker,
`Services.breakers.redis`: see `casestore.redisguard`).

`read(fn)` runs `fn` against Redis, or raises `LiveUnavailable` at once while the breaker is open;
`optional(fn)` gives None instead, for a page that renders its database parts anyway and says that
live figures are unavailable (`UNAVAILABLE`). A view that cannot do without Redis lets the error
through: the console's and the API's error handlers (`unavailable_page`, `unavailable_json`)
answer 503 with that sentence (JSON for the API and for the console's JSON routes), never a 500.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from flask import jsonify, render_template

from casestore.redisguard import COOLDOWN_SECONDS, ERRORS, Breaker
from webhooks.services import current_services

T = TypeVar("T")
UNAVAILABLE = "Live figures are unavailable: Redis cannot be reached. Try again in a moment."


class LiveUnavailable(RuntimeError):
    """Redis is unreachable: live figures cannot be read or set now."""


def _breaker() -> Breaker:
    """The running app's Redis breaker (inside a request or app context)."""
    return current_services().breakers.redis


def read(fn: Callable[[], T]) -> T:
    breaker = _breaker()
    if not breaker.usable():
        raise LiveUnavailable(UNAVAILABLE)
    try:
        value = fn()
    except ERRORS as exc:
        breaker.failed(exc)
        raise LiveUnavailable(UNAVAILABLE) from exc
    breaker.succeeded()
    return value


def optional(fn: Callable[[], T]) -> T | None:
    try:
        return read(fn)
    except LiveUnavailable:
        return None


def _note_failure(exc: Exception) -> None:
    if not isinstance(exc, LiveUnavailable):
        _breaker().failed(exc)


def unavailable_json(exc: Exception):
    _note_failure(exc)
    resp = jsonify(error="unavailable", detail=UNAVAILABLE)
    resp.status_code = 503
    resp.headers["Retry-After"] = str(int(COOLDOWN_SECONDS))
    return resp


def unavailable_page(exc: Exception):
    _note_failure(exc)
    return render_template("admin/unavailable.html", note=UNAVAILABLE), 503, {"Retry-After": str(int(COOLDOWN_SECONDS))}
