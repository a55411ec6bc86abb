"""Test data built straight through the models (independent of the load-file importer)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time

from sqlalchemy.orm import Session

from auth.pins import hash_pin
from casestore.models import (
    Advisor,
    AdvisorSkill,
    Case,
    Contact,
    ContactPhone,
    District,
    Engineer,
    Rotation,
    RotationMember,
    Team,
)
from casestore.types import CaseStatus, HandoffKind, Priority, ProductArea, RotationLayer, Weekday


@dataclass
class World:
    hosted: District
    onprem: District
    dana: Contact  # hosted district, phone +16125550134, PIN 4821
    omar: Contact  # on-premises district, phone +16515550111, PIN 1357
    shared_a: Contact  # two contacts behind one front-office line +16125550150
    shared_b: Contact
    priya: Advisor  # grade book + scheduling, owns the open case
    marcus: Advisor  # grade book
    lena: Advisor  # attendance
    open_case: Case  # 240117, hosted district, grade book, owner Priya
    recent_closed: Case  # 240200, closed 30 days before the test clock
    old_closed: Case  # 240300, closed 200 days ago
    other_case: Case  # 250001 belongs to the on-premises district
    sam: Engineer
    lee: Engineer

    DANA_PHONE = "+16125550134"
    OMAR_PHONE = "+16515550111"
    SHARED_PHONE = "+16125550150"


def _contact(session, pepper, district, cid, name, phones, pin):
    c = Contact(contact_id=cid, district=district, name=name, pin_hash=hash_pin(pepper, cid, pin))
    c.phones = [ContactPhone(e164=p, position=i) for i, p in enumerate(phones)]
    session.add(c)
    return c


def _advisor(session, name, reach, team, skills):
    a = Advisor(name=name, reach=reach, team=team)
    a.skill_rows = [AdvisorSkill(skill=s) for s in skills]
    session.add(a)
    return a


def build_world(session: Session, pepper: str) -> World:
    campus = Team(name="Campus Support")
    session.add(campus)
    hosted = District(name="Lakeview Public Schools", state="MN", hosted=True, team=None)
    onprem = District(name="Prairie Ridge USD", state="KS", hosted=False)
    session.add_all([hosted, onprem])
    dana = _contact(session, pepper, hosted, "104233", "Dana Whitfield", ["+16125550134"], "4821")
    omar = _contact(session, pepper, onprem, "204511", "Omar Haddad", ["+16515550111"], "1357")
    shared_a = _contact(session, pepper, hosted, "104300", "Jo Park", ["+16125550150"], "2468")
    shared_b = _contact(session, pepper, hosted, "104301", "Ravi Iyer", ["+16125550150"], "1122")
    priya = _advisor(session, "Priya Raman", "+16125550101", campus, [ProductArea.GRADE_BOOK, ProductArea.SCHEDULING])
    marcus = _advisor(session, "Marcus Bell", "+16125550102", campus, [ProductArea.GRADE_BOOK])
    lena = _advisor(session, "Lena Ortiz", "client:lena", campus, [ProductArea.ATTENDANCE])
    utc = UTC
    open_case = Case(
        number=240117,
        district=hosted,
        contact=dana,
        product_area=ProductArea.GRADE_BOOK,
        priority=Priority.HIGH,
        status=CaseStatus.IN_PROGRESS,
        owner=priya,
        summary="Report card GPA rounding",
        created_at=datetime(2026, 11, 2, 15, tzinfo=utc),
    )
    recent_closed = Case(
        number=240200,
        district=hosted,
        product_area=ProductArea.ATTENDANCE,
        priority=Priority.MEDIUM,
        status=CaseStatus.CLOSED,
        owner=lena,
        created_at=datetime(2026, 9, 1, 15, tzinfo=utc),
        closed_at=datetime(2026, 10, 18, 20, tzinfo=utc),
    )
    old_closed = Case(
        number=240300,
        district=hosted,
        product_area=ProductArea.SCHEDULING,
        priority=Priority.LOW,
        status=CaseStatus.CLOSED,
        created_at=datetime(2026, 3, 1, 15, tzinfo=utc),
        closed_at=datetime(2026, 5, 1, 15, tzinfo=utc),
    )
    other_case = Case(
        number=250001,
        district=onprem,
        product_area=ProductArea.GRADE_BOOK,
        priority=Priority.MEDIUM,
        status=CaseStatus.NEW,
        created_at=datetime(2026, 11, 10, 15, tzinfo=utc),
    )
    session.add_all([open_case, recent_closed, old_closed, other_case])
    sam = Engineer(name="Sam Ortiz", phone="+16125550177")
    lee = Engineer(name="Lee Chen", phone="+16125550178")
    session.add_all([sam, lee])
    primary = Rotation(
        name="Hosting primary",
        layer=RotationLayer.PRIMARY,
        timezone="America/Chicago",
        handoff=HandoffKind.WEEKLY,
        handoff_time=time(9),
        handoff_weekday=Weekday.MON,
        start_date=date(2026, 1, 5),
    )
    primary.members = [RotationMember(position=0, engineer=sam)]
    secondary = Rotation(
        name="Hosting secondary",
        layer=RotationLayer.SECONDARY,
        timezone="America/Chicago",
        handoff=HandoffKind.WEEKLY,
        handoff_time=time(9),
        handoff_weekday=Weekday.MON,
        start_date=date(2026, 1, 5),
    )
    secondary.members = [RotationMember(position=0, engineer=lee)]
    session.add_all([primary, secondary])
    session.commit()
    return World(
        hosted,
        onprem,
        dana,
        omar,
        shared_a,
        shared_b,
        priya,
        marcus,
        lena,
        open_case,
        recent_closed,
        old_closed,
        other_case,
        sam,
        lee,
    )
