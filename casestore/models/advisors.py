"""The advisors who take calls: their skills and the database's copy of who each one is holding
(ringing or talking with).
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import Boolean, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from casestore.models.base import Base, _enum
from casestore.types import ProductArea, UTCDateTime, utcnow

if TYPE_CHECKING:
    from casestore.models.directory import Team


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
    skill_rows: Mapped[list[AdvisorSkill]] = relationship(back_populates="advisor", cascade="all, delete-orphan")

    @property
    def skills(self) -> set[ProductArea]:
        return {row.skill for row in self.skill_rows}


class AdvisorSkill(Base):
    __tablename__ = "advisor_skills"

    advisor_id: Mapped[int] = mapped_column(ForeignKey("advisors.id", ondelete="CASCADE"), primary_key=True)
    skill: Mapped[ProductArea] = mapped_column(_enum(ProductArea, "product_area"), primary_key=True)

    advisor: Mapped[Advisor] = relationship(back_populates="skill_rows")


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
