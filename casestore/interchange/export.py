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
    return {
        "version": FORMAT_VERSION,
        "teams": _teams(session),
        "districts": _districts(session),
        "contacts": _contacts(session),
        "advisors": _advisors(session),
        "engineers": _engineers(session),
        "cases": _cases(session),
        "hours": _hours(session),
        "holidays": _holidays(session),
        "rotations": _rotations(session),
        "escalation_policies": _escalation_policies(session),
    }


def _plain(snap: dict[str, Any]) -> dict[str, Any]:
    """A row snapshot with its enums as their values (a list of product areas too)."""
    out = {}
    for key, value in snap.items():
        if isinstance(value, (TeamKind, ProductArea, Priority, CaseStatus, RotationLayer, HandoffKind, Weekday)):
            value = value.value
        elif isinstance(value, list):
            value = [v.value if isinstance(v, ProductArea) else v for v in value]
        out[key] = value
    return out


def _teams(session: Session) -> list[dict[str, Any]]:
    teams = session.scalars(select(Team).order_by(Team.name)).all()
    return [_plain(team_snap(t)) for t in teams]


def _districts(session: Session) -> list[dict[str, Any]]:
    districts = session.scalars(select(District).options(selectinload(District.team)).order_by(District.name)).all()
    return [_plain(district_snap(d)) for d in districts]


def _contacts(session: Session) -> list[dict[str, Any]]:
    contacts = session.scalars(
        select(Contact).options(selectinload(Contact.phones), selectinload(Contact.district))
    ).all()
    return [_plain(contact_snap(c)) for c in sorted(contacts, key=lambda c: _contact_sort_key(c.contact_id))]


def _advisors(session: Session) -> list[dict[str, Any]]:
    advisors = session.scalars(
        select(Advisor).options(selectinload(Advisor.team), selectinload(Advisor.skill_rows)).order_by(Advisor.name)
    ).all()
    return [_plain(advisor_snap(a)) for a in advisors]


def _engineers(session: Session) -> list[dict[str, Any]]:
    engineers = session.scalars(select(Engineer).order_by(Engineer.name)).all()
    return [_plain(engineer_snap(e)) for e in engineers]


def _cases(session: Session) -> list[dict[str, Any]]:
    cases = session.scalars(
        select(Case)
        .options(selectinload(Case.district), selectinload(Case.contact), selectinload(Case.owner))
        .order_by(Case.number)
    ).all()
    return [_plain(case_snap(c)) for c in cases]


def _hours(session: Session) -> dict[str, list[str]]:
    """The weekly opening ranges, per weekday, earliest first; days without any are left out."""
    by_day: dict[Weekday, list[BusinessHours]] = {}
    for bh in session.scalars(select(BusinessHours)).all():
        by_day.setdefault(Weekday(bh.weekday), []).append(bh)
    return {
        day.value: [fmt_range(b.opens, b.closes) for b in sorted(by_day[day], key=lambda b: b.opens)]
        for day in Weekday
        if day in by_day
    }


def _holidays(session: Session) -> dict[str, Any]:
    """The observed rules (in `HOLIDAY_RULES` order) and the one-off closures, by date."""
    rules = session.scalars(select(HolidayRule)).all()
    closures = session.scalars(select(Closure).order_by(Closure.day)).all()
    rule_order = {key: i for i, key in enumerate(HOLIDAY_RULES)}
    observed = sorted((r.key for r in rules if r.active), key=lambda k: (rule_order.get(k, len(rule_order)), k))
    return {"observe": observed, "closures": [{"date": c.day, "name": c.name} for c in closures]}


def _rotations(session: Session) -> list[dict[str, Any]]:
    rotations = session.scalars(
        select(Rotation)
        .options(
            selectinload(Rotation.members).selectinload(RotationMember.engineer),
            selectinload(Rotation.overrides).selectinload(RotationOverride.engineer),
        )
        .order_by(Rotation.name)
    ).all()
    return [_plain(rotation_snap(r)) for r in rotations]


def _escalation_policies(session: Session) -> list[dict[str, Any]]:
    policies = session.scalars(
        select(EscalationPolicy)
        .options(
            selectinload(EscalationPolicy.manager),
            selectinload(EscalationPolicy.steps).selectinload(EscalationStep.engineers),
        )
        .order_by(EscalationPolicy.name)
    ).all()
    return [_plain(escalation_policy_snap(p)) for p in policies]
