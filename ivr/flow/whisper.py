"""The callee's leg, as the advisor or engineer who answered hears it before the caller is
bridged: who is calling and about what (a case, an outage, or a new issue's product area and
priority), press 1 to accept. Accepting marks the attempt (and an
engineer's acceptance acknowledges the outage); declining frees the advisor at once."""

from __future__ import annotations

from twilio.twiml.voice_response import VoiceResponse

from casestore.models import Engineer, Incident
from casestore.types import Priority, ProductArea
from ivr import holds, incidents, paging, staffing
from ivr.flow.env import CallEnv, CallInput
from ivr.flow.shared import _autopause_reason, _quiet
from ivr.flow.twiml import _hangup, _keypad, _response, _say, url
from ivr.prompts import digits_spoken, say
from ivr.state import CallState, mark

WHISPER_SECONDS = 8


def whisper(env: CallEnv, inp: CallInput, state: CallState | None) -> VoiceResponse:
    """Said to the advisor or engineer who answered, before the caller is bridged."""
    parent = inp.arg("parent")
    attempt = inp.arg("a")
    parent_state = env.calls.load(parent) if parent else None
    resp = _response()
    if parent_state is None:
        return _hangup(resp, say("whisper_declined", lang="en"))
    if parent_state.route == "oncall":
        text = say(
            "whisper_outage",
            lang="en",
            district=parent_state.district_name,
            number_spoken=digits_spoken(parent_state.case_number or ""),
        )
    elif parent_state.case_number:
        text = say(
            "whisper_case",
            lang="en",
            district=parent_state.district_name,
            number_spoken=digits_spoken(parent_state.case_number),
        )
    elif parent_state.priority_rank is not None:  # a new issue: its area and priority (`ivr.flow.area`)
        text = say(
            "whisper_new_issue",
            lang="en",
            district=parent_state.district_name,
            area=_area_spoken(parent_state.skill),
            priority=Priority.of_rank(parent_state.priority_rank).value,
        )
    else:
        text = say("whisper_general", lang="en", district=parent_state.district_name)
    gather = resp.gather(
        input="dtmf",
        num_digits=1,
        timeout=WHISPER_SECONDS,
        method="POST",
        action=url(
            "whisper-accept", None, parent=parent, a=attempt, adv=inp.arg("adv") or None, eng=inp.arg("eng") or None
        ),
    )
    _say(gather, text)
    return _hangup(resp, say("whisper_declined", lang="en"))


def _area_spoken(skill: str | None) -> str:
    """A new issue's product area as the advisor hears it ("point of sale"); "general" for none."""
    areas = {area.value: area.spoken for area in ProductArea}
    return areas.get(skill or "", "general")


def whisper_accept(env: CallEnv, inp: CallInput, state: CallState | None) -> VoiceResponse:
    parent, attempt, adv = inp.arg("parent"), inp.arg("a"), inp.arg("adv")
    if _keypad(inp.digits) == "1" and parent and attempt.isdigit():
        mark(
            env.session,
            env.redis,
            f"sl:accept:{parent}:{attempt}",
            inp.sid,
            6 * 3600,
            env.now,
            breaker=env.breakers.redis,
        )
        if adv.isdigit():
            _quiet(env, env.presence.accepted, int(adv), parent, env.now)
        if inp.arg("eng").isdigit():
            _engineer_took_the_call(env, parent, int(inp.arg("eng")), inp.sid)
        return _response()  # an empty response bridges the two legs
    if parent and adv.isdigit():
        # Declined or not confirmed: free the advisor at once (a missed call toward the autopause).
        holds.end(env.session, int(adv), parent, env.now)
        if _quiet(env, env.presence.release, int(adv), parent, env.now, missed=True) == "away":
            staffing.note_autopause(env.session, int(adv), env.now, _autopause_reason(env))
    return _hangup(_response(), say("whisper_declined", lang="en"))


def _engineer_took_the_call(env: CallEnv, parent: str, engineer_pk: int, leg_sid: str) -> None:
    """An engineer accepted the outage caller: that acknowledges the incident (a keypress)."""
    parent_state = env.calls.load(parent)
    if parent_state is None or parent_state.incident_pk is None:
        return
    incident = env.session.get(Incident, parent_state.incident_pk)
    engineer = env.session.get(Engineer, engineer_pk)
    if (
        incident is not None
        and engineer is not None
        and incidents.acknowledge(env.session, incident, engineer, env.now, via="accepted the caller's outage call")
    ):
        paging.stop_ringing(env.session, env.dispatcher.telephony, incident, keep_sid=leg_sid)
