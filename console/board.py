"""The live board: advisors and their presence, the waiting line, who is on call, open incidents,
today's service level against the 15-second goal, and the last 30 days (charts, response targets
by priority, satisfaction by area). The page polls `/admin/board.json` every 5 s. While Redis is
unreachable the live parts (the line, presence, today's counters) say so (`webhooks.live`)."""

from __future__ import annotations

from datetime import timedelta

from flask import jsonify, render_template
from sqlalchemy import select

from casestore.models import Incident
from console import bp, require
from ivr import reports
from ivr.incidents import OPEN_STATES
from ivr.metrics import queue_metrics
from routing.oncall import on_call
from webhooks import live
from webhooks.services import current_services

SERVICE_GOAL_SECONDS = 15


def board_data() -> dict:
    """Everything the board shows; `live` is False (and `queue` None, presence "unknown") while
    Redis is unreachable: the rest comes from the database and is shown anyway."""
    svc = current_services()
    now = svc.now()
    with svc.sessions() as session:
        tables = svc.tables.get(session)
        pks = [a.pk for a in tables.advisors]
        metrics = live.optional(
            lambda: queue_metrics(session, svc.redis, svc.presence, tables.advisors, now, svc.settings.support_timezone)
        )
        views = live.optional(lambda: svc.presence.snapshot(pks, now)) if metrics is not None else None
        advisors = [
            {
                "id": a.pk,
                "name": a.name,
                "team": a.team,
                "skills": sorted(a.skills),
                "state": views[a.pk].state if views else "unknown",
                "away_reason": views[a.pk].away_reason if views else None,
                "calls_today": views[a.pk].calls_today if views else None,
            }
            for a in sorted(tables.advisors, key=lambda a: a.name)
        ]
        on_call_now = []
        for layer in ("primary", "secondary"):
            shift = on_call(tables.rotations, layer, now)
            on_call_now.append(
                {
                    "layer": layer,
                    "engineer": shift.engineer if shift else None,
                    "until": shift.ends_at.isoformat() if shift else None,
                }
            )
        incidents = [
            {
                "id": i.id,
                "state": i.state,
                "district": i.district.name,
                "case": i.case.number,
                "triggered_at": i.triggered_at.isoformat(),
                "acknowledged_by": i.acknowledged_by.name if i.acknowledged_by else None,
            }
            for i in session.scalars(
                select(Incident).where(Incident.state.in_(OPEN_STATES)).order_by(Incident.triggered_at.desc())
            )
        ]
        month_ago = now - timedelta(days=30)
        response_rows = reports.responses(session, month_ago, now, now, tables.calendar)
        survey_rows = reports.surveys(session, month_ago, now)
    return {
        "now": now.isoformat(),
        "live": views is not None,
        "queue": metrics if views is not None else None,
        "advisors": advisors,
        "on_call": on_call_now,
        "incidents": incidents,
        "service_goal_seconds": SERVICE_GOAL_SECONDS,
        "responses": response_rows,
        "surveys": survey_rows,
    }


@bp.get("/")
@require("read")
def board():
    return render_template("admin/board.html", data=board_data())


@bp.get("/board.json")
@require("read")
def board_json():
    """The board's figures; 503 while Redis is unreachable (the page then says live figures are
    unavailable and keeps polling)."""
    data = board_data()
    if not data["live"]:
        raise live.LiveUnavailable(live.UNAVAILABLE)
    return jsonify(data)
