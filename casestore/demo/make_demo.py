"""Generate the supportline demo data set (`casestore/demo/demo.yaml`).

    python casestore/demo/make_demo.py > casestore/demo/demo.yaml

Deterministic: one `random.Random(20261128)` and a fixed reference instant (`REFERENCE`), no clock
reads, so regenerating gives a byte-identical file. Everything is fictional: the districts, the
people, and the phone numbers (real US area codes, exchange 555, lines 0100-0199). Every number is
checked with `phonenumbers.is_valid_number`, every cross reference is checked before writing.

The first contact (Lakeview Public Schools, contact ID 104233, Dana Whitfield, (612) 555-0134,
PIN 4821) is the one the README and `supportline demo` tell you to call as.
"""

from __future__ import annotations

import json
import random
import re
import sys
from collections import Counter
from datetime import date, datetime, time, timedelta
from itertools import pairwise
from typing import Any
from zoneinfo import ZoneInfo

import phonenumbers

SEED = 20261128
CHICAGO = ZoneInfo("America/Chicago")
# The instant the data set pretends it is "now": the day after Thanksgiving 2026, noon in Chicago.
REFERENCE = datetime(2026, 11, 27, 12, 0, tzinfo=CHICAGO)
assert REFERENCE.isoformat() == "2026-11-27T12:00:00-06:00"

PRODUCT_AREAS = ["grade_book", "scheduling", "attendance", "online_registration", "point_of_sale", "state_reporting"]
PRIORITIES = ["critical", "high", "medium", "low"]
# Exact mix over all 220 cases (5% / 20% / 55% / 20%), shuffled; the outages are among the critical ones.
PRIORITY_COUNTS = {"critical": 11, "high": 44, "medium": 121, "low": 44}
STATUSES = ["new", "in_progress", "pending_verification", "available_in_release", "closed"]
HOLIDAYS = [
    "new_years_day",
    "memorial_day",
    "juneteenth",
    "independence_day",
    "labor_day",
    "thanksgiving",
    "day_after_thanksgiving",
    "christmas_eve",
    "christmas_day",
]
LAYERS = ["primary", "secondary"]
WEEKDAYS = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]

CASE_COUNT = 220
FIRST_CASE_NUMBER = 240100
HISTORY_DAYS = 400
REOPEN_WINDOW_DAYS = 60

TEAMS = [
    {"name": "Campus Support", "kind": "campus", "route_order": 10},
    {"name": "State Reporting", "kind": "state_reporting", "route_order": 20},
    {"name": "North Star ESA", "kind": "partner", "route_order": 30},
]

# name, state, hosted, team, active, area codes, e-mail domain, schools, cases, contacts
DISTRICTS: list[dict[str, Any]] = [
    dict(
        name="Lakeview Public Schools",
        state="MN",
        hosted=True,
        team="Campus Support",
        active=True,
        area_codes=["612", "952"],
        domain="lakeview.k12.mn.us",
        cases=45,
        schools=["Lakeview High School", "Lakeview Middle School", "Northshore Elementary", "Birch Hill Elementary"],
        contacts=["Dana Whitfield", "Marcus Bell", "Jennifer Okafor", "Tom Lindqvist", "Rachel Nguyen"],
    ),
    dict(
        name="Cedar Valley Community School District",
        state="IA",
        hosted=False,
        team="Campus Support",
        active=True,
        area_codes=["319"],
        domain="cedarvalley.k12.ia.us",
        cases=30,
        schools=["Cedar Valley High School", "Cedar Valley Junior High", "Prairie Creek Elementary"],
        contacts=["Brian Hartley", "Kelsey Dvorak", "Angela Moreno"],
    ),
    dict(
        name="Prairie Wind Unified School District",
        state="KS",
        hosted=True,
        team="Campus Support",
        active=True,
        area_codes=["785"],
        domain="prairiewindusd.org",
        cases=34,
        schools=["Prairie Wind High School", "Sunflower Middle School", "Flint Hills Elementary"],
        contacts=["Scott Reinholt", "Tamara Jessup", "Luis Herrera", "Wendy Kowalski"],
    ),
    dict(
        name="Red River Valley Public Schools",
        state="ND",
        hosted=False,
        team="Campus Support",
        active=True,
        area_codes=["701"],
        domain="rrvschools.org",
        cases=26,
        schools=["Red River Valley High School", "Riverside Middle School", "Prairie Rose Elementary"],
        contacts=["Erik Halvorsen", "Jodi Berg", "Nathan Olson"],
    ),
    dict(
        name="Wolf Creek Area School District",
        state="WI",
        hosted=True,
        team="Campus Support",
        active=True,
        area_codes=["262", "414"],
        domain="wolfcreek.k12.wi.us",
        cases=32,
        schools=["Wolf Creek High School", "Wolf Creek Intermediate", "Pine Ridge Elementary"],
        contacts=["Heather Schultz", "Dennis Kramer", "Monica Patel"],
    ),
    dict(
        name="Osage Bend R-III School District",
        state="MO",
        hosted=True,
        team="Campus Support",
        active=True,
        area_codes=["573"],
        domain="osagebend.k12.mo.us",
        cases=23,
        schools=["Osage Bend High School", "Osage Bend Middle School", "Bluff View Elementary"],
        contacts=["Travis McCoy", "Linda Pruitt"],
    ),
    dict(
        # Left for another vendor at the end of last school year: its contacts may no longer call.
        name="Sandhills Consolidated Schools",
        state="NE",
        hosted=False,
        team="Campus Support",
        active=False,
        area_codes=["308"],
        domain="sandhillsschools.org",
        cases=10,
        schools=["Sandhills Jr/Sr High School", "Sandhills Elementary"],
        contacts=["Gary Lindgren", "Beth Ann Haskins"],
    ),
    dict(
        # Served by the partner ESA's own help desk.
        name="Iron Range Area Schools",
        state="MN",
        hosted=False,
        team="North Star ESA",
        active=True,
        area_codes=["218"],
        domain="ironrange.k12.mn.us",
        cases=20,
        schools=["Iron Range High School", "Mesabi Middle School", "Hibbing Road Elementary"],
        contacts=["Paula Maki", "Joe Perpich"],
    ),
]

DEMO_CONTACT: dict[str, Any] = {
    "contact_id": "104233",
    "district": "Lakeview Public Schools",
    "name": "Dana Whitfield",
    "phones": ["(612) 555-0134"],
    "pin": "4821",
}
# Two contacts of one district who both call from the school's front-office line.
SHARED_LINE_DISTRICT = "Prairie Wind Unified School District"
SHARED_LINE_CONTACTS = ("Tamara Jessup", "Wendy Kowalski")
# Retired: still on old cases, can no longer verify.
INACTIVE_CONTACT = "Dennis Kramer"

# name, team, skills, reach kind ("e164" with an area code, "client" or "sip"), active
ADVISORS = [
    ("Priya Raman", "Campus Support", ["grade_book", "scheduling"], "+16125550101", True),
    ("Marcus Delgado", "Campus Support", ["attendance", "grade_book"], "651", True),
    ("Hannah Brooks", "Campus Support", ["online_registration", "attendance"], "651", True),
    ("Kevin O'Neill", "Campus Support", ["point_of_sale", "online_registration"], "612", True),
    ("Aisha Thompson", "Campus Support", ["scheduling"], "client", True),
    ("Ryan Fitzgerald", "Campus Support", ["grade_book", "attendance", "scheduling"], "sip", True),
    ("Mei Lin Zhou", "Campus Support", ["online_registration", "point_of_sale"], "952", True),
    ("Jordan Pike", "Campus Support", ["attendance"], "763", True),
    ("Carla Benson", "Campus Support", ["grade_book", "scheduling"], "651", False),
    ("Greg Sorensen", "State Reporting", ["state_reporting"], "651", True),
    ("Nadia Ibrahim", "State Reporting", ["state_reporting", "attendance"], "651", True),
    ("Owen Gustafson", "State Reporting", ["state_reporting", "scheduling"], "612", True),
    ("Kari Lundgren", "North Star ESA", ["grade_book", "attendance", "scheduling"], "218", True),
    ("Dave Rintala", "North Star ESA", ["online_registration", "point_of_sale", "state_reporting"], "218", True),
]

# name, phone as written in the file, sms
ENGINEERS = [
    ("Sam Ortiz", "+1 612 555 0177", True),
    ("Lee Chen", "(763) 555-0142", True),
    ("Maria Gomez", "952.555.0163", True),
    ("Avery Johnson", "+1 651-555-0188", False),
]
ROTATION_START = date(2026, 1, 5)  # a Monday
PRIMARY_MEMBERS = ["Sam Ortiz", "Lee Chen", "Maria Gomez"]
SECONDARY_MEMBERS = ["Lee Chen", "Avery Johnson", "Sam Ortiz"]
CHRISTMAS_OVERRIDE = (datetime(2026, 12, 24, tzinfo=CHICAGO), datetime(2026, 12, 26, tzinfo=CHICAGO))
# The default escalation policy (option-8 outage incidents): (layers, delay in minutes) per step.
ESCALATION_STEPS = [(["primary"], 5), (["secondary"], 5), (["primary", "secondary"], 10)]
ESCALATION_REPEATS = 1

CLOSURES = [(date(2026, 12, 31), "Year-end system maintenance")]

# What each state's reporting system is called, and its collections.
STATE_SYSTEMS = {
    "MN": ("MARSS", ["fall", "end-of-year", "midyear"]),
    "IA": ("SRI", ["Fall", "Winter", "Spring"]),
    "KS": ("KIDS", ["ENRL", "EXIT", "TEST"]),
    "ND": ("STARS", ["fall enrollment", "end-of-year"]),
    "WI": ("WISEdata", ["Third Friday of September", "Year End"]),
    "MO": ("MOSIS", ["October Cycle", "June Cycle", "December Cycle"]),
    "NE": ("NSSRS", ["Fall Snapshot", "End of Year"]),
}

SUMMARIES = {
    "grade_book": [
        "Report card GPA rounding differs from grade book for grade {grade}",
        "Teachers at {school} cannot see weighted categories after term rollover",
        "Standards-based grades not posting to {term} report cards",
        "Grade book missing students who enrolled after the start of {term}",
        "Progress report PDF shows blank teacher comments at {school}",
        "Assignment scores revert to previous value after save",
        "Grade calculation override not carried to transcript for {n} students",
        "Grade book takes over 30 seconds to load for teachers at {school}",
        "Honor roll report excludes students with incomplete marks",
        "Posted {term} grades not showing in the parent portal",
        "Missing-assignment flag does not clear after late work is scored",
        "Rubric scores converting to wrong percentage in grade book",
        "Teacher locked out of grade book after grading window closed early",
    ],
    "scheduling": [
        "Master schedule builder dropping lunch periods at {school}",
        "Course requests not loading into scheduler for grade {grade}",
        "Student schedules print with wrong room numbers for period {period}",
        "Section capacity ignored when scheduling {n} students",
        "Walk-in scheduler shows duplicate sections after copy from prior year",
        "Teacher schedule conflicts not flagged for co-taught sections",
        "Schedule wizard placing students in closed sections",
        "Term dates wrong on {term} student schedules after calendar change",
        "Bell schedule change not reflected in period times at {school}",
        "Course rollover created {n} sections without teachers",
        "Team schedule for grade {grade} lost after section renumbering",
    ],
    "attendance": [
        "Attendance wizard posting tardies twice for period {period}",
        "Substitutes at {school} cannot take attendance",
        "Daily attendance calculation marking half days as absent",
        "Parent call-out list includes students marked present",
        "Attendance codes missing from the dropdown for {school} teachers",
        "Period {period} attendance not rolling up to daily status",
        "Truancy letter batch generated for excused absences",
        "Attendance register totals off by one day for {month}",
        "Excused absence reason lost after office edit",
        "Seating chart attendance not saving on classroom tablets",
        "Early dismissal check-outs not recorded for period {period}",
    ],
    "online_registration": [
        "Online registration form stuck on household step for returning families",
        "Uploaded proof-of-residency documents not visible to registrar",
        "Kindergarten registration opened early; parents submitting for next year",
        "Approved registrations not creating student records at {school}",
        "Duplicate household created when parent resubmits registration",
        "Spanish translation missing on emergency contact page",
        "Annual update e-mails sent to inactive guardians",
        "Registration fee step not shown for grade {grade} applicants",
        "Sibling not linking to existing household during new enrollment",
        "E-signature page freezes on mobile Safari",
        "Registrar queue shows {n} applications stuck in processing",
    ],
    "point_of_sale": [
        "Cafeteria terminal at {school} offline after Windows update",
        "Meal eligibility not applied to {n} free and reduced students",
        "Family account balance negative after duplicate lunch charge",
        "Online deposits not posting to student meal accounts",
        "End-of-day POS batch fails to close at {school}",
        "Low-balance e-mails going to the wrong guardian",
        "Second breakfast charged at full price instead of reduced",
        "PIN pad not reading student ID badges at {school}",
        "Direct certification import not updating eligibility",
        "A la carte items missing from serving line menu",
        "Meal count report totals differ from terminal journals for {month}",
    ],
    "state_reporting": [
        "{system} extract rejecting {n} records for invalid resident district",
        "{system} {collection} submission errors after enrollment end dates changed",
        "Special education fields blank in {system} extract",
        "State ID assignment batch returning duplicates for {system}",
        "{system} attendance totals differ from local attendance register",
        "Course codes missing state mapping in {system} extract",
        "{system} validation report times out for district-level run",
        "Question on required fields for {system} {collection} deadline",
        "McKinney-Vento flag not included in {system} file",
        "English learner program dates rejected by {system}",
        "Ed-Fi sync to {system} failing with authorization errors",
    ],
}

# Hosted outages: (district, days before REFERENCE, local time, product area, status, summary)
OUTAGES = [
    (
        "Lakeview Public Schools",
        178,
        time(7, 38),
        "grade_book",
        "closed",
        "Hosted site returning 503 errors during end-of-year grading; teachers cannot post grades",
    ),
    (
        "Wolf Creek Area School District",
        22,
        time(6, 52),
        "attendance",
        "closed",
        "Hosted site unreachable district-wide; teachers cannot take morning attendance",
    ),
    (
        "Prairie Wind Unified School District",
        2,
        time(7, 41),
        "attendance",
        "in_progress",
        "Hosted Campus login page timing out for all staff and parents",
    ),
]


# ---------------------------------------------------------------------------------------------
# helpers


def e164(raw: str) -> str:
    parsed = phonenumbers.parse(raw, "US")
    if not phonenumbers.is_valid_number(parsed):
        raise ValueError(f"invalid phone number in the demo data: {raw}")
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def notation(rng: random.Random, area: str, line: int) -> str:
    local = f"{line:04d}"
    style = rng.choice(["paren", "paren", "dots", "plus1", "dashes", "e164"])
    return {
        "paren": f"({area}) 555-{local}",
        "dots": f"{area}.555.{local}",
        "plus1": f"+1 {area}-555-{local}",
        "dashes": f"{area}-555-{local}",
        "e164": f"+1{area}555{local}",
    }[style]


class Lines:
    """Hands out unused 555-01xx lines per area code, so no number is reused by accident."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.used: set[str] = set()

    def reserve(self, raw: str) -> str:
        number = e164(raw)
        if number in self.used:
            raise ValueError(f"{raw} reserved twice")
        self.used.add(number)
        return number

    def take(self, area: str) -> tuple[str, int]:
        while True:
            line = self.rng.randint(100, 199)
            number = e164(f"+1{area}555{line:04d}")
            if number not in self.used:
                self.used.add(number)
                return number, line


def local_at(day: date, at: time) -> datetime:
    # zoneinfo picks -05:00 (CDT) or -06:00 (CST) as America/Chicago observed on that date.
    return datetime.combine(day, at, tzinfo=CHICAGO)


def _nth_weekday(year: int, month: int, weekday: int, n: int) -> date:
    """The n-th `weekday` (Monday 0) of the month; n = -1 for the last one."""
    if n > 0:
        first = date(year, month, 1)
        return first + timedelta(days=(weekday - first.weekday()) % 7 + 7 * (n - 1))
    last = (date(year, month + 1, 1) if month < 12 else date(year + 1, 1, 1)) - timedelta(days=1)
    return last - timedelta(days=(last.weekday() - weekday) % 7)


def _observed(day: date) -> date:
    """A fixed-date holiday on a weekend is observed on the nearest weekday."""
    shift = {5: -1, 6: 1}.get(day.weekday(), 0)
    return day + timedelta(days=shift)


def desk_closed_days(year: int) -> set[date]:
    """The days the desk is closed in `year` (the nine observed holidays, weekend-shifted, and closures)."""
    thanksgiving = _nth_weekday(year, 11, 3, 4)
    days = {
        _observed(date(year, 1, 1)),
        _nth_weekday(year, 5, 0, -1),
        _observed(date(year, 6, 19)),
        _observed(date(year, 7, 4)),
        _nth_weekday(year, 9, 0, 1),
        thanksgiving,
        thanksgiving + timedelta(days=1),
        _observed(date(year, 12, 24)),
        _observed(date(year, 12, 25)),
    }
    return days | {day for day, _name in CLOSURES if day.year == year}


def is_business_day(day: date) -> bool:
    return day.weekday() < 5 and day not in desk_closed_days(day.year)


def business_day_on_or_after(day: date) -> date:
    while not is_business_day(day):
        day += timedelta(days=1)
    return day


def business_time(rng: random.Random) -> time:
    hour = rng.choices(range(6, 18), weights=[2, 6, 9, 10, 9, 6, 7, 9, 8, 6, 4, 2])[0]
    return time(hour, rng.randrange(60))


def weak_pin(pin: str) -> bool:
    digits = [int(c) for c in pin]
    steps = {b - a for a, b in pairwise(digits)}
    return len(set(pin)) <= 2 or steps in ({1}, {-1}) or pin.startswith(("19", "20"))


def release_name(day: date) -> str:
    year, week, _ = day.isocalendar()
    return f"Campus.{year % 100:02d}{week:02d}"


# ---------------------------------------------------------------------------------------------
# the data set


def build() -> dict:
    rng = random.Random(SEED)
    pin_tail = random.Random(SEED + 1)  # the last two digits of 6-digit PINs (the rest of the data is as before)
    lines = Lines(rng)
    district_by_name = {d["name"]: d for d in DISTRICTS}

    teams = [dict(t) for t in TEAMS]
    districts = [{k: d[k] for k in ("name", "state", "hosted", "team", "active")} for d in DISTRICTS]
    contacts = build_contacts(rng, pin_tail, lines)
    advisors = build_advisors(lines)
    engineers = [{"name": n, "phone": raw, "sms": sms, "active": True} for n, raw, sms in ENGINEERS]
    rotations = build_rotations()
    escalation_policies = build_escalation_policies()
    cases = build_cases(rng, contacts, advisors, district_by_name)

    return {
        "version": 1,
        "teams": teams,
        "districts": districts,
        "contacts": contacts,
        "advisors": advisors,
        "engineers": engineers,
        "cases": cases,
        "hours": {day: ["06:00-18:00"] for day in WEEKDAYS[:5]},
        "holidays": {"observe": list(HOLIDAYS), "closures": [{"date": day, "name": name} for day, name in CLOSURES]},
        "rotations": rotations,
        "escalation_policies": escalation_policies,
    }


def build_contacts(rng: random.Random, pin_tail: random.Random, lines: Lines) -> list[dict]:
    """The Authorized Contacts, district by district: Dana (the README's demo caller) as given, the
    others with a fresh 6-digit contact ID, a PIN that is not weak, and one or two phone numbers
    (two contacts of one district share a front-office line)."""
    lines.reserve(DEMO_CONTACT["phones"][0])
    lines.reserve(ADVISORS[0][3])
    for _name, raw, _sms in ENGINEERS:
        lines.reserve(raw)
    used_ids = {DEMO_CONTACT["contact_id"]}
    contacts: list[dict] = []
    shared_line: list[str] = []  # the shared front-office line, once drawn
    for d in DISTRICTS:
        for name in d["contacts"]:
            parts = name.lower().split()
            email = f"{''.join(parts[:-1])}.{parts[-1]}@{d['domain']}"
            if d["name"] == DEMO_CONTACT["district"] and name == DEMO_CONTACT["name"]:
                contacts.append(
                    {
                        "contact_id": DEMO_CONTACT["contact_id"],
                        "district": d["name"],
                        "name": name,
                        "email": email,
                        "phones": list(DEMO_CONTACT["phones"]),
                        "pin": DEMO_CONTACT["pin"],
                        "active": True,
                    }
                )
                continue
            contact_id = _new_contact_id(rng, used_ids)
            pin = _new_pin(rng, pin_tail)
            phones = _contact_phones(rng, lines, d, name, shared_line)
            contacts.append(
                {
                    "contact_id": contact_id,
                    "district": d["name"],
                    "name": name,
                    "email": email,
                    "phones": phones,
                    "pin": pin,
                    "active": name != INACTIVE_CONTACT,
                }
            )
    return contacts


def _new_contact_id(rng: random.Random, used_ids: set[str]) -> str:
    while True:
        contact_id = str(rng.randint(100000, 999999))
        if contact_id not in used_ids:
            used_ids.add(contact_id)
            return contact_id


def _new_pin(rng: random.Random, pin_tail: random.Random) -> str:
    while True:
        pin = f"{rng.randrange(10000):04d}"
        if not weak_pin(pin):
            break
    return pin + f"{pin_tail.randrange(100):02d}"  # new PINs have 6 digits (casestore.types.NEW_PIN_DIGITS)


def _contact_phones(rng: random.Random, lines: Lines, d: dict, name: str, shared_line: list[str]) -> list[str]:
    phones = []
    if d["name"] == SHARED_LINE_DISTRICT and name in SHARED_LINE_CONTACTS:
        if not shared_line:
            _, line = lines.take(d["area_codes"][0])
            shared_line.append(f"({d['area_codes'][0]}) 555-{line:04d}")
        phones.append(shared_line[0])
    count = 1 if phones else rng.choice([1, 1, 2])
    if phones and rng.random() < 0.5:
        count = 2  # the front-office line plus a direct line
    while len(phones) < count:
        area = rng.choice(d["area_codes"])
        _, line = lines.take(area)
        phones.append(notation(rng, area, line))
    return phones


def build_advisors(lines: Lines) -> list[dict]:
    """The advisors; a reach that is an area code takes a free line there."""
    advisors: list[dict] = []
    for name, team, skills, reach_kind, active in ADVISORS:
        first, last = name.split(" ")[0].lower(), name.split(" ")[-1].lower().replace("'", "")
        if reach_kind.startswith("+"):
            reach = reach_kind
        elif reach_kind == "client":
            reach = f"client:{first[0]}{last}"
        elif reach_kind == "sip":
            reach = f"sip:{first[0]}{last}@pbx.example.com"
        else:
            reach, _ = lines.take(reach_kind)
        advisors.append({"name": name, "reach": reach, "team": team, "skills": list(skills), "active": active})
    return advisors


def build_rotations() -> list[dict]:
    """The two weekly hosting rotations, with a Christmas override on the primary."""
    # Whoever covers Christmas must be on neither layer that week (the scheduled primary gets the days off).
    week = (CHRISTMAS_OVERRIDE[0].date() - ROTATION_START).days // 7
    on_duty = {PRIMARY_MEMBERS[week % len(PRIMARY_MEMBERS)], SECONDARY_MEMBERS[week % len(SECONDARY_MEMBERS)]}
    christmas_cover = next(n for n in PRIMARY_MEMBERS if n not in on_duty)
    return [
        {
            "name": "Hosting primary",
            "layer": "primary",
            "timezone": "America/Chicago",
            "handoff": "weekly",
            "handoff_time": "09:00",
            "handoff_weekday": "mon",
            "start_date": ROTATION_START,
            "members": list(PRIMARY_MEMBERS),
            "overrides": [
                {"engineer": christmas_cover, "starts_at": CHRISTMAS_OVERRIDE[0], "ends_at": CHRISTMAS_OVERRIDE[1]}
            ],
        },
        {
            "name": "Hosting secondary",
            "layer": "secondary",
            "timezone": "America/Chicago",
            "handoff": "weekly",
            "handoff_time": "09:00",
            "handoff_weekday": "mon",
            "start_date": ROTATION_START,
            "members": list(SECONDARY_MEMBERS),
            "overrides": [],
        },
    ]


def build_escalation_policies() -> list[dict]:
    """The one (default) policy for hosted outages."""
    # Its manager is an engineer on neither rotation when there is one, else the last engineer.
    on_rotation = set(PRIMARY_MEMBERS) | set(SECONDARY_MEMBERS)
    off_rotation = [n for n, _raw, _sms in ENGINEERS if n not in on_rotation]
    manager = off_rotation[0] if off_rotation else ENGINEERS[-1][0]
    return [
        {
            "name": "Hosted outage",
            "default": True,
            "repeats": ESCALATION_REPEATS,
            "manager": manager,
            "steps": [{"layers": list(layers), "delay_minutes": delay} for layers, delay in ESCALATION_STEPS],
        }
    ]


def pick_owner(rng: random.Random, area: str, district: dict, advisors: list[dict], closed: bool) -> str:
    def able(a: dict) -> bool:
        return area in a["skills"] and (a["active"] or closed)

    if district["team"] != "Campus Support":
        partner = [a for a in advisors if a["team"] == district["team"] and able(a)]
        if partner and rng.random() < 0.85:
            return rng.choice(partner)["name"]
    preferred = "State Reporting" if area == "state_reporting" else "Campus Support"
    pool = [a for a in advisors if a["team"] == preferred and able(a)]
    return rng.choice(pool)["name"]


def school_term(day: date, rng: random.Random) -> str:
    """A grading term that makes sense for a case opened on `day` (the current or the one just ended)."""
    quarter = {8: "Q1", 9: "Q1", 10: "Q1", 11: "Q2", 12: "Q2", 1: "Q2", 2: "Q3", 3: "Q3"}.get(day.month, "Q4")
    semester = "first semester" if day.month >= 8 or day.month == 1 else "second semester"
    return rng.choice([quarter, quarter, semester])


def summary_for(rng: random.Random, area: str, district: dict, created: date) -> str:
    system, collections = STATE_SYSTEMS[district["state"]]
    template = rng.choice(SUMMARIES[area])
    text = template.format(
        grade=rng.randint(3, 12),
        school=rng.choice(district["schools"]),
        term=school_term(created, rng),
        month=created.strftime("%B"),
        n=rng.randint(3, 140),
        period=rng.randint(1, 7),
        system=system,
        collection=rng.choice(collections),
    )
    return text[0].upper() + text[1:]


def status_for_age(rng: random.Random, age_days: float) -> str:
    if age_days < 7:
        weights = [45, 38, 10, 2, 5]
    elif age_days < 30:
        weights = [8, 35, 17, 10, 30]
    elif age_days < 120:
        weights = [0, 15, 10, 16, 59]
    else:
        weights = [0, 2, 3, 10, 85]
    return rng.choices(STATUSES, weights=weights)[0]


def closing_instant(rng: random.Random, created: datetime, priority: str) -> datetime | None:
    low, high = {"critical": (0, 3), "high": (1, 12), "medium": (2, 45), "low": (3, 75)}[priority]
    day = business_day_on_or_after(created.date() + timedelta(days=rng.randint(low, high)))
    if day == created.date():
        start = created + timedelta(minutes=30)
        if start.time() >= time(17, 59) or start.date() != day:
            day = business_day_on_or_after(day + timedelta(days=1))
            at = local_at(day, business_time(rng))
        else:
            span = int((local_at(day, time(17, 59)) - start).total_seconds() // 60)
            at = start + timedelta(minutes=rng.randint(0, span))
            at = at.replace(second=0)
    else:
        at = local_at(day, business_time(rng))
    return at if at < REFERENCE else None


def build_cases(
    rng: random.Random, contacts: list[dict], advisors: list[dict], district_by_name: dict[str, dict]
) -> list[dict]:
    """The case history: the outages as given, the other cases drawn per district (date, product
    area, priority from the fixed counts, summary), then in creation order each gets its status,
    contact, owner, release and timestamps, and a case number a few above the last."""
    drafts = _outage_drafts(district_by_name)
    remaining = Counter({d["name"]: d["cases"] for d in DISTRICTS})
    for draft in drafts:
        remaining[draft["district"]] -= 1
    assert sum(remaining.values()) + len(drafts) == CASE_COUNT

    priorities = [p for p, n in PRIORITY_COUNTS.items() for _ in range(n)]
    assert len(priorities) == CASE_COUNT
    for draft in drafts:
        priorities.remove(draft["priority"])
    rng.shuffle(priorities)
    drafts += _regular_drafts(rng, remaining, priorities)

    drafts.sort(key=lambda c: (c["created_at"], c["district"], c["summary"]))
    contacts_by_district: dict[str, list[dict]] = {}
    for c in contacts:
        contacts_by_district.setdefault(c["district"], []).append(c)

    cases: list[dict] = []
    number = FIRST_CASE_NUMBER
    for draft in drafts:
        d = district_by_name[draft["district"]]
        cases.append(_case_from_draft(rng, draft, number, d, contacts_by_district[d["name"]], advisors))
        number += rng.randint(1, 9)
    return cases


def _outage_drafts(district_by_name: dict[str, dict]) -> list[dict]:
    reference_day = REFERENCE.date()
    drafts: list[dict] = []
    for district_name, days_ago, at, area, status, summary in OUTAGES:
        d = district_by_name[district_name]
        assert d["hosted"], district_name
        created = local_at(reference_day - timedelta(days=days_ago), at)
        drafts.append(
            {
                "district": district_name,
                "product_area": area,
                "priority": "critical",
                "status": status,
                "summary": summary,
                "is_outage": True,
                "created_at": created,
            }
        )
    return drafts


def _regular_drafts(rng: random.Random, remaining: Counter, priorities: list[str]) -> list[dict]:
    """Each district's other cases: a business-day instant in the history, an area, the next priority."""
    reference_day = REFERENCE.date()
    area_weights = [22, 14, 20, 12, 10, 22]
    drafts: list[dict] = []
    for d in DISTRICTS:
        for _ in range(remaining[d["name"]]):
            while True:
                if d["active"]:
                    # Busier recently: the open queue should have something in every status.
                    bucket = rng.random()
                    low, high = (0, 10) if bucket < 0.12 else (10, 60) if bucket < 0.3 else (60, HISTORY_DAYS)
                    days_ago = rng.uniform(low, high)
                else:
                    days_ago = rng.uniform(300, HISTORY_DAYS)  # the district left last school year
                day = reference_day - timedelta(days=int(days_ago))
                if not is_business_day(day):
                    continue  # redraw rather than shift, so no day collects a long weekend's cases
                created = local_at(day, business_time(rng))
                if created < REFERENCE:
                    break
            area = rng.choices(PRODUCT_AREAS, weights=area_weights)[0]
            drafts.append(
                {
                    "district": d["name"],
                    "product_area": area,
                    "priority": priorities.pop(),
                    "status": None,
                    "summary": summary_for(rng, area, d, created.date()),
                    "is_outage": False,
                    "created_at": created,
                }
            )
    return drafts


def _case_from_draft(
    rng: random.Random, draft: dict, number: int, d: dict, district_contacts: list[dict], advisors: list[dict]
) -> dict:
    """One case row: its status (by age), closing instant, contact, owner, release and update time."""
    created: datetime = draft["created_at"]
    age_days = (REFERENCE - created).total_seconds() / 86400
    status, closed_at = _status_and_closing(rng, draft, d, created, age_days)

    # Contacts: the retired contact only appears on cases from before they retired.
    pool = [c for c in district_contacts if c["active"] or age_days > 200]
    contact = rng.choice(pool)["contact_id"] if rng.random() > 0.08 or draft["is_outage"] else None

    if status == "new":
        owner = None if rng.random() < 0.6 else pick_owner(rng, draft["product_area"], d, advisors, False)
    elif status != "closed" and rng.random() < 0.05:
        owner = None
    else:
        owner = pick_owner(rng, draft["product_area"], d, advisors, status == "closed")

    release = None
    if status == "available_in_release":
        shipped = created.date() + timedelta(days=rng.randint(10, 60))
        shipped = min(shipped, REFERENCE.date() + timedelta(days=28))
        release = release_name(shipped)

    if closed_at is not None:
        updated = closed_at
    elif status == "new":
        updated = created + timedelta(minutes=rng.randint(0, 20))
    else:
        span = int(min((REFERENCE - created).total_seconds(), 30 * 86400) // 60)
        updated = created + timedelta(minutes=rng.randint(min(span, 15), max(span, 15)))
    updated = min(updated, REFERENCE)

    reopen = 0
    if status not in ("new",) and not draft["is_outage"] and rng.random() < 0.05:
        reopen = 1

    return {
        "number": number,
        "district": d["name"],
        "contact": contact,
        "product_area": draft["product_area"],
        "priority": draft["priority"],
        "status": status,
        "owner": owner,
        "summary": draft["summary"],
        "is_outage": draft["is_outage"],
        "release_name": release,
        "created_at": created,
        "updated_at": updated,
        "closed_at": closed_at,
        "reopen_count": reopen,
    }


def _status_and_closing(
    rng: random.Random, draft: dict, d: dict, created: datetime, age_days: float
) -> tuple[str, datetime | None]:
    """A draft's status (an outage's as given, every case of an inactive district closed, else by
    age) and, when closed, its closing instant (one that would fall after `REFERENCE` leaves the
    case pending verification instead)."""
    if draft["status"]:
        status = draft["status"]
    elif not d["active"]:
        status = "closed"
    elif draft["priority"] == "critical" and age_days > 14:
        status = rng.choices(["closed", "available_in_release"], weights=[9, 1])[0]
    else:
        status = status_for_age(rng, age_days)
    closed_at = None
    if status == "closed":
        closed_at = closing_instant(rng, created, draft["priority"])
        if closed_at is None:
            status = "pending_verification"
    return status, closed_at


# ---------------------------------------------------------------------------------------------
# checks


def check(doc: dict) -> None:
    """Every promise the README and the loader rely on; fails loudly rather than writing bad data."""
    districts = check_teams_and_districts(doc)
    by_id = check_contacts(doc, districts)
    advisor_by_name = check_advisors(doc)
    engineers = check_engineers(doc)
    check_oncall(doc, engineers)
    check_cases(doc, districts, by_id, advisor_by_name)
    check_enumerations(doc)


def check_teams_and_districts(doc: dict) -> dict[str, dict]:
    """Unique teams of every kind; unique districts in several states, hosted and not, one of them
    the ESA partner's and one inactive. Returns the districts by name."""
    team_names = [t["name"] for t in doc["teams"]]
    assert len(set(team_names)) == len(team_names)
    assert {t["kind"] for t in doc["teams"]} == {"campus", "state_reporting", "partner"}

    district_names = [d["name"] for d in doc["districts"]]
    assert len(set(district_names)) == len(district_names) >= 6
    assert len({d["state"] for d in doc["districts"]}) >= 4
    assert {d["hosted"] for d in doc["districts"]} == {True, False}
    assert all(d["team"] in team_names for d in doc["districts"])
    assert sum(d["team"] == "North Star ESA" for d in doc["districts"]) == 1
    inactive_districts = {d["name"] for d in doc["districts"] if not d["active"]}
    assert len(inactive_districts) == 1
    return {d["name"]: d for d in doc["districts"]}


def check_contacts(doc: dict, districts: dict[str, dict]) -> dict[str, dict]:
    """Dana first, as the README says; unique IDs, 6-digit PINs, 2 to 5 contacts per district, one
    inactive, exactly one front-office line shared by two contacts. Returns them by contact ID."""
    district_names = [d["name"] for d in doc["districts"]]
    contacts = doc["contacts"]
    assert len(contacts) == 24
    first = contacts[0]
    assert (first["contact_id"], first["district"], first["name"], first["phones"], first["pin"]) == (
        "104233",
        "Lakeview Public Schools",
        "Dana Whitfield",
        ["(612) 555-0134"],
        "4821",
    )
    assert districts[first["district"]]["hosted"] and districts[first["district"]]["state"] == "MN"
    ids = [c["contact_id"] for c in contacts]
    assert len(set(ids)) == len(ids)
    assert all(re.fullmatch(r"[1-9][0-9]{5}", i) for i in ids)
    # Six digits, as new PINs have; Dana keeps the 4-digit PIN the README tells you to enter.
    assert all(re.fullmatch(r"[0-9]{6}", c["pin"]) for c in contacts if c is not first)
    assert all(1 <= len(c["phones"]) <= 2 for c in contacts)
    assert all(2 <= n <= 5 for n in Counter(c["district"] for c in contacts).values())
    assert set(Counter(c["district"] for c in contacts)) == set(district_names)
    assert sum(not c["active"] for c in contacts) == 1
    owners_of_number: dict[str, set[str]] = {}
    for c in contacts:
        normalised = [e164(p) for p in c["phones"]]
        assert len(set(normalised)) == len(normalised)
        for p in normalised:
            owners_of_number.setdefault(p, set()).add(c["contact_id"])
    shared = {p: who for p, who in owners_of_number.items() if len(who) > 1}
    assert len(shared) == 1 and len(next(iter(shared.values()))) == 2, shared
    by_id = {c["contact_id"]: c for c in contacts}
    assert len({by_id[i]["district"] for i in next(iter(shared.values()))}) == 1
    assert e164("(612) 555-0134") not in shared
    return by_id


def check_advisors(doc: dict) -> dict[str, dict]:
    """14 unique advisors covering every product area, one Twilio Client and one SIP reach, the
    team sizes, one inactive. Returns them by name."""
    team_names = [t["name"] for t in doc["teams"]]
    advisors = doc["advisors"]
    assert len(advisors) == 14
    advisor_names = [a["name"] for a in advisors]
    assert len(set(advisor_names)) == len(advisor_names)
    assert {s for a in advisors for s in a["skills"]} == set(PRODUCT_AREAS)
    assert all(1 <= len(a["skills"]) <= 3 and a["team"] in team_names for a in advisors)
    assert sum(a["reach"].startswith("client:") for a in advisors) == 1
    assert sum(a["reach"].startswith("sip:") for a in advisors) == 1
    for a in advisors:
        if a["reach"].startswith("+"):
            assert e164(a["reach"]) == a["reach"]
    by_team = Counter(a["team"] for a in advisors)
    assert by_team["State Reporting"] == 3 and by_team["North Star ESA"] == 2
    assert all("state_reporting" in a["skills"] for a in advisors if a["team"] == "State Reporting")
    assert sum(not a["active"] for a in advisors) == 1
    return {a["name"]: a for a in advisors}


def check_engineers(doc: dict) -> dict[str, dict]:
    """Four engineers with valid numbers; no number used twice anywhere but the shared line.
    Returns them by name."""
    engineers = {e["name"]: e for e in doc["engineers"]}
    assert len(engineers) == len(doc["engineers"]) == 4
    for e in doc["engineers"]:
        e164(e["phone"])
    contacts, advisors = doc["contacts"], doc["advisors"]
    all_numbers = [e164(p) for c in contacts for p in c["phones"]]
    all_numbers += [a["reach"] for a in advisors if a["reach"].startswith("+")]
    all_numbers += [e164(e["phone"]) for e in doc["engineers"]]
    assert len(set(all_numbers)) == len(all_numbers) - 1  # only the one shared front-office line
    return engineers


def check_oncall(doc: dict, engineers: dict[str, dict]) -> None:
    """Rotations of known engineers with sane overrides; one default policy whose steps all page someone."""
    for r in doc["rotations"]:
        assert all(m in engineers for m in r["members"]) and len(set(r["members"])) == len(r["members"])
        for o in r["overrides"]:
            assert o["engineer"] in engineers and o["starts_at"] < o["ends_at"]
    assert len({r["name"] for r in doc["rotations"]}) == len(doc["rotations"])

    policies = doc["escalation_policies"]
    assert len({p["name"] for p in policies}) == len(policies)
    assert sum(p["default"] for p in policies) == 1
    for p in policies:
        assert 0 <= p["repeats"] <= 5 and (p["manager"] is None or p["manager"] in engineers)
        assert p["steps"]
        for step in p["steps"]:
            assert step.get("layers") or step.get("engineers")
            assert set(step.get("layers", [])) <= set(LAYERS)
            assert all(e in engineers for e in step.get("engineers", []))
            assert 1 <= step["delay_minutes"] <= 240


def check_cases(
    doc: dict, districts: dict[str, dict], by_id: dict[str, dict], advisor_by_name: dict[str, dict]
) -> None:
    """The case set as a whole: its size, numbers, every status, priority and area, closures recent
    and old, outages, reopens, unowned cases, and Dana's cases (open and recently closed)."""
    cases = doc["cases"]
    assert len(cases) == CASE_COUNT
    numbers = [c["number"] for c in cases]
    assert numbers[0] == FIRST_CASE_NUMBER and numbers == sorted(set(numbers))
    assert all(100000 <= n <= 999999 for n in numbers)
    assert any(b - a > 1 for a, b in pairwise(numbers))
    assert {c["status"] for c in cases} == set(STATUSES)
    assert Counter(c["priority"] for c in cases) == Counter(PRIORITY_COUNTS)
    assert {c["product_area"] for c in cases} == set(PRODUCT_AREAS)
    closed = Counter(check_case(c, districts, by_id, advisor_by_name) for c in cases)
    assert closed["recent"] >= 5 and closed["old"] >= 5
    assert 2 <= sum(c["is_outage"] for c in cases) <= 3
    assert sum(c["reopen_count"] for c in cases) >= 3
    assert sum(c["owner"] is None for c in cases) >= 5
    demo = [c for c in cases if c["contact"] == "104233"]
    assert any(c["status"] != "closed" for c in demo)
    window = timedelta(days=REOPEN_WINDOW_DAYS)
    assert any(c["status"] == "closed" and REFERENCE - c["closed_at"] <= window for c in demo)


def check_case(c: dict, districts: dict[str, dict], by_id: dict[str, dict], advisor_by_name: dict[str, dict]) -> str:
    """One case: its contact and owner fit, its instants are business hours in order, closed_at
    and release_name exactly when the status says. Returns "recent" or "old" for a closed case
    (closed within the reopen window or before it), else ""."""
    earliest = REFERENCE - timedelta(days=HISTORY_DAYS)
    d = districts[c["district"]]
    if c["contact"] is not None:
        assert by_id[c["contact"]]["district"] == c["district"], c
    if c["owner"] is not None:
        assert c["product_area"] in advisor_by_name[c["owner"]]["skills"], c
    created = c["created_at"]
    assert earliest <= created < REFERENCE
    local = created.astimezone(CHICAGO)
    assert created.utcoffset() == local.utcoffset() and is_business_day(created.date())
    assert time(6, 0) <= created.time() < time(18, 0)
    assert created <= c["updated_at"] <= REFERENCE
    assert (c["status"] == "closed") == (c["closed_at"] is not None)
    assert (c["release_name"] is not None) == (c["status"] == "available_in_release")
    kind = ""
    if c["closed_at"] is not None:
        assert created < c["closed_at"] < REFERENCE and c["updated_at"] == c["closed_at"]
        assert is_business_day(c["closed_at"].date())
        kind = "recent" if REFERENCE - c["closed_at"] <= timedelta(days=REOPEN_WINDOW_DAYS) else "old"
    if c["is_outage"]:
        assert c["priority"] == "critical" and d["hosted"]
    if not d["active"]:
        assert c["status"] == "closed"
    return kind


def check_enumerations(doc: dict) -> None:
    """The observed holidays, and the data set's vocabularies in step with the model's enumerations
    (when the package is importable)."""
    assert set(doc["holidays"]["observe"]) == set(HOLIDAYS)
    try:  # keep in step with the model's enumerations when the package is importable
        from casestore.types import HOLIDAY_RULES, CaseStatus, Priority, ProductArea, RotationLayer
    except ImportError:
        return
    assert {layer.value for layer in RotationLayer} == set(LAYERS)
    assert set(HOLIDAY_RULES) == set(HOLIDAYS)
    assert {p.value for p in ProductArea} == set(PRODUCT_AREAS)
    assert {p.value for p in Priority} == set(PRIORITIES)
    assert {s.value for s in CaseStatus} == set(STATUSES)


# ---------------------------------------------------------------------------------------------
# YAML output (hand-written emitter: block style, keys in the documented order, one-line rows)

_PLAIN = re.compile(r"[A-Za-z][A-Za-z0-9 ._/@'()&-]*")
_RESERVED = {"y", "n", "yes", "no", "true", "false", "on", "off", "null", "none"}
# Always quoted: identifiers made of digits, phone numbers, times.
_QUOTED_KEYS = {"contact_id", "pin", "phones", "reach", "phone", "handoff_time", "contact"}


def scalar(value, force_quote: bool = False) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    text = str(value)
    if not force_quote and _PLAIN.fullmatch(text) and not text.endswith(" ") and text.lower() not in _RESERVED:
        return text
    return json.dumps(text)


def value(key: str, v) -> str:
    quote = key in _QUOTED_KEYS
    if isinstance(v, list):
        return "[" + ", ".join(scalar(x, quote) for x in v) + "]"
    return scalar(v, quote)


def flow(row: dict) -> str:
    return "{" + ", ".join(f"{k}: {value(k, v)}" for k, v in row.items()) + "}"


def block(row: dict, indent: str) -> list[str]:
    out = []
    for i, (k, v) in enumerate(row.items()):
        prefix = indent + ("- " if i == 0 else "  ")
        if isinstance(v, list) and v and isinstance(v[0], dict):
            out.append(f"{prefix}{k}:")
            out.extend(f"{indent}    - {flow(item)}" for item in v)
        else:
            out.append(f"{prefix}{k}: {value(k, v)}")
    return out


def render(doc: dict) -> str:
    out = [
        "# supportline demo data set -- GENERATED FILE, do not edit by hand.",
        "# Regenerate from the repository root with:",
        "#     python casestore/demo/make_demo.py > casestore/demo/demo.yaml",
        f"# Deterministic: random.Random({SEED}), reference instant {REFERENCE.isoformat()}.",
        "# All districts, people and numbers are fictional (US area codes, exchange 555, lines 0100-0199).",
        "#",
        "# Demo caller: Dana Whitfield, Lakeview Public Schools, contact ID 104233,",
        "# calling from (612) 555-0134, PIN 4821.",
        "",
        f"version: {doc['version']}",
        "",
        "teams:",
        *(f"  - {flow(t)}" for t in doc["teams"]),
        "",
        "districts:",
        *(f"  - {flow(d)}" for d in doc["districts"]),
        "",
        "contacts:",
    ]
    for c in doc["contacts"]:
        out.extend(block(c, "  "))
    out += ["", "advisors:", *(f"  - {flow(a)}" for a in doc["advisors"])]
    out += ["", "engineers:", *(f"  - {flow(e)}" for e in doc["engineers"])]
    out += ["", "cases:"]
    for c in doc["cases"]:
        out.extend(block(c, "  "))
    out += ["", "hours:  # local time in America/Chicago; sat and sun closed"]
    out += [f"  {day}: {value('hours', spans)}" for day, spans in doc["hours"].items()]
    out += ["", "holidays:", "  observe:"]
    out += [f"    - {key}" for key in doc["holidays"]["observe"]]
    out += ["  closures:", *(f"    - {flow(c)}" for c in doc["holidays"]["closures"])]
    out += ["", "rotations:"]
    for r in doc["rotations"]:
        out.extend(block(r, "  "))
    out += ["", "escalation_policies:  # the default policy pages option-8 (hosted outage) incidents"]
    for p in doc["escalation_policies"]:
        out.extend(block(p, "  "))
    return "\n".join(out) + "\n"


def _plain_data(obj):
    """What `yaml.safe_load` should give back for `obj` (aware datetimes compared as instants)."""
    if isinstance(obj, dict):
        return {k: _plain_data(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_plain_data(v) for v in obj]
    if isinstance(obj, datetime):
        return obj.timestamp()
    return obj


def main() -> None:
    doc = build()
    check(doc)
    text = render(doc)
    # The emitter is hand-written: prove the text parses back to exactly the data.
    import yaml

    assert _plain_data(yaml.safe_load(text)) == _plain_data(doc)
    sys.stdout.write(text)


if __name__ == "__main__":
    main()
