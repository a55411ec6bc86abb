"""Outage incidents: opened by option 8, acknowledged or resolved by an engineer, with a timeline.

An incident belongs to the district's outage case (one per case); more districts may be linked to
it, and an option-8 caller from a linked district joins it. States: triggered -> acknowledged ->
resolved; `unacknowledged` when the escalation policy ran out (an acknowledgement still counts
after that). Every change is an `IncidentEvent` on the incident's timeline and a `CaseEvent` in
the case's communication log. Functions only flush; their caller commits.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from casestore import audit
from casestore.models import Case, CaseEvent, District, Engineer, Incident, IncidentDistrict, IncidentEvent

OPEN_STATES = ("triggered", "acknowledged", "unacknowledged")
ACKNOWLEDGEABLE = ("triggered", "unacknowledged")


def note(
    session: Session,
    incident: Incident,
    at: datetime,
    kind: str,
    detail: str,
    engineer_pk: int | None = None,
    *,
    call_sid: str | None = None,
    case_log: bool = True,
) -> None:
    """One line on the incident's timeline and (unless `case_log=False`) in the case's log."""
    session.add(IncidentEvent(incident_id=incident.id, at=at, kind=kind, engineer_id=engineer_pk, detail=detail))
    if case_log:
        session.add(
            CaseEvent(
                case_id=incident.case_id,
                at=at,
                kind="incident",
                direction=None,
                call_sid=call_sid,
                outcome=kind,
                detail=f"Incident {incident.id}: {detail}",
            )
        )


def open_incident_for_district(session: Session, district_pk: int) -> Incident | None:
    """The open incident this district's option-8 callers join: its own, or one it is linked to."""
    own = session.scalars(
        select(Incident)
        .where(Incident.district_id == district_pk, Incident.state.in_(OPEN_STATES))
        .order_by(Incident.triggered_at.desc())
    ).first()
    if own is not None:
        return own
    return session.scalars(
        select(Incident)
        .join(IncidentDistrict, IncidentDistrict.incident_id == Incident.id)
        .where(IncidentDistrict.district_id == district_pk, Incident.state.in_(OPEN_STATES))
        .order_by(Incident.triggered_at.desc())
    ).first()


def trigger(
    session: Session, case: Case, district: District, now: datetime, *, policy_name: str | None, sid: str
) -> Incident:
    incident = Incident(case_id=case.id, district_id=district.id, state="triggered", triggered_at=now)
    session.add(incident)
    session.flush()
    note(
        session,
        incident,
        now,
        "triggered",
        f"Outage reported by phone for {district.name}; paging by policy {policy_name or 'default'}.",
        call_sid=sid,
    )
    audit.record(
        session,
        at=now,
        actor=f"ivr:{sid}",
        action="create",
        entity="incident",
        key=incident.id,
        after={"case": case.number, "district": district.name, "state": "triggered"},
    )
    return incident


def joined(session: Session, incident: Incident, district: District, now: datetime, sid: str) -> None:
    note(
        session,
        incident,
        now,
        "caller_joined",
        f"Another caller from {district.name} reported the outage.",
        call_sid=sid,
    )


def acknowledge(session: Session, incident: Incident, engineer: Engineer, now: datetime, via: str) -> bool:
    """True when this acknowledged the incident; False when it was already acknowledged or closed."""
    if incident.state not in ACKNOWLEDGEABLE:
        return False
    incident.state = "acknowledged"
    incident.acknowledged_at = now
    incident.acknowledged_by_id = engineer.id
    note(session, incident, now, "acknowledged", f"Acknowledged by {engineer.name} ({via}).", engineer.id)
    return True


def resolve(session: Session, incident: Incident, engineer: Engineer, now: datetime, via: str) -> bool:
    """True when this resolved the incident (from any open state); False when already resolved."""
    if incident.state == "resolved":
        return False
    if incident.acknowledged_at is None:
        incident.acknowledged_at = now
        incident.acknowledged_by_id = engineer.id
    incident.state = "resolved"
    incident.resolved_at = now
    incident.resolved_by_id = engineer.id
    note(session, incident, now, "resolved", f"Resolved by {engineer.name} ({via}).", engineer.id)
    return True


def link_district(session: Session, incident: Incident, district: District, now: datetime, actor: str) -> bool:
    if district.id == incident.district_id or district in incident.linked_districts:
        return False
    incident.linked_districts.append(district)
    note(session, incident, now, "district_linked", f"{district.name} linked to this incident by {actor}.")
    audit.record(
        session,
        at=now,
        actor=actor,
        action="update",
        entity="incident",
        key=incident.id,
        before={"linked": None},
        after={"linked": district.name},
    )
    return True
