"""Case lifecycle after the call: response targets, the 3 x 10 follow-up, closing, and the survey.

* Response due: every case gets `response_due_at` from its priority and creation time in business
  time (`routing.businesstime.response_due`); the first answered call marks it responded.
* Pending verification: when an advisor marks a case resolved, three follow-ups are scheduled on
  business days `FOLLOWUP_BUSINESS_DAYS` (1, 4 and 7 by default) after that moment, each an
  outbound call through the IVR and an SMS to the case's contact ("press 1 if it is resolved, 2 to
  speak to an advisor now, 3 to keep it open"), only within business hours; with no answer, the case
  closes itself on business day `AUTO_CLOSE_BUSINESS_DAYS` (10). Every step is a `FollowUp` row
  and an RQ job (`run_followup`) at its `due_at` on the service clock; a job that runs twice, or
  runs after the case moved on, does nothing. For a call step `due_at` is when the call is placed,
  `routing.businesstime.placing_time` of the business-day due time: inside that day's open hours
  even when the due time is the closing instant itself (issue #15 item 8).
* Closing (by the contact, by an admin, or automatically) cancels what is left of the follow-up and
  may send a satisfaction survey (`ivr.surveys`).
Functions only flush; their caller commits (jobs commit themselves).
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import event, func, select
from sqlalchemy.orm import Session

from casestore import audit
from casestore.models import Case, CaseEvent, FollowUp
from casestore.phones import mask
from casestore.types import CaseStatus
from ivr import surveys
from ivr.jobs import JobContext, Jobs, context
from ivr.telephony import TelephonyError
from routing.businesstime import add_business_days, placing_time, response_due
from routing.calendar import Calendar

log = logging.getLogger("supportline.lifecycle")

FOLLOWUP_BUSINESS_DAYS = (1, 4, 7)
AUTO_CLOSE_BUSINESS_DAYS = 10
RING_SECONDS = 30


def _event(
    session: Session,
    case: Case,
    now: datetime,
    kind: str,
    outcome: str,
    detail: str,
    direction: str | None = None,
    call_sid: str | None = None,
) -> None:
    session.add(
        CaseEvent(
            case_id=case.id,
            at=now,
            kind=kind,
            direction=direction,
            call_sid=call_sid,
            contact_id=case.contact_id,
            outcome=outcome,
            detail=detail,
        )
    )


def _audit_case(
    session: Session, case: Case, now: datetime, actor: str, before: dict[str, Any], after: dict[str, Any]
) -> None:
    """The audit entry of one status change of `case` by `actor`."""
    audit.record(
        session, at=now, actor=actor, action="update", entity="case", key=case.number, before=before, after=after
    )


def set_response_due(case: Case, cal: Calendar) -> None:
    if case.response_due_at is None and case.created_at is not None:
        case.response_due_at = response_due(case.created_at, case.priority.value, cal)


def mark_responded(case: Case, now: datetime) -> bool:
    """The first advisor contact (an answered call, a note) marks the case responded."""
    if case.responded_at is not None:
        return False
    case.responded_at = now
    return True


def fill_response_due(session: Session, cal: Calendar, limit: int = 500) -> int:
    """Give every case without a response-due time one (cases loaded from a file, older data)."""
    rows = list(session.scalars(select(Case).where(Case.response_due_at.is_(None)).limit(limit)))
    for case in rows:
        set_response_due(case, cal)
    return len(rows)


# --------------------------------------------------------------------------- pending verification


def mark_pending_verification(
    session: Session,
    jobs: Jobs | None,
    case: Case,
    now: datetime,
    cal: Calendar,
    *,
    actor: str,
    days: tuple[int, ...] = FOLLOWUP_BUSINESS_DAYS,
    close_after: int = AUTO_CLOSE_BUSINESS_DAYS,
) -> list[FollowUp]:
    """An advisor resolved the case: pending customer verification, and the follow-ups scheduled."""
    before = {"status": case.status}
    cancel_followups(session, case, now)
    case.status = CaseStatus.PENDING_VERIFICATION
    case.updated_at = now
    round_ = (session.scalar(select(func.max(FollowUp.round)).where(FollowUp.case_id == case.id)) or 0) + 1
    steps = [(i + 1, placing_time(add_business_days(now, d, cal), now, cal)) for i, d in enumerate(sorted(days))]
    steps.append((0, add_business_days(now, close_after, cal)))
    rows = [
        FollowUp(case_id=case.id, round=round_, attempt=a, due_at=due, status="scheduled", updated_at=now)
        for a, due in steps
    ]
    session.add_all(rows)
    session.flush()
    when = ", ".join(f"{r.due_at:%Y-%m-%d %H:%M} UTC" for r in rows if r.attempt)
    _event(
        session,
        case,
        now,
        "status",
        "pending_verification",
        f"Resolved, pending customer verification. Follow-ups on {when}; closes by itself on "
        f"{rows[-1].due_at:%Y-%m-%d %H:%M} UTC without an answer.",
    )
    _audit_case(session, case, now, actor, before, {"status": case.status})
    if jobs is not None:
        _schedule_after_commit(session, jobs, [(r.id, r.due_at) for r in rows])
    return rows


def _schedule_after_commit(session: Session, jobs: Jobs, items: list[tuple[int, datetime]]) -> None:
    def schedule(_session) -> None:
        for follow_up_id, due in items:
            try:
                jobs.schedule(due, run_followup, follow_up_id, job_id=f"followup-{follow_up_id}")
            except Exception:
                log.exception("could not schedule follow-up %s; the worker's sweep will", follow_up_id)

    event.listen(session, "after_commit", schedule, once=True)


def cancel_followups(session: Session, case: Case, now: datetime) -> int:
    rows = list(session.scalars(select(FollowUp).where(FollowUp.case_id == case.id, FollowUp.status == "scheduled")))
    for row in rows:
        row.status, row.updated_at = "cancelled", now
    return len(rows)


def keep_open(session: Session, case: Case, now: datetime, *, actor: str, detail: str) -> None:
    before = {"status": case.status}
    cancel_followups(session, case, now)
    case.status = CaseStatus.IN_PROGRESS
    case.updated_at = now
    _event(session, case, now, "status", "kept_open", detail)
    _audit_case(session, case, now, actor, before, {"status": case.status})


def set_available_in_release(session: Session, case: Case, release: str, now: datetime, *, actor: str) -> None:
    """The fix ships in a release: the IVR reads the release name back when the caller enters the case."""
    before = {"status": case.status, "release_name": case.release_name}
    cancel_followups(session, case, now)
    case.status = CaseStatus.AVAILABLE_IN_RELEASE
    case.release_name = release
    case.updated_at = now
    _event(session, case, now, "status", "available_in_release", f"Available in release {release}.")
    _audit_case(session, case, now, actor, before, {"status": case.status, "release_name": release})


def close_case(session: Session, jobs: Jobs | None, case: Case, now: datetime, *, actor: str, detail: str) -> None:
    """Close the case (contact confirmed, admin, or no answer by day 10), then maybe survey."""
    if case.status == CaseStatus.CLOSED:
        return
    before = {"status": case.status, "closed_at": case.closed_at}
    cancel_followups(session, case, now)
    case.status = CaseStatus.CLOSED
    case.closed_at = now
    case.updated_at = now
    _event(session, case, now, "status", "closed", detail)
    _audit_case(session, case, now, actor, before, {"status": case.status, "closed_at": now})
    surveys.after_close(session, jobs, case, now)


STATUS_CHOICES = ("pending_verification", "available_in_release", "in_progress", "closed")


def set_status(
    session: Session,
    jobs: Jobs | None,
    case: Case,
    status: str,
    now: datetime,
    cal: Calendar,
    *,
    actor: str,
    release: str = "",
) -> str:
    """An advisor's decision on a case (API or console); returns what happened, in words.
    `status` is one of STATUS_CHOICES (the caller validates it, and the release name)."""
    if status == "pending_verification":
        rows = mark_pending_verification(session, jobs, case, now, cal, actor=actor)
        return f"Pending verification; {len(rows) - 1} follow-ups scheduled."
    if status == "closed":
        close_case(session, jobs, case, now, actor=actor, detail=f"Closed by {actor}.")
        return "Closed."
    if status == "in_progress":
        keep_open(session, case, now, actor=actor, detail=f"Set in progress by {actor}.")
        return "In progress."
    set_available_in_release(session, case, release, now, actor=actor)
    return f"Available in release {release}."


# --------------------------------------------------------------------------- the job


def run_followup(follow_up_id: int) -> str:
    """The RQ job for one follow-up step. Idempotent: only a `scheduled` step of a case still
    pending verification does anything, and the step is marked before anything is sent."""
    ctx = context()
    now = ctx.now()
    with ctx.sessions() as session:
        row = session.get(FollowUp, follow_up_id)
        if row is None or row.status != "scheduled":
            return "nothing to do"
        case = session.get(Case, row.case_id)
        if case is None or case.status != CaseStatus.PENDING_VERIFICATION:
            row.status, row.updated_at = "skipped", now
            session.commit()
            return "case moved on"
        cal = ctx.tables.get(session).calendar
        if row.attempt == 0:
            row.status, row.result, row.updated_at = "done", "closed_no_answer", now
            close_case(
                session,
                ctx.jobs,
                case,
                now,
                actor="ivr:followup",
                detail=f"Closed automatically: no answer within {AUTO_CLOSE_BUSINESS_DAYS} business days.",
            )
            session.commit()
            return "closed"
        # Only within business hours: a late timer waits for the next opening.
        try:
            placed = placing_time(row.due_at, now, cal)
        except LookupError:
            placed = now  # no open hours for a year: call anyway rather than never
        if placed > now:
            row.due_at, row.updated_at = placed, now
            session.commit()
            ctx.jobs.schedule(placed, run_followup, row.id, job_id=f"followup-{row.id}")
            return "waiting for business hours"
        row.status, row.updated_at = "sent", now
        session.flush()
        _reach_contact(ctx, session, case, row)
        session.commit()
        return "sent"


def _reach_contact(ctx: JobContext, session: Session, case: Case, row: FollowUp) -> None:
    contact = case.contact
    phone = contact.phones[0].e164 if contact is not None and contact.active and contact.phones else None
    now = ctx.now()
    if phone is None or ctx.telephony is None:
        row.result = "unreachable"
        _event(
            session,
            case,
            now,
            "followup",
            "not_sent",
            f"Follow-up {row.attempt} of 3 not sent: "
            + ("no active contact phone." if phone is None else "no Twilio account configured."),
        )
        return
    base = ctx.base_url.rstrip("/")
    try:
        row.call_sid = ctx.telephony.place_call(
            phone,
            ctx.caller_id,
            f"{base}/voice/followup?fu={row.id}",
            status_callback=f"{base}/voice/status",
            timeout=RING_SECONDS,
            machine_detection=True,
        )
        row.sms_sid = ctx.telephony.send_sms(phone, ctx.caller_id, sms_text(case))
        _event(
            session,
            case,
            now,
            "followup",
            "sent",
            f"Follow-up {row.attempt} of 3: call and SMS to {mask(phone)}.",
            direction="outbound",
            call_sid=row.call_sid,
        )
    except TelephonyError as exc:
        row.result = "failed"
        _event(session, case, now, "followup", "failed", f"Follow-up {row.attempt} of 3 failed: {exc}")


def sms_text(case: Case) -> str:
    return (
        f"Campus Support: case {case.number} is awaiting your confirmation. Reply 1 {case.number} if it "
        f"is resolved, 2 {case.number} to have an advisor call you, 3 {case.number} to keep it open."
    )


def sweep(ctx: JobContext, limit: int = 200) -> int:
    """Follow-ups whose timer was lost (Redis down when scheduled): run the overdue ones now."""
    now = ctx.now()
    with ctx.sessions() as session:
        ids = list(
            session.scalars(
                select(FollowUp.id)
                .where(FollowUp.status == "scheduled", FollowUp.due_at <= now - timedelta(minutes=5))
                .limit(limit)
            )
        )
    for follow_up_id in ids:
        ctx.jobs.enqueue(run_followup, follow_up_id, job_id=f"followup-{follow_up_id}")
    return len(ids)
