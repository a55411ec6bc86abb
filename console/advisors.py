"""Advisors: the roster with live presence; supervisors set presence, admins edit advisors and skills.

Edits go through the load-file writer (validation, references, audit); a rename is its own audited
change first, since the load format keys advisors by name.
"""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for
from pydantic import TypeAdapter, ValidationError
from sqlalchemy import select

from casestore import audit
from casestore.interchange.fields import Name200
from casestore.models import Advisor, Team
from casestore.types import ProductArea
from console import actor, bp, flash_problems, require, write
from ivr import staffing
from webhooks import live
from webhooks.services import current_services

SKILLS = [p.value for p in ProductArea]
_NAME = TypeAdapter(Name200)


@bp.get("/advisors")
@require("read")
def advisors():
    svc = current_services()
    now = svc.now()
    with svc.sessions() as session:
        rows = list(session.scalars(select(Advisor).order_by(Advisor.active.desc(), Advisor.name)))
        views = live.optional(lambda: svc.presence.snapshot([a.id for a in rows], now))
        items = [
            {
                "row": a,
                "skills": sorted(s.value for s in a.skills),
                "team": a.team.name if a.team else "",
                "presence": views[a.id] if views else None,
            }
            for a in rows
        ]
        return render_template("admin/advisors.html", items=items, live=views is not None)


@bp.post("/advisors/<int:advisor_id>/presence")
@require("presence")
def advisor_presence(advisor_id: int):
    svc = current_services()
    state = request.form.get("state", "")
    reason = request.form.get("reason") or None
    with svc.sessions() as session:
        try:
            live.read(
                lambda: staffing.set_presence(
                    session, svc.presence, advisor_id, state, svc.now(), actor=actor(), reason=reason
                )
            )
        except staffing.PresenceError as exc:
            flash(str(exc), "error")
            return redirect(url_for("admin.advisors"))
        session.commit()
        roster = svc.tables.get(session).advisors
    live.optional(lambda: svc.dispatcher.run(roster, svc.now()))  # else the dispatcher's next pass
    flash(f"Presence set to {state}.", "success")
    return redirect(url_for("admin.advisors"))


def _form_row(form) -> dict:
    return {
        "name": form.get("name", "").strip(),
        "reach": form.get("reach", "").strip(),
        "team": form.get("team") or None,
        "skills": [s for s in SKILLS if form.get(f"skill_{s}")],
        "active": bool(form.get("active")),
    }


@bp.route("/advisors/new", methods=["GET", "POST"])
@bp.route("/advisors/<int:advisor_id>/edit", methods=["GET", "POST"])
@require("edit")
def advisor_edit(advisor_id: int | None = None):
    svc = current_services()
    with svc.sessions() as session:
        advisor = session.get(Advisor, advisor_id) if advisor_id else None
        if advisor_id and advisor is None:
            abort(404)
        teams = [t.name for t in session.scalars(select(Team).order_by(Team.route_order, Team.name))]
        if request.method == "POST":
            row = _form_row(request.form)
            problems = _rename(session, advisor, row["name"]) if advisor else _new_name(session, row["name"])
            problems = problems or write(session, {"advisors": [row]})
            if problems:
                session.rollback()
                flash_problems(problems)
                return render_template(
                    "admin/advisor_form.html", advisor=advisor, row=row, teams=teams, skills=SKILLS
                ), 400
            session.commit()
            flash(f"Saved {row['name']}.", "success")
            return redirect(url_for("admin.advisors"))
        row = (
            {
                "name": advisor.name,
                "reach": advisor.reach,
                "team": advisor.team.name if advisor.team else None,
                "skills": sorted(s.value for s in advisor.skills),
                "active": advisor.active,
            }
            if advisor
            else {"name": "", "reach": "", "team": None, "skills": [], "active": True}
        )
        return render_template("admin/advisor_form.html", advisor=advisor, row=row, teams=teams, skills=SKILLS)


def _new_name(session, name: str) -> list[str] | None:
    # The writer upserts by name: a "new" advisor with a taken name would edit that advisor.
    if session.scalars(select(Advisor.id).where(Advisor.name == name)).first() is not None:
        return [f"name: an advisor called {name!r} already exists"]
    return None


def _rename(session, advisor: Advisor, new_name: str) -> list[str] | None:
    if not new_name or new_name == advisor.name:
        return None
    try:
        _NAME.validate_python(new_name)
    except ValidationError:
        return None  # not renamed to; the writer reports the bad name with the form's other problems
    if session.scalars(select(Advisor).where(Advisor.name == new_name)).first() is not None:
        return [f"name: another advisor is already called {new_name!r}"]
    svc = current_services()
    audit.record(
        session,
        at=svc.now(),
        actor=actor(),
        action="update",
        entity="advisor",
        key=advisor.name,
        before={"name": advisor.name},
        after={"name": new_name},
    )
    advisor.name = new_name
    session.flush()
    return None
