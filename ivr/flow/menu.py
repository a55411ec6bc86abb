"""The main menu and business hours, as the caller hears them: the menu while open (a case number
and '#', 8 for an outage, 0 for an advisor, * to repeat; or said: a spoken case number is read back
first, `ivr.flow.answers`), the closed-hours or holiday message (then the after-hours offer,
`ivr.flow.afterhours`, with option 8 for hosted districts), and the goodbye when no usable answer
comes."""

from __future__ import annotations

from twilio.twiml.voice_response import VoiceResponse

from ivr import actions
from ivr.flow import afterhours
from ivr.flow.answers import MAIN_MENU, MAX_CASE_DIGITS, MIN_CASE_NUMBER, heard
from ivr.flow.area import ask_area, general_advisor
from ivr.flow.env import CallEnv, CallInput
from ivr.flow.outage import _outage
from ivr.flow.shared import _no_input_again
from ivr.flow.twiml import _gather, _hangup, _keypad, _read_back, _response
from ivr.hours_spoken import closed_sentences
from ivr.prompts import say
from ivr.state import CallState
from routing.calendar import OpenStatus, status_at

MAX_CASE_TRIES = 3


def _main_menu(env: CallEnv, state: CallState, resp: VoiceResponse, *extra: str) -> VoiceResponse:
    status = status_at(env.now, env.tables.calendar)
    if not status.open:
        return _closed(env, state, resp, status, *extra)
    state.visit("menu")
    menu = say("menu_open", lang=state.language) if state.hosted else say("menu_open_not_hosted", lang=state.language)
    return _gather(resp, state, "menu", [*extra, menu], timeout=7, speech=MAIN_MENU.hints)


def _closed(env: CallEnv, state: CallState, resp: VoiceResponse, status: OpenStatus, *extra: str) -> VoiceResponse:
    state.visit("closed")
    reason = closed_sentences(status, env.tables.calendar, state.language)
    return afterhours.offer(env, state, resp, [*extra, *reason])


def closed_entered(env: CallEnv, inp: CallInput, state: CallState) -> VoiceResponse:
    digits = _keypad(inp.digits)
    if digits == "8" and state.hosted:
        return _outage(env, inp, state)
    return afterhours.closed_choice(env, inp, state)


def menu_entered(env: CallEnv, inp: CallInput, state: CallState) -> VoiceResponse:
    resp = _response()
    spoken = heard(inp, MAIN_MENU)
    if spoken is not None and spoken.unclear:
        return _not_understood(env, state, resp, "didnt_catch")
    if spoken is not None and spoken.number:  # a spoken case number: read back before it is used
        state.visit("case_readback")
        return _read_back(resp, state, "case-confirm", spoken.number)
    raw = spoken.keys if spoken is not None else (inp.digits or "").strip()
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
    return _not_understood(env, state, resp, "not_recognized")


def _not_understood(env: CallEnv, state: CallState, resp: VoiceResponse, key: str) -> VoiceResponse:
    """Not an option, or speech not understood: the menu again, and past the tries a goodbye."""
    if state.bump("menu_junk") > MAX_CASE_TRIES:
        return _goodbye(env, state, key)
    return _main_menu(env, state, resp, say(key, lang=state.language))


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
