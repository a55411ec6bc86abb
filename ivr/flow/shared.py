"""Pieces several stages share: counting a caller's no-inputs, a case going on the call
(`_case_on_call`), Redis side effects that must not fail a call (`_quiet`), the task a caller
leaves instead of talking (`_leave_task`), closing the call's case event, whether a dialled leg
accepted, reading a dial target, the ring kept on the call log, and the autopause reason."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from typing import Any

from casestore.models import Case
from casestore.redisguard import ERRORS
from casestore.types import Priority
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


def _case_on_call(env: CallEnv, state: CallState, case: Case, detail: str) -> None:
    """A case of the caller's district goes on this call: its number, product area (the skill)
    and priority on the call's state and call log, and one entry in the case's log per call."""
    state.case_pk, state.case_number = case.id, case.number
    state.skill = case.product_area.value
    state.priority_rank = case.priority.rank
    state.visit("case")
    actions.update_call_log(
        env.session, state.sid, case_id=case.id, skill=state.skill, priority=case.priority.value, path=list(state.path)
    )
    if case.id not in state.logged_cases:
        state.logged_cases.append(case.id)
        actions.log_case_event(
            env.session,
            case,
            at=env.now,
            kind="call",
            call_sid=state.sid,
            contact_pk=state.verified_pk,
            outcome="in_progress",
            detail=detail,
        )


def _leave_task(
    env: CallEnv,
    state: CallState,
    *,
    kind: str,
    recording_url: str | None,
    queued_at: datetime,
    not_before: datetime | None = None,
) -> None:
    """What a caller leaves instead of talking now (`kind` "message" or "callback"): a task at
    their place (priority, `queued_at`; `not_before`: not to be worked before then), the call
    log's outcome with its area and priority, and the case's log."""
    rank = state.priority_rank if state.priority_rank is not None else Priority.MEDIUM.rank
    actions.add_callback_task(
        env.session,
        kind=kind,
        sid=state.sid,
        case_pk=state.case_pk,
        district_pk=state.district_pk,
        contact_pk=state.verified_pk,
        callback_e164=state.from_e164 if kind == "callback" else None,
        recording_url=recording_url,
        skill=state.skill,
        priority_rank=rank,
        queued_at=queued_at,
        not_before=not_before,
        now=env.now,
    )
    outcome = "callback_requested" if kind == "callback" else "message_recorded"
    actions.update_call_log(
        env.session,
        state.sid,
        outcome=outcome,
        recording_url=recording_url,
        skill=state.skill,
        priority=Priority.of_rank(rank).value,
        path=list(state.path),
    )
    _finish_case_event(env, state, outcome=outcome, advisor_pk=None)


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
