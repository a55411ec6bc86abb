"""Satisfaction surveys: when a case closes, its contact may get a short SMS survey.

Five ratings from 1 to 5: Courtesy, Knowledge, Timeliness, Quality and Overall Service, answered
in one reply of five digits ("45545"). At most one survey per contact every 30 days, whatever the
number of closed cases; STOP opts out for good (Twilio honours STOP at the carrier too; we keep
our own flag so no survey is even attempted). The SMS is sent by an RQ job after the close commits.
"""

from __future__ import annotations

import logging
import re
from datetime import datetime, timedelta

from sqlalchemy import event, select
from sqlalchemy.orm import Session

from casestore import audit
from casestore.models import Case, Contact, Survey
from ivr.jobs import Jobs, context
from ivr.telephony import TelephonyError

log = logging.getLogger("supportline.surveys")

SURVEY_EVERY = timedelta(days=30)
ANSWER_WITHIN = timedelta(days=7)
QUESTIONS = ("courtesy", "knowledge", "timeliness", "quality", "overall")
_SCORES = re.compile(r"^\s*([1-5])\s*,?\s*([1-5])\s*,?\s*([1-5])\s*,?\s*([1-5])\s*,?\s*([1-5])\s*[.!]?\s*$")
_STOP = re.compile(r"^\s*(stop|stopall|unsubscribe|cancel|end|quit)\s*[.!]?\s*$", re.IGNORECASE)


def after_close(session: Session, jobs: Jobs | None, case: Case, now: datetime) -> Survey | None:
    """Record (and send after commit) a survey for the case's contact, if one is due."""
    contact = case.contact
    if contact is None or not contact.active or contact.survey_opt_out or not contact.phones:
        return None
    if contact.last_survey_at is not None and now - contact.last_survey_at < SURVEY_EVERY:
        return None
    survey = Survey(
        case_id=case.id,
        contact_id=contact.id,
        channel="sms",
        sent_at=now,
        product_area=case.product_area.value if case.product_area else None,
    )
    contact.last_survey_at = now
    session.add(survey)
    session.flush()
    if jobs is not None:
        survey_id = survey.id

        def send(_session) -> None:
            try:
                jobs.enqueue(send_survey, survey_id, job_id=f"survey-{survey_id}")
            except Exception:
                log.exception("could not queue survey %s", survey_id)

        event.listen(session, "after_commit", send, once=True)
    return survey


def survey_text(case: Case) -> str:
    return (
        f"Campus Support: case {case.number} is closed. How did we do? Reply with five digits from 1 to 5 "
        "for Courtesy, Knowledge, Timeliness, Quality and Overall Service (e.g. 55454). Reply STOP to opt out."
    )


def send_survey(survey_id: int) -> str:
    """The RQ job: send the survey SMS once."""
    ctx = context()
    with ctx.sessions() as session:
        survey = session.get(Survey, survey_id)
        if survey is None or survey.sid is not None:
            return "nothing to do"
        contact = session.get(Contact, survey.contact_id)
        case = session.get(Case, survey.case_id)
        if case is None or contact is None or contact.survey_opt_out or not contact.phones or ctx.telephony is None:
            return "not sent"
        try:
            survey.sid = ctx.telephony.send_sms(contact.phones[0].e164, ctx.caller_id, survey_text(case))
        except TelephonyError as exc:
            log.warning("survey %s not sent: %s", survey_id, exc)
            return "failed"
        session.commit()
        return "sent"


def reply(session: Session, contact: Contact, body: str, now: datetime) -> str | None:
    """The answer to a contact's SMS if it is about a survey (scores or STOP), else None."""
    if _STOP.match(body or ""):
        if not contact.survey_opt_out:
            contact.survey_opt_out = True
            audit.record(
                session,
                at=now,
                actor="sms:contact",
                action="update",
                entity="contact",
                key=contact.contact_id,
                before={"survey_opt_out": False},
                after={"survey_opt_out": True},
            )
        return "You will not get satisfaction surveys from Campus Support any more."
    match = _SCORES.match(body or "")
    if match is None:
        return None
    survey = session.scalars(
        select(Survey)
        .where(Survey.contact_id == contact.id, Survey.answered_at.is_(None), Survey.sent_at >= now - ANSWER_WITHIN)
        .order_by(Survey.sent_at.desc())
    ).first()
    if survey is None:
        return None
    for name, value in zip(QUESTIONS, match.groups(), strict=True):
        setattr(survey, name, int(value))
    survey.answered_at = now
    return "Thank you for rating our support."
