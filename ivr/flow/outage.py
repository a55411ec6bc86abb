"""Option 8 (hosted districts, at any hour), as the caller hears it: the district's outage case
opened or joined (paging starts once it is committed), the on-call chain rung in turn, and at its
end a recorded message for the incident."""

from __future__ import annotations

import logging

from sqlalchemy import event as sa_event
from twilio.twiml.voice_response import VoiceResponse

from casestore.models import Case, District, Incident
from ivr import actions, incidents, lifecycle, paging
from ivr.flow.env import CallEnv, CallInput
from ivr.flow.shared import RING_SECONDS, _finish_case_event
from ivr.flow.twiml import _dial_endpoint, _hangup, _int, _response, _say, url
from ivr.prompts import digits_spoken, say
from ivr.state import CallState
from routing.oncall import on_call_chain

log = logging.getLogger("supportline.ivr")


def _outage(env: CallEnv, inp: CallInput, state: CallState) -> VoiceResponse:
    """Option 8: open or join the district's outage case, then ring the on-call chain."""
    district = env.session.get(District, state.district_pk)
    assert district is not None
    resp = _response()
    case, incident, created = actions.open_or_join_outage(
        env.session,
        env.redis,
        district=district,
        now=env.now,
        sid=state.sid,
        contact_pk=state.verified_pk,
        breaker=env.breakers.redis,
    )
    state.incident_pk = incident.id
    if created:
        lifecycle.set_response_due(case, env.tables.calendar)
        _page_after_commit(env, incident.id)
    state.case_pk = case.id
    state.case_number = case.number
    state.route = "oncall"
    state.tried = []
    state.visit("outage")
    actions.update_call_log(env.session, state.sid, case_id=case.id, path=list(state.path))
    key = "outage_opened" if created else "outage_joined"
    _say(resp, say(key, lang=state.language, number_spoken=digits_spoken(case.number)))
    return _outage_next(env, state, resp)


def _page_after_commit(env: CallEnv, incident_pk: int) -> None:
    """Start paging once the incident is committed (the job reads it). If Redis refuses now, the
    worker's sweep starts it later: an incident never goes unpaged."""
    jobs = env.jobs
    if jobs is None:
        return

    def start(_session) -> None:
        try:
            paging.start(jobs, incident_pk)
        except Exception:
            log.exception("could not start paging for incident %s; the worker's sweep will", incident_pk)

    sa_event.listen(env.session, "after_commit", start, once=True)


def _outage_next(env: CallEnv, state: CallState, resp: VoiceResponse) -> VoiceResponse:
    tables = env.tables
    for shift in on_call_chain(tables.rotations, env.now):
        engineer = tables.engineers.get(shift.engineer)
        if engineer is None or f"engineer:{engineer.pk}" in state.tried:
            continue
        # The first engineer rung is "the on call engineer"; every later one is the backup.
        backup = any(target.startswith("engineer:") for target in state.tried)
        state.attempt += 1
        state.tried.append(f"engineer:{engineer.pk}")
        state.current_target = f"engineer:{engineer.pk}"
        state.visit("dial_oncall")
        _say(resp, say("outage_backup" if backup else "outage_connecting", lang=state.language))
        dial = resp.dial(action=url("dial-result", state), method="POST", timeout=RING_SECONDS, answer_on_bridge=True)
        _dial_endpoint(dial, engineer.phone, url("whisper", None, parent=state.sid, a=state.attempt, eng=engineer.pk))
        return resp
    state.visit("outage_record")
    _say(resp, say("outage_record", lang=state.language))
    resp.record(
        action=url("recording", state), method="POST", max_length=120, timeout=5, finish_on_key="#", play_beep=True
    )
    resp.redirect(url("recording", state, noinput=1), method="POST")
    return resp


def recording_done(env: CallEnv, inp: CallInput, state: CallState) -> VoiceResponse:
    recording_url = inp.form.get("RecordingUrl", "")
    case = env.session.get(Case, state.case_pk) if state.case_pk else None
    state.visit("recorded" if recording_url else "no_recording")
    if recording_url and state.incident_pk is not None:
        incident = env.session.get(Incident, state.incident_pk)
        if incident is not None:
            incident.recording_url = recording_url
            incidents.note(
                env.session,
                incident,
                env.now,
                "caller_message",
                f"The caller left a voice message: {recording_url}",
                call_sid=state.sid,
            )
    if recording_url and case is not None:
        actions.log_case_event(
            env.session,
            case,
            at=env.now,
            kind="recording",
            call_sid=state.sid,
            contact_pk=state.verified_pk,
            outcome="callback_requested",
            detail=f"Voice message: {recording_url} ({_int(inp.form.get('RecordingDuration'))} s)",
        )
    actions.update_call_log(
        env.session,
        state.sid,
        outcome="message_recorded" if recording_url else "callback_pending",
        recording_url=recording_url or None,
        path=list(state.path),
    )
    _finish_case_event(env, state, outcome="callback_requested", advisor_pk=None)
    key = "outage_recorded" if recording_url else "outage_no_recording"
    return _hangup(_response(), say(key, lang=state.language))
