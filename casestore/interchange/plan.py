"""Validation of a whole document: the top level, then every row's shape (via `validate_row`), then
the checks across rows and against the database (`checks`), with the existing rows the document
names read in between. The result is a `Plan`: the validated rows and the existing rows they
touch, ready for the writer.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from casestore.interchange.checks import (
    Known,
    check_advisor_skills,
    check_cases,
    check_closures,
    check_contacts,
    check_default_policy,
    check_duplicates,
    check_escalation_policies,
    check_hours,
    check_rotations,
    check_team_refs,
)
from casestore.interchange.problems import ProblemCollector, describe, shorten
from casestore.interchange.rows import (
    FORMAT_VERSION,
    LIST_SECTIONS,
    ROW_MODELS,
    SECTIONS,
    ContactRow,
    HolidaysDoc,
    HoursDoc,
    validate_row,
)
from casestore.models import (
    Advisor,
    Case,
    Closure,
    Contact,
    District,
    Engineer,
    EscalationPolicy,
    EscalationStep,
    Rotation,
    RotationMember,
    RotationOverride,
    Team,
)

_IN_CHUNK = 500  # bound parameters per IN (...) query (old SQLite builds allow 999)

PinHasher = Callable[[str, str], str]


@dataclass
class Plan:
    """The validated document, ready to write, and the existing rows it touches."""

    sections: set[str] = field(default_factory=set)
    rows: dict[str, list[tuple[int, Any]]] = field(default_factory=dict)
    hours: HoursDoc | None = None
    holidays: HolidaysDoc | None = None
    pin_hashes: dict[str, str] = field(default_factory=dict)  # contact_id -> new hash
    teams: dict[str, Team] = field(default_factory=dict)
    districts: dict[str, District] = field(default_factory=dict)
    contacts: dict[str, Contact] = field(default_factory=dict)
    advisors: dict[str, Advisor] = field(default_factory=dict)
    engineers: dict[str, Engineer] = field(default_factory=dict)
    cases: dict[int, Case] = field(default_factory=dict)
    rotations: dict[str, Rotation] = field(default_factory=dict)
    escalation_policies: dict[str, EscalationPolicy] = field(default_factory=dict)
    closures: dict[date, Closure] = field(default_factory=dict)

    def rows_of(self, section: str) -> list[tuple[int, Any]]:
        return self.rows.get(section, [])

    def file_keys(self, section: str) -> set[str]:
        """The names the file's valid rows of `section` define."""
        return {r.name for _, r in self.rows_of(section)}

    def file_contacts(self) -> dict[str, ContactRow]:
        """The file's contacts by contact ID; of duplicates (reported elsewhere) the first counts."""
        contacts: dict[str, ContactRow] = {}
        for _, row in self.rows_of("contacts"):
            contacts.setdefault(row.contact_id, row)
        return contacts


def _fetch(session: Session, model: Any, column: Any, keys: Iterable[Any], *options: Any) -> list[Any]:
    keys = sorted(set(keys), key=repr)
    found: list[Any] = []
    for start in range(0, len(keys), _IN_CHUNK):
        chunk = keys[start : start + _IN_CHUNK]
        found += session.scalars(select(model).where(column.in_(chunk)).options(*options)).all()
    return found


def validate(
    session: Session, doc: Any, problems: ProblemCollector, *, hash_pin: PinHasher | None, region: str
) -> Plan:
    """Check the whole document, in this order (the order problems are reported in): its shape,
    every row, duplicates inside the file, then each section's references and rules."""
    plan = Plan()
    if not _check_document(doc, problems):
        return plan
    raws = _validate_rows(doc, plan, problems, region)
    check_duplicates(plan, problems)
    _load_existing(session, plan)
    known = Known.of(plan, raws)
    check_team_refs(plan, known, problems)
    check_contacts(plan, known, problems, hash_pin)
    check_advisor_skills(plan, problems)
    check_cases(plan, known, problems)
    check_hours(plan, problems)
    check_closures(plan, problems)
    check_rotations(plan, known, problems)
    check_default_policy(session, plan, raws, problems)
    check_escalation_policies(plan, known, problems)
    return plan


def _check_document(doc: Any, problems: ProblemCollector) -> bool:
    """The top level: a mapping of known sections, of a version this loader reads. False: there is
    nothing to validate further (empty, or not a mapping)."""
    if doc is None:
        problems.add((), "the document is empty")
        return False
    if not isinstance(doc, dict):
        problems.add((), f"expected a mapping of sections ({', '.join(SECTIONS)}), got {describe(doc)}")
        return False
    for key in doc:
        if key not in SECTIONS:
            problems.add((str(key),), f"unknown section {str(key)!r} (allowed: {', '.join(SECTIONS)})")
    version = doc.get("version")
    if version is not None and (type(version) is not int or version != FORMAT_VERSION):
        problems.add(
            ("version",), f"unsupported version {shorten(version)}; this loader reads version {FORMAT_VERSION}"
        )
    return True


def _validate_rows(doc: dict[Any, Any], plan: Plan, problems: ProblemCollector, region: str) -> dict[str, list[Any]]:
    """Every row's shape (`validate_row`) into `plan.rows`, `plan.hours`, `plan.holidays`; returns
    the raw lists by section (the keys of rows that failed are still known names)."""
    raws: dict[str, list[Any]] = {}
    for section in LIST_SECTIONS:
        raw = doc.get(section)
        if raw is None:
            continue
        plan.sections.add(section)
        if not isinstance(raw, list):
            problems.add((section,), f"expected a list of {section}, got {describe(raw)}")
            continue
        raws[section] = raw
        model = ROW_MODELS[section]
        rows = plan.rows.setdefault(section, [])
        for index, item in enumerate(raw):
            row = validate_row(model, item, (section, index), problems, region)
            if row is not None:
                rows.append((index, row))
    for section, model in (("hours", HoursDoc), ("holidays", HolidaysDoc)):
        raw = doc.get(section)
        if raw is None:
            continue
        plan.sections.add(section)
        validated = validate_row(model, raw, (section,), problems, region)
        setattr(plan, section, validated)
    return raws


def _load_existing(session: Session, plan: Plan) -> None:
    """Existing rows (every name the file defines or refers to), for references and the upsert."""
    _load_directory(session, plan)
    _load_engineers(session, plan)
    _load_cases(session, plan)
    _load_oncall(session, plan)
    if plan.holidays is not None and plan.holidays.closures:
        days = {c.date for c in plan.holidays.closures}
        plan.closures = {c.day: c for c in _fetch(session, Closure, Closure.day, days)}


def _load_directory(session: Session, plan: Plan) -> None:
    """Teams, districts, contacts and advisors."""
    rows_of = plan.rows_of
    team_refs = {r.team for _, r in rows_of("districts") + rows_of("advisors") if r.team}
    plan.teams = {t.name: t for t in _fetch(session, Team, Team.name, plan.file_keys("teams") | team_refs)}
    district_refs = {r.district for _, r in rows_of("contacts") + rows_of("cases")}
    plan.districts = {
        d.name: d
        for d in _fetch(
            session, District, District.name, plan.file_keys("districts") | district_refs, selectinload(District.team)
        )
    }
    contact_refs = {r.contact for _, r in rows_of("cases") if r.contact}
    plan.contacts = {
        c.contact_id: c
        for c in _fetch(
            session,
            Contact,
            Contact.contact_id,
            set(plan.file_contacts()) | contact_refs,
            selectinload(Contact.phones),
            selectinload(Contact.district),
        )
    }
    owner_refs = {r.owner for _, r in rows_of("cases") if r.owner}
    plan.advisors = {
        a.name: a
        for a in _fetch(
            session,
            Advisor,
            Advisor.name,
            plan.file_keys("advisors") | owner_refs,
            selectinload(Advisor.team),
            selectinload(Advisor.skill_rows),
        )
    }


def _load_engineers(session: Session, plan: Plan) -> None:
    """Engineers: those the file lists, and every rotation member, override, manager and step target."""
    rows_of = plan.rows_of
    engineer_refs = {m for _, r in rows_of("rotations") for m in r.members}
    engineer_refs |= {o.engineer for _, r in rows_of("rotations") for o in r.overrides}
    engineer_refs |= {r.manager for _, r in rows_of("escalation_policies") if r.manager}
    engineer_refs |= {e for _, r in rows_of("escalation_policies") for s in r.steps for e in s.engineers}
    plan.engineers = {
        e.name: e for e in _fetch(session, Engineer, Engineer.name, plan.file_keys("engineers") | engineer_refs)
    }


def _load_cases(session: Session, plan: Plan) -> None:
    plan.cases = {
        c.number: c
        for c in _fetch(
            session,
            Case,
            Case.number,
            {r.number for _, r in plan.rows_of("cases")},
            selectinload(Case.district),
            selectinload(Case.contact),
            selectinload(Case.owner),
        )
    }


def _load_oncall(session: Session, plan: Plan) -> None:
    """Rotations and escalation policies, with their members, overrides and steps."""
    plan.rotations = {
        r.name: r
        for r in _fetch(
            session,
            Rotation,
            Rotation.name,
            plan.file_keys("rotations"),
            selectinload(Rotation.members).selectinload(RotationMember.engineer),
            selectinload(Rotation.overrides).selectinload(RotationOverride.engineer),
        )
    }
    plan.escalation_policies = {
        p.name: p
        for p in _fetch(
            session,
            EscalationPolicy,
            EscalationPolicy.name,
            plan.file_keys("escalation_policies"),
            selectinload(EscalationPolicy.manager),
            selectinload(EscalationPolicy.steps).selectinload(EscalationStep.engineers),
        )
    }
