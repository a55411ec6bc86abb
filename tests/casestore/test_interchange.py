"""Routing-table import/export (casestore.interchange): validation, upsert, round trip, CLI."""

from __future__ import annotations

import copy
import json
import re
from datetime import UTC, date, datetime, time
from functools import partial

import pytest
import yaml
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, func, select

from auth.pins import check_pin, hash_pin
from casestore.db import make_engine, make_session_factory, session_scope
from casestore.interchange import (
    LoadError,
    LoadReport,
    Problem,
    dump,
    export_document,
    load_document,
    load_text,
    parse_text,
)
from casestore.models import (
    Advisor,
    AuditEntry,
    Base,
    BusinessHours,
    Case,
    Closure,
    Contact,
    District,
    Engineer,
    EscalationPolicy,
    EscalationStep,
    EscalationStepEngineer,
    HolidayRule,
    Rotation,
    Team,
)
from casestore.types import CaseStatus, HandoffKind, Priority, ProductArea, TeamKind, Weekday

PIN_PEPPER = "interchange-test-pepper-0123456789"
NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)

# A small valid document. Markers like `# <-contact0-phones` let the bad-input tests find lines.
VALID = """\
version: 1
teams:
  - {name: Campus Support, kind: campus, route_order: 10}
  - {name: State Reporting, kind: state_reporting, route_order: 20}
districts:
  - name: Lakeview Public Schools
    state: MN
    hosted: true
    team: Campus Support
    active: true
  - {name: Riverside ISD, state: tx}
contacts:
  - contact_id: "104233"
    district: Lakeview Public Schools
    name: Dana Whitfield
    email: dana@lakeview.k12.mn.us
    phones: ["(612) 555-0134", "+1 651 555 0199"]
    pin: "4821"
    active: true
  - contact_id: 5521
    district: Riverside ISD
    name: Luis Garza
    phones: [512-555-0142]
advisors:
  - name: Priya Raman
    reach: "+1 (612) 555-0101"
    team: Campus Support
    skills: [grade_book, scheduling]
    active: true
  - {name: Tom Baker, reach: "client:tom", team: State Reporting, skills: [state_reporting]}
  - {name: Ann Lee, reach: "sip:ann@pbx.example.com", active: false}
engineers:
  - {name: Sam Ortiz, phone: "+1 612 555 0177", sms: true, active: true}
  - {name: Lee Chen, phone: 612.555.0178, sms: false}
cases:
  - number: 240117
    district: Lakeview Public Schools
    contact: "104233"
    product_area: grade_book
    priority: high
    status: in_progress
    owner: Priya Raman
    summary: Report card GPA rounding
    is_outage: false
    release_name: null
    created_at: 2026-11-02T09:14:00-06:00
    updated_at: 2026-11-03T10:00:00-06:00
    closed_at: null
    reopen_count: 0
  - number: 240118
    district: Riverside ISD
    product_area: state_reporting
    priority: low
    status: closed
    summary: PEIMS extract
    created_at: 2026-10-01T08:00:00Z
    closed_at: 2026-10-05T08:00:00Z
    reopen_count: 1
hours:
  mon: [06:00-18:00]
  tue: ["06:00-12:00", "13:00-18:00"]
  wed: ["06:00-18:00"]
  thu: ["06:00-18:00"]
  fri: ["06:00-18:00"]
  sat: [08:00-12:00]
holidays:
  observe: [new_years_day, thanksgiving, christmas_day]
  closures:
    - {date: 2026-12-31, name: Year-end inventory}
rotations:
  - name: Hosting primary
    layer: primary
    timezone: America/Chicago
    handoff: weekly
    handoff_time: 09:00
    handoff_weekday: mon
    start_date: 2026-01-05
    members: [Sam Ortiz, Lee Chen]
    overrides:
      - {engineer: Lee Chen, starts_at: 2026-12-24T00:00:00-06:00, ends_at: 2026-12-26T00:00:00-06:00}
escalation_policies:
  - name: Hosted outage
    default: true
    repeats: 1
    manager: Lee Chen
    steps:
      - {layers: [primary], delay_minutes: 5}
      - layers: [secondary]
        engineers: [Sam Ortiz]
        delay_minutes: 10
      - {layers: [secondary, primary]}
"""


def load(session, text, **kw):
    kw.setdefault("source", "test.yaml")
    kw.setdefault("hash_pin", partial(hash_pin, PIN_PEPPER))
    kw.setdefault("actor", "test")
    kw.setdefault("now", NOW)
    return load_text(session, text, **kw)


def all_rows(bind) -> dict[str, list]:
    """Every row of every table, order-independent: 'exactly as it was' comparisons."""
    if isinstance(bind, Engine):
        with bind.connect() as conn:
            return all_rows(conn)
    return {
        table.name: sorted((tuple(row) for row in bind.execute(table.select())), key=repr)
        for table in Base.metadata.sorted_tables
    }


def session_rows(session) -> dict[str, list]:
    session.flush()
    return all_rows(session.connection())


def row_counts(session) -> dict[str, int]:
    return {
        t.name: session.execute(select(func.count()).select_from(t)).scalar_one() for t in Base.metadata.sorted_tables
    }


def audit_count(session) -> int:
    return session.scalar(select(func.count()).select_from(AuditEntry))


def line_of(text: str, needle: str) -> int:
    for number, line in enumerate(text.splitlines(), start=1):
        if needle in line:
            return number
    raise AssertionError(f"{needle!r} not in text")


def replace_once(text: str, old: str, new: str) -> str:
    assert text.count(old) == 1, old
    return text.replace(old, new)


# --------------------------------------------------------------------------------------------
# A valid document
# --------------------------------------------------------------------------------------------


def test_valid_document_loads_every_table(session):
    report = load(session, VALID)
    assert isinstance(report, LoadReport)
    assert report.counts["districts"] == {"created": 2, "updated": 0, "unchanged": 0}
    assert str(report).startswith("teams: 2 created, 0 updated, 0 unchanged; districts: 2 created")

    teams = {t.name: t for t in session.scalars(select(Team))}
    assert teams["State Reporting"].kind is TeamKind.STATE_REPORTING and teams["Campus Support"].route_order == 10

    lakeview = session.scalar(select(District).where(District.name == "Lakeview Public Schools"))
    assert lakeview.hosted and lakeview.team.name == "Campus Support" and lakeview.state == "MN"
    riverside = session.scalar(select(District).where(District.name == "Riverside ISD"))
    assert riverside.state == "TX" and riverside.team is None and not riverside.hosted and riverside.active
    assert lakeview.created_at == NOW

    dana = session.scalar(select(Contact).where(Contact.contact_id == "104233"))
    assert [p.e164 for p in dana.phones] == ["+16125550134", "+16515550199"]
    assert dana.email == "dana@lakeview.k12.mn.us" and dana.district is lakeview
    assert dana.pin_hash and "4821" not in dana.pin_hash
    assert check_pin(PIN_PEPPER, "104233", "4821", dana.pin_hash)
    assert not check_pin(PIN_PEPPER, "104233", "4822", dana.pin_hash)
    luis = session.scalar(select(Contact).where(Contact.contact_id == "5521"))  # written unquoted
    assert [p.e164 for p in luis.phones] == ["+15125550142"] and luis.pin_hash is None and luis.email is None

    advisors = {a.name: a for a in session.scalars(select(Advisor))}
    assert advisors["Priya Raman"].reach == "+16125550101"
    assert advisors["Priya Raman"].skills == {ProductArea.GRADE_BOOK, ProductArea.SCHEDULING}
    assert advisors["Tom Baker"].reach == "client:tom" and advisors["Tom Baker"].team.name == "State Reporting"
    assert advisors["Ann Lee"].reach == "sip:ann@pbx.example.com" and not advisors["Ann Lee"].active
    assert advisors["Ann Lee"].skills == set() and advisors["Ann Lee"].team is None

    engineers = {e.name: e for e in session.scalars(select(Engineer))}
    assert engineers["Lee Chen"].phone == "+16125550178" and not engineers["Lee Chen"].sms

    case = session.scalar(select(Case).where(Case.number == 240117))
    assert case.priority is Priority.HIGH and case.status is CaseStatus.IN_PROGRESS
    assert case.owner.name == "Priya Raman" and case.contact is dana and case.district is lakeview
    assert case.created_at == datetime(2026, 11, 2, 15, 14, tzinfo=UTC)
    assert case.updated_at == datetime(2026, 11, 3, 16, 0, tzinfo=UTC)
    closed = session.scalar(select(Case).where(Case.number == 240118))
    assert closed.closed_at == datetime(2026, 10, 5, 8, tzinfo=UTC)
    assert closed.updated_at == closed.created_at and closed.reopen_count == 1 and closed.contact is None

    hours = {(Weekday(h.weekday), h.opens, h.closes) for h in session.scalars(select(BusinessHours))}
    assert (Weekday.MON, time(6), time(18)) in hours  # unquoted 06:00-18:00
    assert (Weekday.TUE, time(13), time(18)) in hours and (Weekday.SAT, time(8), time(12)) in hours
    assert not any(day is Weekday.SUN for day, _, _ in hours) and len(hours) == 7

    rules = {r.key: r.active for r in session.scalars(select(HolidayRule))}
    assert {k for k, active in rules.items() if active} == {"new_years_day", "thanksgiving", "christmas_day"}
    assert rules["juneteenth"] is False
    assert session.scalar(select(Closure)).day == date(2026, 12, 31)

    rotation = session.scalar(select(Rotation))
    assert rotation.handoff is HandoffKind.WEEKLY and rotation.handoff_weekday is Weekday.MON
    assert rotation.handoff_time == time(9, 0)  # unquoted 09:00 is a time, not sexagesimal 540
    assert [m.engineer.name for m in rotation.members] == ["Sam Ortiz", "Lee Chen"]
    assert [(o.engineer.name, o.starts_at) for o in rotation.overrides] == [
        ("Lee Chen", datetime(2026, 12, 24, 6, tzinfo=UTC))
    ]

    policy = session.scalar(select(EscalationPolicy))
    assert policy.name == "Hosted outage" and policy.is_default and policy.repeats == 1
    assert policy.manager.name == "Lee Chen"
    assert [(s.position, s.layers, [e.name for e in s.engineers], s.delay_minutes) for s in policy.steps] == [
        (0, "primary", [], 5),
        (1, "secondary", ["Sam Ortiz"], 10),
        (2, "primary,secondary", [], 5),  # layers stored in the enumeration's order; delay default 5
    ]

    # Audit: one create per row, never a PIN hash.
    entries = session.scalars(select(AuditEntry)).all()
    creates = [e for e in entries if e.action == "create"]
    assert {(e.entity, e.entity_key) for e in creates} >= {
        ("contact", "104233"),
        ("case", "240117"),
        ("team", "Campus Support"),
    }
    dana_entry = next(e for e in creates if e.entity == "contact" and e.entity_key == "104233")
    assert dana_entry.after["pin"] == "set" and dana_entry.actor == "test" and dana_entry.at == NOW
    assert all(dana.pin_hash not in json.dumps([e.before, e.after]) for e in entries)
    assert "hmac" not in json.dumps([[e.before, e.after] for e in entries])


def test_load_reports_each_row_written(session):
    seen: list[tuple[int, int]] = []
    load(session, VALID, progress=lambda done, total: seen.append((done, total)))
    doc = yaml.safe_load(VALID)
    # Every row of every list section once, and one step each for the hours and holidays sections.
    rows = sum(len(value) for value in doc.values() if isinstance(value, list))
    expected = rows + ("hours" in doc) + ("holidays" in doc)
    assert seen == [(i, expected) for i in range(1, expected + 1)]


def test_pin_is_never_exported(session):
    load(session, VALID)
    doc = export_document(session)
    assert all("pin" not in c and "pin_hash" not in c for c in doc["contacts"])
    for fmt in ("yaml", "json"):
        text = dump(doc, fmt)
        assert "4821" not in text and "pin" not in text and "hmac" not in text


def test_loading_twice_is_idempotent(session):
    load(session, VALID)
    before_audit, before_rows = audit_count(session), session_rows(session)
    report = load(session, VALID)
    assert report.changes == 0
    assert all(c["created"] == 0 and c["updated"] == 0 for c in report.counts.values())
    assert "districts: 0 created, 0 updated, 2 unchanged" in str(report)
    assert audit_count(session) == before_audit
    assert session_rows(session) == before_rows


@pytest.mark.parametrize("fmt", ["yaml", "json"])
def test_round_trip_is_lossless(session, fmt):
    load(session, VALID)
    exported = export_document(session)
    text = dump(exported, fmt)
    audit_before, rows_before = audit_count(session), session_rows(session)
    report = load(session, text, hash_pin=None)  # no PINs in an export, so no pepper needed
    assert report.changes == 0, str(report)
    assert audit_count(session) == audit_before and session_rows(session) == rows_before
    assert export_document(session) == exported
    assert dump(export_document(session), fmt) == text


def test_round_trip_into_an_empty_database(session, connection):
    load(session, VALID)
    exported = export_document(session)
    text = dump(exported)
    # Wipe the routing tables (keep the calendar defaults' shape) and load the export alone.
    nested = session.begin_nested()
    for table in reversed(Base.metadata.sorted_tables):
        session.execute(table.delete())
    session.expunge_all()
    report = load(session, text, hash_pin=None)
    assert report.counts["cases"]["created"] == 2
    again = export_document(session)
    assert again == exported
    nested.rollback()


def test_export_is_sorted_and_typed(session):
    load(session, VALID)
    doc = export_document(session)
    assert list(doc) == [
        "version",
        "teams",
        "districts",
        "contacts",
        "advisors",
        "engineers",
        "cases",
        "hours",
        "holidays",
        "rotations",
        "escalation_policies",
    ]
    assert [d["name"] for d in doc["districts"]] == ["Lakeview Public Schools", "Riverside ISD"]
    assert [c["contact_id"] for c in doc["contacts"]] == ["5521", "104233"]
    assert [a["name"] for a in doc["advisors"]] == ["Ann Lee", "Priya Raman", "Tom Baker"]
    assert [c["number"] for c in doc["cases"]] == [240117, 240118]
    assert doc["hours"]["tue"] == ["06:00-12:00", "13:00-18:00"] and "sun" not in doc["hours"]
    assert doc["holidays"]["observe"] == ["new_years_day", "thanksgiving", "christmas_day"]
    assert doc["rotations"][0]["handoff_time"] == "09:00"
    assert doc["escalation_policies"] == [
        {
            "name": "Hosted outage",
            "default": True,
            "repeats": 1,
            "manager": "Lee Chen",
            "steps": [
                {"layers": ["primary"], "engineers": [], "delay_minutes": 5},
                {"layers": ["secondary"], "engineers": ["Sam Ortiz"], "delay_minutes": 10},
                {"layers": ["primary", "secondary"], "engineers": [], "delay_minutes": 5},
            ],
        }
    ]
    text = dump(doc)
    assert "created_at: 2026-11-02T15:14:00Z" in text and "date: 2026-12-31" in text
    as_json = json.loads(dump(doc, "json"))
    assert as_json["cases"][0]["created_at"] == "2026-11-02T15:14:00Z"
    assert as_json["rotations"][0]["start_date"] == "2026-01-05"
    with pytest.raises(ValueError):
        dump(doc, "xml")


# --------------------------------------------------------------------------------------------
# Updates: upsert semantics, replaced lists, audit
# --------------------------------------------------------------------------------------------


def test_changes_update_rows_and_are_audited(session):
    load(session, VALID)
    changed = VALID
    changed = replace_once(changed, "summary: Report card GPA rounding", "summary: GPA rounding on report cards")
    changed = replace_once(
        changed, 'phones: ["(612) 555-0134", "+1 651 555 0199"]', 'phones: ["+1 651 555 0199", "612-555-0135"]'
    )
    changed = replace_once(changed, 'pin: "4821"', 'pin: "73915"')
    changed = replace_once(changed, "skills: [grade_book, scheduling]", "skills: [attendance]")
    changed = replace_once(changed, "members: [Sam Ortiz, Lee Chen]", "members: [Lee Chen]")
    changed = replace_once(changed, "  sat: [08:00-12:00]\n", "")
    changed = replace_once(changed, "observe: [new_years_day, thanksgiving, christmas_day]", "observe: [juneteenth]")
    audit_before = audit_count(session)

    report = load(session, changed)
    assert report.counts["cases"] == {"created": 0, "updated": 1, "unchanged": 1}
    assert report.counts["contacts"] == {"created": 0, "updated": 1, "unchanged": 1}
    assert report.counts["hours"] == {"created": 0, "updated": 1, "unchanged": 6}

    case = session.scalar(select(Case).where(Case.number == 240117))
    assert case.summary == "GPA rounding on report cards"
    # The file's updated_at is kept, not replaced by the column's onupdate=now.
    session.expire(case)
    assert case.updated_at == datetime(2026, 11, 3, 16, 0, tzinfo=UTC)

    dana = session.scalar(select(Contact).where(Contact.contact_id == "104233"))
    session.refresh(dana)
    assert [p.e164 for p in dana.phones] == ["+16515550199", "+16125550135"]
    assert check_pin(PIN_PEPPER, "104233", "73915", dana.pin_hash)
    priya = session.scalar(select(Advisor).where(Advisor.name == "Priya Raman"))
    session.refresh(priya)
    assert priya.skills == {ProductArea.ATTENDANCE}
    rotation = session.scalar(select(Rotation))
    session.refresh(rotation)
    assert [m.engineer.name for m in rotation.members] == ["Lee Chen"]
    assert not session.scalars(select(BusinessHours).where(BusinessHours.weekday == Weekday.SAT)).all()
    active = {r.key for r in session.scalars(select(HolidayRule)) if r.active}
    assert active == {"juneteenth"}

    entries = session.scalars(select(AuditEntry).order_by(AuditEntry.id)).all()[audit_before:]
    by_key = {(e.entity, e.entity_key): e for e in entries}
    case_entry = by_key[("case", "240117")]
    assert case_entry.action == "update"
    assert case_entry.before == {"summary": "Report card GPA rounding"}
    assert case_entry.after == {"summary": "GPA rounding on report cards"}
    contact_entry = by_key[("contact", "104233")]
    assert contact_entry.before["pin"] == "set" and contact_entry.after["pin"] == "changed"
    assert contact_entry.after["phones"] == ["+16515550199", "+16125550135"]
    assert by_key[("business_hours", "sat")].after == {"ranges": []}
    assert by_key[("advisor", "Priya Raman")].after == {"skills": ["attendance"]}
    assert ("district", "Riverside ISD") not in by_key  # unchanged rows record nothing
    assert all(dana.pin_hash not in json.dumps([e.before, e.after]) for e in entries)


def test_load_is_an_upsert_not_a_sync(session):
    load(session, VALID)
    hours_before = session_rows(session)["business_hours"]
    partial_doc = """\
districts:
  - {name: Riverside ISD, state: TX, hosted: true}
  - {name: Pine Valley USD, state: CA}
contacts:
  - {contact_id: "104233", district: Lakeview Public Schools, name: Dana W. Whitfield,
     phones: ["(612) 555-0134"]}
"""
    report = load(session, partial_doc, hash_pin=None)  # no PIN in the file: none needed
    assert report.counts == {
        "districts": {"created": 1, "updated": 1, "unchanged": 0},
        "contacts": {"created": 0, "updated": 1, "unchanged": 0},
    }
    assert session.scalar(select(func.count()).select_from(District)) == 3
    assert session.scalar(select(func.count()).select_from(Case)) == 2  # absent rows left alone
    assert session_rows(session)["business_hours"] == hours_before  # no `hours`: table untouched
    dana = session.scalar(select(Contact).where(Contact.contact_id == "104233"))
    session.refresh(dana)
    assert dana.name == "Dana W. Whitfield" and dana.email is None  # a row in the file is the whole row
    assert check_pin(PIN_PEPPER, "104233", "4821", dana.pin_hash)  # no `pin`: the hash is kept
    assert [p.e164 for p in dana.phones] == ["+16125550134"]


def test_hours_and_holidays_can_be_cleared(session):
    load(session, "hours: {}\nholidays:\n  observe: []\n")
    assert session.scalars(select(BusinessHours)).all() == []
    assert not any(r.active for r in session.scalars(select(HolidayRule)))
    doc = export_document(session)
    assert doc["hours"] == {} and doc["holidays"]["observe"] == []
    assert load(session, dump(doc)).changes == 0


def test_references_may_point_at_rows_already_in_the_database(session):
    load(session, VALID)
    later = """\
cases:
  - {number: 240200, district: Riverside ISD, contact: "5521", product_area: attendance,
     owner: Tom Baker, created_at: 2026-11-20T10:00:00-06:00}
rotations:
  - {name: Hosting secondary, layer: secondary, handoff: daily, handoff_time: "18:30",
     start_date: 2026-01-05, members: [Lee Chen, Sam Ortiz]}
"""
    report = load(session, later)
    assert report.counts["cases"]["created"] == 1 and report.counts["rotations"]["created"] == 1
    case = session.scalar(select(Case).where(Case.number == 240200))
    assert case.contact.contact_id == "5521" and case.owner.name == "Tom Baker"
    assert case.priority is Priority.MEDIUM and case.status is CaseStatus.NEW
    secondary = session.scalar(select(Rotation).where(Rotation.name == "Hosting secondary"))
    assert secondary.handoff_time == time(18, 30) and secondary.timezone == "America/Chicago"


def policy_steps(session, name: str) -> list[tuple]:
    policy = session.scalar(select(EscalationPolicy).where(EscalationPolicy.name == name))
    session.refresh(policy)
    return [(s.position, s.layers, sorted(e.name for e in s.engineers), s.delay_minutes) for s in policy.steps]


def test_escalation_policy_step_changes_replace_the_steps_and_are_audited(session):
    load(session, VALID)
    audit_before = audit_count(session)
    fewer = replace_once(VALID, "      - {layers: [primary], delay_minutes: 5}\n", "")
    fewer = replace_once(fewer, "        engineers: [Sam Ortiz]", "        engineers: [Lee Chen, Sam Ortiz]")
    fewer = replace_once(fewer, "    manager: Lee Chen", "    manager: Sam Ortiz")

    report = load(session, fewer)
    assert report.counts["escalation_policies"] == {"created": 0, "updated": 1, "unchanged": 0}
    assert report.changes == 1, str(report)
    assert policy_steps(session, "Hosted outage") == [
        (0, "secondary", ["Lee Chen", "Sam Ortiz"], 10),
        (1, "primary,secondary", [], 5),
    ]
    assert session.scalar(select(func.count()).select_from(EscalationStep)) == 2  # the third step is gone
    assert session.scalar(select(func.count()).select_from(EscalationStepEngineer)) == 2
    entries = session.scalars(select(AuditEntry).order_by(AuditEntry.id)).all()[audit_before:]
    assert [(e.action, e.entity, e.entity_key) for e in entries] == [("update", "escalation_policy", "Hosted outage")]
    assert entries[0].before == {
        "manager": "Lee Chen",
        "steps": [
            {"layers": ["primary"], "engineers": [], "delay_minutes": 5},
            {"layers": ["secondary"], "engineers": ["Sam Ortiz"], "delay_minutes": 10},
            {"layers": ["primary", "secondary"], "engineers": [], "delay_minutes": 5},
        ],
    }
    assert entries[0].after == {
        "manager": "Sam Ortiz",
        "steps": [
            {"layers": ["secondary"], "engineers": ["Lee Chen", "Sam Ortiz"], "delay_minutes": 10},
            {"layers": ["primary", "secondary"], "engineers": [], "delay_minutes": 5},
        ],
    }
    assert load(session, fewer).changes == 0

    # Back to the original three steps: a step is added again, and only the steps change.
    report = load(session, VALID)
    assert report.counts["escalation_policies"] == {"created": 0, "updated": 1, "unchanged": 0}
    assert policy_steps(session, "Hosted outage") == [
        (0, "primary", [], 5),
        (1, "secondary", ["Sam Ortiz"], 10),
        (2, "primary,secondary", [], 5),
    ]
    last = session.scalars(select(AuditEntry).order_by(AuditEntry.id.desc())).first()
    assert (last.entity, last.action) == ("escalation_policy", "update") and set(last.after) == {"manager", "steps"}


def test_only_one_default_policy_counting_the_database(session):
    load(session, VALID)
    nights = """escalation_policies:
  - name: Nights
    default: true
    repeats: 0
    steps:
      - {engineers: [Lee Chen], delay_minutes: 240}
"""
    with pytest.raises(LoadError) as err:
        load(session, nights)
    [problem] = err.value.problems
    assert (problem.path, problem.line) == ("escalation_policies[0].default", 3), str(problem)
    assert "'Hosted outage' already is in the database" in problem.message
    assert session.scalar(select(EscalationPolicy).where(EscalationPolicy.name == "Nights")) is None

    # Listing the stored default with default: false moves the default; references may point at
    # engineers already in the database.
    moved = nights + "  - {name: Hosted outage, default: false, steps: [{layers: [primary]}]}\n"
    report = load(session, moved)
    assert report.counts["escalation_policies"] == {"created": 1, "updated": 1, "unchanged": 0}
    defaults = session.scalars(select(EscalationPolicy.name).where(EscalationPolicy.is_default.is_(True))).all()
    assert defaults == ["Nights"]
    assert policy_steps(session, "Nights") == [(0, "", ["Lee Chen"], 240)]
    nights_row = session.scalar(select(EscalationPolicy).where(EscalationPolicy.name == "Nights"))
    assert nights_row.manager is None and nights_row.repeats == 0


@pytest.mark.parametrize("fmt", ["yaml", "json"])
def test_escalation_policies_round_trip(session, fmt):
    load(session, VALID)
    load(
        session,
        """escalation_policies:
  - name: Campus outage
    repeats: 0
    steps:
      - {engineers: [Sam Ortiz, Lee Chen], delay_minutes: 1}
      - {layers: [secondary]}
""",
    )
    exported = export_document(session)
    assert [p["name"] for p in exported["escalation_policies"]] == ["Campus outage", "Hosted outage"]
    assert exported["escalation_policies"][0] == {
        "name": "Campus outage",
        "default": False,
        "repeats": 0,
        "manager": None,
        "steps": [
            {"layers": [], "engineers": ["Lee Chen", "Sam Ortiz"], "delay_minutes": 1},
            {"layers": ["secondary"], "engineers": [], "delay_minutes": 5},
        ],
    }
    text = dump(exported, fmt)
    audit_before, rows_before = audit_count(session), session_rows(session)
    report = load(session, text, hash_pin=None)
    assert report.counts["escalation_policies"] == {"created": 0, "updated": 0, "unchanged": 2}
    assert audit_count(session) == audit_before and session_rows(session) == rows_before
    assert export_document(session) == exported


def test_json_input_is_accepted(session):
    doc = parse_text(VALID)[0]
    text = json.dumps(doc, default=lambda v: v.isoformat())
    report = load(session, text)
    assert report.counts["cases"]["created"] == 2
    assert session.scalar(select(Rotation)).handoff_time == time(9)


def test_empty_sections_are_allowed(session):
    report = load(session, "version: 1\nteams:\ncases: []\n")
    # `teams:` with nothing after it is the same as no `teams` section at all.
    assert str(report) == "cases: 0 created, 0 updated, 0 unchanged" and report.changes == 0
    assert str(LoadReport()) == "nothing to load"


def test_readme_example_loads(session, repo_root):
    readme = (repo_root / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Routing-table file format", 1)[1]
    example = re.search(r"### Full example\s+```yaml\n(.*?)```", section, re.S)
    assert example, "README lost its full example"
    report = load(session, example.group(1))
    assert report.counts["cases"]["created"] == 2
    assert load(session, dump(export_document(session)), hash_pin=None).changes == 0


def test_yaml_reader_keeps_times_and_leading_zeros_as_text():
    data, lines, problems = parse_text(
        "a: 18:00\nb: 012345\nc: 2026-01-05\nd: 2026-11-02T09:14:00-06:00\ne: 190:20:30.5\nf: 1_000\n"
        "g:\n  - x\n  - {h: 1}\n"
    )
    assert problems == []
    assert data["a"] == "18:00" and data["b"] == "012345" and data["e"] == "190:20:30.5" and data["f"] == 1000
    assert data["c"] == date(2026, 1, 5)
    assert data["d"] == datetime(2026, 11, 2, 15, 14, tzinfo=UTC)
    assert lines == {"": 1, "a": 1, "b": 2, "c": 3, "d": 4, "e": 5, "f": 6, "g": 7, "g[0]": 8, "g[1]": 9, "g[1].h": 9}


def test_null_lists_and_summary_are_empty(session):
    text = """\
districts: [{name: Oak ISD, state: OK}]
contacts:
  - {contact_id: "7777", district: Oak ISD, name: Pat Doe, phones: null}
advisors:
  - name: Kim Fox
    reach: "client:kim"
    skills:
cases:
  - {number: 10000, district: Oak ISD, product_area: attendance, summary: null,
     created_at: 2026-11-02T09:14:00Z}
"""
    report = load(session, text)
    assert report.changes == 4
    assert session.scalar(select(Contact).where(Contact.contact_id == "7777")).phones == []
    assert session.scalar(select(Advisor).where(Advisor.name == "Kim Fox")).skills == set()
    assert session.scalar(select(Case).where(Case.number == 10000)).summary == ""
    assert load(session, text).changes == 0


def test_long_names_and_unicode_survive_both_backends(session):
    long_name = "Distrito Escolar Independiente de " + "Ñ" * 166  # 200 characters, the column's limit
    assert len(long_name) == 200
    text = f"""\
districts: [{{name: "{long_name}", state: nm}}]
cases:
  - number: 2147483647
    district: "{long_name}"
    product_area: point_of_sale
    summary: "Línea 1\\nLínea 2 — café ☕"
    created_at: 2026-11-02T09:14:00.123456+05:30
"""
    load(session, text)
    case = session.scalar(select(Case).where(Case.number == 2147483647))
    assert case.district.name == long_name and case.summary == "Línea 1\nLínea 2 — café ☕"
    assert case.created_at == datetime(2026, 11, 2, 3, 44, 0, 123456, tzinfo=UTC)
    entry = session.scalar(select(AuditEntry).where(AuditEntry.entity == "district"))
    assert len(entry.entity_key) <= 120 and entry.after["name"] == long_name
    assert load(session, dump(export_document(session))).changes == 0


# --------------------------------------------------------------------------------------------
# Bad input: the right path and line, and nothing written
# --------------------------------------------------------------------------------------------

# (id, old text, new text (marked with `# <-`), expected path, message fragment, load kwargs)
BAD = [
    ("malformed-yaml", "    name: Dana Whitfield", "    name: Dana: Whitfield  # <-", "", "malformed YAML", {}),
    (
        "unknown-key",
        "    email: dana@lakeview.k12.mn.us",
        "    email: dana@lakeview.k12.mn.us\n    phone_number: 6125550134  # <-",
        "contacts[0].phone_number",
        "unknown key 'phone_number'",
        {},
    ),
    ("unknown-section", "version: 1", "version: 1\nrouting: {}  # <-", "routing", "unknown section", {}),
    (
        "duplicate-case-number",
        "  - number: 240118",
        "  - number: 240117  # <-",
        "cases[1].number",
        "duplicate case number 240117",
        {},
    ),
    (
        "duplicate-contact-id",
        "  - contact_id: 5521",
        "  - contact_id: 104233  # <-",
        "contacts[1].contact_id",
        "duplicate contact ID '104233'",
        {},
    ),
    (
        "duplicate-advisor",
        "  - {name: Tom Baker,",
        "  - {name: Priya Raman,  # <-\n    ",
        "advisors[1].name",
        "duplicate advisor name 'Priya Raman'",
        {},
    ),
    (
        "duplicate-district",
        "  - {name: Riverside ISD, state: tx}",
        "  - {name: Riverside ISD, state: tx}\n  - {name: Lakeview Public Schools, state: MN}  # <-",
        "districts[2].name",
        "duplicate district name 'Lakeview Public Schools'",
        {},
    ),
    (
        "contact-unknown-district",
        "    district: Riverside ISD\n    name: Luis Garza",
        "    district: Riverside School District  # <-\n    name: Luis Garza",
        "contacts[1].district",
        "unknown district 'Riverside School District'",
        {},
    ),
    (
        "invalid-phone",
        '    phones: ["(612) 555-0134", "+1 651 555 0199"]',
        '    phones: ["(612) 555-0134",\n             "555-01"]  # <-',
        "contacts[0].phones[1]",
        "not a valid phone number",
        {},
    ),
    ("short-pin", '    pin: "4821"', '    pin: "482"  # <-', "contacts[0].pin", "4 to 8 digits", {}),
    ("long-pin", '    pin: "4821"', '    pin: "123456789"  # <-', "contacts[0].pin", "4 to 8 digits", {}),
    (
        "pin-without-pepper",
        '    pin: "4821"',
        '    pin: "4821"  # <-',
        "contacts[0].pin",
        "no PIN pepper",
        {"hash_pin": None},
    ),
    (
        "unknown-owner",
        "    owner: Priya Raman",
        "    owner: Priya Ramen  # <-",
        "cases[0].owner",
        "unknown advisor 'Priya Ramen'",
        {},
    ),
    (
        "naive-datetime",
        "    created_at: 2026-11-02T09:14:00-06:00",
        "    created_at: 2026-11-02T09:14:00  # <-",
        "cases[0].created_at",
        "without a time zone",
        {},
    ),
    (
        "naive-override",
        "starts_at: 2026-12-24T00:00:00-06:00",
        "starts_at: 2026-12-24 00:00:00",
        "rotations[0].overrides[0].starts_at",
        "without a time zone",
        {},
    ),
    (
        "unknown-product-area",
        "    product_area: grade_book",
        "    product_area: gradebook  # <-",
        "cases[0].product_area",
        "unknown product area 'gradebook'",
        {},
    ),
    (
        "unknown-skill",
        "skills: [grade_book, scheduling]",
        "skills: [grade_book,\n      lunch]  # <-",
        "advisors[0].skills[1]",
        "unknown skill 'lunch'",
        {},
    ),
    (
        "unknown-priority",
        "    priority: high",
        "    priority: urgent  # <-",
        "cases[0].priority",
        "unknown priority 'urgent'",
        {},
    ),
    (
        "unknown-status",
        "    status: in_progress",
        "    status: open  # <-",
        "cases[0].status",
        "unknown status 'open'",
        {},
    ),
    ("short-case-number", "  - number: 240117", "  - number: 9999  # <-", "cases[0].number", "under 5 digits", {}),
    (
        "contact-id-leading-zero",
        "  - contact_id: 5521",
        '  - contact_id: "05521"  # <-',
        "contacts[1].contact_id",
        "not a valid contact ID",
        {},
    ),
    (
        "contact-id-unquoted-octal",
        "  - contact_id: 5521",
        "  - contact_id: 012345  # <-",
        "contacts[1].contact_id",
        "not a valid contact ID: '012345'",
        {},
    ),
    (
        "contact-id-not-digits",
        "  - contact_id: 5521",
        "  - contact_id: 55-21  # <-",
        "contacts[1].contact_id",
        "not a valid contact ID",
        {},
    ),
    (
        "contact-id-too-short",
        "  - contact_id: 5521",
        "  - contact_id: 552  # <-",
        "contacts[1].contact_id",
        "4-10 digits",
        {},
    ),
    (
        "contact-id-too-long",
        "  - contact_id: 5521",
        "  - contact_id: 55211234567  # <-",
        "contacts[1].contact_id",
        "4-10 digits",
        {},
    ),
    (
        "member-not-engineer",
        "    members: [Sam Ortiz, Lee Chen]",
        "    members: [Sam Ortiz,\n      Priya Raman]  # <-",
        "rotations[0].members[1]",
        "'Priya Raman' is not an engineer",
        {},
    ),
    (
        "override-not-engineer",
        "{engineer: Lee Chen,",
        "{engineer: Tom Baker,",
        "rotations[0].overrides[0].engineer",
        "not an engineer",
        {},
    ),
    (
        "unknown-timezone",
        "    timezone: America/Chicago",
        "    timezone: America/Minneapolis  # <-",
        "rotations[0].timezone",
        "unknown time zone",
        {},
    ),
    (
        "hours-close-before-open",
        '  tue: ["06:00-12:00", "13:00-18:00"]',
        '  tue: ["12:00-06:00", "13:00-18:00"]  # <-',
        "hours.tue[0]",
        "must be after it opens",
        {},
    ),
    (
        "hours-close-equals-open",
        "  sat: [08:00-12:00]",
        "  sat: [08:00-08:00]  # <-",
        "hours.sat[0]",
        "must be after it opens",
        {},
    ),
    (
        "hours-overlap",
        '  tue: ["06:00-12:00", "13:00-18:00"]',
        '  tue: ["06:00-12:00", "11:00-18:00"]  # <-',
        "hours.tue[1]",
        "overlaps",
        {},
    ),
    (
        "hours-unknown-day",
        "  sat: [08:00-12:00]",
        "  saturday: [08:00-12:00]  # <-",
        "hours.saturday",
        "unknown key 'saturday'",
        {},
    ),
    (
        "closed-without-closed_at",
        "    closed_at: 2026-10-05T08:00:00Z",
        "    closed_at: null  # <-",
        "cases[1].closed_at",
        "needs closed_at",
        {},
    ),
    (
        "open-with-closed_at",
        "    closed_at: null",
        "    closed_at: 2026-11-04T10:00:00-06:00  # <-",
        "cases[0].closed_at",
        "only a closed case",
        {},
    ),
    (
        "closed-before-created",
        "    closed_at: 2026-10-05T08:00:00Z",
        "    closed_at: 2026-09-05T08:00:00Z  # <-",
        "cases[1].closed_at",
        "before created_at",
        {},
    ),
    (
        "invalid-date",
        "    start_date: 2026-01-05",
        "    start_date: 2026-02-30  # <-",
        "rotations[0].start_date",
        "expected a date",
        {},
    ),
    (
        "weekly-without-weekday",
        "    handoff_weekday: mon",
        "    handoff_weekday: null  # <-",
        "rotations[0].handoff_weekday",
        "needs handoff_weekday",
        {},
    ),
    (
        "unknown-holiday",
        "observe: [new_years_day, thanksgiving, christmas_day]",
        "observe: [new_years_day, boxing_day]  # <-",
        "holidays.observe[1]",
        "unknown holiday 'boxing_day'",
        {},
    ),
    (
        "case-contact-other-district",
        "    district: Riverside ISD\n    product_area: state_reporting",
        '    district: Riverside ISD\n    contact: "104233"  # <-\n    product_area: state_reporting',
        "cases[1].contact",
        "belongs to 'Lakeview Public Schools'",
        {},
    ),
    (
        "duplicate-yaml-key",
        "    priority: high",
        "    priority: high\n    priority: low  # <-",
        "cases[0].priority",
        "duplicate key 'priority'",
        {},
    ),
    (
        "row-not-a-mapping",
        "  - {name: Sam Ortiz,",
        "  - Sam Ortiz  # <-\n  - {name: Sam Ortiz,",
        "engineers[0]",
        "expected a mapping",
        {},
    ),
    ("missing-key", "    product_area: state_reporting\n", "", "cases[1].product_area", "required", {}),
    (
        "bad-reach",
        'reach: "client:tom"',
        'reach: "tom@example.com"',
        "advisors[1].reach",
        "not a phone number, client:NAME or sip: URI",
        {},
    ),
    ("bad-bool", "    hosted: true", "    hosted: maybe  # <-", "districts[0].hosted", "expected true or false", {}),
    (
        "policy-step-unknown-engineer",
        "        engineers: [Sam Ortiz]",
        "        engineers: [Sam Ortiz, Priya Raman]  # <-",
        "escalation_policies[0].steps[1].engineers[1]",
        "'Priya Raman' is not an engineer",
        {},
    ),
    (
        "policy-step-engineer-twice",
        "        engineers: [Sam Ortiz]",
        "        engineers: [Sam Ortiz, Sam Ortiz]  # <-",
        "escalation_policies[0].steps[1].engineers[1]",
        "duplicate engineer 'Sam Ortiz'",
        {},
    ),
    (
        "policy-unknown-manager",
        "    manager: Lee Chen",
        "    manager: Lee Chan  # <-",
        "escalation_policies[0].manager",
        "'Lee Chan' is not an engineer",
        {},
    ),
    (
        "policy-unknown-layer",
        "      - {layers: [primary], delay_minutes: 5}",
        "      - {layers: [primary, tertiary], delay_minutes: 5}  # <-",
        "escalation_policies[0].steps[0].layers[1]",
        "unknown rotation layer 'tertiary'; expected one of: primary, secondary",
        {},
    ),
    (
        "policy-layer-twice",
        "      - {layers: [primary], delay_minutes: 5}",
        "      - {layers: [primary, primary], delay_minutes: 5}  # <-",
        "escalation_policies[0].steps[0].layers[1]",
        "duplicate layer 'primary'",
        {},
    ),
    (
        "policy-two-defaults",
        "      - {layers: [secondary, primary]}",
        "      - {layers: [secondary, primary]}\n  - name: Nights\n    default: true  # <-\n"
        "    steps: [{layers: [primary]}]",
        "escalation_policies[1].default",
        "only one policy may be the default; 'Hosted outage' already is",
        {},
    ),
    (
        "policy-empty-steps",
        "      - {layers: [secondary, primary]}",
        "      - {layers: [secondary, primary]}\n  - {name: Nights, steps: []}  # <-",
        "escalation_policies[1].steps",
        "a policy needs at least one step",
        {},
    ),
    (
        "policy-no-steps",
        "      - {layers: [secondary, primary]}",
        "      - {layers: [secondary, primary]}\n  - {name: Nights}  # <-",
        "escalation_policies[1].steps",
        "a policy needs at least one step",
        {},
    ),
    (
        "policy-step-without-target",
        "      - {layers: [secondary, primary]}",
        "      - {layers: [], engineers: []}  # <-",
        "escalation_policies[0].steps[2]",
        "at least one layer or engineer",
        {},
    ),
    (
        "policy-delay-zero",
        "        delay_minutes: 10",
        "        delay_minutes: 0  # <-",
        "escalation_policies[0].steps[1].delay_minutes",
        "must be between 1 and 240",
        {},
    ),
    (
        "policy-delay-too-long",
        "        delay_minutes: 10",
        "        delay_minutes: 241  # <-",
        "escalation_policies[0].steps[1].delay_minutes",
        "must be between 1 and 240",
        {},
    ),
    (
        "policy-delay-not-a-number",
        "        delay_minutes: 10",
        "        delay_minutes: 10m  # <-",
        "escalation_policies[0].steps[1].delay_minutes",
        "expected a whole number",
        {},
    ),
    (
        "policy-repeats-too-many",
        "    repeats: 1",
        "    repeats: 6  # <-",
        "escalation_policies[0].repeats",
        "must be between 0 and 5",
        {},
    ),
    (
        "policy-step-unknown-key",
        "        delay_minutes: 10",
        "        delay: 10  # <-",
        "escalation_policies[0].steps[1].delay",
        "unknown key 'delay' (allowed: layers, engineers, delay_minutes)",
        {},
    ),
    (
        "duplicate-policy",
        "      - {layers: [secondary, primary]}",
        "      - {layers: [secondary, primary]}\n  - {name: Hosted outage, steps: [{layers: [primary]}]}  # <-",
        "escalation_policies[1].name",
        "duplicate policy name 'Hosted outage'",
        {},
    ),
]


@pytest.mark.parametrize(("old", "new", "path", "fragment", "kwargs"), [b[1:] for b in BAD], ids=[b[0] for b in BAD])
def test_bad_input_is_reported_and_nothing_is_written(session, old, new, path, fragment, kwargs):
    text = replace_once(VALID, old, new)
    before_rows, before_counts = session_rows(session), row_counts(session)
    with pytest.raises(LoadError) as err:
        load(session, text, **kwargs)
    problems = err.value.problems
    matching = [p for p in problems if p.path == path and fragment in p.message]
    assert matching, [str(p) for p in problems]
    if "# <-" in new:
        assert matching[0].line == line_of(text, "# <-"), str(matching[0])
    else:
        assert matching[0].line is not None
    # Exactly this one problem: no cascade of follow-on errors.
    assert len(problems) == 1, [str(p) for p in problems]
    assert str(matching[0]).startswith(f"{path or '(document)'} (line {matching[0].line}): ")
    # Nothing written, not even the valid rows of the same file.
    assert row_counts(session) == before_counts and session_rows(session) == before_rows
    assert session.scalar(select(Team).where(Team.name == "Campus Support")) is None
    assert session.scalar(select(Case).where(Case.number == 240117)) is None


def test_every_problem_is_collected(session):
    text = VALID
    text = replace_once(text, "    name: Luis Garza", "    name: Luis Garza\n    fax: 1")
    text = replace_once(text, "    owner: Priya Raman", "    owner: Nobody")
    text = replace_once(text, "    timezone: America/Chicago", "    timezone: Mars/Olympus")
    text = replace_once(text, "  - number: 240118", "  - number: 24")
    text = replace_once(text, 'phones: ["(612) 555-0134", "+1 651 555 0199"]', 'phones: ["12", "34"]')
    with pytest.raises(LoadError) as err:
        load(session, text)
    paths = [p.path for p in err.value.problems]
    assert paths == [
        "contacts[0].phones[0]",
        "contacts[0].phones[1]",
        "contacts[1].fax",
        "cases[0].owner",
        "cases[1].number",
        "rotations[0].timezone",
    ]
    lines = [p.line for p in err.value.problems]
    assert lines == sorted(lines) and None not in lines
    message = str(err.value)
    assert "6 problem(s); nothing was written" in message and "cases[0].owner" in message


def test_a_bad_row_does_not_cascade_into_unknown_references(session):
    # The district row itself is bad (state); the contact referring to it reports nothing more.
    text = replace_once(VALID, "  - {name: Riverside ISD, state: tx}", "  - {name: Riverside ISD, state: Texas}")
    with pytest.raises(LoadError) as err:
        load(session, text)
    assert [p.path for p in err.value.problems] == ["districts[1].state"]


@pytest.mark.parametrize(
    ("text", "path", "line", "fragment"),
    [
        ("", "", None, "empty"),
        ("# only a comment\n", "", None, "empty"),
        ("- a\n- b\n", "", 1, "expected a mapping of sections"),
        ("version: 2\n", "version", 1, "unsupported version"),
        ("teams: {name: x}\n", "teams", 1, "expected a list of teams"),
        ("teams:\n  - [1, 2]\n", "teams[0]", 2, "expected a mapping"),
        ("teams:\n  - {name: A\n", "", 3, "malformed YAML"),
        ('{"teams": [}', "", 1, "malformed JSON"),
        ('{"teams": [{"name": "A", "kind": "galactic"}]}', "teams[0].kind", None, "unknown team kind"),
        ("a: !!python/object:os.system x\n", "", 1, "malformed YAML"),
        ("--- 1\n--- 2\n", "", 2, "malformed YAML"),
        ("teams:\n  - {name: A, route_order: ten}\n", "teams[0].route_order", 2, "whole number"),
        ("engineers:\n  - {name: A, phone: 6125550177, sms: yes, 1: x}\n", "engineers[0].1", 2, "keys must be text"),
    ],
)
def test_document_level_problems(session, text, path, line, fragment):
    before = session_rows(session)
    with pytest.raises(LoadError) as err:
        load(session, text)
    problem = err.value.problems[0]
    assert (problem.path, problem.line) == (path, line) and fragment in problem.message, str(problem)
    assert session_rows(session) == before


def test_problem_formatting():
    assert str(Problem("contacts[3].phones[1]", 42, "not a valid phone number")) == (
        "contacts[3].phones[1] (line 42): not a valid phone number"
    )
    assert str(Problem("cases[0]", None, "x")) == "cases[0]: x"
    assert str(Problem("", 3, "malformed YAML: y")) == "(document) (line 3): malformed YAML: y"


def test_load_document_maps_lines_given_by_the_caller(session):
    doc = {
        "cases": [
            {"number": 12, "district": "X", "product_area": "grade_book", "created_at": NOW},
            {"number": 12345, "district": "X", "product_area": "grade_book", "created_at": NOW},
        ]
    }
    with pytest.raises(LoadError) as err:
        load_document(session, doc, lines={"cases[0]": 7, "cases[1].district": 9}, hash_pin=None, actor="api", now=NOW)
    # A row that fails its shape check is not checked against other rows (no follow-on noise).
    assert [(p.path, p.line) for p in err.value.problems] == [("cases[0].number", 7), ("cases[1].district", 9)]


# --------------------------------------------------------------------------------------------
# Junk never escapes as anything but LoadReport / LoadError
# --------------------------------------------------------------------------------------------

BASE_DOC = parse_text(VALID)[0]
FIELDS = [
    ("teams", 0, "name"),
    ("teams", 0, "kind"),
    ("teams", 0, "route_order"),
    ("districts", 0, "name"),
    ("districts", 0, "state"),
    ("districts", 0, "team"),
    ("districts", 1, "hosted"),
    ("contacts", 0, "contact_id"),
    ("contacts", 0, "phones"),
    ("contacts", 0, "pin"),
    ("contacts", 0, "email"),
    ("contacts", 1, "district"),
    ("advisors", 0, "reach"),
    ("advisors", 0, "skills"),
    ("advisors", 1, "team"),
    ("engineers", 0, "phone"),
    ("engineers", 1, "name"),
    ("cases", 0, "number"),
    ("cases", 0, "created_at"),
    ("cases", 0, "summary"),
    ("cases", 0, "contact"),
    ("cases", 1, "closed_at"),
    ("cases", 1, "status"),
    ("cases", 0, "reopen_count"),
    ("rotations", 0, "timezone"),
    ("rotations", 0, "handoff_time"),
    ("rotations", 0, "start_date"),
    ("rotations", 0, "members"),
    ("rotations", 0, "overrides"),
    ("escalation_policies", 0, "name"),
    ("escalation_policies", 0, "default"),
    ("escalation_policies", 0, "repeats"),
    ("escalation_policies", 0, "manager"),
    ("escalation_policies", 0, "steps"),
]
SECTION_FIELDS = ["hours", "holidays", "teams", "cases", "version", "escalation_policies"]

_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.integers(min_value=0, max_value=99_999_999),
    st.floats(),
    st.text(max_size=30),
    st.sampled_from(
        [
            "",
            " ",
            "\x00",
            "18:00",
            "06:00-18:00",
            "2026-02-30",
            "2026-11-02T09:14:00",
            "2026-11-02T09:14:00Z",
            "+16125550134",
            "(612) 555-0134",
            "client:x",
            "sip:a@b",
            "104233",
            "5521",
            "012345",
            "4821",
            "closed",
            "in_progress",
            "mon",
            "Lee Chen",
            "Priya Raman",
            "Campus Support",
            "Lakeview Public Schools",
            "America/Chicago",
            "Mars/Olympus",
            "é" * 300,
            "a\nb",
        ]
    ),
    st.dates(),
    st.datetimes(timezones=st.none() | st.timezones()),
    st.times(),
)
junk = st.one_of(
    _scalars,
    st.lists(_scalars, max_size=3),
    st.dictionaries(
        st.sampled_from(["engineer", "starts_at", "ends_at", "layers", "engineers", "delay_minutes", "x"])
        | st.text(max_size=5),
        _scalars,
        max_size=3,
    ),
)


@settings(
    max_examples=150,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    edits=st.lists(st.tuples(st.sampled_from(FIELDS), junk), min_size=1, max_size=2),
    section_junk=st.one_of(st.none(), st.none(), st.none(), st.tuples(st.sampled_from(SECTION_FIELDS), junk)),
)
def test_junk_values_only_ever_give_a_report_or_a_load_error(session, edits, section_junk):
    doc = copy.deepcopy(BASE_DOC)
    for (section, index, key), value in edits:
        doc[section][index][key] = value
    if section_junk is not None:
        doc[section_junk[0]] = section_junk[1]
    nested = session.begin_nested()
    try:
        result = load_document(session, doc, hash_pin=partial(hash_pin, PIN_PEPPER), actor="fuzz", now=NOW)
        assert isinstance(result, LoadReport)
    except LoadError as exc:
        assert exc.problems and all(isinstance(p, Problem) and p.message for p in exc.problems)
    finally:
        nested.rollback()


@settings(
    max_examples=100,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(st.text(max_size=200) | st.sampled_from([VALID[:n] for n in range(0, len(VALID), 97)]))
def test_junk_text_only_ever_gives_a_report_or_a_load_error(session, text):
    nested = session.begin_nested()
    try:
        assert isinstance(load(session, text), LoadReport)
    except LoadError as exc:
        assert exc.problems
    finally:
        nested.rollback()


# --------------------------------------------------------------------------------------------
# The CLI, and the real database behind a committing session
# --------------------------------------------------------------------------------------------


@pytest.fixture
def cli_env(tmp_path, monkeypatch):
    db_file = tmp_path / "cli.sqlite3"
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{db_file}")
    monkeypatch.setenv("SUPPORTLINE_DEV", "1")
    monkeypatch.setenv("SUPPORTLINE_INSTANCE", str(tmp_path / "instance"))
    monkeypatch.delenv("PIN_PEPPER", raising=False)
    from cli.main import main

    runner = CliRunner()
    result = runner.invoke(main, ["db", "upgrade"])
    assert result.exit_code == 0, result.output
    engine = make_engine(f"sqlite:///{db_file}")
    yield runner, main, engine
    engine.dispose()


def test_cli_load_and_export(cli_env, tmp_path):
    runner, main, engine = cli_env
    good = tmp_path / "routing.yaml"
    good.write_text(VALID, encoding="utf-8")
    result = runner.invoke(main, ["load", str(good)])
    assert result.exit_code == 0, result.output
    assert "cases: 2 created, 0 updated, 0 unchanged" in result.stdout

    again = runner.invoke(main, ["load", str(good)])
    assert again.exit_code == 0 and "cases: 0 created, 0 updated, 2 unchanged" in again.stdout

    exported = runner.invoke(main, ["export"])
    assert exported.exit_code == 0, exported.output
    doc = yaml.safe_load(exported.stdout)
    assert [c["number"] for c in doc["cases"]] == [240117, 240118]
    assert "4821" not in exported.stdout and "pin" not in exported.stdout

    out = tmp_path / "export.json"
    as_json = runner.invoke(main, ["export", "--format", "json", "-o", str(out)])
    assert as_json.exit_code == 0, as_json.output
    assert json.loads(out.read_text(encoding="utf-8"))["contacts"][1]["phones"] == ["+16125550134", "+16515550199"]
    reload = runner.invoke(main, ["load", str(out)])
    assert reload.exit_code == 0 and "contacts: 0 created, 0 updated, 2 unchanged" in reload.stdout

    with engine.connect() as conn:
        pin_hash = conn.execute(select(Contact.pin_hash).where(Contact.contact_id == "104233")).scalar_one()
    from webhooks.config import DEV_PIN_PEPPER

    assert check_pin(DEV_PIN_PEPPER, "104233", "4821", pin_hash)


def test_cli_load_warns_about_pins_shorter_than_six_digits_and_still_loads_them(cli_env, tmp_path):
    runner, main, engine = cli_env
    short = tmp_path / "short.yaml"
    short.write_text(VALID, encoding="utf-8")  # Dana's PIN is 4821
    result = runner.invoke(main, ["load", str(short)])
    assert result.exit_code == 0, result.output
    line = line_of(VALID, 'pin: "4821"')
    assert (
        f"warning: contacts[0].pin (line {line}): a 4-digit PIN; new PINs should have 6 or more digits"
    ) in result.stderr
    assert "4821" not in result.output  # never the PIN itself
    with engine.connect() as conn:
        pin_hash = conn.execute(select(Contact.pin_hash).where(Contact.contact_id == "104233")).scalar_one()
    from webhooks.config import DEV_PIN_PEPPER

    assert check_pin(DEV_PIN_PEPPER, "104233", "4821", pin_hash)  # loaded all the same

    six = tmp_path / "six.yaml"
    six.write_text(replace_once(VALID, 'pin: "4821"', 'pin: "482193"'), encoding="utf-8")
    result = runner.invoke(main, ["load", str(six)])
    assert result.exit_code == 0 and "warning" not in result.stderr, result.output


def test_cli_load_of_a_broken_file_exits_1_and_writes_nothing(cli_env, tmp_path):
    runner, main, engine = cli_env
    broken = tmp_path / "broken.yaml"
    text = replace_once(VALID, "    owner: Priya Raman", "    owner: Nobody")
    text = replace_once(text, "    timezone: America/Chicago", "    timezone: Nowhere/Special")
    broken.write_text(text, encoding="utf-8")
    before = all_rows(engine)
    result = runner.invoke(main, ["load", str(broken)])
    assert result.exit_code == 1
    assert f"{broken}: 2 problem(s); nothing was written" in result.stderr
    assert f"cases[0].owner (line {line_of(text, 'owner: Nobody')}): unknown advisor 'Nobody'" in result.stderr
    assert "rotations[0].timezone" in result.stderr
    assert all_rows(engine) == before


def test_broken_file_leaves_the_real_database_unchanged(engine):
    """Through a committing session on the suite's own database (PostgreSQL with TEST_DATABASE_URL)."""
    sessions = make_session_factory(engine)
    before = all_rows(engine)
    text = replace_once(VALID, "  - contact_id: 5521", "  - contact_id: 104233")
    with pytest.raises(LoadError) as err, session_scope(sessions) as session:
        load(session, text)
    assert [p.path for p in err.value.problems] == ["contacts[1].contact_id"]
    assert all_rows(engine) == before
    with session_scope(sessions) as session:
        assert session.scalar(select(Team).where(Team.name == "Campus Support")) is None
