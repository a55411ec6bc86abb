"""casestore.demo.history: the demo's seeded week of history is deterministic, sits in the desk's
open hours, keeps the app's invariants, and gives the reports, the board's figures and the charts
something to show."""

from __future__ import annotations

from collections import Counter
from datetime import date, datetime, timedelta
from functools import partial
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from auth.pins import hash_pin
from casestore.db import make_engine, make_session_factory, session_scope, upgrade
from casestore.demo.history import DAYS, seed_history
from casestore.interchange import load_text
from casestore.models import (
    CallbackTask,
    CallLog,
    Case,
    CaseEvent,
    Contact,
    FollowUp,
    Incident,
    IncidentEvent,
    Page,
    Survey,
)
from casestore.types import CaseStatus
from cli.demo import desk_rules
from console.charts import daily_figures
from ivr import reports
from ivr.metrics import combine, figures, figures_by_skill
from routing.calendar import is_open, load_calendar

TZ = "America/Chicago"
CHICAGO = ZoneInfo(TZ)
DEMO = Path(__file__).resolve().parents[2] / "casestore" / "demo" / "demo.yaml"
# A Friday afternoon: the week back to the Friday after Thanksgiving (closed) holds five business days.
NOW = datetime(2026, 12, 4, 15, 30, tzinfo=CHICAGO)
OUTCOMES = {"connected", "abandoned", "callback_requested", "message_recorded", "locked_out", "closed"}


def _load_and_seed(session, now=NOW):
    load_text(
        session,
        DEMO.read_text(encoding="utf-8"),
        source=str(DEMO),
        hash_pin=partial(hash_pin, "test-pepper"),
        actor="t",
        now=now,
    )
    session.flush()
    return seed_history(session, now, desk_rules(session, TZ))


@pytest.fixture
def seeded(session):
    return _load_and_seed(session)


def _snapshot(session) -> dict:
    """Every seeded table as comparable tuples (ids included: the same inserts in the same order)."""
    out = {}
    for model in (CallLog, CaseEvent, CallbackTask, Case, FollowUp, Survey, Incident, Page, IncidentEvent):
        cols = [c.key for c in model.__table__.columns]
        out[model.__tablename__] = [tuple(getattr(r, c) for c in cols) for r in session.scalars(select(model))]
    return out


def test_the_same_now_gives_the_same_rows_in_two_fresh_databases(tmp_path):
    snaps = []
    for name in ("a", "b"):
        engine = make_engine(f"sqlite:///{tmp_path / name}.sqlite3")
        upgrade(engine)
        with session_scope(make_session_factory(engine)) as session:
            _load_and_seed(session)
        with session_scope(make_session_factory(engine)) as session:
            snaps.append(_snapshot(session))
        engine.dispose()
    assert snaps[0] == snaps[1]
    assert len(snaps[0]["call_log"]) > 200


def test_counts_are_in_range(session, seeded):
    days = sorted({r.started_at.astimezone(CHICAGO).date() for r in session.scalars(select(CallLog))})
    assert seeded.days == [date(2026, 11, 30) + timedelta(days=i) for i in range(5)]
    assert days == seeded.days  # business days only: the Friday after Thanksgiving and the weekend are closed
    per_day = Counter(
        r.started_at.astimezone(CHICAGO).date()
        for r in session.scalars(select(CallLog).where(CallLog.outcome != "closed"))
    )
    full_days = [d for d in seeded.days if d != NOW.date()]
    assert all(40 <= per_day[d] <= 81 for d in full_days), per_day  # 81: the outage call on top
    assert 0 < per_day[NOW.date()] <= 81
    assert session.scalar(select(func.count()).select_from(CallLog)) == seeded.calls
    assert seeded.incidents == 1 and seeded.pages == 2
    assert seeded.callback_tasks >= 5 and seeded.surveys >= 3 and seeded.follow_ups >= 4
    assert "seeded a week of history: " in seeded.line() and f"{seeded.calls} calls" in seeded.line()


def test_every_call_is_inside_the_week_and_open_hours_unless_it_found_the_desk_closed(session, seeded):
    cal = load_calendar(session, TZ)
    calls = list(session.scalars(select(CallLog)))
    assert {r.outcome for r in calls} == OUTCOMES
    for r in calls:
        assert NOW - timedelta(days=DAYS) <= r.started_at < NOW
        assert r.started_at.tzinfo is not None and r.started_at.utcoffset() == timedelta(0)
        assert is_open(r.started_at, cal) == (r.outcome != "closed"), (r.started_at, r.outcome)


def test_calls_keep_the_apps_invariants(session, seeded):
    for r in session.scalars(select(CallLog)):
        assert r.outcome in OUTCOMES and r.status == "completed"
        assert r.wait_seconds >= 0 and r.talk_seconds >= 0
        assert r.duration_seconds >= r.wait_seconds + r.talk_seconds
        assert r.ended_at is not None and r.ended_at >= r.started_at
        assert r.from_masked.startswith("***") and len(r.from_masked) == 7  # never a whole number
        assert (r.queued_at is not None) == (r.outcome in {"connected", "abandoned", *reports.TASK_OUTCOMES}) or (
            r.path[-1] == "recorded"  # the outage caller's message: never in the line
        )
        if r.outcome == "connected":
            assert r.advisor_id is not None and r.talk_seconds > 0
        else:
            assert r.talk_seconds == 0
        if r.case_id is not None:
            mine = select(CaseEvent).where(CaseEvent.call_sid == r.call_sid, CaseEvent.kind == "call")
            events = session.scalars(mine).all()
            assert [e.case_id for e in events] == [r.case_id]
    tasks = list(session.scalars(select(CallbackTask)))
    assert {t.status for t in tasks} == {"open", "done"}
    sids = {r.call_sid: r for r in session.scalars(select(CallLog))}
    for t in tasks:
        assert sids[t.call_sid].outcome == ("callback_requested" if t.kind == "callback" else "message_recorded")
        assert (t.done_at is not None) == (t.status == "done") and (t.done_at or t.created_at) <= NOW


def test_one_outage_incident_paged_and_acknowledged(session, seeded):
    (incident,) = session.scalars(select(Incident)).all()
    case = session.get(Case, incident.case_id)
    assert case.is_outage and case.priority.value == "critical" and incident.district.hosted
    assert incident.state == "acknowledged" and incident.acknowledged_by_id is not None
    assert incident.triggered_at < incident.acknowledged_at < NOW
    pages = session.scalars(select(Page).where(Page.incident_id == incident.id)).all()
    assert sorted((p.channel, p.status) for p in pages) == [("sms", "delivered"), ("voice", "completed")]
    assert [p.result for p in pages if p.channel == "voice"] == ["acknowledged"]
    kinds = [e.kind for e in session.scalars(select(IncidentEvent).where(IncidentEvent.incident_id == incident.id))]
    assert kinds[0] == "triggered" and "acknowledged" in kinds and kinds.count("page_sent") == 2


def test_follow_ups_and_surveys_belong_to_real_cases(session, seeded):
    follow_ups = list(session.scalars(select(FollowUp)))
    for f in follow_ups:
        case = session.get(Case, f.case_id)
        assert case is not None and case.status == CaseStatus.PENDING_VERIFICATION
        assert (f.status == "sent") == (f.attempt > 0 and f.due_at <= NOW)
    assert {f.attempt for f in follow_ups} == {0, 1, 2, 3}
    surveys = list(session.scalars(select(Survey)))
    for s in surveys:
        case = session.get(Case, s.case_id)
        assert case.status == CaseStatus.CLOSED and case.closed_at == s.sent_at and case.contact_id == s.contact_id
        assert session.get(Contact, s.contact_id).last_survey_at is not None
        scores = [s.courtesy, s.knowledge, s.timeliness, s.quality, s.overall]
        assert all(1 <= x <= 5 for x in scores) if s.answered_at else scores == [None] * 5
    assert any(s.answered_at for s in surveys)
    per_contact = Counter(s.contact_id for s in surveys)
    assert max(per_contact.values()) == 1  # at most one survey a month each


def test_recent_cases_are_mostly_answered_within_target(session, seeded):
    month = reports.responses(session, NOW - timedelta(days=30), NOW, NOW, load_calendar(session, TZ))
    cases = sum(r["cases"] for r in month)
    overdue = sum(r["unanswered_past_due"] for r in month)
    within = sum(r["within_target"] for r in month)
    assert cases > 40 and 0 < overdue <= 6
    assert within >= 0.8 * sum(r["responded"] for r in month)
    for case in session.scalars(select(Case).where(Case.responded_at.is_not(None))):
        assert case.created_at <= case.responded_at <= NOW
        assert case.closed_at is None or case.responded_at <= case.closed_at


def test_reports_metrics_and_charts_show_the_week(session, seeded):
    first, last = NOW.date() - timedelta(days=6), NOW.date()
    queue = [r for r in reports.queue_by_day(session, first, last, TZ) if r["queued"]]
    assert len(queue) == 5 and all(r["avg_wait_seconds"] > 0 for r in queue)
    assert sum(r["abandoned"] for r in queue) > 0
    week = NOW - timedelta(days=DAYS)
    assert reports.surveys(session, week, NOW) and all(r["answered"] > 0 for r in reports.surveys(session, week, NOW))
    assert any(r["responded"] for r in reports.responses(session, week, NOW, NOW, load_calendar(session, TZ)))
    today = figures(combine(figures_by_skill(session, datetime(2026, 12, 4, tzinfo=CHICAGO), NOW).values()))
    assert today["offered"] > 0 and today["answered"] > 0 and today["asa_seconds"] > 0
    charted = [d for d in daily_figures(session, NOW, TZ) if d["offered"]]
    assert [d["day"] for d in charted] == [date(2026, 11, 30) + timedelta(days=i) for i in range(5)]
    for d in charted:
        assert 0.4 < d["service_level"] < 1 and d["asa_seconds"] > 0 and 0 < d["abandonment_rate"] < 0.3
