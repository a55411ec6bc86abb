"""A new issue without a case number, as the caller hears it (issue #15 item 2): after 0 at the
menu, which of the six product areas it is about (a key 1-6, 0 or "not sure" for a general call,
or the area said aloud), then how urgent it is (1 site down or no one can work: critical; 2 a
time-sensitive task blocked: high; 3 otherwise: medium). The area is the skill the next available
advisor is picked by, the priority orders the line; both go on the call log, and from the call's
state onto any callback task and into the advisor's whisper.

Choices made here:
  * The third unknown case number also hears the area question (once, with its tries): that caller
    is answering menus and has a problem, and the area gets them an advisor who knows it. Three
    silences at the main menu go straight to a general advisor (`general_advisor`, medium): a
    caller who said nothing three times would only sit through more questions.
  * A bad key, silence, speech below `CONFIDENCE_FLOOR` or speech that names no single answer is
    asked again ("Sorry, I didn't catch that."); after MAX_TRIES misses the area is general, or the
    priority medium, and the call goes on to an advisor: never a loop, never a hang-up.
  * A hosted district's caller who says their site is down hears that option 8 pages the on-call
    engineer at any hour, and may press 8 right there: a hosted outage belongs on the incident,
    which pages until someone has it. Their site being down may also mean their own network, so
    anything else (or nothing) keeps them on the way to an advisor, at critical priority.
"""

from __future__ import annotations

from collections.abc import Callable

from twilio.twiml.voice_response import VoiceResponse

from casestore.types import Priority
from ivr import actions
from ivr.flow.answers import sure_enough
from ivr.flow.connect import _route
from ivr.flow.env import CallEnv, CallInput
from ivr.flow.outage import _outage
from ivr.flow.twiml import _gather, _keypad, _response
from ivr.prompts import say
from ivr.speech_areas import AREA_KEYS, REPEAT_KEY, URGENCY_KEYS, area_choice, urgency_choice, urgency_priority
from ivr.speech_intents import menu_choice
from ivr.state import CallState

MAX_TRIES = 3  # misses at each question before it is answered for the caller (general, medium)
OUTAGE_KEY = "8"


def ask_area(env: CallEnv, state: CallState, resp: VoiceResponse, *extra: str) -> VoiceResponse:
    """A new issue: forget any case met earlier in the call, then ask the product area."""
    state.skill = None
    state.case_pk = None
    state.case_number = None
    state.owner_pk = None
    state.response_due = None
    state.priority_rank = None
    state.route = "general"
    return _area_menu(state, resp, *extra)


def _area_menu(state: CallState, resp: VoiceResponse, *extra: str) -> VoiceResponse:
    state.visit("area")
    return _gather(resp, state, "area", [*extra, say("area_menu", lang=state.language)], num_digits=1, speech="area")


def _answer(inp: CallInput, parse: Callable[[str | None], str | None]) -> tuple[str | None, str]:
    """The key the caller chose (keyed, or said with enough confidence, by `parse`) and, when
    none, what to say before asking again: "no_input", "didnt_catch" or "not_recognized"."""
    raw = (inp.digits or "").strip()
    if "*" in raw:
        return REPEAT_KEY, ""
    keys = _keypad(raw)
    if keys:
        return keys, "not_recognized"
    if inp.speech.strip():
        if not sure_enough(inp.confidence):
            return None, "didnt_catch"
        return parse(inp.speech), "didnt_catch"
    return None, "no_input"


def area_entered(env: CallEnv, inp: CallInput, state: CallState) -> VoiceResponse:
    resp = _response()
    key, why = _answer(inp, area_choice)
    if key == REPEAT_KEY:
        return _area_menu(state, resp)
    if key is not None and key in AREA_KEYS:
        area = AREA_KEYS[key]
        state.skill = area.value if area is not None else None
        return _urgency_menu(state, resp)
    if state.bump("area") >= MAX_TRIES:
        state.skill = None
        return _put_through(env, state, resp, Priority.MEDIUM, say(why, lang=state.language))
    return _area_menu(state, resp, say(why, lang=state.language))


def _urgency_menu(state: CallState, resp: VoiceResponse, *extra: str) -> VoiceResponse:
    state.visit("urgency")
    texts = [*extra, say("urgency_menu", lang=state.language)]
    return _gather(resp, state, "urgency", texts, num_digits=1, speech="urgency")


def urgency_entered(env: CallEnv, inp: CallInput, state: CallState) -> VoiceResponse:
    resp = _response()
    if inp.arg("stage") == "outage":
        return _outage_offer_answered(env, inp, state, resp)
    key, why = _answer(inp, urgency_choice)
    if key == REPEAT_KEY:
        return _urgency_menu(state, resp)
    if key is not None and key in URGENCY_KEYS:
        priority = urgency_priority(key)
        if priority == Priority.CRITICAL and state.hosted:
            return _outage_offer(state, resp)
        return _put_through(env, state, resp, priority)
    if state.bump("urgency") >= MAX_TRIES:
        return _put_through(env, state, resp, Priority.MEDIUM, say(why, lang=state.language))
    return _urgency_menu(state, resp, say(why, lang=state.language))


def _outage_offer(state: CallState, resp: VoiceResponse) -> VoiceResponse:
    """A hosted district's site is down: option 8 (the on-call engineer, paged around the clock)
    right here; anything else goes on to an advisor at critical priority."""
    state.priority_rank = Priority.CRITICAL.rank
    state.visit("urgency_outage_offer")
    texts: list[str] = [say("urgency_outage_offer", lang=state.language)]
    return _gather(resp, state, "urgency", texts, num_digits=1, timeout=5, speech="menu", stage="outage")


def _outage_offer_answered(env: CallEnv, inp: CallInput, state: CallState, resp: VoiceResponse) -> VoiceResponse:
    keys = _keypad(inp.digits)
    spoken = menu_choice(inp.speech, {OUTAGE_KEY}) if sure_enough(inp.confidence) else None
    if state.hosted and (keys == OUTAGE_KEY or (not keys and spoken == OUTAGE_KEY)):
        return _outage(env, inp, state)
    return _put_through(env, state, resp, Priority.CRITICAL)


def general_advisor(env: CallEnv, state: CallState, resp: VoiceResponse, *extra: str) -> VoiceResponse:
    """The next available advisor with no questions asked: a general call at medium priority."""
    state.skill = None
    state.case_pk = None
    state.case_number = None
    state.owner_pk = None
    state.route = "general"
    return _put_through(env, state, resp, Priority.MEDIUM, *extra)


def _put_through(env: CallEnv, state: CallState, resp: VoiceResponse, priority: Priority, *extra: str) -> VoiceResponse:
    """Route the new issue with its area (the skill) and priority; the call log keeps both."""
    state.priority_rank = priority.rank
    state.route = "general"
    actions.update_call_log(env.session, state.sid, skill=state.skill, priority=priority.value, path=list(state.path))
    return _route(env, state, resp, *extra)
