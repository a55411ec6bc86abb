"""Who may take a call: advisors whose skills cover the case's product area, and the order in which
teams are tried.

Plain data in (`AdvisorView`, `TeamView`), decisions out. Presence (who is free right now, longest
idle) is layered on top by `routing.presence`, which takes the advisor atomically.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from casestore.models import Advisor, Team


@dataclass(frozen=True)
class AdvisorView:
    pk: int
    name: str
    reach: str
    skills: frozenset[str]
    team: str | None
    active: bool = True

    @property
    def target(self) -> str:
        return f"advisor:{self.pk}"


def advisor_view(row: Advisor) -> AdvisorView:
    return AdvisorView(
        pk=row.id,
        name=row.name,
        reach=row.reach,
        skills=frozenset(s.value for s in row.skills),
        team=row.team.name if row.team else None,
        active=row.active,
    )


def load_advisors(session: Session) -> list[AdvisorView]:
    rows = session.scalars(
        select(Advisor)
        .where(Advisor.active.is_(True))
        .options(selectinload(Advisor.skill_rows), selectinload(Advisor.team))
        .order_by(Advisor.id)
    )
    return [advisor_view(r) for r in rows]


def eligible(advisor: AdvisorView, skill: str | None) -> bool:
    """Active and skilled for `skill` (a general call, skill None, takes anyone)."""
    return advisor.active and (skill is None or skill in advisor.skills)


@dataclass(frozen=True)
class TeamView:
    name: str
    kind: str  # campus | state_reporting | partner
    route_order: int


def preferred_teams(district_team: str | None, skill: str | None, teams: Iterable[TeamView]) -> tuple[str, ...]:
    """The order in which teams are tried for a call (routing-table data, not code):
    the partner or campus team serving the caller's district first; for a state-reporting case
    the state-reporting teams next; then every other team by its `route_order`."""
    ordered = sorted(teams, key=lambda t: (t.route_order, t.name))
    out: list[str] = []
    if district_team:
        out.append(district_team)
    if skill == "state_reporting":
        out += [t.name for t in ordered if t.kind == "state_reporting" and t.name not in out]
    out += [t.name for t in ordered if t.name not in out]
    return tuple(out)


def load_teams(session: Session) -> list[TeamView]:
    teams = session.scalars(select(Team).order_by(Team.route_order, Team.name))
    return [TeamView(t.name, t.kind.value, t.route_order) for t in teams]
