"""After hours, as a verified caller hears it (issue #15 item 3): after the closed reason and the next
opening, the offer (1 a message for an advisor, 2 a callback when the desk opens, 8 an outage for
hosted districts, star again; keyed or said), then the case it is about (a case number of the
district and pound, or pound for a new issue), then the recording or the callback number. What they
leave is a callback task that reaches the line at the next opening (`not_before`), in the order
they called (`queued_at` is the call's start)."""

from __future__ import annotations

from datetime import datetime

from twilio.twiml.voice_response import VoiceResponse

from casestore.types import Priority
from ivr import actions
from ivr.flow.answers import AFTER_HOURS, MAX_CASE_DIGITS, MIN_CASE_NUMBER, heard
from ivr.flow.env import CallEnv, CallInput
from ivr.flow.outage import _outage
from ivr.flow.shared import _case_on_call, _leave_task, _no_input_again
from ivr.flow.twiml import _gather, _hangup, _keypad, _response, _say, url
from ivr.prompts import digits_spoken, say
from ivr.state import CallState
from routing.calendar import status_at

KINDS = ("message", "callback")
MAX_JUNK = 3  # keys or words that are not an option, before the goodbye
MAX_CASE_TRIES = 2  # a wrong case number is said once and asked again; the second is a new issue
MAX_EMPTY_RECORDINGS = 2  # a Record with nothing on it is offered once more
RECORD_SECONDS = 120  # as the queue's message


def offer(env: CallEnv, state: CallState, resp: VoiceResponse, texts: list[str]) -> VoiceResponse:
    """The after-hours choices, after `texts` (the closed reason and the next opening): the Gather
    of step "closed", keypad or speech. A call without a usable caller ID is offered no callback."""
    lang = state.language
    spoken = [*texts, say("afterhours_options" if state.from_e164 else "afterhours_options_no_callback", lang=lang)]
    if state.hosted:
        spoken.append(say("closed_outage_offer", lang=lang))
    spoken += [say("submit_online", lang=lang), say("afterhours_repeat", lang=lang)]
    if not state.hosted:  # a caller who hangs up now was told we are closed (hosted: as before option 8)
        actions.update_call_log(
            env.session, state.sid, only_if_in_progress=True, outcome="closed", path=list(state.path)
        )
    return _gather(resp, state, "closed", spoken, num_digits=1, timeout=7, speech=AFTER_HOURS.hints)


def closed_choice(env: CallEnv, inp: CallInput, state: CallState) -> VoiceResponse:
    """The answer to the after-hours offer (a hosted caller's 8 keyed is taken by the menu first)."""
    resp = _response()
    lang = state.language
    choice = _choice(inp, state)
    if choice is None and not _keypad(inp.digits) and not inp.speech.strip():  # silence
        if _no_input_again(env, state, "closed"):
            return _end(env, state)
        return _again(env, state, resp)
    if choice == "*":
        return _again(env, state, resp)
    if choice == "8":
        if state.hosted:
            return _outage(env, inp, state)
        state.visit("outage_not_hosted")
        return _again(env, state, resp, say("outage_not_hosted", lang=lang))
    if choice == "1":
        return _ask_case(env, state, resp, "message")
    if choice == "2":
        return _ask_case(env, state, resp, "callback")
    if state.bump("closed_junk") >= MAX_JUNK:
        return _end(env, state, say("not_recognized", lang=lang))
    return _again(env, state, resp, say("not_recognized", lang=lang))


def _choice(inp: CallInput, state: CallState) -> str | None:
    """The key the caller chose: the first key pressed, else what they said (if Twilio was sure
    enough); None for anything else. 2 is an option only with a number to call back."""
    options = {"1", "8", "*"} | ({"2"} if state.from_e164 else set())
    keys = _keypad(inp.digits)
    if keys:
        return keys[0] if keys[0] in options else None
    spoken = heard(inp, AFTER_HOURS)
    return spoken.keys if spoken is not None and spoken.keys in options else None


def _again(env: CallEnv, state: CallState, resp: VoiceResponse, *extra: str) -> VoiceResponse:
    """Back to the menu, which says the closed reason and the offer again (or, should the desk
    have opened meanwhile, the open menu). Imported here: the menu's `_closed` calls `offer`."""
    from ivr.flow.menu import _main_menu

    return _main_menu(env, state, resp, *extra)


def _end(env: CallEnv, state: CallState, *extra: str) -> VoiceResponse:
    """Nothing left: the portal and goodbye; the call log reads "closed", as it did before the offer."""
    state.visit("goodbye")
    actions.update_call_log(env.session, state.sid, outcome="closed", path=list(state.path))
    lang = state.language
    return _hangup(_response(), *extra, say("submit_online", lang=lang), say("goodbye", lang=lang))


def _ask_case(env: CallEnv, state: CallState, resp: VoiceResponse, kind: str, *extra: str) -> VoiceResponse:
    """Which case the message or callback is about: a case number and pound, or pound alone."""
    state.visit(f"after_hours_{kind}")
    texts = [*extra, say("afterhours_case", lang=state.language)]
    return _gather(resp, state, "after-hours-case", texts, timeout=8, kind=kind)


def case_entered(env: CallEnv, inp: CallInput, state: CallState) -> VoiceResponse:
    """The case number (or none: a new issue) for the message or callback chosen (`kind`)."""
    resp = _response()
    kind = inp.arg("kind")
    if kind not in KINDS or (kind == "callback" and not state.from_e164):
        return _again(env, state, resp)
    digits = _keypad(inp.digits)
    if not digits:  # pound alone (or nothing): a new issue
        _new_issue(state)
        return _take(env, state, resp, kind)
    found = _case_of_district(env, state, digits)
    if found:
        return _take(env, state, resp, kind, say("afterhours_case_found", lang=state.language, number_spoken=found))
    not_found = say("case_not_found", lang=state.language)
    if state.bump("after_hours_case") < MAX_CASE_TRIES:
        return _ask_case(env, state, resp, kind, not_found)
    _new_issue(state)
    return _take(env, state, resp, kind, not_found, say("afterhours_new_issue", lang=state.language))


def _case_of_district(env: CallEnv, state: CallState, digits: str) -> str | None:
    """The case the digits name, if it is the caller's district's: it goes on the call (the call
    log, a case-log entry) and the task takes its product area and priority. Returns it spoken."""
    if not digits.isdigit() or len(digits) > MAX_CASE_DIGITS or int(digits) < MIN_CASE_NUMBER:
        return None
    assert state.district_pk is not None
    case = actions.case_for_district(env.session, int(digits), state.district_pk)
    if case is None:
        return None
    _case_on_call(env, state, case, "Inbound call from the authorized contact, after hours.")
    return digits_spoken(case.number)


def _new_issue(state: CallState) -> None:
    state.case_pk = state.case_number = None
    state.skill = None
    state.priority_rank = Priority.MEDIUM.rank


def _take(env: CallEnv, state: CallState, resp: VoiceResponse, kind: str, *extra: str) -> VoiceResponse:
    """The message (a Record, then step "after-hours-message") or the callback (kept at once)."""
    lang = state.language
    for text in extra:
        _say(resp, text)
    if kind == "callback":
        assert state.from_e164 is not None
        state.visit("callback_requested")
        _keep(env, state, "callback", None)
        last4 = digits_spoken(state.from_e164[-4:])
        return _hangup(resp, say("afterhours_callback_saved", lang=lang, last4=last4))
    state.visit("after_hours_record")
    _say(resp, say("afterhours_record", lang=lang))
    resp.record(
        action=url("after-hours-message", state),
        method="POST",
        max_length=RECORD_SECONDS,
        timeout=5,
        finish_on_key="#",
        play_beep=True,
    )
    resp.redirect(url("after-hours-message", state, noinput=1), method="POST")
    return resp


def message_recorded(env: CallEnv, inp: CallInput, state: CallState) -> VoiceResponse:
    """After the Record: the message kept, or (nothing recorded) said so and offered once more."""
    recording_url = inp.form.get("RecordingUrl", "").strip()
    lang = state.language
    if not recording_url:
        if state.bump("after_hours_record") >= MAX_EMPTY_RECORDINGS:
            return _end(env, state, say("afterhours_no_message", lang=lang))
        return _take(env, state, _response(), "message", say("afterhours_no_message", lang=lang))
    state.visit("message_recorded")
    _keep(env, state, "message", recording_url)
    return _hangup(_response(), say("afterhours_message_saved", lang=lang))


def _keep(env: CallEnv, state: CallState, kind: str, recording_url: str | None) -> None:
    """The task, for the desk's next opening, in the order of the calls (`queued_at`: when this
    one started); the call log and the case's log say what the caller left."""
    status = status_at(env.now, env.tables.calendar)
    queued_at = datetime.fromisoformat(state.started_at) if state.started_at else env.now
    not_before = None if status.open else status.next_open
    _leave_task(env, state, kind=kind, recording_url=recording_url, queued_at=queued_at, not_before=not_before)
