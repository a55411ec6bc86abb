"""Escalation policies as plain data: who is paged at each step, and what comes next.

A policy is ordered steps (targets: the on-call engineer of rotation layers, and named engineers;
then a delay before the next step), run `1 + repeats` times; when that is exhausted without an
acknowledgement the incident is unacknowledged and the policy's manager is paged. A position in
the policy is (round, step); `EXHAUSTED` (step -1) is the final position. This module decides;
`ivr.paging` pages and schedules. It never reads the clock: `targets` takes `at`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from casestore.models import EscalationPolicy, EscalationStep
from routing.oncall import RotationSpec, on_call

EXHAUSTED = -1


@dataclass(frozen=True)
class StepSpec:
    delay_minutes: int
    layers: tuple[str, ...] = ()
    engineers: tuple[str, ...] = ()


@dataclass(frozen=True)
class PolicySpec:
    name: str
    steps: tuple[StepSpec, ...]
    repeats: int = 0
    manager: str | None = None
    is_default: bool = False


@dataclass(frozen=True, order=True)
class Position:
    round: int
    step: int

    @property
    def exhausted(self) -> bool:
        return self.step == EXHAUSTED


START = Position(0, 0)

# Used when no policy is defined: primary, then secondary, five minutes each, run twice.
FALLBACK_POLICY = PolicySpec(
    name="(built-in)", steps=(StepSpec(5, ("primary",)), StepSpec(5, ("secondary",))), repeats=1
)


def after(policy: PolicySpec, pos: Position) -> Position | None:
    """The position after `pos`: the next step, the first step of the next round, EXHAUSTED after
    the last round, and None after EXHAUSTED."""
    if pos.exhausted:
        return None
    if pos.step + 1 < len(policy.steps):
        return Position(pos.round, pos.step + 1)
    if pos.round < policy.repeats:
        return Position(pos.round + 1, 0)
    return Position(pos.round, EXHAUSTED)


def delay_after(policy: PolicySpec, pos: Position) -> timedelta:
    """How long to wait for an acknowledgement after paging at `pos`."""
    if pos.exhausted or not policy.steps:
        return timedelta(0)
    return timedelta(minutes=policy.steps[pos.step].delay_minutes)


def targets(policy: PolicySpec, pos: Position, rotations: Iterable[RotationSpec], at: datetime) -> list[str]:
    """Engineer names to page at `pos` and instant `at`, each once, in order: the on-call engineer
    of each layer (nobody when a layer is empty), then the named engineers; at EXHAUSTED the
    manager (if any)."""
    if pos.exhausted:
        return [policy.manager] if policy.manager else []
    step = policy.steps[pos.step]
    specs = tuple(rotations)
    names: list[str] = []
    for layer in step.layers:
        shift = on_call(specs, layer, at)
        if shift is not None:
            names.append(shift.engineer)
    names.extend(step.engineers)
    return list(dict.fromkeys(names))


def spec_from_row(row: EscalationPolicy) -> PolicySpec:
    return PolicySpec(
        name=row.name,
        steps=tuple(
            StepSpec(
                delay_minutes=s.delay_minutes,
                layers=tuple(x for x in (s.layers or "").split(",") if x),
                engineers=tuple(e.name for e in s.engineers),
            )
            for s in row.steps
        ),
        repeats=row.repeats,
        manager=row.manager.name if row.manager else None,
        is_default=row.is_default,
    )


def load_policies(session: Session) -> list[PolicySpec]:
    rows = session.scalars(
        select(EscalationPolicy)
        .options(
            selectinload(EscalationPolicy.steps).selectinload(EscalationStep.engineers),
            selectinload(EscalationPolicy.manager),
        )
        .order_by(EscalationPolicy.name)
    )
    return [spec_from_row(r) for r in rows]


def default_policy(policies: Iterable[PolicySpec]) -> PolicySpec:
    """The policy marked default, else the only one, else the built-in fallback."""
    items = [p for p in policies if p.steps]
    marked = [p for p in items if p.is_default]
    if marked:
        return marked[0]
    return items[0] if len(items) == 1 else FALLBACK_POLICY
