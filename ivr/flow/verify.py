"""Entry and verification, as the caller hears it: the greeting and banners in the caller's
remembered language, then the PIN (caller ID matched a contact; keypad only) or the contact ID
(keyed, or said and read back) and PIN, with the offer of the other language (9) at the first
prompt, the lockout, and once verified the caller's first name, the district's banners and the menu."""

from __future__ import annotations

import logging

from twilio.twiml.voice_response import VoiceResponse

from auth.callers import CallerMatch, candidate, contact_by_contact_id, contacts_for_number, match_caller, verify_pin
from casestore.models import Contact
from casestore.phones import mask
from ivr import actions
from ivr.flow.answers import CONTACT_ID_QUESTION, heard, settle_readback
from ivr.flow.env import CallEnv, CallInput
from ivr.flow.menu import _goodbye, _main_menu
from ivr.flow.shared import _no_input_again
from ivr.flow.twiml import _gather, _hangup, _keypad, _read_back, _response, _say
from ivr.prompts import Language, language_of, retry_minutes_spoken, say
from ivr.state import CallState

log = logging.getLogger("supportline.ivr")

MAX_FAILURES_PER_CALL = 3
STRICT_PAUSE_SECONDS = 5  # before the PIN prompt while the line is over its PIN-failure ceiling
# Switches the call's language at its first prompt; never a PIN (4-8 digits: auth/pins.py) nor a
# contact ID (4-10 digits: casestore/interchange/fields.py), so it is never taken for either.
LANGUAGE_KEY = "9"


def incoming(env: CallEnv, inp: CallInput, state: CallState) -> VoiceResponse:
    """Greeting, global banner, then verification by caller ID (PIN) or contact ID + PIN."""
    resp = _response()
    e164 = state.from_e164
    actions.ensure_call_log(env.session, inp.sid, e164, inp.from_raw, env.now)
    match = match_caller(env.session, e164)
    if not state.language_chosen:  # (a call sent back to the greeting keeps the caller's choice)
        state.language = _remembered_language(env, match, e164)
    state.visit("greeting")
    _say(resp, say("greeting", lang=state.language))
    for banner in _banners(env, district_pk=None):
        _say(resp, banner)
    locked_for = env.lockout.locked_for(env.now, number=e164)
    if locked_for > 0:
        return _locked_out(env, state, resp, seconds=locked_for)
    state.language_offer = True
    if match.contact_pk is not None:
        state.candidate_pk = match.contact_pk
        return _ask_pin(env, state, resp)
    return _ask_contact_id(state, resp)


def _remembered_language(env: CallEnv, match: CallerMatch, e164: str | None) -> Language:
    """The language the caller ID's contact chose on an earlier call; on a shared number, theirs if
    they all chose the same one; else (unknown number, or they differ) English."""
    if match.contact_pk is not None:
        contact = env.session.get(Contact, match.contact_pk)
        return language_of(contact.language if contact else None)
    if match.shared:
        languages = {language_of(c.language) for c in contacts_for_number(env.session, e164)}
        return languages.pop() if len(languages) == 1 else "en"
    return "en"


def _language_offer(state: CallState) -> list[str]:
    """While 9 switches language: the offer of the other one, said in that language's voice."""
    if not state.language_offer:
        return []
    return [say("offer_english", lang="en") if state.language == "es" else say("offer_spanish", lang="es")]


def _switch_language(env: CallEnv, state: CallState, resp: VoiceResponse, step: str) -> VoiceResponse:
    """9 at the first prompt: the other language, the greeting and the same prompt again in it (and
    now the offer to switch back). Not an entry: no PIN failure, no lockout attempt."""
    state.language = "en" if state.language == "es" else "es"
    state.language_chosen = True
    state.visit(f"language_{state.language}")
    _say(resp, say("greeting", lang=state.language))
    return _ask_pin(env, state, resp) if step == "pin" else _ask_contact_id(state, resp)


def _ask_pin(env: CallEnv, state: CallState, resp: VoiceResponse, *extra: str) -> VoiceResponse:
    state.visit("pin")
    if env.lockout.line_strict(env.now):  # the line is being guessed at: everyone slows down
        resp.pause(length=STRICT_PAUSE_SECONDS)
    # Keypad only, whatever else listens for speech: a PIN said aloud is heard (and transcribed).
    texts = [*extra, say("ask_pin", lang=state.language), *_language_offer(state)]
    return _gather(resp, state, "pin", texts, timeout=8)


def _ask_contact_id(state: CallState, resp: VoiceResponse, *extra: str) -> VoiceResponse:
    state.visit("contact_id")
    texts = [*extra, say("ask_contact_id", lang=state.language), *_language_offer(state)]
    return _gather(resp, state, "contact-id", texts, timeout=8, speech=CONTACT_ID_QUESTION.hints)


def _locked_out(
    env: CallEnv, state: CallState, resp: VoiceResponse, typed_id: str | None = None, *, seconds: float | None = None
) -> VoiceResponse:
    """Turned away; with when the caller may try again, from the locks on what the caller gave us
    (their number, a contact ID they typed: never the matched contact's, which would tell them
    about someone else's attempts). No lock on those (one try per call, the line's ceiling): no time.
    `seconds`: that lock's remaining time, when the caller has just read it."""
    state.visit("locked_out")
    actions.update_call_log(env.session, state.sid, outcome="locked_out", path=list(state.path))
    if seconds is None:
        seconds = env.lockout.locked_for(env.now, number=state.from_e164, contact_id=typed_id)
    if seconds > 0:
        return _hangup(
            resp, say("locked_out_retry", lang=state.language, minutes=retry_minutes_spoken(seconds, state.language))
        )
    return _hangup(resp, say("locked_out", lang=state.language))


def contact_id_entered(env: CallEnv, inp: CallInput, state: CallState) -> VoiceResponse:
    resp = _response()
    spoken = heard(inp, CONTACT_ID_QUESTION)
    if spoken is not None and spoken.number:  # read back (only what the caller said) before it is used
        state.visit("contact_id_readback")
        return _read_back(resp, state, "contact-id-confirm", spoken.number)
    if spoken is not None:
        return _contact_id_again(env, state, resp, "didnt_catch")
    digits = _keypad(inp.digits)
    if state.language_offer and digits == LANGUAGE_KEY:
        return _switch_language(env, state, resp, "contact-id")
    state.language_offer = state.language_offer and not digits
    if not digits:
        return _contact_id_again(env, state, resp, "no_input")
    return _contact_id_given(env, state, resp, digits)


def contact_id_confirmed(env: CallEnv, inp: CallInput, state: CallState) -> VoiceResponse:
    """The answer to a spoken contact ID's read-back: yes goes on as if it had been keyed; no (or
    no clear answer after the re-asks) asks for it again, counted like a silence."""
    resp = _response()
    answer, number = settle_readback(inp, state)
    if answer == "yes":
        return _contact_id_given(env, state, resp, number)
    if answer == "no":
        state.visit("contact_id_rejected")
        return _contact_id_again(env, state, resp, None)
    why = say("didnt_catch" if answer == "again" else "no_input", lang=state.language)
    return _read_back(resp, state, "contact-id-confirm", number, why, again=True)


def _contact_id_again(env: CallEnv, state: CallState, resp: VoiceResponse, key: str | None) -> VoiceResponse:
    """The contact ID asked again after a silence (`key` "no_input"), speech not understood
    ("didnt_catch") or a read-back the caller said was wrong (None); past the reprompts, goodbye."""
    if _no_input_again(env, state, "contact_id"):
        return _goodbye(env, state, key or "didnt_catch")
    return _ask_contact_id(state, resp, *([say(key, lang=state.language)] if key else []))


def _contact_id_given(env: CallEnv, state: CallState, resp: VoiceResponse, digits: str) -> VoiceResponse:
    """A contact ID keyed, or said and confirmed: the lockout, then the PIN (asked for whether the
    ID is known or not)."""
    locked_for = env.lockout.locked_for(env.now, number=state.from_e164, contact_id=digits)
    if locked_for > 0:
        return _locked_out(env, state, resp, digits, seconds=locked_for)
    state.entered_contact_id = digits[:16]
    contact = contact_by_contact_id(env.session, digits) if digits.isdigit() else None
    state.candidate_pk = contact.id if contact else None
    # Unknown IDs still get asked for a PIN, so the caller cannot tell which part was wrong.
    return _ask_pin(env, state, resp)


def pin_entered(env: CallEnv, inp: CallInput, state: CallState) -> VoiceResponse:
    resp = _response()
    digits = _keypad(inp.digits)
    if state.language_offer and digits == LANGUAGE_KEY:
        return _switch_language(env, state, resp, "pin")
    state.language_offer = state.language_offer and not digits
    if not digits:
        if _no_input_again(env, state, "pin"):
            return _goodbye(env, state, "no_input")
        return _ask_pin(env, state, resp, say("no_input", lang=state.language))
    contact = candidate(env.session, state.candidate_pk)
    # Failures count against the number and against the contact ID, whether it was typed or
    # matched from caller ID, so neither changing numbers nor changing IDs gets more tries.
    counted_id = state.entered_contact_id or (contact.contact_id if contact else None)
    right = verify_pin(env.pin_pepper, contact, digits, counted_id)
    # One atomic step decides whether this try may count and records it against both: parallel
    # calls never get more tries than the limit, and a right PIN past it is refused like a wrong one.
    verdict = env.lockout.attempt(env.now, right, number=state.from_e164, contact_id=counted_id)
    if verdict.refused:
        return _locked_out(env, state, resp, state.entered_contact_id)
    if right:
        assert contact is not None
        return _verified(env, state, contact, resp)
    state.failures += 1
    state.ceiling_crossings += verdict.line_crossed
    log.info("pin mismatch call=%s from=%s failures=%d", inp.sid, mask(state.from_e164), state.failures)
    # Over the line-wide ceiling, a call gets one try.
    if verdict.locked or verdict.strict or verdict.line_crossed or state.failures >= MAX_FAILURES_PER_CALL:
        return _locked_out(env, state, resp, state.entered_contact_id)
    if state.entered_contact_id is not None or state.candidate_pk is None:
        state.entered_contact_id = None
        state.candidate_pk = None
        return _ask_contact_id(state, resp, say("no_match", lang=state.language))
    return _ask_pin(env, state, resp, say("no_match", lang=state.language))


def _verified(env: CallEnv, state: CallState, contact: Contact, resp: VoiceResponse) -> VoiceResponse:
    district = contact.district
    state.verified_pk = contact.id
    state.district_pk = district.id
    state.district_name = district.name
    state.hosted = bool(district.hosted)
    state.district_team = district.team.name if district.team is not None else None
    state.visit("verified")
    if state.language_chosen and language_of(contact.language) != state.language:
        contact.language = state.language  # remembered: their next call starts in it
    actions.update_call_log(
        env.session, state.sid, contact_id=contact.id, district_id=district.id, path=list(state.path)
    )
    _say(resp, say("verified", lang=state.language, name=contact.name.split()[0]))
    for banner in _banners(env, district_pk=district.id):
        _say(resp, banner)
    if state.followup_pk is not None:
        # Imported here: a follow-up call comes to this stage for its PIN (`followup` imports
        # `_ask_pin`) and goes back to follow-up's menu once verified, so the two stages call each other.
        from ivr.flow.followup import _followup_menu

        return _followup_menu(env, state, resp)
    return _main_menu(env, state, resp)


def _banners(env: CallEnv, district_pk: int | None) -> list[str]:
    return env.tables.banners_for(env.now, district_pk)
