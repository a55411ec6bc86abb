"""Who may call: teams, customer districts, their Authorized Contacts and the contacts' phone numbers."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import Boolean, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from casestore.models.base import Base, _enum
from casestore.types import TeamKind, UTCDateTime, utcnow

if TYPE_CHECKING:
    from casestore.models.advisors import Advisor


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
    # The language the contact chose on the line ("en", "es"); None: never chosen (English).
    language: Mapped[str | None] = mapped_column(String(8))

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
