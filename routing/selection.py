"""Who takes a call: the case owner first, then advisors whose skills cover the case's product area.

Plain data in (`AdvisorView`), an ordered list of targets out. Presence (who is free right now) is
layered on top by the caller; this module only decides eligibility and order.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from casestore.models import Advisor


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


def next_advisors(
    advisors: Iterable[AdvisorView],
    *,
    skill: str | None,
    exclude: Iterable[str] = (),
    preferred_teams: tuple[str, ...] = (),
) -> list[AdvisorView]:
    """Eligible advisors not yet tried on this call, preferred teams first, then in roster order."""
    skip = set(exclude)
    pool = [a for a in advisors if eligible(a, skill) and a.target not in skip]

    def rank(a: AdvisorView) -> tuple[int, int]:
        team_rank = preferred_teams.index(a.team) if a.team in preferred_teams else len(preferred_teams)
        return team_rank, a.pk

    return sorted(pool, key=rank)
