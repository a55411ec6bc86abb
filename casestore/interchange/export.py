"""Export: `export_document` reads everything the load format holds from the database and returns
it in that format (sorted by natural key, no PINs), ready for `dump`.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from casestore.interchange.rows import FORMAT_VERSION
from casestore.interchange.writer import (
    advisor_snap,
    case_snap,
    contact_snap,
    district_snap,
    engineer_snap,
    escalation_policy_snap,
    fmt_range,
    rotation_snap,
    team_snap,
)
from casestore.models import (
    Advisor,
    BusinessHours,
    Case,
    Closure,
    Contact,
    District,
    Engineer,
    EscalationPolicy,
    EscalationStep,
    HolidayRule,
    Rotation,
    RotationMember,
    RotationOverride,
    Team,
)
from casestore.types import (
    HOLIDAY_RULES,
    CaseStatus,
    HandoffKind,
    Priority,
    ProductArea,
    RotationLayer,
    TeamKind,
    Weekday,
)


def _contact_sort_key(contact_id: str) -> tuple[int, str]:
    return (len(contact_id), contact_id)


def export_document(session: Session) -> dict[str, Any]:
    """Everything the load format holds, in that format, sorted by natural key. No PINs.

    Datetimes are aware UTC `datetime`s, dates `date`s, times "HH:MM" text; `dump()` writes them.
    """
    teams = session.scalars(select(Team).order_by(Team.name)).all()
    districts = session.scalars(select(District).options(selectinload(District.team)).order_by(District.name)).all()
    contacts = session.scalars(
        select(Contact).options(selectinload(Contact.phones), selectinload(Contact.district))
    ).all()
    advisors = session.scalars(
        select(Advisor).options(selectinload(Advisor.team), selectinload(Advisor.skill_rows)).order_by(Advisor.name)
    ).all()
    engineers = session.scalars(select(Engineer).order_by(Engineer.name)).all()
    cases = session.scalars(
        select(Case)
        .options(selectinload(Case.district), selectinload(Case.contact), selectinload(Case.owner))
        .order_by(Case.number)
    ).all()
    hours = session.scalars(select(BusinessHours)).all()
    rules = session.scalars(select(HolidayRule)).all()
    closures = session.scalars(select(Closure).order_by(Closure.day)).all()
    rotations = session.scalars(
        select(Rotation)
        .options(
            selectinload(Rotation.members).selectinload(RotationMember.engineer),
            selectinload(Rotation.overrides).selectinload(RotationOverride.engineer),
        )
        .order_by(Rotation.name)
    ).all()
    policies = session.scalars(
        select(EscalationPolicy)
        .options(
            selectinload(EscalationPolicy.manager),
            selectinload(EscalationPolicy.steps).selectinload(EscalationStep.engineers),
        )
        .order_by(EscalationPolicy.name)
    ).all()

    def plain(snap: dict[str, Any]) -> dict[str, Any]:
        out = {}
        for key, value in snap.items():
            if isinstance(value, (TeamKind, ProductArea, Priority, CaseStatus, RotationLayer, HandoffKind, Weekday)):
                value = value.value
            elif isinstance(value, list):
                value = [v.value if isinstance(v, ProductArea) else v for v in value]
            out[key] = value
        return out

    by_day: dict[Weekday, list[BusinessHours]] = {}
    for bh in hours:
        by_day.setdefault(Weekday(bh.weekday), []).append(bh)
    rule_order = {key: i for i, key in enumerate(HOLIDAY_RULES)}
    observed = sorted((r.key for r in rules if r.active), key=lambda k: (rule_order.get(k, len(rule_order)), k))
    return {
        "version": FORMAT_VERSION,
        "teams": [plain(team_snap(t)) for t in teams],
        "districts": [plain(district_snap(d)) for d in districts],
        "contacts": [
            plain(contact_snap(c)) for c in sorted(contacts, key=lambda c: _contact_sort_key(c.contact_id))
        ],
        "advisors": [plain(advisor_snap(a)) for a in advisors],
        "engineers": [plain(engineer_snap(e)) for e in engineers],
        "cases": [plain(case_snap(c)) for c in cases],
        "hours": {
            day.value: [fmt_range(b.opens, b.closes) for b in sorted(by_day[day], key=lambda b: b.opens)]
            for day in Weekday
            if day in by_day
        },
        "holidays": {
            "observe": observed,
            "closures": [{"date": c.day, "name": c.name} for c in closures],
        },
        "rotations": [plain(rotation_snap(r)) for r in rotations],
        "escalation_policies": [plain(escalation_policy_snap(p)) for p in policies],
    }
