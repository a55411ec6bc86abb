"""Service reports: response targets by priority, the queue by day, satisfaction by area; CSV."""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime, timedelta

from casestore.models import CallLog, Case, Survey
from casestore.types import CaseStatus, Priority, ProductArea
from ivr import reports
from routing.calendar import default_calendar

UTC = UTC
CAL = default_calendar("America/Chicago")


def _case(session, world, number, priority, created, due, responded):
    case = Case(
        number=number,
        district=world.hosted,
        product_area=ProductArea.GRADE_BOOK,
        priority=priority,
        status=CaseStatus.IN_PROGRESS,
        created_at=created,
        response_due_at=due,
        responded_at=responded,
    )
    session.add(case)
    return case


def test_response_targets_by_priority(session, world):
    t = datetime(2026, 11, 17, 15, tzinfo=UTC)  # Tuesday 09:00 CST
    h = timedelta(hours=1)
    _case(session, world, 300001, Priority.CRITICAL, t, t + h, t + timedelta(minutes=20))  # within
    _case(session, world, 300002, Priority.CRITICAL, t, t + h, t + 2 * h)  # late
    _case(session, world, 300003, Priority.CRITICAL, t, t + h, None)  # past due
    _case(session, world, 300004, Priority.LOW, t, t + 24 * h, t + 3 * h)
    session.commit()
    now = t + 5 * h
    rows = {r["priority"]: r for r in reports.responses(session, t - h, t + h, now, CAL)}
    assert rows["critical"] == {
        "priority": "critical",
        "target_business_hours": 1,
        "cases": 3,
        "responded": 2,
        "within_target": 1,
        "within_target_share": 0.5,
        "avg_response_business_hours": round((20 / 60 + 2) / 2, 2),
        "unanswered_past_due": 1,
    }
    assert rows["low"]["within_target_share"] == 1.0 and rows["low"]["avg_response_business_hours"] == 3.0
    assert rows["high"]["cases"] == 0 and rows["high"]["within_target_share"] is None


def test_queue_by_local_day(session, world):
    day = datetime(2026, 11, 17, 15, tzinfo=UTC)
    calls = [
        ("answered", "connected", 10),
        ("a2", "connected", 50),
        ("gone", "abandoned", 90),
        ("cb", "callback_requested", 30),
    ]
    for sid, outcome, wait in calls:
        session.add(CallLog(call_sid=sid, started_at=day, queued_at=day, outcome=outcome, wait_seconds=wait, path=[]))
    session.add(
        CallLog(
            call_sid="late",
            started_at=datetime(2026, 11, 18, 5, 30, tzinfo=UTC),
            queued_at=day,
            outcome="connected",
            wait_seconds=5,
            path=[],
        )
    )  # 23:30 CST on the 17th
    session.commit()
    rows = reports.queue_by_day(session, date(2026, 11, 17), date(2026, 11, 18), "America/Chicago")
    assert rows[0] == {
        "day": "2026-11-17",
        "queued": 4,
        "abandoned": 1,
        "avg_wait_seconds": round(155 / 4, 1),
        "abandonment_rate": 0.25,
    }
    assert rows[1]["queued"] == 0 and rows[1]["avg_wait_seconds"] is None


def test_surveys_by_area_and_csv(session, world, runner):
    t = datetime(2026, 11, 17, 15, tzinfo=UTC)
    for scores in ((5, 4, 3, 4, 5), (3, 4, 5, 4, 3)):
        session.add(
            Survey(
                case_id=world.open_case.id,
                contact_id=world.dana.id,
                channel="sms",
                sent_at=t,
                answered_at=t,
                product_area="grade_book",
                **dict(zip(reports.QUESTIONS, scores, strict=True)),
            )
        )
    session.commit()
    rows = reports.surveys(session, t - timedelta(days=1), t + timedelta(days=1))
    assert rows == [
        {
            "product_area": "grade_book",
            "answered": 2,
            "courtesy": 4.0,
            "knowledge": 4.0,
            "timeliness": 4.0,
            "quality": 4.0,
            "overall": 4.0,
        }
    ]
    parsed = list(csv.DictReader(io.StringIO(reports.to_csv(rows))))
    assert parsed[0]["product_area"] == "grade_book" and parsed[0]["overall"] == "4.0"
