"""On call: rotations (with one-off overrides), engineers, escalation policies, and who is on call
for each layer over the next four weeks.

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

import re
from datetime import datetime, timedelta, tzinfo
from typing import Any
from zoneinfo import ZoneInfo

from flask import abort, flash, redirect, render_template, request, url_for
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from casestore import audit
from casestore.interchange.fields import fmt_time
from casestore.interchange.writer import escalation_policy_snap, rotation_snap
from casestore.models import Engineer, EscalationPolicy, EscalationStep, Rotation, RotationMember, RotationOverride
from casestore.types import HandoffKind, RotationLayer, Weekday
from console import actor, bp, flash_problems, require, write
from console.calendar import DAY_NAMES
from routing.oncall import load_rotations, local_to_utc, upcoming_shifts
from webhooks.services import current_services

CALENDAR_DAYS = 28
LAYERS = [layer.value for layer in RotationLayer]
WEEKDAYS = [(d.value, DAY_NAMES[d]) for d in Weekday]
COMMON_ZONES = (
    "America/Chicago",
    "America/New_York",
    "America/Denver",
    "America/Phoenix",
    "America/Los_Angeles",
    "America/Anchorage",
    "Pacific/Honolulu",
    "UTC",
)
EXTRA_SLOTS = 2  # blank member / step rows offered on the edit forms


def fmt_local(at: datetime, tz: tzinfo) -> str:
    """ "Mon Nov 23 09:00 CST" in `tz`."""
    local = at.astimezone(tz)
    return f"{local:%a %b} {local.day} {local:%H:%M %Z}"


def _input_value(at: datetime, tz: tzinfo) -> str:
    return at.astimezone(tz).strftime("%Y-%m-%dT%H:%M")


def _rotations(session) -> list[Rotation]:
    return list(
        session.scalars(
            select(Rotation)
            .options(
                selectinload(Rotation.members).selectinload(RotationMember.engineer),
                selectinload(Rotation.overrides).selectinload(RotationOverride.engineer),
            )
            .order_by(Rotation.name)
        )
    )


def _policies(session) -> list[EscalationPolicy]:
    return list(
        session.scalars(
            select(EscalationPolicy)
            .options(
                selectinload(EscalationPolicy.manager),
                selectinload(EscalationPolicy.steps).selectinload(EscalationStep.engineers),
            )
            .order_by(EscalationPolicy.is_default.desc(), EscalationPolicy.name)
        )
    )


def _engineers(session) -> list[Engineer]:
    return list(session.scalars(select(Engineer).order_by(Engineer.active.desc(), Engineer.name)))


def _calendar(session, now: datetime, support_tz: str) -> list[dict]:
    """Per layer: its shifts for the next CALENDAR_DAYS days, in the layer's rotation zone (the
    support zone when its rotations disagree or there are none)."""
    specs = load_rotations(session)
    end = now + timedelta(days=CALENDAR_DAYS)
    out = []
    for layer in LAYERS:
        zones = {s.tz.key for s in specs if s.layer == layer}
        tz = ZoneInfo(zones.pop() if len(zones) == 1 else support_tz)
        shifts = [
            {
                "engineer": s.engineer,
                "starts": fmt_local(s.starts_at, tz),
                "ends": fmt_local(s.ends_at, tz),
                "starts_at": s.starts_at,
                "ends_at": s.ends_at,
                "override": s.override,
                "current": s.covers(now),
                "hours": round((s.ends_at - s.starts_at).total_seconds() / 3600, 1),
            }
            for s in upcoming_shifts(specs, layer, now, end)
        ]
        out.append({"layer": layer, "tz": tz.key, "shifts": shifts})
    return out


def _rotation_view(rot: Rotation, now: datetime) -> dict:
    tz = ZoneInfo(rot.timezone)
    overrides = [
        {
            "row": o,
            "starts": fmt_local(o.starts_at, tz),
            "ends": fmt_local(o.ends_at, tz),
            "past": o.ends_at <= now,
            "current": o.starts_at <= now < o.ends_at,
            "inactive": not o.engineer.active,
        }
        for o in rot.overrides
    ]
    at = fmt_time(rot.handoff_time)
    if HandoffKind(rot.handoff) is HandoffKind.DAILY or rot.handoff_weekday is None:
        handoff = f"daily at {at}"
    else:
        handoff = f"weekly, {DAY_NAMES[Weekday(rot.handoff_weekday)]}s at {at}"
    return {
        "row": rot,
        "layer": RotationLayer(rot.layer).value,
        "handoff": handoff,
        "members": [m.engineer for m in sorted(rot.members, key=lambda m: m.position)],
        "overrides": [o for o in overrides if not o["past"]],
        "past_overrides": sum(1 for o in overrides if o["past"]),
    }


def _policy_view(policy: EscalationPolicy) -> dict:
    return {"row": policy, "snap": escalation_policy_snap(policy)}


def _render(session, *, status: int = 200, override_form: dict | None = None):
    svc = current_services()
    now = svc.now()
    engineers = _engineers(session)
    return render_template(
        "admin/oncall.html",
        calendar=_calendar(session, now, svc.settings.support_timezone),
        calendar_days=CALENDAR_DAYS,
        rotations=[_rotation_view(r, now) for r in _rotations(session)],
        engineers=engineers,
        active_engineers=[e for e in engineers if e.active],
        policies=[_policy_view(p) for p in _policies(session)],
        override_form=override_form or {},
    ), status


@bp.get("/oncall")
@require("read")
def oncall():
    svc = current_services()
    with svc.sessions() as session:
        return _render(session)


# --------------------------------------------------------------------------------------------
# Shared write helpers
# --------------------------------------------------------------------------------------------


def _rename(session, model: Any, obj: Any, new_name: str, entity: str, label: str, max_len: int) -> list[str] | None:
    """Rename `obj` as its own audited change (the load format keys these rows by name)."""
    if obj is None or not new_name or new_name == obj.name or len(new_name) > max_len:
        return None  # nothing to rename; a bad name is reported by the load-format check
    if session.scalars(select(model).where(model.name == new_name)).first() is not None:
        return [f"name: another {label} is already called {new_name!r}"]
    svc = current_services()
    audit.record(
        session,
        at=svc.now(),
        actor=actor(),
        action="update",
        entity=entity,
        key=obj.name,
        before={"name": obj.name},
        after={"name": new_name},
    )
    obj.name = new_name
    session.flush()
    return None


_ITEM_PATH = re.compile(r"^(steps|members|overrides)\[(\d+)\](?:\.([^:]+))?: ")


def _nicer(problems: list[str]) -> list[str]:
    """ "steps[1].delay_minutes: ..." -> "step 2, delay_minutes: ..."; "members[0]: ..." -> "member 1: ..."."""
    out = []
    for problem in problems:
        match = _ITEM_PATH.match(problem)
        if match:
            where = f"{match[1][:-1]} {int(match[2]) + 1}" + (f", {match[3]}" if match[3] else "")
            problem = f"{where}: {problem[match.end() :]}"
        out.append(problem)
    return out


# --------------------------------------------------------------------------------------------
# Overrides
# --------------------------------------------------------------------------------------------


def _rotation_or_404(session, rotation_id: int) -> Rotation:
    rot = session.scalars(
        select(Rotation)
        .where(Rotation.id == rotation_id)
        .options(
            selectinload(Rotation.members).selectinload(RotationMember.engineer),
            selectinload(Rotation.overrides).selectinload(RotationOverride.engineer),
        )
    ).first()
    if rot is None:
        abort(404)
    return rot


def _local_instant(text: str, tz: ZoneInfo, field: str) -> tuple[datetime | None, str | None]:
    """A datetime-local input ("2026-11-20T09:00") as an aware instant in `tz`."""
    if not text:
        return None, f"{field}: required"
    try:
        local = datetime.fromisoformat(text)
    except ValueError:
        return None, f"{field}: not a date and time: {text[:40]!r} (expected YYYY-MM-DD HH:MM)"
    if local.tzinfo is not None:
        return local, None
    return local_to_utc(local, tz), None


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
        rot = _rotation_or_404(session, rotation_id)
        tz = ZoneInfo(rot.timezone)
        problems: list[str] = []
        if not form["engineer"]:
            problems.append("engineer: required")
        starts, problem = _local_instant(form["starts"], tz, "start")
        problems += [problem] if problem else []
        ends, problem = _local_instant(form["ends"], tz, "end")
        problems += [problem] if problem else []
        if starts and ends:
            if ends <= starts:
                problems.append("end: must be after the start")
            elif ends <= now:
                problems.append("end: already past; an override must end in the future")
        if not problems:
            row = rotation_snap(rot)
            row["overrides"] = row["overrides"] + [{"engineer": form["engineer"], "starts_at": starts, "ends_at": ends}]
            problems = _nicer(write(session, {"rotations": [row]}) or [])
        if problems:
            session.rollback()
            flash_problems(problems)
            return _render(session, status=400, override_form=form)
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
        rot = _rotation_or_404(session, rotation_id)
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
            flash_problems(_nicer(problems))
            return _render(session, status=400)
        session.commit()
        flash(f"Override removed from {row['name']}.", "success")
    return redirect(url_for("admin.oncall"))


# --------------------------------------------------------------------------------------------
# Rotations
# --------------------------------------------------------------------------------------------


def _rotation_form(form, existing: Rotation | None) -> dict:
    handoff = form.get("handoff", "").strip()
    slots = int(form["member_slots"]) if form.get("member_slots", "").isdigit() else 0
    members = [form.get(f"member_{i}", "").strip() for i in range(min(slots, 200))]
    return {
        "name": form.get("name", "").strip(),
        "layer": form.get("layer", "").strip(),
        "timezone": form.get("timezone", "").strip(),
        "handoff": handoff,
        "handoff_time": form.get("handoff_time", "").strip(),
        # The weekday only matters (and is only allowed) for a weekly handoff.
        "handoff_weekday": (form.get("handoff_weekday") or None) if handoff == HandoffKind.WEEKLY.value else None,
        "start_date": form.get("start_date", "").strip(),
        "members": [m for m in members if m],
        # Overrides are edited on the rotation list; an edit keeps them as they are.
        "overrides": rotation_snap(existing)["overrides"] if existing is not None else [],
    }


def _rotation_defaults(rot: Rotation | None, support_tz: str) -> dict:
    if rot is None:
        return {
            "name": "",
            "layer": "primary",
            "timezone": support_tz,
            "handoff": "weekly",
            "handoff_time": "09:00",
            "handoff_weekday": "mon",
            "start_date": "",
            "members": [],
        }
    snap = rotation_snap(rot)
    return {
        **snap,
        "layer": snap["layer"].value,
        "handoff": snap["handoff"].value,
        "handoff_weekday": snap["handoff_weekday"].value if snap["handoff_weekday"] else None,
        "start_date": snap["start_date"].isoformat(),
    }


def _render_rotation_form(rotation, row, engineers, status=200):
    return render_template(
        "admin/oncall_rotation_form.html",
        rotation=rotation,
        row=row,
        engineers=engineers,
        layers=LAYERS,
        weekdays=WEEKDAYS,
        zones=COMMON_ZONES,
        slots=len(row["members"]) + EXTRA_SLOTS,
    ), status


@bp.route("/oncall/rotations/new", methods=["GET", "POST"])
@bp.route("/oncall/rotations/<int:rotation_id>/edit", methods=["GET", "POST"])
@require("edit")
def oncall_rotation_edit(rotation_id: int | None = None):
    svc = current_services()
    with svc.sessions() as session:
        rotation = _rotation_or_404(session, rotation_id) if rotation_id else None
        engineers = [e.name for e in _engineers(session)]
        if request.method == "POST":
            row = _rotation_form(request.form, rotation)
            problems = _rename(session, Rotation, rotation, row["name"], "rotation", "rotation", 120)
            problems = problems or write(session, {"rotations": [row]})
            if problems:
                session.rollback()
                flash_problems(_nicer(problems))
                return _render_rotation_form(rotation, row, engineers, status=400)
            session.commit()
            flash(f"Saved rotation {row['name']}.", "success")
            return redirect(url_for("admin.oncall"))
        return _render_rotation_form(rotation, _rotation_defaults(rotation, svc.settings.support_timezone), engineers)


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
            problems = _rename(session, Engineer, engineer, name, "engineer", "engineer", 200)
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


def _whole_number(text: str) -> Any:
    """A form number as an int when it is one; otherwise the text, for the load format to reject."""
    text = text.strip()
    return int(text) if re.fullmatch(r"-?[0-9]{1,6}", text) else text


def _policy_form(form) -> dict:
    slots = int(form["step_slots"]) if form.get("step_slots", "").isdigit() else 0
    steps = []
    for i in range(min(slots, 50)):
        layers = [v for v in form.getlist(f"step_{i}_layers") if v]
        engineers = [v for v in form.getlist(f"step_{i}_engineers") if v]
        if not layers and not engineers:
            continue  # a blank (or cleared) step row: no step
        steps.append(
            {"layers": layers, "engineers": engineers, "delay_minutes": _whole_number(form.get(f"step_{i}_delay", "5"))}
        )
    return {
        "name": form.get("name", "").strip(),
        "default": bool(form.get("default")),
        "repeats": _whole_number(form.get("repeats", "1")),
        "manager": form.get("manager") or None,
        "steps": steps,
    }


def _render_policy_form(policy, row, engineers, status=200):
    return render_template(
        "admin/oncall_policy_form.html",
        policy=policy,
        row=row,
        engineers=engineers,
        layers=LAYERS,
        slots=len(row["steps"]) + EXTRA_SLOTS,
    ), status


@bp.route("/oncall/policies/new", methods=["GET", "POST"])
@bp.route("/oncall/policies/<int:policy_id>/edit", methods=["GET", "POST"])
@require("edit")
def oncall_policy_edit(policy_id: int | None = None):
    svc = current_services()
    with svc.sessions() as session:
        policy = session.get(EscalationPolicy, policy_id) if policy_id else None
        if policy_id and policy is None:
            abort(404)
        engineers = [e.name for e in _engineers(session)]
        if request.method == "POST":
            row = _policy_form(request.form)
            problems = _rename(session, EscalationPolicy, policy, row["name"], "escalation_policy", "policy", 120)
            doc = [row]
            if row["default"] and not problems:
                # Moving the default: the policy that has it now loses it in the same write.
                for other in _policies(session):
                    if other.is_default and other is not policy and other.name != row["name"]:
                        doc.append({**escalation_policy_snap(other), "default": False})
            problems = problems or write(session, {"escalation_policies": doc})
            if problems:
                session.rollback()
                flash_problems(_nicer(problems))
                return _render_policy_form(policy, row, engineers, status=400)
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
        return _render_policy_form(policy, row, engineers)
