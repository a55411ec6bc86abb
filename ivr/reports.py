"""Service reports: response targets by priority, the queue by day, and satisfaction by area.

* Responses (cases created in the period): per priority, how many were responded to, the share
  responded to within target (`responded_at <= response_due_at`; the support document claims over
  99 % of critical cases within one business hour), the average response time in business hours
  (`routing.businesstime`), and how many are still unanswered past their due time.
* Queue (calls that joined the line), per local day: average wait in the line and abandonment
  (abandoned / queued; callers who left a message or asked for a callback are not counted).
* Surveys answered in the period, per product area: the average of each of the five ratings.
Rows are plain dicts with the same keys as the CSV columns (`supportline report ...`).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from casestore.models import CallLog, Case, Survey
from casestore.types import Priority
from ivr.surveys import QUESTIONS
from routing.businesstime import RESPONSE_TARGET_HOURS, business_time_between
from routing.calendar import Calendar

TASK_OUTCOMES = ("callback_requested", "message_recorded")

# Each report's CSV columns, in order: the header is written even when there are no rows.
COLUMNS: dict[str, tuple[str, ...]] = {
    "responses": (
        "priority",
        "target_business_hours",
        "cases",
        "responded",
        "within_target",
        "within_target_share",
        "avg_response_business_hours",
        "unanswered_past_due",
    ),
    "queue": ("day", "queued", "abandoned", "avg_wait_seconds", "abandonment_rate"),
    "surveys": ("product_area", "answered", *QUESTIONS),
}


def _local_midnight(day: date, tz: ZoneInfo) -> datetime:
    return datetime.combine(day, time(0), tzinfo=tz)


def responses(session: Session, since: datetime, until: datetime, now: datetime, cal: Calendar) -> list[dict]:
    rows = session.execute(
        select(Case.priority, Case.created_at, Case.response_due_at, Case.responded_at).where(
            Case.created_at >= since, Case.created_at < until
        )
    ).all()
    out = []
    for priority in Priority:
        mine = [r for r in rows if r.priority == priority]
        responded = [r for r in mine if r.responded_at is not None]
        within = [r for r in responded if r.response_due_at is not None and r.responded_at <= r.response_due_at]
        hours = [business_time_between(r.created_at, r.responded_at, cal).total_seconds() / 3600 for r in responded]
        overdue = [
            r for r in mine if r.responded_at is None and r.response_due_at is not None and r.response_due_at < now
        ]
        out.append(
            {
                "priority": priority.value,
                "target_business_hours": RESPONSE_TARGET_HOURS[priority],
                "cases": len(mine),
                "responded": len(responded),
                "within_target": len(within),
                "within_target_share": round(len(within) / len(responded), 4) if responded else None,
                "avg_response_business_hours": round(sum(hours) / len(hours), 2) if hours else None,
                "unanswered_past_due": len(overdue),
            }
        )
    return out


def queue_by_day(session: Session, first: date, last: date, tz_name: str) -> list[dict]:
    tz = ZoneInfo(tz_name)
    out = []
    day = first
    while day <= last:
        start, end = _local_midnight(day, tz), _local_midnight(day + timedelta(days=1), tz)
        queued, abandoned, wait_sum = session.execute(
            select(
                func.count(),
                func.sum(case((CallLog.outcome == "abandoned", 1), else_=0)),
                func.sum(CallLog.wait_seconds),
            ).where(
                CallLog.started_at >= start,
                CallLog.started_at < end,
                CallLog.queued_at.is_not(None),
                CallLog.outcome.not_in(TASK_OUTCOMES),
            )
        ).one()
        queued = int(queued or 0)
        out.append(
            {
                "day": day.isoformat(),
                "queued": queued,
                "abandoned": int(abandoned or 0),
                "avg_wait_seconds": round(float(wait_sum or 0) / queued, 1) if queued else None,
                "abandonment_rate": round(int(abandoned or 0) / queued, 4) if queued else None,
            }
        )
        day += timedelta(days=1)
    return out


def surveys(session: Session, since: datetime, until: datetime) -> list[dict]:
    columns = [getattr(Survey, q) for q in QUESTIONS]
    rows = session.execute(
        select(Survey.product_area, func.count(), *[func.avg(c) for c in columns])
        .where(Survey.answered_at >= since, Survey.answered_at < until)
        .group_by(Survey.product_area)
        .order_by(Survey.product_area)
    ).all()
    return [
        {
            "product_area": area or "general",
            "answered": int(n),
            **{q: round(float(v), 2) if v is not None else None for q, v in zip(QUESTIONS, avgs, strict=True)},
        }
        for area, n, *avgs in rows
    ]


def to_csv(rows: Iterable[dict], columns: Iterable[str] | None = None) -> str:
    """The rows as CSV with a header: `columns` (a report's `COLUMNS`), else the first row's keys;
    with neither (no rows, no columns) nothing at all."""
    rows = list(rows)
    fieldnames = list(columns) if columns is not None else list(rows[0]) if rows else []
    buf = io.StringIO()
    if fieldnames:
        writer = csv.DictWriter(buf, fieldnames=fieldnames, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    return buf.getvalue()
