"""Writing a validated `Plan`: the `Writer` upserts every row by natural key, records an audit entry
per created or changed row (its snapshot before and after, `snapshots`), and counts the outcomes in
the `LoadReport`.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, time
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import flag_modified

from casestore import audit
from casestore.interchange.fields import fmt_time
from casestore.interchange.plan import Plan
from casestore.interchange.problems import LoadReport
from casestore.interchange.rows import (
    LIST_SECTIONS,
    AdvisorRow,
    CaseRow,
    ClosureRow,
    ContactRow,
    DistrictRow,
    EngineerRow,
    EscalationPolicyRow,
    HolidaysDoc,
    HoursDoc,
    RotationRow,
    TeamRow,
)
from casestore.interchange.snapshots import (
    advisor_snap,
    case_snap,
    contact_language,
    contact_snap,
    district_snap,
    engineer_snap,
    escalation_policy_snap,
    escalation_step_snap,
    fmt_range,
    layer_order,
    override_key,
    rotation_snap,
    skill_order,
    team_snap,
)
from casestore.models import (
    Advisor,
    AdvisorSkill,
    BusinessHours,
    Case,
    Closure,
    Contact,
    ContactPhone,
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
from casestore.types import HOLIDAY_RULES, Weekday


def _audit_key(key: Any) -> str:
    # audit_log.entity_key is 120 characters; names may be up to 200 (the full name is in `after`).
    text = str(key)
    return text if len(text) <= 120 else text[:119] + "…"


Progress = Callable[[int, int], None]
"""Told (rows written, rows in all) after each row the writer writes: a long load's progress bar."""


class Writer:
    def __init__(
        self,
        session: Session,
        plan: Plan,
        report: LoadReport,
        actor: str,
        now: datetime,
        progress: Progress | None = None,
    ) -> None:
        self.session, self.plan, self.report, self.actor, self.now = session, plan, report, actor, now
        self.progress = progress

    def _upsert(
        self,
        kind: str,
        entity: str,
        key: Any,
        existing: Any,
        desired: dict[str, Any],
        snap: Callable[[Any], dict[str, Any]],
        create: Callable[[], Any],
        apply: Callable[[Any], None],
        extra_before: dict[str, Any] | None = None,
        extra_after: dict[str, Any] | None = None,
    ) -> Any:
        if existing is None:
            obj = create()
            apply(obj)
            self.session.add(obj)
            audit.record(
                self.session,
                at=self.now,
                actor=self.actor,
                action="create",
                entity=entity,
                key=_audit_key(key),
                after={**desired, **(extra_after or {})},
            )
            self.report.count(kind, "created")
            return obj
        before = {**snap(existing), **(extra_before or {})}
        after = {**desired, **(extra_after or {})}
        if before == after:
            self.report.count(kind, "unchanged")
            return existing
        apply(existing)
        audit.record(
            self.session,
            at=self.now,
            actor=self.actor,
            action="update",
            entity=entity,
            key=_audit_key(key),
            before=before,
            after=after,
        )
        self.report.count(kind, "updated")
        return existing

    def write(self) -> None:
        plan = self.plan
        for section in LIST_SECTIONS:
            if section in plan.sections:
                self.report.touch(section)
        steps: list[tuple[Callable[[Any], None], Any]] = [
            *((self.team, row) for _, row in plan.rows.get("teams", [])),
            *((self.district, row) for _, row in plan.rows.get("districts", [])),
            *((self.contact, row) for _, row in plan.rows.get("contacts", [])),
            *((self.advisor, row) for _, row in plan.rows.get("advisors", [])),
            *((self.engineer, row) for _, row in plan.rows.get("engineers", [])),
            *((self.case, row) for _, row in plan.rows.get("cases", [])),
            *([(self.hours, plan.hours)] if plan.hours is not None else []),
            *([(self.holidays, plan.holidays)] if plan.holidays is not None else []),
            *((self.rotation, row) for _, row in plan.rows.get("rotations", [])),
            *((self.escalation_policy, row) for _, row in plan.rows.get("escalation_policies", [])),
        ]
        for done, (write_one, row) in enumerate(steps, start=1):
            write_one(row)
            if self.progress is not None:
                self.progress(done, len(steps))

    def team(self, row: TeamRow) -> None:
        desired = {"name": row.name, "kind": row.kind, "route_order": row.route_order}

        def apply(t: Team) -> None:
            t.name, t.kind, t.route_order = row.name, row.kind, row.route_order

        self.plan.teams[row.name] = self._upsert(
            "teams", "team", row.name, self.plan.teams.get(row.name), desired, team_snap, Team, apply
        )

    def district(self, row: DistrictRow) -> None:
        desired = {"name": row.name, "state": row.state, "hosted": row.hosted, "team": row.team, "active": row.active}

        def apply(d: District) -> None:
            d.name, d.state, d.hosted, d.active = row.name, row.state, row.hosted, row.active
            d.team = self.plan.teams[row.team] if row.team else None

        self.plan.districts[row.name] = self._upsert(
            "districts",
            "district",
            row.name,
            self.plan.districts.get(row.name),
            desired,
            district_snap,
            lambda: District(created_at=self.now),
            apply,
        )

    def contact(self, row: ContactRow) -> None:
        existing = self.plan.contacts.get(row.contact_id)
        new_hash = self.plan.pin_hashes.get(row.contact_id)
        old_hash = existing.pin_hash if existing is not None else None
        pin_before = {"pin": "set" if old_hash else "not set"}
        if new_hash is None or new_hash == old_hash:
            pin_after = pin_before
        else:
            pin_after = {"pin": "changed" if old_hash else "set"}
        # Left out, the language stays the one the contact chose on the line.
        language = row.language or contact_language(existing.language if existing is not None else None)
        desired = {
            "contact_id": row.contact_id,
            "district": row.district,
            "name": row.name,
            "email": row.email,
            "phones": list(row.phones),
            "language": language,
            "active": row.active,
        }

        def apply(c: Contact) -> None:
            c.contact_id, c.name, c.email, c.active = row.contact_id, row.name, row.email, row.active
            if contact_language(c.language) != language:
                c.language = language
            c.district = self.plan.districts[row.district]
            if new_hash is not None:
                c.pin_hash = new_hash
            reuse = {p.e164: p for p in c.phones}
            phones = []
            for position, number in enumerate(row.phones):
                phone = reuse.pop(number, None) or ContactPhone(e164=number)
                phone.position = position
                phones.append(phone)
            if [p.e164 for p in c.phones] != row.phones or reuse:
                c.phones = phones

        self.plan.contacts[row.contact_id] = self._upsert(
            "contacts",
            "contact",
            row.contact_id,
            existing,
            desired,
            contact_snap,
            lambda: Contact(created_at=self.now),
            apply,
            extra_before=pin_before,
            extra_after=pin_after,
        )

    def advisor(self, row: AdvisorRow) -> None:
        skills = sorted(row.skills, key=skill_order)
        desired = {"name": row.name, "reach": row.reach, "team": row.team, "skills": skills, "active": row.active}

        def apply(a: Advisor) -> None:
            a.name, a.reach, a.active = row.name, row.reach, row.active
            a.team = self.plan.teams[row.team] if row.team else None
            reuse = {s.skill: s for s in a.skill_rows}
            a.skill_rows = [reuse.get(skill) or AdvisorSkill(skill=skill) for skill in skills]

        self.plan.advisors[row.name] = self._upsert(
            "advisors",
            "advisor",
            row.name,
            self.plan.advisors.get(row.name),
            desired,
            advisor_snap,
            lambda: Advisor(created_at=self.now),
            apply,
        )

    def engineer(self, row: EngineerRow) -> None:
        desired = {"name": row.name, "phone": row.phone, "sms": row.sms, "active": row.active}

        def apply(e: Engineer) -> None:
            e.name, e.phone, e.sms, e.active = row.name, row.phone, row.sms, row.active

        self.plan.engineers[row.name] = self._upsert(
            "engineers",
            "engineer",
            row.name,
            self.plan.engineers.get(row.name),
            desired,
            engineer_snap,
            Engineer,
            apply,
        )

    def case(self, row: CaseRow) -> None:
        desired: dict[str, Any] = {
            "number": row.number,
            "district": row.district,
            "contact": row.contact,
            "product_area": row.product_area,
            "priority": row.priority,
            "status": row.status,
            "owner": row.owner,
            "summary": row.summary,
            "is_outage": row.is_outage,
            "release_name": row.release_name,
            "created_at": row.created_at,
            "updated_at": row.updated_at or row.created_at,
            "closed_at": row.closed_at,
            "reopen_count": row.reopen_count,
        }

        def apply(c: Case) -> None:
            c.number, c.product_area, c.priority, c.status = row.number, row.product_area, row.priority, row.status
            c.district = self.plan.districts[row.district]
            c.contact = self.plan.contacts[row.contact] if row.contact else None
            c.owner = self.plan.advisors[row.owner] if row.owner else None
            c.summary, c.is_outage, c.release_name = row.summary, row.is_outage, row.release_name
            c.created_at, c.closed_at, c.reopen_count = row.created_at, row.closed_at, row.reopen_count
            c.updated_at = desired["updated_at"]
            if c.id is not None:
                # Write the file's updated_at even when unchanged, so the column's onupdate=utcnow
                # does not replace it when other columns change.
                flag_modified(c, "updated_at")

        self._upsert("cases", "case", row.number, self.plan.cases.get(row.number), desired, case_snap, Case, apply)

    def hours(self, doc: HoursDoc) -> None:
        existing = self.session.scalars(select(BusinessHours)).all()
        by_day: dict[Weekday, list[BusinessHours]] = {}
        for row in existing:
            by_day.setdefault(Weekday(row.weekday), []).append(row)
        self.report.touch("hours")
        for day in Weekday:
            wanted: list[tuple[time, time]] = sorted(getattr(doc, day.value) or [])
            rows = sorted(by_day.get(day, []), key=lambda b: (b.opens, b.closes))
            before = [fmt_range(b.opens, b.closes) for b in rows]
            after = [fmt_range(o, c) for o, c in wanted]
            if before == after:
                self.report.count("hours", "unchanged")
                continue
            reuse = {b.opens: b for b in rows}
            for opens, closes in wanted:
                bh = reuse.pop(opens, None)
                if bh is None:
                    self.session.add(BusinessHours(weekday=day, opens=opens, closes=closes))
                else:
                    bh.closes = closes
            for stale in reuse.values():
                self.session.delete(stale)
            audit.record(
                self.session,
                at=self.now,
                actor=self.actor,
                action="update",
                entity="business_hours",
                key=day.value,
                before={"ranges": before},
                after={"ranges": after},
            )
            self.report.count("hours", "updated")

    def holidays(self, doc: HolidaysDoc) -> None:
        if doc.observe is not None:
            self.report.touch("holidays")
            observe = set(doc.observe)
            rules = {r.key: r for r in self.session.scalars(select(HolidayRule)).all()}
            for key in list(HOLIDAY_RULES) + sorted(set(rules) - set(HOLIDAY_RULES)):
                rule = rules.get(key)
                active = key in observe
                if rule is None and not active:
                    continue
                desired = {"key": key, "name": rule.name if rule else HOLIDAY_RULES[key], "active": active}

                def apply(r: HolidayRule, desired: dict[str, Any] = desired) -> None:
                    r.key, r.name, r.active = desired["key"], desired["name"], desired["active"]

                self._upsert(
                    "holidays",
                    "holiday_rule",
                    key,
                    rule,
                    desired,
                    lambda r: {"key": r.key, "name": r.name, "active": bool(r.active)},
                    HolidayRule,
                    apply,
                )
        if doc.closures is not None:
            self.report.touch("closures")
            for closure in doc.closures:
                desired = {"date": closure.date, "name": closure.name}

                def apply_closure(c: Closure, closure: ClosureRow = closure) -> None:
                    c.day, c.name = closure.date, closure.name

                self.plan.closures[closure.date] = self._upsert(
                    "closures",
                    "closure",
                    closure.date.isoformat(),
                    self.plan.closures.get(closure.date),
                    desired,
                    lambda c: {"date": c.day, "name": c.name},
                    Closure,
                    apply_closure,
                )

    def rotation(self, row: RotationRow) -> None:
        overrides: list[dict[str, Any]] = sorted(
            ({"engineer": o.engineer, "starts_at": o.starts_at, "ends_at": o.ends_at} for o in row.overrides),
            key=override_key,
        )
        desired = {
            "name": row.name,
            "layer": row.layer,
            "timezone": row.timezone,
            "handoff": row.handoff,
            "handoff_time": fmt_time(row.handoff_time),
            "handoff_weekday": row.handoff_weekday,
            "start_date": row.start_date,
            "members": list(row.members),
            "overrides": overrides,
        }
        engineers = self.plan.engineers

        def apply(r: Rotation) -> None:
            r.name, r.layer, r.timezone, r.handoff = row.name, row.layer, row.timezone, row.handoff
            r.handoff_time, r.handoff_weekday, r.start_date = row.handoff_time, row.handoff_weekday, row.start_date
            members = sorted(r.members, key=lambda m: m.position)
            for position, name in enumerate(row.members):
                if position < len(members):
                    members[position].engineer = engineers[name]
                else:
                    r.members.append(RotationMember(position=position, engineer=engineers[name]))
            for stale_member in members[len(row.members) :]:
                r.members.remove(stale_member)
            current = sorted(r.overrides, key=lambda o: (o.starts_at, o.ends_at, o.engineer.name))
            for index, wanted in enumerate(overrides):
                if index < len(current):
                    target = current[index]
                else:
                    target = RotationOverride()
                    r.overrides.append(target)
                target.engineer = engineers[wanted["engineer"]]
                target.starts_at, target.ends_at = wanted["starts_at"], wanted["ends_at"]
            for stale_override in current[len(overrides) :]:
                r.overrides.remove(stale_override)

        self.plan.rotations[row.name] = self._upsert(
            "rotations",
            "rotation",
            row.name,
            self.plan.rotations.get(row.name),
            desired,
            rotation_snap,
            Rotation,
            apply,
        )

    def escalation_policy(self, row: EscalationPolicyRow) -> None:
        # A step's layers and engineers are sets: kept in the enumeration's order and by name.
        steps: list[dict[str, Any]] = [
            {
                "layers": sorted({layer.value for layer in step.layers}, key=layer_order),
                "engineers": sorted(set(step.engineers)),
                "delay_minutes": step.delay_minutes,
            }
            for step in row.steps
        ]
        desired = {
            "name": row.name,
            "default": row.default,
            "repeats": row.repeats,
            "manager": row.manager,
            "steps": steps,
        }
        engineers = self.plan.engineers

        def apply(p: EscalationPolicy) -> None:
            p.name, p.is_default, p.repeats = row.name, row.default, row.repeats
            p.manager = engineers[row.manager] if row.manager else None
            current = sorted(p.steps, key=lambda s: s.position)
            if [escalation_step_snap(s) for s in current] == steps:
                return
            # The steps become exactly the file's list. Rows are reused by position (as rotation
            # members are) so no flush ever holds two steps at one (policy_id, position).
            for position, wanted in enumerate(steps):
                if position < len(current):
                    target = current[position]
                else:
                    target = EscalationStep(position=position)
                    p.steps.append(target)
                target.layers = ",".join(wanted["layers"])
                target.delay_minutes = wanted["delay_minutes"]
                target.engineers = [engineers[name] for name in wanted["engineers"]]
            for stale in current[len(steps) :]:
                p.steps.remove(stale)

        self.plan.escalation_policies[row.name] = self._upsert(
            "escalation_policies",
            "escalation_policy",
            row.name,
            self.plan.escalation_policies.get(row.name),
            desired,
            escalation_policy_snap,
            EscalationPolicy,
            apply,
        )
