"""The routing version: one counter bumped on every ORM write to the tables a call reads from memory,
so workers know when to reload their cached copy.
"""

from __future__ import annotations

from sqlalchemy import Integer, event, update
from sqlalchemy.orm import Mapped, Session, mapped_column
from sqlalchemy.orm.util import object_state

from casestore.models.advisors import Advisor, AdvisorSkill
from casestore.models.base import Base
from casestore.models.calendar import BusinessHours, Closure, HolidayRule, StatusBanner
from casestore.models.directory import Team
from casestore.models.oncall import (
    Engineer,
    EscalationPolicy,
    EscalationStep,
    EscalationStepEngineer,
    Rotation,
    RotationMember,
    RotationOverride,
)


class RoutingVersion(Base):
    """One row counting changes to the routing tables a call reads from memory (hours, holidays,
    closures, teams, advisors, engineers, rotations, banners). Workers poll it to know when to
    reload their cached copy; `before_flush` below bumps it on every ORM write to those tables."""

    __tablename__ = "routing_version"

    id: Mapped[int] = mapped_column(primary_key=True)
    version: Mapped[int] = mapped_column(Integer, default=0)


ROUTING_TABLES = (
    Team,
    Advisor,
    AdvisorSkill,
    BusinessHours,
    HolidayRule,
    Closure,
    Engineer,
    Rotation,
    RotationMember,
    RotationOverride,
    StatusBanner,
    EscalationPolicy,
    EscalationStep,
    EscalationStepEngineer,
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
        session.execute(update(RoutingVersion).where(RoutingVersion.id == 1).values(version=RoutingVersion.version + 1))
