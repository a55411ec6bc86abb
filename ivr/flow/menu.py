"""The main menu and business hours, as the caller hears them: the menu while open (a case number
and '#', 8 for an outage, 0 for an advisor, * to repeat), the closed-hours or holiday message
(with option 8 for hosted districts), and the goodbye when no usable answer comes."""

from __future__ import annotations

from twilio.twiml.voice_response import VoiceResponse

from ivr import actions
from ivr.flow.area import ask_area, general_advisor
from ivr.flow.env import CallEnv, CallInput
from ivr.flow.outage import _outage
from ivr.flow.shared import _no_input_again
from ivr.flow.twiml import _gather, _hangup, _keypad, _response
from ivr.hours_spoken import closed_sentences
from ivr.prompts import say
from ivr.state import CallState
from routing.calendar import OpenStatus, status_at

MAX_CASE_TRIES = 3
MIN_CASE_NUMBER = 10000  # case numbers have at least five digits; menu keys are one digit
MAX_CASE_DIGITS = 9  # ... and at most nine


def _main_menu(env: CallEnv, state: CallState, resp: VoiceResponse, *extra: str) -> VoiceResponse:
    status = status_at(env.now, env.tables.calendar)
    if not status.open:
        return _closed(env, state, resp, status, *extra)
    state.visit("menu")
    menu = say("menu_open", lang=state.language) if state.hosted else say("menu_open_not_hosted", lang=state.language)
    return _gather(resp, state, "menu", [*extra, menu], timeout=7)


def _closed(env: CallEnv, state: CallState, resp: VoiceResponse, status: OpenStatus, *extra: str) -> VoiceResponse:
    state.visit("closed")
    reason = closed_sentences(status, env.tables.calendar, state.language)
    if state.hosted:
        return _gather(
            resp,
            state,
            "closed",
            [
                *extra,
                *reason,
                say("closed_outage_offer", lang=state.language),
                say("submit_online", lang=state.language),
            ],
            num_digits=1,
            timeout=7,
        )
    actions.update_call_log(env.session, state.sid, outcome="closed", path=list(state.path))
    return _hangup(
        resp, *extra, *reason, say("submit_online", lang=state.language), say("goodbye", lang=state.language)
    )


def closed_entered(env: CallEnv, inp: CallInput, state: CallState) -> VoiceResponse:
    digits = _keypad(inp.digits)
    if digits == "8" and state.hosted:
        return _outage(env, inp, state)
    if not digits and not _no_input_again(env, state, "closed"):
        return _main_menu(env, state, _response())
    actions.update_call_log(env.session, state.sid, outcome="closed", path=list(state.path))
    return _hangup(_response(), say("submit_online", lang=state.language), say("goodbye", lang=state.language))


def menu_entered(env: CallEnv, inp: CallInput, state: CallState) -> VoiceResponse:
    resp = _response()
    raw = (inp.digits or "").strip()
    digits = _keypad(raw)
    if inp.arg("noinput") and not raw:
        if _no_input_again(env, state, "menu"):
            return _silent_caller(env, state, resp)
        return _main_menu(env, state, resp, say("no_input", lang=state.language))
    if "*" in raw:
        return _main_menu(env, state, resp)
    if digits == "8":
        if state.hosted:
            return _outage(env, inp, state)
        state.visit("outage_not_hosted")
        return _main_menu(env, state, resp, say("outage_not_hosted", lang=state.language))
    if digits == "0":
        return _to_advisor(env, state, resp)
    if digits.isdigit() and len(digits) >= len(str(MIN_CASE_NUMBER)):
        # Imported here: a case not found (or too old to reopen) comes back to this menu
        # (`case` imports `_main_menu`), so the two stages call each other.
        from ivr.flow.case import _case_entered, _not_a_case

        if len(digits) > MAX_CASE_DIGITS:  # a long entry is a case number typed wrong, not a menu key
            return _not_a_case(env, state, resp, say("not_a_case_number", lang=state.language))
        return _case_entered(env, state, resp, int(digits))
    if state.bump("menu_junk") > MAX_CASE_TRIES:
        return _goodbye(env, state, "not_recognized")
    return _main_menu(env, state, resp, say("not_recognized", lang=state.language))


def _to_advisor(env: CallEnv, state: CallState, resp: VoiceResponse, *extra: str) -> VoiceResponse:
    """The next available advisor, for a new issue (0 at the menu): its product area and urgency
    first (`ivr.flow.area`), which pick the advisor's skill and the place in line."""
    return ask_area(env, state, resp, *extra)


def _silent_caller(env: CallEnv, state: CallState, resp: VoiceResponse) -> VoiceResponse:
    """After the third silence at the menu: an advisor as 0 does while open, else the closed
    message (the desk may have closed while the menu was playing)."""
    status = status_at(env.now, env.tables.calendar)
    if status.open:
        return general_advisor(env, state, resp, say("no_input", lang=state.language))  # no more questions
    return _closed(env, state, resp, status, say("no_input", lang=state.language))


def _goodbye(env: CallEnv, state: CallState, key: str) -> VoiceResponse:
    state.visit("goodbye")
    actions.update_call_log(
        env.session,
        state.sid,
        only_if_in_progress=True,
        outcome="no_input" if key == "no_input" else "ended_in_menu",
        path=list(state.path),
    )
    return _hangup(
        _response(),
        say(key, lang=state.language),
        say("submit_online", lang=state.language),
        say("goodbye", lang=state.language),
    )
