"""Twilio webhooks for outage pages and SMS: `/page/voice`, `/page/key`, `/page/status`, and
`/sms/incoming` (engineers' page replies, contacts' follow-up and survey replies: `ivr.sms`).

Signed like every Twilio request (403 otherwise); parameters are read cleaned
(`webhooks.twilio_params`). The page call's TwiML and the SMS replies come
from `ivr.pagecalls`; this module only parses and serves. A fault answers safe TwiML: a page call
hears that the system has a problem and to call the support line; an SMS gets no reply text.

Point the Twilio number's Messaging webhook at `POST /sms/incoming`.
"""

from __future__ import annotations

import logging

from flask import Blueprint, Response, abort, g, request
from twilio.twiml.messaging_response import MessagingResponse
from twilio.twiml.voice_response import VoiceResponse

from casestore.phones import mask
from ivr import pagecalls, paging, sms
from webhooks import twilio_params
from webhooks.services import current_services
from webhooks.signature import signature_valid

log = logging.getLogger("supportline.oncall")

bp = Blueprint("oncall", __name__)


def _xml(body: str) -> Response:
    return Response(body, status=200, mimetype="application/xml")


@bp.before_request
def check_signature():
    if not signature_valid(request, current_services().settings):
        log.warning("rejected unsigned or badly signed request to %s", request.path)
        abort(403)


def _page_id() -> int | None:
    raw = twilio_params.query().get("page", "")
    return int(raw) if raw.isdigit() else None


def _voice_fault() -> Response:
    resp = VoiceResponse()
    resp.say(
        "The paging system has a problem. Please call the support line for the outage. Goodbye.", voice=pagecalls.VOICE
    )
    resp.hangup()
    return _xml(str(resp))


@bp.post("/page/voice")
def page_voice():
    svc = current_services()
    page_id = _page_id()
    repeat = twilio_params.query().get("repeat", "0")
    try:
        with svc.sessions() as session:
            body = pagecalls.answered(
                session,
                page_id or 0,
                twilio_params.form().get("AnsweredBy", ""),
                svc.settings.support_timezone,
                int(repeat) if repeat.isdigit() else 0,
            )
            session.commit()
        return _xml(body)
    except Exception:
        log.exception("page call fault page=%s", page_id)
        g.webhook_outcome = "fault"  # for the webhook line and counters (webhooks.metrics)
        return _voice_fault()


@bp.post("/page/key")
def page_key():
    svc = current_services()
    page_id = _page_id()
    try:
        with svc.sessions() as session:
            body = pagecalls.key_pressed(
                session,
                svc.telephony,
                page_id or 0,
                twilio_params.form().get("Digits", ""),
                twilio_params.form().get("CallSid", ""),
                svc.now(),
                svc.settings.support_timezone,
            )
            session.commit()
        return _xml(body)
    except Exception:
        log.exception("page key fault page=%s", page_id)
        g.webhook_outcome = "fault"  # for the webhook line and counters (webhooks.metrics)
        return _voice_fault()


@bp.post("/page/status")
def page_status():
    """Delivery status of a page call (CallStatus, AnsweredBy) or page SMS (MessageStatus)."""
    svc = current_services()
    page_id = _page_id()
    status = twilio_params.form().get("CallStatus") or twilio_params.form().get("MessageStatus") or ""
    try:
        if page_id is not None:
            with svc.sessions() as session:
                paging.record_status(session, page_id, status, twilio_params.form().get("AnsweredBy"), svc.now())
                session.commit()
    except Exception:
        log.exception("page status fault page=%s", page_id)
        g.webhook_outcome = "fault"  # for the webhook line and counters (webhooks.metrics)
    return _xml(str(VoiceResponse()))


@bp.post("/sms/incoming")
def sms_incoming():
    svc = current_services()
    reply = MessagingResponse()
    try:
        with svc.sessions() as session:
            text = sms.reply(
                session,
                svc.telephony,
                svc.jobs,
                twilio_params.form().get("From", ""),
                twilio_params.form().get("Body", ""),
                svc.now(),
                svc.settings.default_region,
            )
            session.commit()
        reply.message(text)
    except Exception:
        log.exception("sms fault from=%s", mask(twilio_params.form().get("From", "")))
        g.webhook_outcome = "fault"  # for the webhook line and counters (webhooks.metrics)
    return _xml(str(reply))
