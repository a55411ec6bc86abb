"""Column types and enumerations shared by the case store models.

`UTCDateTime` keeps every instant tz-aware: it refuses naive datetimes on the way in, stores UTC
(naive on SQLite, which has no zone support) and hands back aware UTC datetimes on the way out.
"""

from __future__ import annotations

import enum
from datetime import UTC, datetime

from sqlalchemy import DateTime, Dialect
from sqlalchemy.types import TypeDecorator

# A PIN has 4 to 8 digits; new ones (every generated one) at least this many. Shorter PINs still
# verify and load, with a warning from `supportline load`.
NEW_PIN_DIGITS = 6


class UTCDateTime(TypeDecorator[datetime]):
    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError(f"naive datetime {value!r} cannot be stored; pass a tz-aware instant")
        value = value.astimezone(UTC)
        if dialect.name == "sqlite":
            return value.replace(tzinfo=None)
        return value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


def utcnow() -> datetime:
    """Default for created/updated columns only; logic receives `now` from its caller."""
    return datetime.now(UTC)


class ProductArea(str, enum.Enum):
    """The six product areas of the support document; advisors' skills are drawn from these."""

    GRADE_BOOK = "grade_book"
    SCHEDULING = "scheduling"
    ATTENDANCE = "attendance"
    ONLINE_REGISTRATION = "online_registration"
    POINT_OF_SALE = "point_of_sale"
    STATE_REPORTING = "state_reporting"

    @property
    def spoken(self) -> str:
        return self.value.replace("_", " ")


class Priority(str, enum.Enum):
    CRITICAL = "critical"
    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"

    @property
    def rank(self) -> int:
        """0 is most urgent; queues sort by this."""
        return list(Priority).index(self)

    @classmethod
    def of_rank(cls, rank: int | None) -> Priority:
        """The priority of queue rank `rank` (None or out of range: medium, the line's default)."""
        priorities = list(cls)
        return priorities[rank] if rank is not None and 0 <= rank < len(priorities) else cls.MEDIUM


class CaseStatus(str, enum.Enum):
    NEW = "new"
    IN_PROGRESS = "in_progress"
    PENDING_VERIFICATION = "pending_verification"
    AVAILABLE_IN_RELEASE = "available_in_release"
    CLOSED = "closed"

    @property
    def spoken(self) -> str:
        return self.value.replace("_", " ")


class TeamKind(str, enum.Enum):
    CAMPUS = "campus"
    STATE_REPORTING = "state_reporting"
    PARTNER = "partner"


class RotationLayer(str, enum.Enum):
    PRIMARY = "primary"
    SECONDARY = "secondary"


class HandoffKind(str, enum.Enum):
    DAILY = "daily"
    WEEKLY = "weekly"


class AdminRole(str, enum.Enum):
    ADMIN = "admin"
    SUPERVISOR = "supervisor"
    VIEWER = "viewer"


class Weekday(str, enum.Enum):
    MON = "mon"
    TUE = "tue"
    WED = "wed"
    THU = "thu"
    FRI = "fri"
    SAT = "sat"
    SUN = "sun"

    @property
    def iso_index(self) -> int:
        """Monday is 0, as `date.weekday()` counts."""
        return list(Weekday).index(self)


# The observed-holiday rules routing knows how to compute; the calendar table enables them by key.
HOLIDAY_RULES: dict[str, str] = {
    "new_years_day": "New Year's Day",
    "memorial_day": "Memorial Day",
    "juneteenth": "Juneteenth",
    "independence_day": "Independence Day",
    "labor_day": "Labor Day",
    "thanksgiving": "Thanksgiving",
    "day_after_thanksgiving": "the day after Thanksgiving",
    "christmas_eve": "Christmas Eve",
    "christmas_day": "Christmas Day",
}
