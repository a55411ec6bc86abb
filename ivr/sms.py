"""Inbound SMS: who is texting, and what their reply does.

* An on-call engineer: acknowledge or resolve an incident (`ivr.pagecalls.sms_reply`).
* An authorized contact: a survey answer or STOP (`ivr.surveys.reply`), or an answer to a
  follow-up text ("1 240117" resolved, "2 240117" an advisor calls back, "3 240117" keep it open;
  the case number may be left out when only one of their cases awaits confirmation).
* Anyone else: a polite note that this number only takes replies to our messages.
"""

from __future__ import annotations

import re
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from casestore.models import Case, Contact, ContactPhone, Engineer, FollowUp
from casestore.phones import caller_e164
from casestore.types import CaseStatus, Priority
from ivr import actions, lifecycle, pagecalls, surveys
from ivr.jobs import Jobs
from ivr.telephony import Telephony

_FOLLOWUP = re.compile(r"^\s*(?P<choice>[123])\s*[#:.,-]?\s*(?P<case>\d{5,9})?\s*[.!]?\s*$")


def reply(
    session: Session,
    telephony: Telephony | None,
    jobs: Jobs | None,
    from_raw: str,
    body: str,
    now: datetime,
    region: str = "US",
) -> str:
    e164 = caller_e164(from_raw, region)
    if e164 and session.scalars(select(Engineer.id).where(Engineer.phone == e164, Engineer.active.is_(True))).first():
        return pagecalls.sms_reply(session, telephony, from_raw, body, now, region)
    contacts = (
        list(
            session.scalars(
                select(Contact).join(ContactPhone).where(ContactPhone.e164 == e164, Contact.active.is_(True))
            )
        )
        if e164
        else []
    )
    for contact in contacts:
        answer = surveys.reply(session, contact, body, now)
        if answer is not None:
            return answer
    if contacts:
        answer = _followup_reply(session, jobs, contacts, e164 or "", body, now)
        if answer is not None:
            return answer
        return (
            "Campus Support: reply with the number we asked for (for example 1 and your case number), "
            "or call the support line."
        )
    return "This number only takes replies to Campus Support messages."


def _followup_reply(
    session: Session, jobs: Jobs | None, contacts: list[Contact], e164: str, body: str, now: datetime
) -> str | None:
    match = _FOLLOWUP.match(body or "")
    if match is None:
        return None
    waiting = list(
        session.scalars(
            select(Case)
            .join(FollowUp, FollowUp.case_id == Case.id)
            .where(
                Case.contact_id.in_([c.id for c in contacts]),
                Case.status == CaseStatus.PENDING_VERIFICATION,
                FollowUp.status == "sent",
            )
            .distinct()
        )
    )
    if match["case"]:
        waiting = [c for c in waiting if c.number == int(match["case"])]
    if not waiting:
        return "None of your cases is awaiting confirmation" + (f" as case {match['case']}." if match["case"] else ".")
    if len(waiting) > 1:
        numbers = ", ".join(str(c.number) for c in waiting)
        return f"Several of your cases await confirmation ({numbers}): reply with the choice and the case number."
    case = waiting[0]
    who = f"sms:contact:{case.contact.contact_id}" if case.contact else "sms:contact"
    for row in session.scalars(select(FollowUp).where(FollowUp.case_id == case.id, FollowUp.status == "sent")):
        row.result = {"1": "resolved", "2": "advisor", "3": "keep_open"}[match["choice"]]
    if match["choice"] == "1":
        lifecycle.close_case(session, jobs, case, now, actor=who, detail="Confirmed resolved by the contact by SMS.")
        return f"Thank you. Case {case.number} is now closed."
    if match["choice"] == "3":
        lifecycle.keep_open(session, case, now, actor=who, detail="The contact asked by SMS to keep the case open.")
        return f"Case {case.number} stays open, and your advisor will be in touch."
    lifecycle.keep_open(session, case, now, actor=who, detail="The contact asked by SMS for an advisor to call back.")
    actions.add_callback_task(
        session,
        kind="callback",
        sid=f"sms-{case.number}-{int(now.timestamp())}",
        case_pk=case.id,
        district_pk=case.district_id,
        contact_pk=case.contact_id,
        callback_e164=e164,
        recording_url=None,
        skill=case.product_area.value,
        priority_rank=case.priority.rank if case.priority else Priority.MEDIUM.rank,
        queued_at=now,
        now=now,
    )
    return f"Case {case.number} stays open, and an advisor will call you back."
