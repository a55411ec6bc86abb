"""Outage incidents: the districts linked to each, every page sent to an engineer, and the incident
timeline.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from casestore.models.base import Base
from casestore.types import UTCDateTime

if TYPE_CHECKING:
    from casestore.models.cases import Case
    from casestore.models.directory import District
    from casestore.models.oncall import Engineer, EscalationPolicy


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
