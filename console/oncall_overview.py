"""What the on-call page (`/admin/oncall`) shows, and the reads the on-call edit pages share: the
rotations (with their overrides, current and upcoming), engineers and escalation policies in the
page's order, and per layer who is on call over the next four weeks
(`routing.oncall.upcoming_shifts` over the saved rotations, from the service clock's now), shown in
the layer's rotation zone. Times read as "Mon Nov 23 09:00 CST" (`fmt_local`).
"""

from __future__ import annotations

from datetime import datetime, timedelta, tzinfo
from zoneinfo import ZoneInfo

from flask import abort, render_template
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from casestore.interchange.fields import fmt_time
from casestore.interchange.snapshots import escalation_policy_snap
from casestore.models import Engineer, EscalationPolicy, EscalationStep, Rotation, RotationMember, RotationOverride
from casestore.types import HandoffKind, RotationLayer, Weekday
from console.calendar import DAY_NAMES
from routing.oncall import load_rotations, upcoming_shifts
from webhooks.services import current_services

CALENDAR_DAYS = 28
LAYERS = [layer.value for layer in RotationLayer]


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


def all_policies(session) -> list[EscalationPolicy]:
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


def all_engineers(session) -> list[Engineer]:
    return list(session.scalars(select(Engineer).order_by(Engineer.active.desc(), Engineer.name)))


def rotation_or_404(session, rotation_id: int) -> Rotation:
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


def render_oncall(session, *, status: int = 200, override_form: dict | None = None):
    svc = current_services()
    now = svc.now()
    engineers = all_engineers(session)
    return render_template(
        "admin/oncall.html",
        calendar=_calendar(session, now, svc.settings.support_timezone),
        calendar_days=CALENDAR_DAYS,
        rotations=[_rotation_view(r, now) for r in _rotations(session)],
        engineers=engineers,
        active_engineers=[e for e in engineers if e.active],
        policies=[_policy_view(p) for p in all_policies(session)],
        override_form=override_form or {},
    ), status
