"""A call's end: Twilio's final status (close the call-log row, leave the line, free the advisors
the call held), the replay of ends heard while the database was down (`replay_end`), and a Dial
result for a call whose state is gone."""

from __future__ import annotations

from datetime import timedelta

from twilio.twiml.voice_response import VoiceResponse

from ivr import actions, holds
from ivr.dispatch import Offers
from ivr.flow.connect import _ring_missed, _talk_ended
from ivr.flow.env import CallEnv, CallInput, StepResult
from ivr.flow.shared import _accepted, _finish_case_event, _quiet, _target_pk, note_ring
from ivr.flow.twiml import _hangup, _int, _response
from ivr.prompts import say
from ivr.state import CallState

FINAL_STATUSES = frozenset({"completed", "busy", "failed", "no-answer", "canceled"})  # Twilio's, for a call that ended


def call_status(env: CallEnv, inp: CallInput, state: CallState | None) -> VoiceResponse:
    """Twilio's final status for the call: close the call-log row, leave the queue, drop state."""
    status = inp.form.get("CallStatus", "")
    row = actions.call_log(env.session, inp.sid)
    if row is not None and row.ended_at is None and status in FINAL_STATUSES:
        row.ended_at = env.now
        row.status = status
        row.duration_seconds = _int(inp.form.get("CallDuration"))
        if row.outcome == "in_progress":
            row.outcome = "abandoned" if row.queued_at is not None else "hung_up"
            if row.queued_at is not None:
                row.wait_seconds = max(0, int((env.now - row.queued_at).total_seconds()))
        if state is not None:
            row.path = list(state.path)
            if state.case_pk is not None:
                _finish_case_event(env, state, outcome=row.outcome, advisor_pk=row.advisor_id)
    if status in FINAL_STATUSES:
        holds.end_call(env.session, inp.sid, env.now)
        _quiet(env, _free_advisors_of, env, inp.sid, state)
    return _response()


def _free_advisors_of(env: CallEnv, sid: str, state: CallState | None) -> None:
    """The call is over: out of the line, any advisor it held freed (wrap-up after a talk, at
    once if it never got past ringing), and the dispatcher told. Idempotent: each change checks
    that the advisor still holds this call."""
    env.queue.leave(sid)
    held: set[int] = set()
    offer = Offers(env.redis).take(sid)
    if offer is not None:
        held.add(offer.advisor_pk)
    if state is not None and (pk := _target_pk(state.current_target or "", "advisor")) is not None:
        held.add(pk)
    for pk in held:
        if env.presence.release(pk, sid, env.now, missed=False) is None:
            env.presence.call_ended(pk, env.now, env.wrap_seconds, call_sid=sid)
    env.dispatch()


def replay_end(env: CallEnv, inp: CallInput, state: CallState | None) -> StepResult:
    """A call's end heard while the database was down (`ivr.spool`), applied once it is back, at
    the time it arrived (`env.now`): the same operations as the live `dial-result` and `status`
    steps, but nothing is routed or said (the caller got the fallback then; the call is over).
    A Dial that was not taken leaves the call log's outcome "fallback" (the caller heard it)."""
    if inp.step == "status":
        call_status(env, inp, state)
        return StepResult("", forget=True)
    if state is None:
        # Its final status came first (live, once the database was back: it closed the row as
        # hung up or abandoned and dropped the state): the talk this Dial result reports is what
        # happened on the call.
        talk = _int(inp.form.get("DialCallDuration"))
        if inp.form.get("DialCallStatus") in {"completed", "answered"} and talk > 0:
            actions.update_call_log(
                env.session,
                inp.sid,
                only_if_outcome_in=("in_progress", "hung_up", "abandoned"),
                outcome="connected",
                talk_seconds=talk,
            )
        _conversation_over(env, inp)
        return StepResult("")
    advisor_pk = _target_pk(state.current_target or "", "advisor")
    dial_status = inp.form.get("DialCallStatus", "")
    took = _accepted(env, state.sid, state.attempt) and dial_status in {"completed", "answered"}
    if took:
        _talk_ended(env, inp, state, advisor_pk)
    else:
        _ring_missed(env, state, advisor_pk, dial_status)
        actions.update_call_log(
            env.session, state.sid, only_if_in_progress=True, outcome="fallback", path=list(state.path)
        )
    note_ring(env, state, inp.form, accepted=took)
    return StepResult("", state=state)


def _conversation_over(env: CallEnv, inp: CallInput) -> str:
    """A Dial result for a call whose state is gone (Redis lost it mid-conversation): the call is
    over, not starting again; log what Twilio tells us and hang up."""
    talk = _int(inp.form.get("DialCallDuration"))
    talked = inp.form.get("DialCallStatus") in {"completed", "answered"} and talk > 0
    if talked:
        actions.update_call_log(env.session, inp.sid, only_if_in_progress=True, outcome="connected", talk_seconds=talk)
    wrap = env.wrap_seconds if talked else 0
    for pk in holds.held_by(env.session, inp.sid):  # the advisor it had: wrap-up, then free
        holds.end(env.session, pk, inp.sid, env.now + timedelta(seconds=wrap))
        _quiet(env, env.presence.call_ended, pk, env.now, wrap, call_sid=inp.sid)
    return str(_hangup(_response(), say("call_ended", lang="en")))  # no state: the language is not known
