"""Snapshots: the load file's view of a stored row, as a plain dict in the file's terms (names for
references, enumeration members, sorted sets). The writer compares a row's snapshot with the file's
row to tell created, updated and unchanged rows apart; the audit log records snapshots as before
and after; export writes them; the console and the API build their load-format rows from them.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import time
from typing import Any

from casestore.interchange.fields import fmt_time
from casestore.models import (
    Advisor,
    Case,
    Contact,
    District,
    Engineer,
    EscalationPolicy,
    EscalationStep,
    Rotation,
    Team,
)
from casestore.types import CaseStatus, HandoffKind, Priority, ProductArea, RotationLayer, TeamKind, Weekday


def fmt_range(opens: time, closes: time) -> str:
    return f"{fmt_time(opens)}-{fmt_time(closes)}"


def skill_order(skill: ProductArea) -> int:
    return list(ProductArea).index(skill)


def team_snap(t: Team) -> dict[str, Any]:
    return {"name": t.name, "kind": TeamKind(t.kind), "route_order": t.route_order}


def contact_language(stored: str | None) -> str:
    """A contact's language as loaded and exported: "es" or "en" (never chosen is English)."""
    return "es" if stored == "es" else "en"


def district_snap(d: District) -> dict[str, Any]:
    return {
        "name": d.name,
        "state": d.state,
        "hosted": bool(d.hosted),
        "team": d.team.name if d.team else None,
        "active": bool(d.active),
    }


def contact_snap(c: Contact) -> dict[str, Any]:
    return {
        "contact_id": c.contact_id,
        "district": c.district.name,
        "name": c.name,
        "email": c.email,
        "phones": [p.e164 for p in sorted(c.phones, key=lambda p: p.position)],
        "language": contact_language(c.language),
        "active": bool(c.active),
    }


def advisor_snap(a: Advisor) -> dict[str, Any]:
    return {
        "name": a.name,
        "reach": a.reach,
        "team": a.team.name if a.team else None,
        "skills": sorted(a.skills, key=skill_order),
        "active": bool(a.active),
    }


def engineer_snap(e: Engineer) -> dict[str, Any]:
    return {"name": e.name, "phone": e.phone, "sms": bool(e.sms), "active": bool(e.active)}


def case_snap(c: Case) -> dict[str, Any]:
    return {
        "number": c.number,
        "district": c.district.name,
        "contact": c.contact.contact_id if c.contact else None,
        "product_area": ProductArea(c.product_area),
        "priority": Priority(c.priority),
        "status": CaseStatus(c.status),
        "owner": c.owner.name if c.owner else None,
        "summary": c.summary or "",
        "is_outage": bool(c.is_outage),
        "release_name": c.release_name,
        "created_at": c.created_at,
        "updated_at": c.updated_at,
        "closed_at": c.closed_at,
        "reopen_count": c.reopen_count or 0,
    }


def override_key(o: Mapping[str, Any]) -> tuple[Any, ...]:
    return (o["starts_at"], o["ends_at"], o["engineer"])


def rotation_snap(r: Rotation) -> dict[str, Any]:
    return {
        "name": r.name,
        "layer": RotationLayer(r.layer),
        "timezone": r.timezone,
        "handoff": HandoffKind(r.handoff),
        "handoff_time": fmt_time(r.handoff_time),
        "handoff_weekday": Weekday(r.handoff_weekday) if r.handoff_weekday else None,
        "start_date": r.start_date,
        "members": [m.engineer.name for m in sorted(r.members, key=lambda m: m.position)],
        "overrides": sorted(
            ({"engineer": o.engineer.name, "starts_at": o.starts_at, "ends_at": o.ends_at} for o in r.overrides),
            key=override_key,
        ),
    }


def layer_order(layer: str) -> tuple[int, str]:
    values = [m.value for m in RotationLayer]
    return (values.index(layer), layer) if layer in values else (len(values), layer)


def step_layers(text: str) -> list[str]:
    """`EscalationStep.layers` ("primary,secondary") as the file's list, in the enumeration's order."""
    return sorted({part.strip() for part in (text or "").split(",") if part.strip()}, key=layer_order)


def escalation_step_snap(s: EscalationStep) -> dict[str, Any]:
    return {
        "layers": step_layers(s.layers),
        "engineers": sorted(e.name for e in s.engineers),
        "delay_minutes": s.delay_minutes,
    }


def escalation_policy_snap(p: EscalationPolicy) -> dict[str, Any]:
    return {
        "name": p.name,
        "default": bool(p.is_default),
        "repeats": p.repeats,
        "manager": p.manager.name if p.manager else None,
        "steps": [escalation_step_snap(s) for s in sorted(p.steps, key=lambda s: s.position)],
    }
