"""The on-call edit forms (overrides, rotations, escalation policies) and the load format: a posted
form read into a load-format row, a saved row as the form's starting values, the forms rendered
with their choices, and the load format's problems put in the forms' terms ("step 2, ..."). A
rename is its own audited change, made before the row is written (the load format keys these rows
by name). Override times are entered as local wall-clock times in the rotation's zone and read as
instants (`routing.oncall.local_to_utc`: a time skipped by a spring-forward change means the first
instant after the gap, a repeated fall-back time its first occurrence).
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from flask import render_template
from sqlalchemy import select

from casestore import audit
from casestore.interchange.snapshots import rotation_snap
from casestore.models import Rotation
from casestore.types import HandoffKind, Weekday
from console import actor
from console.calendar import DAY_NAMES
from console.oncall_overview import LAYERS
from routing.oncall import local_to_utc
from webhooks.services import current_services

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


def rename(session, model: Any, obj: Any, new_name: str, entity: str, label: str, max_len: int) -> list[str] | None:
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


def nicer_problems(problems: list[str]) -> list[str]:
    """ "steps[1].delay_minutes: ..." -> "step 2, delay_minutes: ..."; "members[0]: ..." -> "member 1: ..."."""
    out = []
    for problem in problems:
        match = _ITEM_PATH.match(problem)
        if match:
            where = f"{match[1][:-1]} {int(match[2]) + 1}" + (f", {match[3]}" if match[3] else "")
            problem = f"{where}: {problem[match.end() :]}"
        out.append(problem)
    return out


def local_instant(text: str, tz: ZoneInfo, field: str) -> tuple[datetime | None, str | None]:
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


# --------------------------------------------------------------------------------------------
# Rotations
# --------------------------------------------------------------------------------------------


def rotation_form(form, existing: Rotation | None) -> dict:
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


def rotation_defaults(rot: Rotation | None, support_tz: str) -> dict:
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


def render_rotation_form(rotation, row, engineers, status=200):
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


# --------------------------------------------------------------------------------------------
# Escalation policies
# --------------------------------------------------------------------------------------------


def _whole_number(text: str) -> Any:
    """A form number as an int when it is one; otherwise the text, for the load format to reject."""
    text = text.strip()
    return int(text) if re.fullmatch(r"-?[0-9]{1,6}", text) else text


def policy_form(form) -> dict:
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


def render_policy_form(policy, row, engineers, status=200):
    return render_template(
        "admin/oncall_policy_form.html",
        policy=policy,
        row=row,
        engineers=engineers,
        layers=LAYERS,
        slots=len(row["steps"]) + EXTRA_SLOTS,
    ), status
