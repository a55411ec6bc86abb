"""The live board: advisors and their presence, the waiting line, who is on call, open incidents,
today's service level against the 15-second goal, and the last 30 days (charts, response targets
by priority, satisfaction by area). The page polls `/admin/board.json` every 5 s."""

from __future__ import annotations

from datetime import timedelta

from flask import jsonify, render_template
from sqlalchemy import select

from casestore.models import Incident
from ivr import reports
from ivr.incidents import OPEN_STATES
from ivr.metrics import queue_metrics
from routing.oncall import on_call
from webhooks.admin import bp, require
from webhooks.services import current_services

SERVICE_GOAL_SECONDS = 15


def board_data() -> dict:
    svc = current_services()
    now = svc.now()
    with svc.sessions() as session:
        tables = svc.tables.get(session)
        metrics = queue_metrics(session, svc.redis, svc.presence, tables.advisors, now, svc.settings.support_timezone)
        views = svc.presence.snapshot([a.pk for a in tables.advisors], now)
        advisors = [
            {"id": a.pk, "name": a.name, "team": a.team, "skills": sorted(a.skills), "state": views[a.pk].state,
             "away_reason": views[a.pk].away_reason, "calls_today": views[a.pk].calls_today}
            for a in sorted(tables.advisors, key=lambda a: a.name)
        ]
        on_call_now = []
        for layer in ("primary", "secondary"):
            shift = on_call(tables.rotations, layer, now)
            on_call_now.append({"layer": layer, "engineer": shift.engineer if shift else None,
                                "until": shift.ends_at.isoformat() if shift else None})
        incidents = [
            {"id": i.id, "state": i.state, "district": i.district.name, "case": i.case.number,
             "triggered_at": i.triggered_at.isoformat(),
             "acknowledged_by": i.acknowledged_by.name if i.acknowledged_by else None}
            for i in session.scalars(select(Incident).where(Incident.state.in_(OPEN_STATES))
                                     .order_by(Incident.triggered_at.desc()))
        ]
        month_ago = now - timedelta(days=30)
        response_rows = reports.responses(session, month_ago, now, now, tables.calendar)
        survey_rows = reports.surveys(session, month_ago, now)
    return {"now": now.isoformat(), "queue": metrics, "advisors": advisors, "on_call": on_call_now,
            "incidents": incidents, "service_goal_seconds": SERVICE_GOAL_SECONDS,
            "responses": response_rows, "surveys": survey_rows}


@bp.get("/")
@require("read")
def board():
    return render_template("admin/board.html", data=board_data())


@bp.get("/board.json")
@require("read")
def board_json():
    return jsonify(board_data())
