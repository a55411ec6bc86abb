"""Validation of a whole document: every row's shape (via `validate_row`), then the checks across
rows and against the database (duplicates, unknown references, closed cases without `closed_at`,
overlapping hours, a PIN without a pepper, ...). The result is a `Plan`: the validated rows and
the existing rows they touch, ready for the writer.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date
from itertools import pairwise
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

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
from casestore.types import NEW_PIN_DIGITS, CaseStatus, HandoffKind, ProductArea, RotationLayer, Weekday

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


def _raw_names(raws: Sequence[Any], key: str) -> set[str]:
    """Keys of rows that failed validation: references to them are not reported as unknown too."""
    names = set()
    for raw in raws:
        if isinstance(raw, dict) and key in raw:
            value = raw[key]
            if isinstance(value, str):
                names.add(value.strip())
            elif isinstance(value, int) and not isinstance(value, bool):
                names.add(str(value))
    return names


def validate(
    session: Session, doc: Any, problems: ProblemCollector, *, hash_pin: PinHasher | None, region: str
) -> Plan:
    """Check the whole document, in this order (the order problems are reported in): its shape,
    every row, duplicates inside the file, then each section's references and rules."""
    plan = Plan()
    if not _check_document(doc, problems):
        return plan
    raws = _validate_rows(doc, plan, problems, region)
    _check_duplicates(plan, problems)
    _load_existing(session, plan)
    known = _Known.of(plan, raws)
    _check_team_refs(plan, known, problems)
    _check_contacts(plan, known, problems, hash_pin)
    _check_advisor_skills(plan, problems)
    _check_cases(plan, known, problems)
    _check_hours(plan, problems)
    _check_closures(plan, problems)
    _check_rotations(plan, known, problems)
    _check_default_policy(session, plan, raws, problems)
    _check_escalation_policies(plan, known, problems)
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


_NATURAL_KEYS = (
    ("teams", "name", "team name"),
    ("districts", "name", "district name"),
    ("contacts", "contact_id", "contact ID"),
    ("advisors", "name", "advisor name"),
    ("engineers", "name", "engineer name"),
    ("cases", "number", "case number"),
    ("rotations", "name", "rotation name"),
    ("escalation_policies", "name", "policy name"),
)


def _check_duplicates(plan: Plan, problems: ProblemCollector) -> None:
    """Duplicate natural keys inside the file."""
    for section, key_field, label in _NATURAL_KEYS:
        first: dict[Any, int] = {}
        for index, row in plan.rows_of(section):
            key = getattr(row, key_field)
            if key in first:
                earlier = problems.where((section, first[key], key_field))
                problems.add((section, index, key_field), f"duplicate {label} {key!r}; already at {earlier}")
            else:
                first[key] = index


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


@dataclass
class _Known:
    """The names a reference may use: defined in the file (even by a row that failed validation)
    or already in the database."""

    teams: set[str]
    districts: set[str]
    contacts: set[str]
    advisors: set[str]
    engineers: set[str]
    file_contacts: dict[str, ContactRow]

    @classmethod
    def of(cls, plan: Plan, raws: dict[str, list[Any]]) -> _Known:
        file_contacts = plan.file_contacts()
        return cls(
            teams=plan.file_keys("teams") | set(plan.teams) | _raw_names(raws.get("teams", []), "name"),
            districts=plan.file_keys("districts") | set(plan.districts) | _raw_names(raws.get("districts", []), "name"),
            contacts=set(file_contacts) | set(plan.contacts) | _raw_names(raws.get("contacts", []), "contact_id"),
            advisors=plan.file_keys("advisors") | set(plan.advisors) | _raw_names(raws.get("advisors", []), "name"),
            engineers=plan.file_keys("engineers") | set(plan.engineers) | _raw_names(raws.get("engineers", []), "name"),
            file_contacts=file_contacts,
        )

    def contact_district(self, plan: Plan, contact_id: str) -> str | None:
        """The district a contact belongs to: as the file says, else as the database says."""
        if contact_id in self.file_contacts:
            return self.file_contacts[contact_id].district
        existing = plan.contacts.get(contact_id)
        return existing.district.name if existing is not None else None


def _check_team_refs(plan: Plan, known: _Known, problems: ProblemCollector) -> None:
    for section in ("districts", "advisors"):
        for index, row in plan.rows_of(section):
            if row.team and row.team not in known.teams:
                problems.add((section, index, "team"), f"unknown team {row.team!r}")


def _check_contacts(plan: Plan, known: _Known, problems: ProblemCollector, hash_pin: PinHasher | None) -> None:
    """A known district, no number twice, and a PIN that can be hashed (into `plan.pin_hashes`)."""
    for index, row in plan.rows_of("contacts"):
        if row.district not in known.districts:
            problems.add(("contacts", index, "district"), f"unknown district {row.district!r}")
        first: dict[str, int] = {}
        for p_index, number in enumerate(row.phones):
            if number in first:
                problems.add(
                    ("contacts", index, "phones", p_index), f"same number as phones[{first[number]}] ({number})"
                )
            else:
                first[number] = p_index
        if row.pin is not None:
            if hash_pin is None:
                problems.add(
                    ("contacts", index, "pin"), "a PIN is given but no PIN pepper is configured, so it cannot be stored"
                )
            else:
                try:
                    plan.pin_hashes[row.contact_id] = hash_pin(row.contact_id, row.pin)
                except (ValueError, TypeError) as exc:
                    problems.add(("contacts", index, "pin"), f"the PIN cannot be hashed: {exc}")
            if len(row.pin) < NEW_PIN_DIGITS:
                problems.warn(
                    ("contacts", index, "pin"),
                    f"a {len(row.pin)}-digit PIN; new PINs should have {NEW_PIN_DIGITS} or more digits",
                )


def _check_advisor_skills(plan: Plan, problems: ProblemCollector) -> None:
    for index, row in plan.rows_of("advisors"):
        first_skill: dict[ProductArea, int] = {}
        for s_index, skill in enumerate(row.skills):
            if skill in first_skill:
                problems.add(("advisors", index, "skills", s_index), f"duplicate skill {skill.value!r}")
            else:
                first_skill[skill] = s_index


def _check_cases(plan: Plan, known: _Known, problems: ProblemCollector) -> None:
    """Known district, contact (of that district) and owner; `closed_at` exactly when closed; no
    instant before `created_at`."""
    for index, row in plan.rows_of("cases"):
        loc = ("cases", index)
        if row.district not in known.districts:
            problems.add(loc + ("district",), f"unknown district {row.district!r}")
        if row.contact:
            if row.contact not in known.contacts:
                problems.add(loc + ("contact",), f"unknown contact {row.contact!r}")
            else:
                owner_district = known.contact_district(plan, row.contact)
                if owner_district is not None and owner_district != row.district:
                    problems.add(
                        loc + ("contact",),
                        f"contact {row.contact!r} belongs to {owner_district!r}, not {row.district!r}",
                    )
        if row.owner and row.owner not in known.advisors:
            problems.add(loc + ("owner",), f"unknown advisor {row.owner!r}")
        if row.status is CaseStatus.CLOSED and row.closed_at is None:
            problems.add(loc + ("closed_at",), "a closed case needs closed_at")
        if row.status is not CaseStatus.CLOSED and row.closed_at is not None:
            problems.add(loc + ("closed_at",), f"only a closed case has closed_at (status is {row.status.value})")
        if row.closed_at is not None and row.closed_at < row.created_at:
            problems.add(loc + ("closed_at",), "closed_at is before created_at")
        if row.updated_at is not None and row.updated_at < row.created_at:
            problems.add(loc + ("updated_at",), "updated_at is before created_at")


def _check_hours(plan: Plan, problems: ProblemCollector) -> None:
    """No two opening ranges of one day overlap."""
    if plan.hours is None:
        return
    for day in Weekday:
        ranges = getattr(plan.hours, day.value) or []
        ordered = sorted(enumerate(ranges), key=lambda ir: ir[1])
        for (_, (_, prev_close)), (r_index, (opens, _)) in pairwise(ordered):
            if opens < prev_close:
                problems.add(("hours", day.value, r_index), "overlaps another range of the same day")


def _check_closures(plan: Plan, problems: ProblemCollector) -> None:
    """No closure date twice."""
    if plan.holidays is None or not plan.holidays.closures:
        return
    first_day: dict[date, int] = {}
    for c_index, closure in enumerate(plan.holidays.closures):
        if closure.date in first_day:
            earlier = problems.where(("holidays", "closures", first_day[closure.date], "date"))
            problems.add(
                ("holidays", "closures", c_index, "date"),
                f"duplicate closure date {closure.date.isoformat()}; already at {earlier}",
            )
        else:
            first_day[closure.date] = c_index


def _check_rotations(plan: Plan, known: _Known, problems: ProblemCollector) -> None:
    """`handoff_weekday` exactly for weekly handoffs; members and overrides are engineers; an
    override ends after it starts."""
    for index, row in plan.rows_of("rotations"):
        loc = ("rotations", index)
        if row.handoff is HandoffKind.WEEKLY and row.handoff_weekday is None:
            problems.add(loc + ("handoff_weekday",), "a weekly handoff needs handoff_weekday")
        if row.handoff is HandoffKind.DAILY and row.handoff_weekday is not None:
            problems.add(loc + ("handoff_weekday",), "handoff_weekday is only for weekly handoffs")
        for m_index, member in enumerate(row.members):
            if member not in known.engineers:
                problems.add(loc + ("members", m_index), f"{member!r} is not an engineer")
        for o_index, override in enumerate(row.overrides):
            if override.engineer not in known.engineers:
                problems.add(loc + ("overrides", o_index, "engineer"), f"{override.engineer!r} is not an engineer")
            if override.ends_at <= override.starts_at:
                problems.add(loc + ("overrides", o_index, "ends_at"), "ends_at must be after starts_at")


def _check_default_policy(session: Session, plan: Plan, raws: dict[str, list[Any]], problems: ProblemCollector) -> None:
    """At most one default escalation policy, counting defaults already in the database on
    policies the file does not mention."""
    defaults = [(index, row) for index, row in plan.rows_of("escalation_policies") if row.default]
    if not defaults:
        return
    mentioned = plan.file_keys("escalation_policies")
    mentioned |= _raw_names(raws.get("escalation_policies", []), "name")
    stored_defaults = session.scalars(
        select(EscalationPolicy.name).where(EscalationPolicy.is_default.is_(True)).order_by(EscalationPolicy.name)
    ).all()
    first_index, first_row = defaults[0]
    for name in stored_defaults:
        if name not in mentioned:
            problems.add(
                ("escalation_policies", first_index, "default"),
                f"only one policy may be the default, and {name!r} already is in the database "
                f"(list it in this file with default: false to move the default)",
            )
            break
    earlier = problems.where(("escalation_policies", first_index, "default"))
    for index, _row in defaults[1:]:
        problems.add(
            ("escalation_policies", index, "default"),
            f"only one policy may be the default; {first_row.name!r} already is, at {earlier}",
        )


def _check_escalation_policies(plan: Plan, known: _Known, problems: ProblemCollector) -> None:
    """A known manager, at least one step, and every step with a target: layers and engineers
    (known ones) without duplicates."""
    for index, row in plan.rows_of("escalation_policies"):
        loc = ("escalation_policies", index)
        if row.manager and row.manager not in known.engineers:
            problems.add(loc + ("manager",), f"{row.manager!r} is not an engineer")
        if not row.steps:
            problems.add(loc + ("steps",), "a policy needs at least one step")
        for s_index, step in enumerate(row.steps):
            step_loc = loc + ("steps", s_index)
            if not step.layers and not step.engineers:
                problems.add(step_loc, "a step needs at least one layer or engineer")
            first_layer: dict[RotationLayer, int] = {}
            for l_index, layer in enumerate(step.layers):
                if layer in first_layer:
                    problems.add(step_loc + ("layers", l_index), f"duplicate layer {layer.value!r}")
                else:
                    first_layer[layer] = l_index
            first_engineer: dict[str, int] = {}
            for e_index, name in enumerate(step.engineers):
                if name not in known.engineers:
                    problems.add(step_loc + ("engineers", e_index), f"{name!r} is not an engineer")
                elif name in first_engineer:
                    problems.add(step_loc + ("engineers", e_index), f"duplicate engineer {name!r}")
                else:
                    first_engineer[name] = e_index
