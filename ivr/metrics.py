"""Queue figures for supervisors: the line now, and today's service from the call log.

Definitions (today = since local midnight in the desk's time zone; calls that left the line with a
message or a callback request are counted apart and excluded from answered/abandoned figures):
  * offered            calls that reached an advisor or the line (a case or option 0 routed them)
  * answered           calls put through to an advisor who accepted
  * abandoned          calls that hung up while waiting in the line
  * asa_seconds        average speed of answer: mean time in the line of answered calls
  * service_level      answered within 15 s / (answered + abandoned): the document's 15-second goal
  * abandonment_rate   abandoned / calls that queued
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, time
from typing import Any
from zoneinfo import ZoneInfo

import redis
from sqlalchemy import and_, case, func, or_, select
from sqlalchemy.orm import Session

from casestore.models import CallbackTask, CallLog
from casestore.types import Priority
from routing.callqueue import CallQueue
from routing.presence import Presence, PresenceState
from routing.selection import AdvisorView

SERVICE_LEVEL_SECONDS = 15
TASK_OUTCOMES = ("callback_requested", "message_recorded")
_PRIORITIES = list(Priority)


def queue_metrics(
    session: Session,
    client: redis.Redis,
    presence: Presence,
    advisors: Iterable[AdvisorView],
    now: datetime,
    tz_name: str,
) -> dict:
    roster = list(advisors)
    entries = CallQueue(client).entries()
    now_ts = now.timestamp()
    line: list[dict[str, Any]] = [
        {
            "position": i + 1,
            "call": e.sid,
            "priority": _PRIORITIES[e.rank].value if 0 <= e.rank < len(_PRIORITIES) else str(e.rank),
            "skill": e.skill or "general",
            "waiting_seconds": max(0, round(now_ts - e.queued_at)),
            "waiting_for_owner": e.owner_only(now_ts),
        }
        for i, e in enumerate(entries)
    ]
    views = presence.snapshot([a.pk for a in roster], now)
    by_state = {s.value: 0 for s in PresenceState}
    for v in views.values():
        by_state[v.state] = by_state.get(v.state, 0) + 1
    midnight = datetime.combine(now.astimezone(ZoneInfo(tz_name)).date(), time(0), tzinfo=ZoneInfo(tz_name))
    per_skill = figures_by_skill(session, midnight, now)
    total = combine(per_skill.values())
    open_tasks = session.scalar(select(func.count()).select_from(CallbackTask).where(CallbackTask.status == "open"))
    not_yet = session.scalar(
        select(func.count())
        .select_from(CallbackTask)
        .where(CallbackTask.status == "open", CallbackTask.not_before > now)
    )
    return {
        "now": now.isoformat(),
        "waiting": len(entries),
        "longest_wait_seconds": max((row["waiting_seconds"] for row in line), default=0),
        "line": line,
        "advisors": by_state,
        "advisors_away": [
            {"advisor": a.pk, "name": a.name, "reason": views[a.pk].away_reason}
            for a in roster
            if views[a.pk].state == PresenceState.AWAY.value
        ],
        "open_callback_tasks": int(open_tasks or 0),
        "open_callback_tasks_before_opening": int(not_yet or 0),  # left after hours, not_before still ahead
        "today": figures(total),
        "by_skill": {skill: figures(raw) for skill, raw in sorted(per_skill.items())},
    }


def figures_by_skill(session: Session, since: datetime, now: datetime) -> dict[str, dict[str, float]]:
    routed = or_(CallLog.queued_at.is_not(None), CallLog.outcome == "connected")
    is_task = CallLog.outcome.in_(TASK_OUTCOMES)
    answered = CallLog.outcome == "connected"
    abandoned = CallLog.outcome == "abandoned"
    stmt = (
        select(
            CallLog.skill,
            func.count(),
            func.sum(case((answered, 1), else_=0)),
            func.sum(case((abandoned, 1), else_=0)),
            func.sum(case((is_task, 1), else_=0)),
            func.sum(case((and_(CallLog.queued_at.is_not(None), ~is_task), 1), else_=0)),
            func.sum(case((answered, CallLog.wait_seconds), else_=0)),
            func.sum(case((and_(answered, CallLog.wait_seconds <= SERVICE_LEVEL_SECONDS), 1), else_=0)),
        )
        .where(CallLog.started_at >= since, CallLog.started_at <= now, routed | is_task)
        .group_by(CallLog.skill)
    )
    out: dict[str, dict[str, float]] = {}
    for skill, offered, ans, aban, tasks, queued, wait_sum, within in session.execute(stmt):
        out[skill or "general"] = {
            "offered": int(offered or 0),
            "answered": int(ans or 0),
            "abandoned": int(aban or 0),
            "tasks": int(tasks or 0),
            "queued": int(queued or 0),
            "wait_sum": float(wait_sum or 0),
            "within": int(within or 0),
        }
    return out


def combine(rows: Iterable[dict[str, float]]) -> dict[str, float]:
    total: dict[str, float] = {}
    for row in rows:
        for k, v in row.items():
            total[k] = total.get(k, 0) + v
    return total


def figures(raw: dict[str, float]) -> dict:
    answered, abandoned, queued = raw.get("answered", 0), raw.get("abandoned", 0), raw.get("queued", 0)
    settled = answered + abandoned
    return {
        "offered": int(raw.get("offered", 0)),
        "answered": int(answered),
        "abandoned": int(abandoned),
        "left_message_or_callback": int(raw.get("tasks", 0)),
        "asa_seconds": round(raw.get("wait_sum", 0) / answered, 1) if answered else None,
        "service_level": round(raw.get("within", 0) / settled, 3) if settled else None,
        "abandonment_rate": round(abandoned / queued, 3) if queued else None,
    }
