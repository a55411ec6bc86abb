"""What a paged engineer hears and presses, and what their SMS replies do.

Page call (`/page/voice?page=ID`, Twilio fetches it when the engineer's phone answers, with
`AnsweredBy` from answering-machine detection): a person hears the incident (district, incident
number, when, the caller's recorded message if there is one) and "press 4 to acknowledge, 6 to
resolve, star to repeat", and a spoken confirmation of the key; a voicemail greeting gets a short
notice and the call ends (it never acknowledges). SMS reply (`/sms/incoming`): "4 123" or
"6 123" (also "ack 123", "resolve 123"; case and spacing do not matter) from an engineer's phone.
Knows no Flask: the web layer passes parsed input in and serves the TwiML or text out.
"""

from __future__ import annotations

import re
from datetime import datetime
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session
from twilio.twiml.voice_response import VoiceResponse

from casestore.models import Engineer, Incident, Page
from casestore.phones import caller_e164
from ivr import incidents, paging
from ivr.prompts import digits_spoken
from ivr.telephony import Telephony

VOICE = "Polly.Joanna"
MAX_REPEATS = 3
_REPLY = re.compile(
    r"^\s*(?P<verb>4|6|ack(?:nowledge)?|res(?:olve)?|resolved)\s*[#:.,-]?\s*(?P<id>\d{1,9})\s*[.!]?\s*$", re.IGNORECASE
)


def _say(resp, text: str) -> None:
    resp.say(text, voice=VOICE)


def _url(step: str, **params: object) -> str:
    return f"/page/{step}?{urlencode(params)}"


def _when(at: datetime, tz_name: str) -> str:
    local = at.astimezone(ZoneInfo(tz_name))
    return local.strftime("%I:%M %p").lstrip("0")


def _incident_text(incident: Incident, tz_name: str) -> str:
    return (
        f"This is an outage page from Campus Support. {incident.district.name} reports its hosted "
        f"site is down. Incident {digits_spoken(incident.id)}, reported at {_when(incident.triggered_at, tz_name)}."
    )


def answered(session: Session, page_id: int, answered_by: str, tz_name: str, repeat: int = 0) -> str:
    """TwiML for an answered page call."""
    resp = VoiceResponse()
    page = session.get(Page, page_id)
    incident = session.get(Incident, page.incident_id) if page else None
    if page is None or incident is None:
        _say(resp, "This outage page is no longer valid. Goodbye.")
        resp.hangup()
        return str(resp)
    if answered_by:
        page.answered_by = answered_by[:24]
    if answered_by.startswith("machine") or answered_by == "fax":
        # Voicemail: leave a notice; only a keypress or an SMS reply acknowledges.
        _say(resp, f"{_incident_text(incident, tz_name)} Please call the support line or reply to the text message.")
        resp.hangup()
        return str(resp)
    if incident.state == "resolved":
        _say(resp, f"Incident {digits_spoken(incident.id)} for {incident.district.name} is already resolved. Goodbye.")
        resp.hangup()
        return str(resp)
    gather = resp.gather(
        input="dtmf",
        num_digits=1,
        timeout=8,
        method="POST",
        action=_url("key", page=page.id),
        action_on_empty_result=False,
    )
    _say(gather, _incident_text(incident, tz_name))
    if incident.state == "acknowledged" and incident.acknowledged_by is not None:
        _say(gather, f"It was acknowledged by {incident.acknowledged_by.name}.")
    if incident.recording_url:
        _say(gather, "The caller left this message.")
        gather.play(incident.recording_url)
    _say(gather, "Press 4 to acknowledge, 6 to resolve, or star to repeat.")
    if repeat + 1 < MAX_REPEATS:
        resp.redirect(_url("voice", page=page.id, repeat=repeat + 1), method="POST")
    else:
        _say(resp, "No key was pressed. The incident is not acknowledged, and paging continues. Goodbye.")
        resp.hangup()
    return str(resp)


def key_pressed(
    session: Session, telephony: Telephony | None, page_id: int, digits: str, call_sid: str, now: datetime, tz_name: str
) -> str:
    resp = VoiceResponse()
    page = session.get(Page, page_id)
    incident = session.get(Incident, page.incident_id) if page else None
    engineer = page.engineer if page else None
    if page is None or incident is None or engineer is None:
        _say(resp, "This outage page is no longer valid. Goodbye.")
        resp.hangup()
        return str(resp)
    key = (digits or "").strip()[:1]
    number = digits_spoken(incident.id)
    via = "keypress on the page call"
    if key == "4":
        if _apply(session, telephony, incident, engineer, "acknowledged", now, via, call_sid):
            page.result = "acknowledged"
            _say(resp, f"Incident {number} acknowledged. Thank you, {engineer.name.split()[0]}.")
        else:
            _say(resp, _already(incident, number))
    elif key == "6":
        if _apply(session, telephony, incident, engineer, "resolved", now, via, call_sid):
            page.result = "resolved"
            _say(resp, f"Incident {number} resolved. Thank you.")
        else:
            _say(resp, f"Incident {number} was already resolved.")
    else:
        if key != "*":
            _say(resp, "Sorry, that is not one of the options.")
        resp.redirect(_url("voice", page=page.id, repeat=0), method="POST")
        return str(resp)
    _say(resp, "Goodbye.")
    resp.hangup()
    return str(resp)


def _already(incident: Incident, number: str) -> str:
    if incident.state == "resolved":
        return f"Incident {number} was already resolved."
    who = incident.acknowledged_by.name if incident.acknowledged_by else "another engineer"
    return f"Incident {number} was already acknowledged by {who}."


def sms_reply(
    session: Session, telephony: Telephony | None, from_raw: str, body: str, now: datetime, region: str = "US"
) -> str:
    """The text to answer an inbound SMS with (it also acknowledges or resolves)."""
    e164 = caller_e164(from_raw, region)
    engineer = (
        session.scalars(select(Engineer).where(Engineer.phone == e164, Engineer.active.is_(True))).first()
        if e164
        else None
    )
    if engineer is None:
        return "This number is not an on-call engineer's. Nothing was changed."
    match = _REPLY.match(body or "")
    if match is None:
        return "Reply 4 and the incident number to acknowledge (e.g. 4 123), or 6 and the number to resolve."
    incident = session.get(Incident, int(match["id"]))
    if incident is None:
        return f"There is no incident {match['id']}."
    if match["verb"].lower() in ("4", "ack", "acknowledge"):
        if _apply(session, telephony, incident, engineer, "acknowledged", now, "SMS reply", None):
            _mark_sms_page(session, incident, engineer, "acknowledged")
            return (
                f"Incident {incident.id} ({incident.district.name}) acknowledged by you."
                f" Reply 6 {incident.id} when resolved."
            )
        return _already(incident, str(incident.id))
    if _apply(session, telephony, incident, engineer, "resolved", now, "SMS reply", None):
        _mark_sms_page(session, incident, engineer, "resolved")
        return f"Incident {incident.id} ({incident.district.name}) resolved. Thank you."
    return f"Incident {incident.id} was already resolved."


def _mark_sms_page(session: Session, incident: Incident, engineer: Engineer, result: str) -> None:
    """The engineer's latest SMS page for the incident gets the result of their reply."""
    page = session.scalars(
        select(Page)
        .where(Page.incident_id == incident.id, Page.engineer_id == engineer.id, Page.channel == "sms")
        .order_by(Page.id.desc())
    ).first()
    if page is not None:
        page.result = result


def _apply(
    session: Session,
    telephony: Telephony | None,
    incident: Incident,
    engineer: Engineer,
    action: str,
    now: datetime,
    via: str,
    keep_sid: str | None,
) -> bool:
    """Acknowledge or resolve; when that changed the incident, hang up the pages still ringing."""
    change = incidents.acknowledge if action == "acknowledged" else incidents.resolve
    if not change(session, incident, engineer, now, via=via):
        return False
    paging.stop_ringing(session, telephony, incident, keep_sid=keep_sid)
    return True
