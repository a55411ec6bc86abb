"""Cases in the console: finding one (`/admin/cases`: by number, district, or contact name or
contact ID, with its status, and whether its response target is overdue), and an advisor's
decisions on one: resolved (pending verification: starts the 3 x 10 follow-up), available in a
release, back in progress, or closed (`ivr.lifecycle`)."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from flask import abort, flash, redirect, render_template, request, url_for
from sqlalchemy import or_, select
from sqlalchemy.orm import selectinload

from casestore.models import Case, Contact, District
from casestore.types import CaseStatus
from console import actor, bp, require
from ivr import lifecycle
from webhooks.services import current_services

CHOICES = lifecycle.STATUS_CHOICES
SEARCH_LIMIT = 100


SETTLED = {CaseStatus.CLOSED, CaseStatus.PENDING_VERIFICATION, CaseStatus.AVAILABLE_IN_RELEASE}


def overdue(case: Case, now: datetime) -> bool:
    """Whether the case's response target has passed with no response yet, on a case still open
    (one resolved, closed or fixed in a release has had its answer)."""
    if case.status in SETTLED or case.responded_at is not None or case.response_due_at is None:
        return False
    return case.response_due_at < now


def _search(session, q: str, status: str) -> list[Case]:
    query = select(Case).options(selectinload(Case.district), selectinload(Case.contact), selectinload(Case.owner))
    if q.isascii() and q.isdigit():
        number = int(q) if len(q) <= 10 else -1
        query = query.where(or_(Case.number == number, Case.contact.has(Contact.contact_id == q)))
    elif q:
        like = f"%{q.lower()}%"
        query = query.where(
            or_(Case.district.has(District.name.ilike(like)), Case.contact.has(Contact.name.ilike(like)))
        )
    if status:
        query = query.where(Case.status == CaseStatus(status))
    return list(session.scalars(query.order_by(Case.created_at.desc(), Case.number.desc()).limit(SEARCH_LIMIT + 1)))


@bp.get("/cases")
@require("read")
def cases():
    """Find a case by its number, its district, or its contact (name or contact ID)."""
    svc = current_services()
    tz = ZoneInfo(svc.settings.support_timezone)
    q = request.args.get("q", "").strip()[:120]
    status = request.args.get("status", "")
    status = status if status in {s.value for s in CaseStatus} else ""
    now = svc.now()
    with svc.sessions() as session:
        found = _search(session, q, status)
        if q.isascii() and q.isdigit() and len(found) == 1 and found[0].number == int(q):
            return redirect(url_for("admin.case_detail", number=found[0].number))
        rows = [
            {
                "number": c.number,
                "district": c.district.name,
                "contact": c.contact.name if c.contact else "",
                "area": c.product_area.value.replace("_", " "),
                "priority": c.priority.value,
                "status": c.status.value.replace("_", " "),
                "owner": c.owner.name if c.owner else "",
                "due": f"{c.response_due_at.astimezone(tz):%Y-%m-%d %H:%M}" if c.response_due_at else "",
                "overdue": overdue(c, now),
            }
            for c in found[:SEARCH_LIMIT]
        ]
    statuses = [s.value for s in CaseStatus]
    more = len(found) > SEARCH_LIMIT
    return render_template("admin/cases.html", rows=rows, q=q, status=status, statuses=statuses, more=more)


@bp.post("/cases/<int:number>/status")
@require("edit")
def case_set_status(number: int):
    svc = current_services()
    status = request.form.get("status", "")
    release = (request.form.get("release_name") or "").strip()
    if status not in CHOICES:
        flash(f"status must be one of {', '.join(CHOICES)}", "error")
        return redirect(url_for("admin.case_detail", number=number))
    if status == "available_in_release" and not 1 <= len(release) <= 120:
        flash("release_name: the release's name (1 to 120 characters) is required", "error")
        return redirect(url_for("admin.case_detail", number=number))
    now = svc.now()
    with svc.sessions() as session:
        case = session.scalars(select(Case).where(Case.number == number)).first()
        if case is None:
            abort(404)
        if case.status.value == status and (status != "available_in_release" or case.release_name == release):
            # The form shows the current status: Save without choosing another changes nothing.
            flash(f"No change: the case is already {status.replace('_', ' ')}.", "success")
            return redirect(url_for("admin.case_detail", number=number))
        message = lifecycle.set_status(
            session, svc.jobs, case, status, now, svc.tables.get(session).calendar, actor=actor(), release=release
        )
        session.commit()
    flash(message, "success")
    return redirect(url_for("admin.case_detail", number=number))
