"""The step table and `handle`: which function answers each webhook step, which steps need the
call's (verified) state, the restart of a call whose state is lost, and a new call's fresh state."""

from __future__ import annotations

import uuid
from collections.abc import Callable

from twilio.twiml.voice_response import VoiceResponse

from casestore.phones import caller_e164
from ivr.flow import afterhours
from ivr.flow.area import area_entered, urgency_entered
from ivr.flow.case import case_confirmed, reopen_entered
from ivr.flow.connect import connect, dial_result, queue_menu, queue_message, queue_wait
from ivr.flow.env import CallEnv, CallInput, StepResult
from ivr.flow.followup import followup_answered, followup_choice
from ivr.flow.menu import closed_entered, menu_entered
from ivr.flow.outage import recording_done
from ivr.flow.status import _conversation_over, call_status
from ivr.flow.twiml import _int, _response
from ivr.flow.verify import contact_id_confirmed, contact_id_entered, incoming, pin_entered
from ivr.flow.whisper import whisper, whisper_accept
from ivr.state import CallState

Step = Callable[[CallEnv, CallInput, CallState], VoiceResponse]

# Steps that need the call's state; a request for one of them without state restarts the call.
STATEFUL: dict[str, Step] = {
    "pin": pin_entered,
    "contact-id": contact_id_entered,
    "contact-id-confirm": contact_id_confirmed,  # a spoken contact ID read back: before verification
    "menu": menu_entered,
    "case-confirm": case_confirmed,  # a spoken case number read back
    "closed": closed_entered,
    "after-hours-case": afterhours.case_entered,
    "after-hours-message": afterhours.message_recorded,
    "area": area_entered,
    "urgency": urgency_entered,
    "reopen": reopen_entered,
    "dial-result": dial_result,
    "queue": queue_wait,
    "queue-menu": queue_menu,
    "queue-message": queue_message,
    "connect": connect,
    "recording": recording_done,
    "followup-choice": followup_choice,
}
# Steps that may arrive without (or for another call's) state.
STATELESS = {"whisper": whisper, "whisper-accept": whisper_accept, "status": call_status}
VERIFIED_ONLY = {
    "menu",
    "case-confirm",
    "closed",
    "after-hours-case",
    "after-hours-message",
    "area",
    "urgency",
    "reopen",
    "dial-result",
    "queue",
    "queue-menu",
    "queue-message",
    "connect",
    "recording",
    "followup-choice",
}
STEPS = set(STATEFUL) | set(STATELESS) | {"incoming", "followup"}


def handle(env: CallEnv, inp: CallInput, state: CallState | None) -> StepResult:
    """Run one webhook step on the call's current state (loaded by the caller).

    Returns the TwiML and the state to persist; exceptions propagate to the web layer's fallback.
    """
    if inp.step == "incoming":
        state = _fresh_state(env, inp, state)
        resp = incoming(env, inp, state)
    elif inp.step == "followup":
        # Our outbound call: the contact is the called party ("To"), not the caller.
        state = _fresh_state(env, CallInput(step=inp.step, sid=inp.sid, from_raw=inp.form.get("To", "")), state)
        resp = followup_answered(env, inp, state)
    elif inp.step in STATELESS:
        resp = STATELESS[inp.step](env, inp, state)
    else:
        step = STATEFUL.get(inp.step)
        if step is None or state is None or (inp.step in VERIFIED_ONLY and not state.verified):
            # Unknown step, expired or never-seen call, or a verified-only step reached unverified:
            # start over from the greeting (which says nothing private).
            if inp.step == "dial-result" and state is None:
                return StepResult(_conversation_over(env, inp))
            resp = _response()
            # A fresh URL, and the new state's counter starts past this request's `n`, so no
            # later URL of the restarted call meets an answer cached for the lost one; and this
            # redirect itself is not cached (a later request with the same URL must run again).
            n = _int(inp.arg("n")) + 1
            resp.redirect(f"/voice/incoming?restart={uuid.uuid4().hex[:12]}&n={n}", method="POST")
            return StepResult(str(resp), cache=False)
        resp = step(env, inp, state)
    if state is None or inp.step in {"whisper", "whisper-accept"}:
        return StepResult(str(resp))
    if inp.step == "status":
        return StepResult(str(resp), forget=True)
    state.seq += 1
    return StepResult(str(resp), state=state)


def _fresh_state(env: CallEnv, inp: CallInput, old: CallState | None) -> CallState:
    """A new call, or a call sent back to the greeting: verification starts again, but the
    call's failure count, response counter, path and language carry over."""
    state = CallState(sid=inp.sid, from_e164=caller_e164(inp.from_raw, env.region), started_at=env.now.isoformat())
    if old is None and inp.arg("n").isdigit():
        state.seq = int(inp.arg("n"))  # a restarted call: its URLs never reuse the lost call's
    if old is not None:
        state.from_e164 = old.from_e164
        state.started_at = old.started_at
        state.failures = old.failures
        state.seq = old.seq
        state.path = old.path
        state.language, state.language_chosen = old.language, old.language_chosen
    return state
