"""The case store's tables: districts, contacts, advisors, cases, logs, calendar, on-call, admins.

Typed SQLAlchemy 2 models. Every instant is a tz-aware UTC `UTCDateTime`; every lookup the call
flow makes (phone -> contact, contact ID -> contact, case number -> case, CallSid -> call) is indexed.
Schema changes go through Alembic (`casestore/migrations`), never `create_all` in production.
"""

from __future__ import annotations

from datetime import date, datetime, time
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    Enum,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    Time,
    UniqueConstraint,
    event,
    update,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, relationship
from sqlalchemy.orm.util import object_state

from casestore.types import (
    AdminRole,
    CaseStatus,
    HandoffKind,
    Priority,
    ProductArea,
    RotationLayer,
    TeamKind,
    UTCDateTime,
    Weekday,
    utcnow,
)

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def _enum(cls: type, name: str) -> Enum:
    # Store the enum *values* ("in_progress"), as varchar + check constraint on every backend.
    return Enum(
        cls,
        name=name,
        native_enum=False,
        create_constraint=True,
        length=32,
        values_callable=lambda e: [m.value for m in e],
        validate_strings=True,
    )


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class Team(Base):
    """A group of advisors: Campus Support, State Reporting, or a Channel/ESA partner."""

    __tablename__ = "teams"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120), unique=True)
    kind: Mapped[TeamKind] = mapped_column(_enum(TeamKind, "team_kind"), default=TeamKind.CAMPUS)
    # Lower is tried first when several teams could take a call.
    route_order: Mapped[int] = mapped_column(Integer, default=100)

    advisors: Mapped[list[Advisor]] = relationship(back_populates="team")


class District(Base):
    """A customer school district."""

    __tablename__ = "districts"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    state: Mapped[str] = mapped_column(String(2))
    hosted: Mapped[bool] = mapped_column(Boolean, default=False)
    team_id: Mapped[int | None] = mapped_column(ForeignKey("teams.id", ondelete="SET NULL"))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    team: Mapped[Team | None] = relationship()
    contacts: Mapped[list[Contact]] = relationship(back_populates="district")


class Contact(Base):
    """An Authorized Contact: the only people who may use the support line for a district."""

    __tablename__ = "contacts"

    id: Mapped[int] = mapped_column(primary_key=True)
    contact_id: Mapped[str] = mapped_column(String(12), unique=True)  # keypad digits
    district_id: Mapped[int] = mapped_column(ForeignKey("districts.id", ondelete="RESTRICT"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    email: Mapped[str | None] = mapped_column(String(254))
    # Keyed hash (HMAC-SHA256 with the configured pepper); None means the contact cannot verify yet.
    pin_hash: Mapped[str | None] = mapped_column(String(128))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # Satisfaction surveys: at most one every 30 days; an opt-out (STOP, or 9 on the phone) is for good.
    survey_opt_out: Mapped[bool] = mapped_column(Boolean, default=False)
    last_survey_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    district: Mapped[District] = relationship(back_populates="contacts")
    phones: Mapped[list[ContactPhone]] = relationship(
        back_populates="contact", cascade="all, delete-orphan", order_by="ContactPhone.position"
    )


class ContactPhone(Base):
    """One of a contact's phone numbers, E.164. A number shared by several contacts is allowed."""

    __tablename__ = "contact_phones"
    __table_args__ = (UniqueConstraint("contact_id", "e164"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id", ondelete="CASCADE"))
    e164: Mapped[str] = mapped_column(String(16), index=True)
    position: Mapped[int] = mapped_column(Integer, default=0)

    contact: Mapped[Contact] = relationship(back_populates="phones")


class Advisor(Base):
    """A support advisor who takes calls. `reach` is an E.164 number, `client:NAME` or a SIP URI."""

    __tablename__ = "advisors"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    reach: Mapped[str] = mapped_column(String(255))
    team_id: Mapped[int | None] = mapped_column(ForeignKey("teams.id", ondelete="SET NULL"))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # The durable half of presence: the state the advisor or a supervisor last chose (available,
    # away, offline). The live state (on a call, wrap-up) is in Redis; after a Redis restart,
    # reconciliation restores the chosen state from here.
    signed_in_state: Mapped[str] = mapped_column(String(16), default="offline")
    away_reason: Mapped[str | None] = mapped_column(String(120))

    team: Mapped[Team | None] = relationship(back_populates="advisors")
    skill_rows: Mapped[list[AdvisorSkill]] = relationship(
        back_populates="advisor", cascade="all, delete-orphan"
    )

    @property
    def skills(self) -> set[ProductArea]:
        return {row.skill for row in self.skill_rows}


class AdvisorSkill(Base):
    __tablename__ = "advisor_skills"

    advisor_id: Mapped[int] = mapped_column(
        ForeignKey("advisors.id", ondelete="CASCADE"), primary_key=True
    )
    skill: Mapped[ProductArea] = mapped_column(_enum(ProductArea, "product_area"), primary_key=True)

    advisor: Mapped[Advisor] = relationship(back_populates="skill_rows")


class Case(Base):
    """A support case. Case numbers are at least five digits, so they never collide with menu keys."""

    __tablename__ = "cases"

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[int] = mapped_column(Integer, unique=True)
    district_id: Mapped[int] = mapped_column(ForeignKey("districts.id", ondelete="RESTRICT"), index=True)
    contact_id: Mapped[int | None] = mapped_column(ForeignKey("contacts.id", ondelete="SET NULL"))
    product_area: Mapped[ProductArea] = mapped_column(_enum(ProductArea, "product_area"))
    priority: Mapped[Priority] = mapped_column(_enum(Priority, "priority"), default=Priority.MEDIUM)
    status: Mapped[CaseStatus] = mapped_column(_enum(CaseStatus, "case_status"), default=CaseStatus.NEW)
    summary: Mapped[str] = mapped_column(String(500), default="")
    owner_id: Mapped[int | None] = mapped_column(
        ForeignKey("advisors.id", ondelete="SET NULL"), index=True
    )
    is_outage: Mapped[bool] = mapped_column(Boolean, default=False)
    release_name: Mapped[str | None] = mapped_column(String(120))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    reopen_count: Mapped[int] = mapped_column(Integer, default=0)
    response_due_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    responded_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    district: Mapped[District] = relationship()
    contact: Mapped[Contact | None] = relationship()
    owner: Mapped[Advisor | None] = relationship()
    events: Mapped[list[CaseEvent]] = relationship(
        back_populates="case", cascade="all, delete-orphan", order_by="CaseEvent.at"
    )

    __table_args__ = (Index("ix_cases_district_outage_created", "district_id", "is_outage", "created_at"),)


class CaseEvent(Base):
    """The case communication log: every call, message, reopen or status change touching a case."""

    __tablename__ = "case_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    kind: Mapped[str] = mapped_column(String(32))  # call, sms, note, reopen, status, recording
    direction: Mapped[str | None] = mapped_column(String(8))  # inbound / outbound
    call_sid: Mapped[str | None] = mapped_column(String(64), index=True)
    contact_id: Mapped[int | None] = mapped_column(ForeignKey("contacts.id", ondelete="SET NULL"))
    advisor_id: Mapped[int | None] = mapped_column(ForeignKey("advisors.id", ondelete="SET NULL"))
    outcome: Mapped[str | None] = mapped_column(String(64))
    detail: Mapped[str] = mapped_column(Text, default="")

    case: Mapped[Case] = relationship(back_populates="events")


class CallLog(Base):
    """One row per inbound call: who was verified, the path through the IVR, the outcome, timings."""

    __tablename__ = "call_log"

    id: Mapped[int] = mapped_column(primary_key=True)
    call_sid: Mapped[str] = mapped_column(String(64), unique=True)
    from_masked: Mapped[str] = mapped_column(String(32), default="")
    contact_id: Mapped[int | None] = mapped_column(ForeignKey("contacts.id", ondelete="SET NULL"))
    district_id: Mapped[int | None] = mapped_column(
        ForeignKey("districts.id", ondelete="SET NULL"), index=True
    )
    case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id", ondelete="SET NULL"))
    advisor_id: Mapped[int | None] = mapped_column(ForeignKey("advisors.id", ondelete="SET NULL"))
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    path: Mapped[list[Any]] = mapped_column(JSON, default=list)
    outcome: Mapped[str] = mapped_column(String(64), default="in_progress")
    status: Mapped[str | None] = mapped_column(String(32))  # Twilio's final CallStatus
    queued_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    wait_seconds: Mapped[int] = mapped_column(Integer, default=0)
    talk_seconds: Mapped[int] = mapped_column(Integer, default=0)
    duration_seconds: Mapped[int] = mapped_column(Integer, default=0)
    recording_url: Mapped[str | None] = mapped_column(String(500))
    skill: Mapped[str | None] = mapped_column(String(32))  # product area routed for; None: general


class CallbackTask(Base):
    """A caller who left the queue with a voice message or a callback request: work for an advisor.

    It keeps the caller's place: advisors work open tasks in queue order (priority, then the time
    the caller first queued), the same order as the live line.
    """

    __tablename__ = "callback_tasks"
    __table_args__ = (Index("ix_callback_tasks_open_order", "status", "priority_rank", "queued_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))  # callback | message
    status: Mapped[str] = mapped_column(String(16), default="open")  # open | done | cancelled
    case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id", ondelete="SET NULL"), index=True)
    district_id: Mapped[int | None] = mapped_column(ForeignKey("districts.id", ondelete="SET NULL"))
    contact_id: Mapped[int | None] = mapped_column(ForeignKey("contacts.id", ondelete="SET NULL"))
    call_sid: Mapped[str] = mapped_column(String(64), unique=True)
    callback_e164: Mapped[str | None] = mapped_column(String(32))
    recording_url: Mapped[str | None] = mapped_column(String(500))
    skill: Mapped[str | None] = mapped_column(String(32))
    priority_rank: Mapped[int] = mapped_column(Integer)
    queued_at: Mapped[datetime] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    done_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    advisor_id: Mapped[int | None] = mapped_column(ForeignKey("advisors.id", ondelete="SET NULL"))

    case: Mapped[Case | None] = relationship()


class FollowUp(Base):
    """One step of the 3 x 10 follow-up of a case pending customer verification: a call and/or SMS
    to the case's contact on a business day (`attempt` 1..3), or the automatic close (`attempt` 0)
    on the tenth business day."""

    __tablename__ = "follow_ups"
    __table_args__ = (UniqueConstraint("case_id", "round", "attempt"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    round: Mapped[int] = mapped_column(Integer, default=1)  # each time the case enters pending verification
    attempt: Mapped[int] = mapped_column(Integer)
    due_at: Mapped[datetime] = mapped_column(UTCDateTime)
    status: Mapped[str] = mapped_column(String(16), default="scheduled")  # scheduled|sent|done|skipped|cancelled
    call_sid: Mapped[str | None] = mapped_column(String(64), index=True)
    sms_sid: Mapped[str | None] = mapped_column(String(64))
    result: Mapped[str | None] = mapped_column(String(24))  # resolved|advisor|keep_open|closed_no_answer
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class Survey(Base):
    """A satisfaction survey sent when a case closed: five ratings from 1 to 5."""

    __tablename__ = "surveys"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id", ondelete="CASCADE"), index=True)
    channel: Mapped[str] = mapped_column(String(8))  # sms | voice
    sid: Mapped[str | None] = mapped_column(String(64))
    product_area: Mapped[str | None] = mapped_column(String(32))
    sent_at: Mapped[datetime] = mapped_column(UTCDateTime)
    answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    courtesy: Mapped[int | None] = mapped_column(Integer)
    knowledge: Mapped[int | None] = mapped_column(Integer)
    timeliness: Mapped[int | None] = mapped_column(Integer)
    quality: Mapped[int | None] = mapped_column(Integer)
    overall: Mapped[int | None] = mapped_column(Integer)


class CallStateRow(Base):
    """Degraded mode only (Redis unreachable): a call's state, or a marker such as an accepted
    whisper, kept in the database instead, so calls are still verified and routed."""

    __tablename__ = "call_states"

    key: Mapped[str] = mapped_column(String(120), primary_key=True)
    data: Mapped[Any] = mapped_column(JSON, default=dict)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)


class AdvisorHold(Base):
    """The database's copy of who an advisor is ringing or talking with: one row per advisor,
    claimed when a call is put through to them and given a `free_at` when that call ends (the end
    of wrap-up after a talk). Redis presence decides in normal operation; this row lets degraded
    mode (Redis unreachable) reserve advisors without double-booking, and lets presence rebuilt
    after a Redis loss keep advisors who are still talking busy."""

    __tablename__ = "advisor_holds"

    advisor_id: Mapped[int] = mapped_column(ForeignKey("advisors.id", ondelete="CASCADE"), primary_key=True)
    call_sid: Mapped[str] = mapped_column(String(64), index=True)
    since: Mapped[datetime] = mapped_column(UTCDateTime)
    free_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # None: ringing or talking


class AuthFailure(Base):
    """Degraded mode only (Redis unreachable): one failed PIN attempt for a subject (a keyed hash of
    the number or contact ID), so lockouts still count instead of failing open."""

    __tablename__ = "auth_failures"
    __table_args__ = (Index("ix_auth_failures_subject_at", "subject", "at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    subject: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime] = mapped_column(UTCDateTime)


class BusinessHours(Base):
    """Weekly opening hours as data, local wall-clock time in the support time zone."""

    __tablename__ = "business_hours"
    __table_args__ = (UniqueConstraint("weekday", "opens"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    weekday: Mapped[Weekday] = mapped_column(_enum(Weekday, "weekday"))
    opens: Mapped[time] = mapped_column(Time)
    closes: Mapped[time] = mapped_column(Time)


class HolidayRule(Base):
    """A named holiday the desk observes (keys from `casestore.types.HOLIDAY_RULES`)."""

    __tablename__ = "holiday_rules"

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(40), unique=True)
    name: Mapped[str] = mapped_column(String(120))
    active: Mapped[bool] = mapped_column(Boolean, default=True)


class Closure(Base):
    """A one-off closed day (local date), e.g. a company event; added by admins without a deploy."""

    __tablename__ = "closures"

    id: Mapped[int] = mapped_column(primary_key=True)
    day: Mapped[date] = mapped_column(Date, unique=True)
    name: Mapped[str] = mapped_column(String(120))


class Engineer(Base):
    """An on-call hosting engineer who receives outage pages."""

    __tablename__ = "engineers"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    phone: Mapped[str] = mapped_column(String(16))
    sms: Mapped[bool] = mapped_column(Boolean, default=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True)


class Rotation(Base):
    """An on-call rotation: ordered engineers handing off daily or weekly at a local time."""

    __tablename__ = "rotations"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120), unique=True)
    layer: Mapped[RotationLayer] = mapped_column(_enum(RotationLayer, "rotation_layer"))
    timezone: Mapped[str] = mapped_column(String(64), default="America/Chicago")
    handoff: Mapped[HandoffKind] = mapped_column(_enum(HandoffKind, "handoff_kind"))
    handoff_time: Mapped[time] = mapped_column(Time)
    handoff_weekday: Mapped[Weekday | None] = mapped_column(_enum(Weekday, "weekday"))
    # The local date on which members[0] starts; the rotation advances from there.
    start_date: Mapped[date] = mapped_column(Date)

    members: Mapped[list[RotationMember]] = relationship(
        back_populates="rotation", cascade="all, delete-orphan", order_by="RotationMember.position"
    )
    overrides: Mapped[list[RotationOverride]] = relationship(
        back_populates="rotation", cascade="all, delete-orphan", order_by="RotationOverride.starts_at"
    )


class RotationMember(Base):
    __tablename__ = "rotation_members"

    rotation_id: Mapped[int] = mapped_column(
        ForeignKey("rotations.id", ondelete="CASCADE"), primary_key=True
    )
    position: Mapped[int] = mapped_column(Integer, primary_key=True)
    engineer_id: Mapped[int] = mapped_column(ForeignKey("engineers.id", ondelete="CASCADE"))

    rotation: Mapped[Rotation] = relationship(back_populates="members")
    engineer: Mapped[Engineer] = relationship()


class RotationOverride(Base):
    """`engineer` covers the rotation from `starts_at` to `ends_at`, whoever is scheduled."""

    __tablename__ = "rotation_overrides"

    id: Mapped[int] = mapped_column(primary_key=True)
    rotation_id: Mapped[int] = mapped_column(ForeignKey("rotations.id", ondelete="CASCADE"), index=True)
    engineer_id: Mapped[int] = mapped_column(ForeignKey("engineers.id", ondelete="CASCADE"))
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ends_at: Mapped[datetime] = mapped_column(UTCDateTime)

    rotation: Mapped[Rotation] = relationship(back_populates="overrides")
    engineer: Mapped[Engineer] = relationship()


class StatusBanner(Base):
    """A notice read to callers: global (no district, said before verification) or per district."""

    __tablename__ = "status_banners"

    id: Mapped[int] = mapped_column(primary_key=True)
    district_id: Mapped[int | None] = mapped_column(
        ForeignKey("districts.id", ondelete="CASCADE"), index=True
    )
    message: Mapped[str] = mapped_column(String(500))
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    active: Mapped[bool] = mapped_column(Boolean, default=True)


class EscalationPolicy(Base):
    """How an outage incident pages people: ordered steps, repeated, then a manager.

    Each step pages its targets (a rotation layer's on-call engineer, or named engineers), then
    waits `delay_minutes` for an acknowledgement before the next step. After the last step the
    whole policy runs again `repeats` more times; when that is exhausted without an
    acknowledgement the incident is marked unacknowledged and `manager` is paged.
    """

    __tablename__ = "escalation_policies"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120), unique=True)
    repeats: Mapped[int] = mapped_column(Integer, default=1)
    manager_id: Mapped[int | None] = mapped_column(ForeignKey("engineers.id", ondelete="SET NULL"))
    is_default: Mapped[bool] = mapped_column(Boolean, default=False)

    manager: Mapped[Engineer | None] = relationship()
    steps: Mapped[list[EscalationStep]] = relationship(
        back_populates="policy", cascade="all, delete-orphan", order_by="EscalationStep.position"
    )


class EscalationStep(Base):
    __tablename__ = "escalation_steps"
    __table_args__ = (UniqueConstraint("policy_id", "position"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    policy_id: Mapped[int] = mapped_column(ForeignKey("escalation_policies.id", ondelete="CASCADE"))
    position: Mapped[int] = mapped_column(Integer)
    delay_minutes: Mapped[int] = mapped_column(Integer, default=5)
    # Targets: the on-call engineer of these layers (comma-separated: "primary,secondary") ...
    layers: Mapped[str] = mapped_column(String(64), default="")
    policy: Mapped[EscalationPolicy] = relationship(back_populates="steps")
    # ... and these engineers by name.
    engineers: Mapped[list[Engineer]] = relationship(secondary="escalation_step_engineers")


class EscalationStepEngineer(Base):
    __tablename__ = "escalation_step_engineers"

    step_id: Mapped[int] = mapped_column(ForeignKey("escalation_steps.id", ondelete="CASCADE"), primary_key=True)
    engineer_id: Mapped[int] = mapped_column(ForeignKey("engineers.id", ondelete="CASCADE"), primary_key=True)


class Incident(Base):
    """An outage being handled: triggered -> acknowledged -> resolved (or unacknowledged when the
    policy ran out). One per outage case; several districts may be linked to it."""

    __tablename__ = "incidents"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), unique=True)
    district_id: Mapped[int] = mapped_column(ForeignKey("districts.id", ondelete="RESTRICT"), index=True)
    policy_id: Mapped[int | None] = mapped_column(ForeignKey("escalation_policies.id", ondelete="SET NULL"))
    # triggered | acknowledged | resolved | unacknowledged
    state: Mapped[str] = mapped_column(String(16), default="triggered")
    triggered_at: Mapped[datetime] = mapped_column(UTCDateTime)
    acknowledged_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    acknowledged_by_id: Mapped[int | None] = mapped_column(ForeignKey("engineers.id", ondelete="SET NULL"))
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    resolved_by_id: Mapped[int | None] = mapped_column(ForeignKey("engineers.id", ondelete="SET NULL"))
    recording_url: Mapped[str | None] = mapped_column(String(500))  # the caller's message, if any

    case: Mapped[Case] = relationship()
    district: Mapped[District] = relationship()
    policy: Mapped[EscalationPolicy | None] = relationship()
    acknowledged_by: Mapped[Engineer | None] = relationship(foreign_keys=[acknowledged_by_id])
    resolved_by: Mapped[Engineer | None] = relationship(foreign_keys=[resolved_by_id])
    linked_districts: Mapped[list[District]] = relationship(secondary="incident_districts")
    events: Mapped[list[IncidentEvent]] = relationship(
        back_populates="incident", cascade="all, delete-orphan", order_by="IncidentEvent.id"
    )


class IncidentDistrict(Base):
    __tablename__ = "incident_districts"

    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id", ondelete="CASCADE"), primary_key=True)
    district_id: Mapped[int] = mapped_column(ForeignKey("districts.id", ondelete="CASCADE"), primary_key=True)


class Page(Base):
    """One page to one engineer: a voice call or an SMS, with its delivery status and result."""

    __tablename__ = "pages"

    id: Mapped[int] = mapped_column(primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id", ondelete="CASCADE"), index=True)
    engineer_id: Mapped[int | None] = mapped_column(ForeignKey("engineers.id", ondelete="SET NULL"))
    channel: Mapped[str] = mapped_column(String(8))  # voice | sms
    round: Mapped[int] = mapped_column(Integer, default=0)  # repeat index
    step: Mapped[int] = mapped_column(Integer, default=0)  # step index; -1 = the escalation manager
    sid: Mapped[str | None] = mapped_column(String(64), index=True)  # CallSid / MessageSid
    status: Mapped[str] = mapped_column(String(24), default="queued")
    answered_by: Mapped[str | None] = mapped_column(String(24))  # human | machine_* | fax | unknown
    result: Mapped[str | None] = mapped_column(String(16))  # acknowledged | resolved
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)

    engineer: Mapped[Engineer | None] = relationship()


class IncidentEvent(Base):
    """The incident's timeline: triggered, each page and its delivery, joins, acks, resolves."""

    __tablename__ = "incident_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id", ondelete="CASCADE"), index=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    kind: Mapped[str] = mapped_column(String(32))
    engineer_id: Mapped[int | None] = mapped_column(ForeignKey("engineers.id", ondelete="SET NULL"))
    detail: Mapped[str] = mapped_column(Text, default="")

    incident: Mapped[Incident] = relationship(back_populates="events")


class AdminUser(Base):
    __tablename__ = "admin_users"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(80), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[AdminRole] = mapped_column(_enum(AdminRole, "admin_role"), default=AdminRole.VIEWER)
    api_token_hash: Mapped[str | None] = mapped_column(String(128), unique=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # Part of every console session's id: bumped on sign-out and on a password change, so every
    # session cookie issued before then stops working (`auth.admins.end_sessions`).
    session_version: Mapped[int] = mapped_column(Integer, default=0, server_default="0")


class AuditEntry(Base):
    """Who changed what, when, with the before and after values."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    actor: Mapped[str] = mapped_column(String(120))  # "admin:alice", "cli:load", "ivr:CA…"
    action: Mapped[str] = mapped_column(String(40))  # create, update, delete, reopen, load
    entity: Mapped[str] = mapped_column(String(40))
    entity_key: Mapped[str] = mapped_column(String(120))
    before: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    after: Mapped[dict[str, Any] | None] = mapped_column(JSON)


class RoutingVersion(Base):
    """One row counting changes to the routing tables a call reads from memory (hours, holidays,
    closures, teams, advisors, engineers, rotations, banners). Workers poll it to know when to
    reload their cached copy; `before_flush` below bumps it on every ORM write to those tables."""

    __tablename__ = "routing_version"

    id: Mapped[int] = mapped_column(primary_key=True)
    version: Mapped[int] = mapped_column(Integer, default=0)


ROUTING_TABLES = (
    Team, Advisor, AdvisorSkill, BusinessHours, HolidayRule, Closure, Engineer, Rotation,
    RotationMember, RotationOverride, StatusBanner, EscalationPolicy, EscalationStep, EscalationStepEngineer,
)


# Columns whose changes the cached routing tables do not depend on (presence is read from Redis).
_NOT_ROUTING: dict[type[Base], set[str]] = {Advisor: {"signed_in_state", "away_reason"}}


def _routing_change(session: Session, obj: object) -> bool:
    if not isinstance(obj, ROUTING_TABLES):
        return False
    ignored = _NOT_ROUTING.get(type(obj))
    if not ignored or obj not in session.dirty:
        return True
    state = object_state(obj)
    return any(attr.key not in ignored and attr.history.has_changes() for attr in state.attrs)


@event.listens_for(Session, "before_flush")
def _bump_routing_version(session: Session, _context: object, _instances: object) -> None:
    changed = (*session.new, *session.dirty, *session.deleted)
    if any(_routing_change(session, obj) for obj in changed):
        session.execute(
            update(RoutingVersion).where(RoutingVersion.id == 1).values(version=RoutingVersion.version + 1)
        )
