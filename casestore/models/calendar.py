"""When the desk is open and what callers hear first: weekly hours, observed holidays, one-off
closures, status banners.
"""

from __future__ import annotations

from datetime import date, datetime, time

from sqlalchemy import Boolean, Date, ForeignKey, String, Time, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from casestore.models.base import Base, _enum
from casestore.types import UTCDateTime, Weekday, utcnow


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


class StatusBanner(Base):
    """A notice read to callers: global (no district, said before verification) or per district."""

    __tablename__ = "status_banners"

    id: Mapped[int] = mapped_column(primary_key=True)
    district_id: Mapped[int | None] = mapped_column(ForeignKey("districts.id", ondelete="CASCADE"), index=True)
    message: Mapped[str] = mapped_column(String(500))
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
