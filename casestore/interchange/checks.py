"""The checks of a document across rows and against the database, run by `plan.validate` once
every row has its shape: duplicate natural keys inside the file, unknown references (a name is
known when the file defines it, even in a row that failed validation, or the database has it),
closed cases without `closed_at`, overlapping hours, a PIN without a pepper, a second default
escalation policy, ... Each check adds its problems to the collector and writes nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from itertools import pairwise
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from casestore.interchange.problems import ProblemCollector
from casestore.interchange.rows import ContactRow
from casestore.models import EscalationPolicy
from casestore.types import NEW_PIN_DIGITS, CaseStatus, HandoffKind, ProductArea, RotationLayer, Weekday

if TYPE_CHECKING:
    from casestore.interchange.plan import PinHasher, Plan


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


def check_duplicates(plan: Plan, problems: ProblemCollector) -> None:
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


@dataclass
class Known:
    """The names a reference may use: defined in the file (even by a row that failed validation)
    or already in the database."""

    teams: set[str]
    districts: set[str]
    contacts: set[str]
    advisors: set[str]
    engineers: set[str]
    file_contacts: dict[str, ContactRow]

    @classmethod
    def of(cls, plan: Plan, raws: dict[str, list[Any]]) -> Known:
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


def check_team_refs(plan: Plan, known: Known, problems: ProblemCollector) -> None:
    for section in ("districts", "advisors"):
        for index, row in plan.rows_of(section):
            if row.team and row.team not in known.teams:
                problems.add((section, index, "team"), f"unknown team {row.team!r}")


def check_contacts(plan: Plan, known: Known, problems: ProblemCollector, hash_pin: PinHasher | None) -> None:
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


def check_advisor_skills(plan: Plan, problems: ProblemCollector) -> None:
    for index, row in plan.rows_of("advisors"):
        first_skill: dict[ProductArea, int] = {}
        for s_index, skill in enumerate(row.skills):
            if skill in first_skill:
                problems.add(("advisors", index, "skills", s_index), f"duplicate skill {skill.value!r}")
            else:
                first_skill[skill] = s_index


def check_cases(plan: Plan, known: Known, problems: ProblemCollector) -> None:
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


def check_hours(plan: Plan, problems: ProblemCollector) -> None:
    """No two opening ranges of one day overlap."""
    if plan.hours is None:
        return
    for day in Weekday:
        ranges = getattr(plan.hours, day.value) or []
        ordered = sorted(enumerate(ranges), key=lambda ir: ir[1])
        for (_, (_, prev_close)), (r_index, (opens, _)) in pairwise(ordered):
            if opens < prev_close:
                problems.add(("hours", day.value, r_index), "overlaps another range of the same day")


def check_closures(plan: Plan, problems: ProblemCollector) -> None:
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


def check_rotations(plan: Plan, known: Known, problems: ProblemCollector) -> None:
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


def check_default_policy(session: Session, plan: Plan, raws: dict[str, list[Any]], problems: ProblemCollector) -> None:
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


def check_escalation_policies(plan: Plan, known: Known, problems: ProblemCollector) -> None:
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
