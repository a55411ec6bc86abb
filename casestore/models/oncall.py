"""Outage on-call: hosting engineers, their rotations and overrides, and the escalation policies that
page them.
"""

from __future__ import annotations

from datetime import date, datetime, time

from sqlalchemy import Boolean, Date, ForeignKey, Integer, String, Time, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from casestore.models.base import Base, _enum
from casestore.types import HandoffKind, RotationLayer, UTCDateTime, Weekday


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

    rotation_id: Mapped[int] = mapped_column(ForeignKey("rotations.id", ondelete="CASCADE"), primary_key=True)
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
