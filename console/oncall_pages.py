"""On call: rotations (with one-off overrides), engineers, escalation policies, and who is on call
for each layer over the next four weeks. This module holds the pages' routes; what the overview
shows is `oncall_overview`, the edit forms and their load-format rows `oncall_forms`.

Everyone reads; admins edit. Every write goes through the load-file path (`write`), keyed by name
as the load format is: a rotation row replaces the rotation's members and its whole list of
overrides, so adding or removing one override writes the rotation with the others kept; a policy
row replaces its steps. A rename is its own audited change first (as for advisors). Override
times are entered as local wall-clock times in the rotation's zone and stored as instants
(`routing.oncall.local_to_utc`: a time skipped by a spring-forward change means the first instant
after the gap, a repeated fall-back time its first occurrence).

The four-week calendar is `routing.oncall.upcoming_shifts` over the saved rotations, from the
service clock's now.
"""

from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo

from flask import abort, flash, redirect, render_template, request, url_for

from casestore.interchange.snapshots import escalation_policy_snap, rotation_snap
from casestore.models import Engineer, EscalationPolicy, Rotation
from console import bp, flash_problems, require, write
from console.oncall_forms import (
    local_instant,
    nicer_problems,
    policy_form,
    rename,
    render_policy_form,
    render_rotation_form,
    rotation_defaults,
    rotation_form,
)
from console.oncall_overview import all_engineers, all_policies, fmt_local, render_oncall, rotation_or_404
from webhooks.services import current_services


@bp.get("/oncall")
@require("read")
def oncall():
    svc = current_services()
    with svc.sessions() as session:
        return render_oncall(session)


# --------------------------------------------------------------------------------------------
# Overrides
# --------------------------------------------------------------------------------------------


@bp.post("/oncall/rotations/<int:rotation_id>/overrides")
@require("edit")
def oncall_override_add(rotation_id: int):
    svc = current_services()
    now = svc.now()
    form: dict[str, Any] = {
        "rotation_id": rotation_id,
        "engineer": request.form.get("engineer", "").strip(),
        "starts": request.form.get("starts", "").strip(),
        "ends": request.form.get("ends", "").strip(),
    }
    with svc.sessions() as session:
        rot = rotation_or_404(session, rotation_id)
        tz = ZoneInfo(rot.timezone)
        problems: list[str] = []
        if not form["engineer"]:
            problems.append("engineer: required")
        starts, problem = local_instant(form["starts"], tz, "start")
        problems += [problem] if problem else []
        ends, problem = local_instant(form["ends"], tz, "end")
        problems += [problem] if problem else []
        if starts and ends:
            if ends <= starts:
                problems.append("end: must be after the start")
            elif ends <= now:
                problems.append("end: already past; an override must end in the future")
        if not problems:
            row = rotation_snap(rot)
            row["overrides"] = row["overrides"] + [{"engineer": form["engineer"], "starts_at": starts, "ends_at": ends}]
            problems = nicer_problems(write(session, {"rotations": [row]}) or [])
        if problems:
            session.rollback()
            flash_problems(problems)
            return render_oncall(session, status=400, override_form=form)
        session.commit()
        assert starts is not None and ends is not None  # no problems: both were read
        flash(
            f"Override added: {form['engineer']} covers {rot.name} from {fmt_local(starts, tz)} "
            f"to {fmt_local(ends, tz)}.",
            "success",
        )
    return redirect(url_for("admin.oncall"))


@bp.post("/oncall/rotations/<int:rotation_id>/overrides/<int:override_id>/remove")
@require("edit")
def oncall_override_remove(rotation_id: int, override_id: int):
    svc = current_services()
    with svc.sessions() as session:
        rot = rotation_or_404(session, rotation_id)
        gone = next((o for o in rot.overrides if o.id == override_id), None)
        if gone is None:
            abort(404)
        row = rotation_snap(rot)
        key = (gone.engineer.name, gone.starts_at, gone.ends_at)
        kept, dropped = [], False
        for o in row["overrides"]:
            if not dropped and (o["engineer"], o["starts_at"], o["ends_at"]) == key:
                dropped = True
                continue
            kept.append(o)
        row["overrides"] = kept
        problems = write(session, {"rotations": [row]})
        if problems:
            session.rollback()
            flash_problems(nicer_problems(problems))
            return render_oncall(session, status=400)
        session.commit()
        flash(f"Override removed from {row['name']}.", "success")
    return redirect(url_for("admin.oncall"))


# --------------------------------------------------------------------------------------------
# Rotations
# --------------------------------------------------------------------------------------------


@bp.route("/oncall/rotations/new", methods=["GET", "POST"])
@bp.route("/oncall/rotations/<int:rotation_id>/edit", methods=["GET", "POST"])
@require("edit")
def oncall_rotation_edit(rotation_id: int | None = None):
    svc = current_services()
    with svc.sessions() as session:
        rotation = rotation_or_404(session, rotation_id) if rotation_id else None
        engineers = [e.name for e in all_engineers(session)]
        if request.method == "POST":
            row = rotation_form(request.form, rotation)
            problems = rename(session, Rotation, rotation, row["name"], "rotation", "rotation", 120)
            problems = problems or write(session, {"rotations": [row]})
            if problems:
                session.rollback()
                flash_problems(nicer_problems(problems))
                return render_rotation_form(rotation, row, engineers, status=400)
            session.commit()
            flash(f"Saved rotation {row['name']}.", "success")
            return redirect(url_for("admin.oncall"))
        return render_rotation_form(rotation, rotation_defaults(rotation, svc.settings.support_timezone), engineers)


# --------------------------------------------------------------------------------------------
# Engineers
# --------------------------------------------------------------------------------------------


@bp.route("/oncall/engineers/new", methods=["GET", "POST"])
@bp.route("/oncall/engineers/<int:engineer_id>/edit", methods=["GET", "POST"])
@require("edit")
def oncall_engineer_edit(engineer_id: int | None = None):
    svc = current_services()
    with svc.sessions() as session:
        engineer = session.get(Engineer, engineer_id) if engineer_id else None
        if engineer_id and engineer is None:
            abort(404)
        if request.method == "POST":
            name = request.form.get("name", "").strip()
            row = {
                "name": name,
                "phone": request.form.get("phone", "").strip(),
                "sms": bool(request.form.get("sms")),
                "active": bool(request.form.get("active")),
            }
            problems = rename(session, Engineer, engineer, name, "engineer", "engineer", 200)
            problems = problems or write(session, {"engineers": [row]})
            if problems:
                session.rollback()
                flash_problems(problems)
                return render_template("admin/oncall_engineer_form.html", engineer=engineer, row=row), 400
            session.commit()
            flash(f"Saved {row['name']}.", "success")
            return redirect(url_for("admin.oncall") + "#engineers")
        row = (
            {"name": engineer.name, "phone": engineer.phone, "sms": engineer.sms, "active": engineer.active}
            if engineer
            else {"name": "", "phone": "", "sms": True, "active": True}
        )
        return render_template("admin/oncall_engineer_form.html", engineer=engineer, row=row)


# --------------------------------------------------------------------------------------------
# Escalation policies
# --------------------------------------------------------------------------------------------


@bp.route("/oncall/policies/new", methods=["GET", "POST"])
@bp.route("/oncall/policies/<int:policy_id>/edit", methods=["GET", "POST"])
@require("edit")
def oncall_policy_edit(policy_id: int | None = None):
    svc = current_services()
    with svc.sessions() as session:
        policy = session.get(EscalationPolicy, policy_id) if policy_id else None
        if policy_id and policy is None:
            abort(404)
        engineers = [e.name for e in all_engineers(session)]
        if request.method == "POST":
            row = policy_form(request.form)
            problems = rename(session, EscalationPolicy, policy, row["name"], "escalation_policy", "policy", 120)
            doc = [row]
            if row["default"] and not problems:
                # Moving the default: the policy that has it now loses it in the same write.
                for other in all_policies(session):
                    if other.is_default and other is not policy and other.name != row["name"]:
                        doc.append({**escalation_policy_snap(other), "default": False})
            problems = problems or write(session, {"escalation_policies": doc})
            if problems:
                session.rollback()
                flash_problems(nicer_problems(problems))
                return render_policy_form(policy, row, engineers, status=400)
            session.commit()
            flash(f"Saved escalation policy {row['name']}.", "success")
            return redirect(url_for("admin.oncall") + "#policies")
        row = (
            escalation_policy_snap(policy)
            if policy
            else {
                "name": "",
                "default": False,
                "repeats": 1,
                "manager": None,
                "steps": [{"layers": ["primary"], "engineers": [], "delay_minutes": 5}],
            }
        )
        return render_policy_form(policy, row, engineers)
