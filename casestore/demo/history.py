"""A deterministic week of desk history for the demo, so the board, the charts and the reports show
something: `seed_history(session, now, rules)` writes, through the ORM and in the caller's
transaction, the calls of the business days of the seven days ending at `now` (40-80 a day in the
desk's open hours, plus a few after-hours calls that found it closed), the case-log entries of the
calls on cases, the callback tasks of callers who left the line, the cases advisors opened on those
calls (some since closed with an answered survey, some pending verification with their follow-ups),
one outage incident on a hosted district (its case, its pages by phone and SMS, an engineer's
acknowledgement), and a first response on every older case (most within target, a few "new" cases
still unanswered).

One `random.Random(2026)`, the demo's rows read in id order and no clock read: the same database
and the same `now` give the same rows. Calendar rules come in as `DeskRules` (the calendar and the
business-time rules live in `routing`, above this package); numbers are stored masked only.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import flag_modified

from casestore.models import (
    Advisor,
    AdvisorSkill,
    CallbackTask,
    CallLog,
    Case,
    CaseEvent,
    Contact,
    ContactPhone,
    District,
    Engineer,
    EscalationPolicy,
    FollowUp,
    Incident,
    IncidentEvent,
    Page,
    Survey,
)
from casestore.phones import mask
from casestore.types import CaseStatus, Priority, ProductArea

SEED = 2026
DAYS = 7
SLOT = timedelta(minutes=5)
CALLS_PER_DAY = (40, 80)
# Outcomes of calls in open hours and their weights; "closed" calls come after hours (`_after_hours`).
OUTCOMES = {"connected": 74, "abandoned": 9, "callback_requested": 5, "message_recorded": 5, "locked_out": 4}
AREAS = [a.value for a in ProductArea]
SURVEY_SCORES = ([1, 2, 3, 4, 5], [1, 2, 5, 14, 18])
FOLLOWUP_DAYS = (1, 4, 7)
AUTO_CLOSE_DAYS = 10
RECORDINGS = "https://api.twilio.com/2010-04-01/Accounts/ACdemo/Recordings/"


@dataclass(frozen=True)
class DeskRules:
    """The desk's calendar, from the caller: is the desk open at an instant, when a case of a
    priority created at an instant is due a response, an instant plus n business days."""

    is_open: Callable[[datetime], bool]
    response_due: Callable[[datetime, str], datetime]
    add_business_days: Callable[[datetime, float], datetime]
    tz_name: str = "America/Chicago"


@dataclass
class Seeded:
    """What `seed_history` wrote."""

    calls: int = 0
    incidents: int = 0
    pages: int = 0
    callback_tasks: int = 0
    cases: int = 0
    follow_ups: int = 0
    surveys: int = 0
    responded: int = 0
    days: list[date] = field(default_factory=list)

    def line(self) -> str:
        return (
            f"seeded a week of history: {self.calls} calls on {len(self.days)} business days, "
            f"{self.incidents} incident ({self.pages} pages, acknowledged), {self.callback_tasks} callback tasks, "
            f"{self.cases} new cases, {self.follow_ups} follow-ups, {self.surveys} surveys, "
            f"{self.responded} older cases responded to"
        )


@dataclass
class _Demo:
    """The demo's rows the history is made of, each list in id order."""

    districts: list[District]
    contacts: dict[int, list[Contact]]  # district id -> active contacts
    phone: dict[int, str]  # contact id -> first number (E.164)
    advisors: list[Advisor]
    skills: dict[int, set[str]]  # advisor id -> product areas
    open_cases: dict[int, list[Case]]  # district id -> open, non-outage cases
    engineers: list[Engineer]
    policy: EscalationPolicy | None


def _load_demo(session: Session) -> _Demo:
    districts = list(session.scalars(select(District).where(District.active.is_(True)).order_by(District.id)))
    contacts: dict[int, list[Contact]] = {}
    for c in session.scalars(select(Contact).where(Contact.active.is_(True)).order_by(Contact.id)):
        contacts.setdefault(c.district_id, []).append(c)
    phone: dict[int, str] = {}
    for p in session.scalars(select(ContactPhone).order_by(ContactPhone.contact_id, ContactPhone.position)):
        phone.setdefault(p.contact_id, p.e164)
    skills: dict[int, set[str]] = {}
    for s in session.scalars(select(AdvisorSkill).order_by(AdvisorSkill.advisor_id)):
        skills.setdefault(s.advisor_id, set()).add(s.skill.value)
    open_cases: dict[int, list[Case]] = {}
    rows = select(Case).where(Case.status != CaseStatus.CLOSED, Case.is_outage.is_(False)).order_by(Case.id)
    for case in session.scalars(rows):
        open_cases.setdefault(case.district_id, []).append(case)
    return _Demo(
        districts=[d for d in districts if contacts.get(d.id)],
        contacts=contacts,
        phone=phone,
        advisors=list(session.scalars(select(Advisor).where(Advisor.active.is_(True)).order_by(Advisor.id))),
        skills=skills,
        open_cases=open_cases,
        engineers=list(session.scalars(select(Engineer).where(Engineer.active.is_(True)).order_by(Engineer.id))),
        policy=session.scalars(select(EscalationPolicy).order_by(EscalationPolicy.id)).first(),
    )


def seed_history(session: Session, now: datetime, rules: DeskRules, *, seed: int = SEED) -> Seeded:
    """Write the week ending at `now` (tz-aware) into `session` (flushed, not committed)."""
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    writer = _Writer(session, now, rules, random.Random(seed), _load_demo(session))
    writer.respond_to_older_cases()
    for day, slots in writer.business_days():
        writer.day_of_calls(day, slots)
    writer.outage()
    writer.settle_new_cases()
    session.flush()
    return writer.seeded


def _touch(case: Case, at: datetime) -> None:
    """`updated_at` as given, not the clock (the column's onupdate would read it)."""
    case.updated_at = at
    flag_modified(case, "updated_at")


class _Writer:
    def __init__(self, session: Session, now: datetime, rules: DeskRules, rng: random.Random, demo: _Demo) -> None:
        self.session, self.now, self.rules, self.rng, self.demo = session, now, rules, rng, demo
        self.tz = ZoneInfo(rules.tz_name)
        self.seeded = Seeded()
        self.new_cases: list[Case] = []
        self.next_number = max(int(session.scalar(select(func.max(Case.number))) or 0), 99999) + 1
        self.open_slots: list[datetime] = []

    # ------------------------------------------------------------------ small helpers

    def sid(self, prefix: str) -> str:
        return f"{prefix}{self.rng.getrandbits(128):032x}"

    def advisor_for(self, skill: str | None) -> Advisor | None:
        able = [a for a in self.demo.advisors if skill is None or skill in self.demo.skills.get(a.id, set())]
        pool = able or self.demo.advisors
        return self.rng.choice(pool) if pool else None

    def event(self, case: Case, at: datetime, kind: str, outcome: str | None, **values) -> None:
        values.setdefault("direction", "inbound" if kind == "call" else None)
        self.session.add(CaseEvent(case_id=case.id, at=at, kind=kind, outcome=outcome, **values))

    def new_case(self, district: District, contact: Contact | None, at: datetime, area: str, priority: str) -> Case:
        case = Case(
            number=self.next_number,
            district_id=district.id,
            contact_id=contact.id if contact else None,
            product_area=ProductArea(area),
            priority=Priority(priority),
            status=CaseStatus.IN_PROGRESS,
            summary=f"{area.replace('_', ' ').capitalize()} question from {district.name} (by phone)",
            created_at=at,
            updated_at=at,
            response_due_at=self.rules.response_due(at, priority),
            responded_at=at,
        )
        self.next_number += 1
        self.session.add(case)
        self.session.flush()
        self.seeded.cases += 1
        return case

    # ------------------------------------------------------------------ responses to the older cases

    def respond_to_older_cases(self) -> None:
        """Every case from the data set gets its response-due time; all but the newest "new" ones
        a first response, most within target and a few late (never after `now` or its close)."""
        recent = self.now - timedelta(days=DAYS)
        for case in self.session.scalars(select(Case).where(Case.created_at < self.now).order_by(Case.id)):
            _touch(case, case.updated_at)  # the data set's, kept
            if case.response_due_at is None:
                case.response_due_at = self.rules.response_due(case.created_at, case.priority.value)
            if case.responded_at is not None or (
                case.status == CaseStatus.NEW and case.created_at >= recent - timedelta(days=3)
            ):
                continue
            span = case.response_due_at - case.created_at
            late = self.rng.random() < 0.06
            at = (
                case.response_due_at + span * self.rng.uniform(0.1, 0.6)
                if late
                else case.created_at + span * self.rng.uniform(0.05, 0.85)
            )
            latest = min(self.now, case.closed_at or self.now)
            case.responded_at = max(case.created_at, min(at, latest))
            self.seeded.responded += 1

    # ------------------------------------------------------------------ the calls

    def business_days(self) -> list[tuple[date, list[datetime]]]:
        """Each local day of the week with open hours: its open five-minute slots (all of the
        day's, so a day's volume does not depend on the hour of `now`)."""
        start = self.now - timedelta(days=DAYS)
        first, last = start.astimezone(self.tz).date(), self.now.astimezone(self.tz).date()
        out = []
        day = first
        while day <= last:
            midnight = datetime.combine(day, time(0), tzinfo=self.tz)
            slots = [midnight + i * SLOT for i in range(int(timedelta(days=1) / SLOT))]
            slots = [s for s in slots if self.rules.is_open(s)]
            if slots:
                out.append((day, slots))
            day += timedelta(days=1)
        return out

    def day_of_calls(self, day: date, slots: list[datetime]) -> None:
        start = self.now - timedelta(days=DAYS)
        count = self.rng.randint(*CALLS_PER_DAY)
        picks = sorted(self.rng.choice(slots) + timedelta(seconds=self.rng.randrange(300)) for _ in range(count))
        taken = [at for at in picks if start <= at < self.now and self.rules.is_open(at)]
        for at in taken:
            self.call(at, self.rng.choices(list(OUTCOMES), weights=list(OUTCOMES.values()))[0])
        self.open_slots.extend(s for s in slots if start <= s < self.now)
        self.after_hours(day)
        if taken:
            self.seeded.days.append(day)

    def after_hours(self, day: date) -> None:
        """Two to five callers who rang in the evening and heard the desk was closed."""
        evening = datetime.combine(day, time(17, 0), tzinfo=self.tz)
        for _ in range(self.rng.randint(2, 5)):
            at = evening + timedelta(seconds=self.rng.randrange(3 * 3600))
            if at < self.now and not self.rules.is_open(at) and at >= self.now - timedelta(days=DAYS):
                self.call(at, "closed")

    def call(self, at: datetime, outcome: str) -> None:
        rng = self.rng
        district = rng.choice(self.demo.districts)
        contact = rng.choice(self.demo.contacts[district.id])
        cases = self.demo.open_cases.get(district.id, [])
        case = rng.choice(cases) if cases and rng.random() < 0.55 else None
        skill = case.product_area.value if case else rng.choice([*AREAS, None])
        priority = case.priority.value if case else rng.choice(["high", "medium", "medium", "low"])
        ivr = rng.randint(25, 70)
        row = CallLog(
            call_sid=self.sid("CA"),
            from_masked=mask(self.demo.phone.get(contact.id)),
            contact_id=contact.id,
            district_id=district.id,
            case_id=case.id if case else None,
            started_at=at,
            outcome=outcome,
            status="completed",
            skill=skill,
            priority=priority,
            wait_seconds=0,
            talk_seconds=0,
            path=["greeting", "pin", "verified", "menu", *(["case", "case_readback"] if case else [])],
        )
        if outcome == "locked_out":
            row.contact_id = row.district_id = row.case_id = row.skill = row.priority = None
            row.path, case, ivr = ["greeting", "pin", "locked_out"], None, rng.randint(60, 110)
        elif outcome == "closed":
            row.case_id = row.skill = row.priority = None
            row.path, case = ["greeting", "pin", "verified", "closed", "goodbye"], None
        else:
            self.queue(row, at + timedelta(seconds=ivr), outcome, district, contact)
            case = self.session.get(Case, row.case_id) if row.case_id else None
        row.duration_seconds = ivr + row.wait_seconds + row.talk_seconds
        row.ended_at = at + timedelta(seconds=row.duration_seconds)
        self.session.add(row)
        self.seeded.calls += 1
        if case is not None:
            self.event(
                case, at, "call", outcome, call_sid=row.call_sid, contact_id=contact.id, advisor_id=row.advisor_id
            )
        if outcome in ("callback_requested", "message_recorded"):
            self.task(row)

    def queue(self, row: CallLog, queued: datetime, outcome: str, district: District, contact: Contact) -> None:
        """The part of the call in the line: its wait, and the advisor and talk of an answered one
        (who may open a case for a new issue on it)."""
        rng = self.rng
        row.queued_at = queued
        row.path = [*row.path, "queue"]
        if outcome == "connected":
            row.wait_seconds = rng.randint(2, 14) if rng.random() < 0.8 else rng.randint(15, 120)
            row.talk_seconds = rng.randint(120, 1500)
            advisor = self.advisor_for(row.skill)
            row.advisor_id = advisor.id if advisor else None
            row.path = [*row.path, "connect"]
            if row.case_id is None and rng.random() < 0.45:
                answered = queued + timedelta(seconds=row.wait_seconds)
                area = row.skill or rng.choice(AREAS)
                case = self.new_case(district, contact, answered, area, row.priority or "medium")
                case.owner_id = row.advisor_id
                _touch(case, answered)
                row.case_id, row.skill = case.id, area
                self.new_cases.append(case)
        elif outcome == "abandoned":
            row.wait_seconds = rng.randint(20, 320)
        else:
            row.wait_seconds = rng.randint(60, 420)
            row.path = [*row.path, "queue_choices", outcome]
            if outcome == "message_recorded":
                row.recording_url = f"{RECORDINGS}{self.sid('RE')}"
                row.talk_seconds = 0

    def task(self, row: CallLog) -> None:
        """The callback task of a caller who left the line: worked unless it is from the last few hours."""
        assert row.ended_at is not None and row.queued_at is not None
        kind = "callback" if row.outcome == "callback_requested" else "message"
        done_at = row.ended_at + timedelta(minutes=self.rng.randint(15, 150))
        task = CallbackTask(
            kind=kind,
            status="open",
            case_id=row.case_id,
            district_id=row.district_id,
            contact_id=row.contact_id,
            call_sid=row.call_sid,
            callback_e164=self.demo.phone.get(row.contact_id or 0) if kind == "callback" else None,
            recording_url=row.recording_url,
            skill=row.skill,
            priority_rank=Priority(row.priority or "medium").rank,
            queued_at=row.queued_at,
            created_at=row.ended_at,
        )
        if done_at < self.now - timedelta(hours=2) and self.rng.random() < 0.9:
            advisor = self.advisor_for(row.skill)
            task.status, task.done_at, task.advisor_id = "done", done_at, advisor.id if advisor else None
        self.session.add(task)
        self.seeded.callback_tasks += 1

    # ------------------------------------------------------------------ the outage

    def outage(self) -> None:
        """One outage on a hosted district: the call that reported it (a voice message), the
        incident, a phone and an SMS page to the on-call engineer, delivered, and the engineer's
        acknowledgement by phone four minutes in. Still open: the engineers are on it."""
        hosted = [d for d in self.demo.districts if d.hosted]
        late_slots = [s for s in self.open_slots if s >= self.now - timedelta(days=2)] or self.open_slots
        if not hosted or not self.demo.engineers or not late_slots:
            return
        district = hosted[-1]
        contact = self.demo.contacts[district.id][0]
        at = self.rng.choice(late_slots[: max(1, len(late_slots) // 2)])
        case = self.new_case(district, contact, at, ProductArea.ATTENDANCE.value, Priority.CRITICAL.value)
        case.is_outage, case.summary = True, f"Hosted site outage reported by phone for {district.name}"
        case.responded_at = at + timedelta(minutes=4)
        _touch(case, at)
        call = CallLog(
            call_sid=self.sid("CA"),
            from_masked=mask(self.demo.phone.get(contact.id)),
            contact_id=contact.id,
            district_id=district.id,
            case_id=case.id,
            started_at=at,
            ended_at=at + timedelta(seconds=95),
            path=["greeting", "pin", "verified", "menu", "outage", "outage_record", "recorded"],
            outcome="message_recorded",
            status="completed",
            duration_seconds=95,
            recording_url=f"{RECORDINGS}{self.sid('RE')}",
            skill=ProductArea.ATTENDANCE.value,
            priority=Priority.CRITICAL.value,
        )
        self.session.add(call)
        self.seeded.calls += 1
        self.event(case, at, "call", "outage_opened", call_sid=call.call_sid, contact_id=contact.id)
        self.incident(case, district, call, at)

    def incident(self, case: Case, district: District, call: CallLog, at: datetime) -> None:
        """The incident, its pages and its timeline, in time order: triggered, paged by phone and
        SMS, the SMS delivered, the caller's message, the acknowledgement, the call page's end."""
        engineer = next((e for e in self.demo.engineers if e.sms), self.demo.engineers[0])
        policy = self.demo.policy
        incident = Incident(
            case_id=case.id,
            district_id=district.id,
            policy_id=policy.id if policy else None,
            state="triggered",
            triggered_at=at,
            recording_url=call.recording_url,
        )
        self.session.add(incident)
        self.session.flush()
        by = policy.name if policy else "default"
        self.note(
            incident,
            at,
            "triggered",
            f"Outage reported by phone for {district.name}; paging by policy {by}.",
            call_sid=call.call_sid,
        )
        pages = self.pages(incident, engineer, at + timedelta(seconds=20))
        for page in pages:
            how = "phone call" if page.channel == "voice" else "SMS"
            self.note(incident, page.created_at, "page_sent", f"Paged {engineer.name} by {how} (step 1, round 1).")
        acked = at + timedelta(minutes=4)
        incident.state, incident.acknowledged_at, incident.acknowledged_by_id = "acknowledged", acked, engineer.id
        later = [
            (at + timedelta(seconds=80), "caller_message", f"The caller left a voice message: {call.recording_url}"),
            (acked, "acknowledged", f"Acknowledged by {engineer.name} (phone)."),
            *[(p.updated_at, "page_delivery", f"{p.channel} page to {engineer.name}: {p.status}.") for p in pages],
        ]
        for when, kind, detail in sorted(later, key=lambda x: x[0]):
            self.note(
                incident,
                when,
                kind,
                detail,
                engineer.id if kind != "caller_message" else None,
                case_log=kind != "page_delivery",
            )
        self.seeded.incidents += 1

    def pages(self, incident: Incident, engineer: Engineer, sent: datetime) -> list[Page]:
        """A call page (answered by the engineer, who acknowledged on it) and, if they take texts,
        an SMS page (delivered a minute later)."""
        out = []
        for channel in ["voice", *(["sms"] if engineer.sms else [])]:
            voice = channel == "voice"
            page = Page(
                incident_id=incident.id,
                engineer_id=engineer.id,
                channel=channel,
                round=0,
                step=0,
                sid=self.sid("CA" if voice else "SM"),
                status="completed" if voice else "delivered",
                answered_by="human" if voice else None,
                result="acknowledged" if voice else None,
                created_at=sent,
                updated_at=sent + timedelta(minutes=5 if voice else 1),
            )
            self.session.add(page)
            out.append(page)
        self.seeded.pages += len(out)
        return out

    def note(
        self,
        incident: Incident,
        at: datetime,
        kind: str,
        detail: str,
        engineer_pk: int | None = None,
        *,
        call_sid: str | None = None,
        case_log: bool = True,
    ) -> None:
        """A timeline line, and the case-log line the app writes with it (as `ivr.incidents.note`)."""
        self.session.add(
            IncidentEvent(incident_id=incident.id, at=at, kind=kind, engineer_id=engineer_pk, detail=detail)
        )
        if case_log:
            self.session.add(
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

    # ------------------------------------------------------------------ what became of the new cases

    def settle_new_cases(self) -> None:
        """Nearly half the cases opened on this week's calls are closed again (with a survey to
        the contact, at most one a month each, most answered), a fifth are pending verification."""
        for case in self.new_cases:
            r = self.rng.random()
            if r < 0.45:
                self.close(case, self.rules.add_business_days(case.created_at, self.rng.uniform(0.05, 1.2)))
            elif r < 0.65:
                self.pending(case, self.rules.add_business_days(case.created_at, self.rng.uniform(0.1, 0.8)))

    def close(self, case: Case, at: datetime) -> None:
        if at >= self.now:
            return
        case.status, case.closed_at = CaseStatus.CLOSED, at
        _touch(case, at)
        self.event(
            case,
            at,
            "status",
            "closed",
            detail="Closed by the advisor: the customer confirmed the fix.",
            advisor_id=case.owner_id,
        )
        contact = self.session.get(Contact, case.contact_id) if case.contact_id else None
        if contact is None or contact.survey_opt_out:
            return
        if contact.last_survey_at is not None and contact.last_survey_at > at - timedelta(days=30):
            return
        contact.last_survey_at = at
        survey = Survey(
            case_id=case.id,
            contact_id=contact.id,
            channel="sms",
            sid=self.sid("SM"),
            product_area=case.product_area.value,
            sent_at=at,
        )
        answered = at + timedelta(minutes=self.rng.randint(4, 240))
        if answered < self.now and self.rng.random() < 0.85:
            survey.answered_at = answered
            overall = self.rng.choices(*SURVEY_SCORES)[0]  # one impression, each rating near it
            scores = [min(5, max(1, overall + self.rng.choice([-1, 0, 0, 0, 1]))) for _ in range(4)] + [overall]
            survey.courtesy, survey.knowledge, survey.timeliness, survey.quality, survey.overall = scores
        self.session.add(survey)
        self.seeded.surveys += 1

    def pending(self, case: Case, at: datetime) -> None:
        """Resolved at `at`, pending the customer's verification: follow-ups 1-3 on business days
        1, 4 and 7 (those due by now sent, unanswered), and the automatic close on day 10."""
        if at >= self.now:
            return
        case.status = CaseStatus.PENDING_VERIFICATION
        _touch(case, at)
        self.event(
            case,
            at,
            "status",
            "pending_verification",
            detail="Resolved, pending customer verification.",
            advisor_id=case.owner_id,
        )
        steps = [(i + 1, self.rules.add_business_days(at, d)) for i, d in enumerate(FOLLOWUP_DAYS)]
        to = mask(self.demo.phone.get(case.contact_id or 0))
        for attempt, due in [*steps, (0, self.rules.add_business_days(at, AUTO_CLOSE_DAYS))]:
            row = FollowUp(case_id=case.id, round=1, attempt=attempt, due_at=due, status="scheduled", updated_at=at)
            if due <= self.now and attempt:
                row.status, row.call_sid, row.sms_sid, row.updated_at = "sent", self.sid("CA"), self.sid("SM"), due
                self.event(
                    case,
                    due,
                    "followup",
                    "sent",
                    detail=f"Follow-up {attempt} of 3: call and SMS to {to}.",
                    direction="outbound",
                    call_sid=row.call_sid,
                )
            self.session.add(row)
            self.seeded.follow_ups += 1
