"""A case number typed or said at the menu, as the caller hears it: a spoken one confirmed first
(a no counts as a try), not found (a few tries, then the new-issue questions and an advisor), the
read-back (number, status, release), a closed case's reopen offer within 60 days (1 or yes), then
the owner or an advisor."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from twilio.twiml.voice_response import VoiceResponse

from casestore.models import Case
from casestore.types import CaseStatus
from ivr import actions
from ivr.flow.answers import REOPEN, heard, settle_readback
from ivr.flow.area import ask_area
from ivr.flow.connect import _route
from ivr.flow.env import CallEnv, CallInput
from ivr.flow.menu import MAX_CASE_TRIES, _main_menu
from ivr.flow.shared import _case_on_call, _no_input_again
from ivr.flow.twiml import _gather, _keypad, _read_back, _response
from ivr.hours_spoken import date_spoken
from ivr.prompts import Language, digits_spoken, say
from ivr.prompts_es import CASE_STATUS_ES
from ivr.state import CallState

REOPEN_WINDOW_DAYS = 60


def _case_entered(env: CallEnv, state: CallState, resp: VoiceResponse, number: int) -> VoiceResponse:
    assert state.district_pk is not None
    case = actions.case_for_district(env.session, number, state.district_pk)
    if case is None:
        return _not_a_case(env, state, resp, say("case_not_found", lang=state.language))
    _case_on_call(env, state, case, "Inbound call from the authorized contact.")
    state.owner_pk = case.owner_id
    state.response_due = (
        case.response_due_at.isoformat() if case.response_due_at is not None and case.responded_at is None else None
    )
    readback = say(
        "case_readback",
        lang=state.language,
        number_spoken=digits_spoken(case.number),
        status=_status_spoken(case.status, state.language),
    )
    if case.status == CaseStatus.CLOSED:
        return _closed_case(env, state, resp, case, readback)
    extra = [readback]
    if case.status == CaseStatus.AVAILABLE_IN_RELEASE and case.release_name:
        extra.append(say("case_release", lang=state.language, release=case.release_name))
    extra.append(say("in_writing", lang=state.language))
    state.route = "owner" if case.owner_id else "advisor"
    return _route(env, state, resp, *extra)


def _status_spoken(status: CaseStatus, lang: Language) -> str:
    return CASE_STATUS_ES[status.value] if lang == "es" else status.spoken


def _closed_on_spoken(closed_at: datetime | None, tz: ZoneInfo, lang: Language) -> str:
    if closed_at is None:
        return ""
    local = closed_at.astimezone(tz).date()
    return date_spoken(local, "es") if lang == "es" else local.strftime("%B %d")


def _not_a_case(
    env: CallEnv, state: CallState, resp: VoiceResponse, *why: str, visit: str = "case_not_found"
) -> VoiceResponse:
    """An entry that finds no case of the district (or a spoken one the caller said was misheard):
    back to the menu, and at the third an advisor."""
    state.visit(visit)
    if state.bump("case") >= MAX_CASE_TRIES:
        # A new issue after all: its product area and urgency, then an advisor (`ivr.flow.area`).
        return ask_area(env, state, resp, *why)
    return _main_menu(env, state, resp, *why)


def case_confirmed(env: CallEnv, inp: CallInput, state: CallState) -> VoiceResponse:
    """The answer to a spoken case number's read-back: yes looks the case up as if it had been
    keyed; no (or no clear answer after the re-asks) is back to the menu, counted as a try."""
    resp = _response()
    answer, number = settle_readback(inp, state)
    if answer == "yes":
        return _case_entered(env, state, resp, int(number))
    if answer == "no":
        return _not_a_case(env, state, resp, visit="case_number_rejected")
    why = say("didnt_catch" if answer == "again" else "no_input", lang=state.language)
    return _read_back(resp, state, "case-confirm", number, why, again=True)


def reopen_window_open(closed_at: datetime | None, now: datetime, tz: ZoneInfo) -> bool:
    """Closed 60 local calendar days ago or less."""
    if closed_at is None:
        return False
    days = (now.astimezone(tz).date() - closed_at.astimezone(tz).date()).days
    return days <= REOPEN_WINDOW_DAYS


def _closed_case(env: CallEnv, state: CallState, resp: VoiceResponse, case: Case, readback: str) -> VoiceResponse:
    if not reopen_window_open(case.closed_at, env.now, env.tz):
        state.visit("case_too_old")
        return _main_menu(env, state, resp, readback, say("case_too_old", lang=state.language))
    state.visit("reopen_offer")
    closed_on = _closed_on_spoken(case.closed_at, env.tz, state.language)
    return _gather(
        resp,
        state,
        "reopen",
        [readback, say("case_closed_reopen", lang=state.language, closed_on=closed_on)],
        num_digits=1,
        timeout=7,
        speech=REOPEN.hints,
    )


def reopen_entered(env: CallEnv, inp: CallInput, state: CallState) -> VoiceResponse:
    resp = _response()
    spoken = heard(inp, REOPEN)
    digits = spoken.keys if spoken is not None else _keypad(inp.digits)
    case = env.session.get(Case, state.case_pk) if state.case_pk else None
    if case is None:
        return _main_menu(env, state, resp)
    if digits == "1" and case.status == CaseStatus.CLOSED and reopen_window_open(case.closed_at, env.now, env.tz):
        actions.reopen_case(env.session, case, now=env.now, sid=state.sid, contact_pk=state.verified_pk)
        state.visit("reopened")
        state.route = "owner" if case.owner_id else "advisor"
        return _route(env, state, resp, say("case_reopened", lang=state.language))
    if spoken is not None and spoken.unclear and not _no_input_again(env, state, "reopen"):
        return _closed_case(env, state, resp, case, say("didnt_catch", lang=state.language))
    if not digits and inp.arg("noinput") and not _no_input_again(env, state, "reopen"):
        return _closed_case(
            env,
            state,
            resp,
            case,
            say(
                "case_readback",
                lang=state.language,
                number_spoken=digits_spoken(case.number),
                status=_status_spoken(case.status, state.language),
            ),
        )
    return _main_menu(env, state, resp)
