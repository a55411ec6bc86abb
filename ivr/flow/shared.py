"""Pieces several stages share: counting a caller's no-inputs, Redis side effects that must not
fail a call (`_quiet`), closing the call's case event, whether a dialled leg accepted, reading a
dial target, the ring kept on the call log, and the autopause reason."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from casestore.redisguard import ERRORS
from ivr import actions
from ivr.flow.env import CallEnv
from ivr.flow.twiml import _int
from ivr.state import CallState, marked

log = logging.getLogger("supportline.ivr")

MAX_NO_INPUT = 2
RING_SECONDS = 20


def _no_input_again(env: CallEnv, state: CallState, key: str) -> bool:
    """Count a no-input on `key`; True when the caller has had their reprompts."""
    return state.bump(f"noinput:{key}") > MAX_NO_INPUT


def _quiet(env: CallEnv, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """A shared-state side effect that must not fail the call while Redis is unreachable (presence
    converges later: `reconcile` runs every 30 s once Redis is back); `env` gives the breaker."""
    breaker = env.breakers.redis
    if not breaker.usable():
        return None
    try:
        result = fn(*args, **kwargs)
        breaker.succeeded()
        return result
    except ERRORS as exc:
        breaker.failed(exc)
        log.warning("skipped %s: Redis unreachable", getattr(fn, "__name__", "a Redis update"))
        return None


def _finish_case_event(env: CallEnv, state: CallState, *, outcome: str, advisor_pk: int | None) -> None:
    if state.case_pk is not None:
        actions.finish_call_event(env.session, state.case_pk, state.sid, outcome=outcome, advisor_pk=advisor_pk)


def _accepted(env: CallEnv, sid: str, attempt: int) -> bool:
    return marked(env.session, env.redis, f"sl:accept:{sid}:{attempt}", breaker=env.breakers.redis)


def _target_pk(target: str, kind: str) -> int | None:
    prefix = f"{kind}:"
    return int(target[len(prefix) :]) if target.startswith(prefix) else None


def note_ring(env: CallEnv, state: CallState, form: Any, *, accepted: bool) -> None:
    """Keep this Dial's end on the call log (the console's call detail shows it): whom it rang
    (their name then, and the target), when it ended, Twilio's DialCallStatus, whether they
    pressed 1, and the seconds talked."""
    target = state.current_target or ""
    who = ""
    if (pk := _target_pk(target, "advisor")) is not None:
        advisor = env.tables.advisor(pk)
        who = advisor.name if advisor else ""
    elif (pk := _target_pk(target, "engineer")) is not None:
        who = next((e.name for e in env.tables.engineers.values() if e.pk == pk), "")
    ring = {
        "target": target,
        "who": who,
        "route": state.route,
        "at": env.now.isoformat(),
        "status": form.get("DialCallStatus", "") or "",
        "accepted": accepted,
        "seconds": _int(form.get("DialCallDuration")),
    }
    actions.add_ring(env.session, state.sid, ring)


def _autopause_reason(env: CallEnv) -> str:
    return f"missed {env.presence.missed_limit} calls in a row"
