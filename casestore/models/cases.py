"""Support cases and the work hanging off them: the communication log, callback tasks, the 3 x 10
follow-ups, satisfaction surveys.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from casestore.models.base import Base, _enum
from casestore.types import CaseStatus, Priority, ProductArea, UTCDateTime, utcnow

if TYPE_CHECKING:
    from casestore.models.advisors import Advisor
    from casestore.models.directory import Contact, District


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
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("advisors.id", ondelete="SET NULL"), index=True)
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
    # Left after hours: not to be worked before the desk's next opening; None: at once.
    not_before: Mapped[datetime | None] = mapped_column(UTCDateTime)
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
