"""Inbound calls: the call log, and the degraded-mode stand-ins for Redis (call state, failed PIN
attempts).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from casestore.models.base import Base
from casestore.types import UTCDateTime


class CallLog(Base):
    """One row per inbound call: who was verified, the path through the IVR, the outcome, timings."""

    __tablename__ = "call_log"

    id: Mapped[int] = mapped_column(primary_key=True)
    call_sid: Mapped[str] = mapped_column(String(64), unique=True)
    from_masked: Mapped[str] = mapped_column(String(32), default="")
    contact_id: Mapped[int | None] = mapped_column(ForeignKey("contacts.id", ondelete="SET NULL"))
    district_id: Mapped[int | None] = mapped_column(ForeignKey("districts.id", ondelete="SET NULL"), index=True)
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
    priority: Mapped[str | None] = mapped_column(String(16))  # casestore.types.Priority the call was routed at
    # One entry per Dial that ended (ivr.flow.shared.note_ring): who was rung, when it ended, Twilio's
    # DialCallStatus, whether they accepted, seconds talked. None on calls from before 0011.
    rings: Mapped[list[Any] | None] = mapped_column(JSON, default=list)


class CallStateRow(Base):
    """Degraded mode only (Redis unreachable): a call's state, or a marker such as an accepted
    whisper, kept in the database instead, so calls are still verified and routed."""

    __tablename__ = "call_states"

    key: Mapped[str] = mapped_column(String(120), primary_key=True)
    data: Mapped[Any] = mapped_column(JSON, default=dict)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)


class AuthFailure(Base):
    """Degraded mode only (Redis unreachable): one failed PIN attempt for a subject (a keyed hash of
    the number or contact ID), so lockouts still count instead of failing open."""

    __tablename__ = "auth_failures"
    __table_args__ = (Index("ix_auth_failures_subject_at", "subject", "at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    subject: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime] = mapped_column(UTCDateTime)
