"""An advisor's decisions on a case from the console: resolved (pending verification: starts the
3 x 10 follow-up), available in a release, back in progress, or closed (`ivr.lifecycle`)."""

from __future__ import annotations

from flask import abort, flash, redirect, request, url_for
from sqlalchemy import select

from casestore.models import Case
from console import actor, bp, require
from ivr import lifecycle
from webhooks.services import current_services

CHOICES = lifecycle.STATUS_CHOICES


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
