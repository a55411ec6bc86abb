"""Follow-up calls (our outbound three calls, ten days), as the contact hears them: a voicemail
gets a notice with nothing private in it, a person is asked for their PIN (`verify`), then the
case's menu: 1 resolved, 2 an advisor now, 3 keep it open (or said: "resolved" or yes, "advisor",
"keep it open" or no; `ivr.flow.answers`)."""

from __future__ import annotations

from twilio.twiml.voice_response import VoiceResponse

from casestore.models import Case, FollowUp
from casestore.types import CaseStatus
from ivr import actions, lifecycle
from ivr.flow.answers import FOLLOWUP, heard
from ivr.flow.connect import _route
from ivr.flow.env import CallEnv, CallInput
from ivr.flow.shared import _no_input_again
from ivr.flow.twiml import _gather, _hangup, _keypad, _response, _say
from ivr.flow.verify import _ask_pin
from ivr.hours_spoken import closed_sentences
from ivr.prompts import digits_spoken, language_of, say
from ivr.state import CallState
from routing.calendar import status_at


def followup_answered(env: CallEnv, inp: CallInput, state: CallState) -> VoiceResponse:
    """Our outbound follow-up call was answered: verify the contact (PIN) before saying anything
    about the case; a voicemail greeting gets a notice with nothing private in it."""
    resp = _response()
    actions.ensure_call_log(env.session, inp.sid, state.from_e164, inp.form.get("To", ""), env.now)
    row = env.session.get(FollowUp, int(inp.arg("fu"))) if inp.arg("fu").isdigit() else None
    case = env.session.get(Case, row.case_id) if row is not None else None
    answered_by = inp.form.get("AnsweredBy", "")
    if row is None or case is None or case.status != CaseStatus.PENDING_VERIFICATION or case.contact_id is None:
        state.visit("followup_stale")
        return _hangup(resp, say("followup_stale", lang=state.language))
    state.language = language_of(case.contact.language if case.contact else None)  # the contact's, remembered
    if answered_by.startswith("machine") or answered_by == "fax":
        row.result = row.result or "voicemail"
        state.visit("followup_voicemail")
        return _hangup(resp, say("followup_voicemail", lang=state.language))
    state.followup_pk = row.id
    state.candidate_pk = case.contact_id
    state.visit("followup")
    _say(resp, say("followup_greeting", lang=state.language))
    return _ask_pin(env, state, resp)


def _followup_menu(env: CallEnv, state: CallState, resp: VoiceResponse, *extra: str) -> VoiceResponse:
    row = env.session.get(FollowUp, state.followup_pk)
    case = env.session.get(Case, row.case_id) if row is not None else None
    if row is None or case is None or case.status != CaseStatus.PENDING_VERIFICATION:
        return _hangup(resp, say("followup_stale", lang=state.language))
    state.visit("followup_menu")
    text = say(
        "followup_menu", lang=state.language, number_spoken=digits_spoken(case.number), district=case.district.name
    )
    return _gather(resp, state, "followup-choice", [*extra, text], num_digits=1, timeout=7, speech=FOLLOWUP.hints)


def followup_choice(env: CallEnv, inp: CallInput, state: CallState) -> VoiceResponse:
    """1: resolved (the case closes); 2: an advisor now (routed like an inbound call with the case);
    3: keep it open. The remaining follow-ups stop in every case."""
    resp = _response()
    spoken = heard(inp, FOLLOWUP)
    digits = spoken.keys if spoken is not None else _keypad(inp.digits)
    row = env.session.get(FollowUp, state.followup_pk) if state.followup_pk else None
    case = env.session.get(Case, row.case_id) if row is not None else None
    if row is None or case is None or case.status != CaseStatus.PENDING_VERIFICATION:
        return _hangup(resp, say("followup_stale", lang=state.language))
    who = f"contact:{case.contact.contact_id}" if case.contact else "contact"
    if digits == "1":
        row.result = "resolved"
        lifecycle.close_case(
            env.session,
            env.jobs,
            case,
            env.now,
            actor=who,
            detail="Confirmed resolved by the contact on a follow-up call.",
        )
        state.visit("followup_resolved")
        return _hangup(resp, say("followup_closed", lang=state.language, number_spoken=digits_spoken(case.number)))
    if digits == "3":
        row.result = "keep_open"
        lifecycle.keep_open(
            env.session, case, env.now, actor=who, detail="The contact asked to keep the case open on a follow-up call."
        )
        state.visit("followup_keep_open")
        return _hangup(resp, say("followup_kept_open", lang=state.language, number_spoken=digits_spoken(case.number)))
    if digits == "2":
        row.result = "advisor"
        lifecycle.keep_open(
            env.session, case, env.now, actor=who, detail="The contact asked for an advisor on a follow-up call."
        )
        state.followup_pk = None
        state.case_pk, state.case_number = case.id, case.number
        state.skill = case.product_area.value
        state.owner_pk, state.priority_rank = case.owner_id, case.priority.rank
        state.route = "owner" if case.owner_id else "advisor"
        actions.update_call_log(env.session, state.sid, case_id=case.id, skill=state.skill, path=list(state.path))
        status = status_at(env.now, env.tables.calendar)
        if not status.open:
            return _hangup(
                resp,
                *closed_sentences(status, env.tables.calendar, state.language),
                say("followup_advisor_later", lang=state.language),
            )
        return _route(env, state, resp)
    if _no_input_again(env, state, "followup"):
        return _hangup(resp, say("followup_no_choice", lang=state.language))
    why = "didnt_catch" if spoken is not None and spoken.unclear else "not_recognized" if digits else "no_input"
    return _followup_menu(env, state, resp, say(why, lang=state.language))
