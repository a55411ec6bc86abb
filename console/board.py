"""The live board: the local time and whether the line is open, advisors and their presence, the
waiting line, who is on call, open incidents, today's service level against the 15-second goal,
and the last 30 days (charts, response targets by priority, satisfaction by area).

The live part is one partial template (`admin/board_live.html`): the page includes it, and htmx
(console/static/vendor) fetches it again from `/admin/board/live` every `BOARD_REFRESH_SECONDS`
(5 s), so a refresh shows exactly the markup of the first render. `/admin/board.json` gives the
same figures as JSON. While Redis is unreachable the live parts (the line, presence, today's
counters) say so (`webhooks.live`)."""

from __future__ import annotations

from datetime import datetime, timedelta

from flask import current_app, jsonify, render_template
from sqlalchemy import select

from casestore.models import Incident
from console import bp, require
from ivr import reports
from ivr.hours_spoken import time_spoken, when_spoken
from ivr.incidents import OPEN_STATES
from ivr.metrics import queue_metrics
from routing.calendar import Calendar, status_at
from routing.oncall import on_call
from webhooks import live
from webhooks.services import current_services

SERVICE_GOAL_SECONDS = 15
REFRESH_SECONDS = 5  # the default of the app config key BOARD_REFRESH_SECONDS


def board_data(*, history: bool = True) -> dict:
    """Everything the board shows; `live` is False (and `queue` None, presence "unknown") while
    Redis is unreachable: the rest comes from the database and is shown anyway. `history=False`
    leaves out the 30-day tables (`responses`, `surveys`): the refreshed partial does not show them."""
    svc = current_services()
    now = svc.now()
    with svc.sessions() as session:
        tables = svc.tables.get(session)
        pks = [a.pk for a in tables.advisors]
        metrics = live.optional(
            lambda: queue_metrics(session, svc.redis, svc.presence, tables.advisors, now, svc.settings.support_timezone)
        )
        views = live.optional(lambda: svc.presence.snapshot(pks, now)) if metrics is not None else None
        data = {
            "now": now.isoformat(),
            "clock": clock_texts(now, tables.calendar),
            "line_state": line_state(now, tables.calendar),
            "live": views is not None,
            "queue": metrics if views is not None else None,
            "advisors": _advisor_rows(tables.advisors, views),
            "on_call": _on_call_now(tables.rotations, now),
            "incidents": _open_incidents(session, tables.calendar),
            "service_goal_seconds": SERVICE_GOAL_SECONDS,
        }
        if history:
            month_ago = now - timedelta(days=30)
            data["responses"] = reports.responses(session, month_ago, now, now, tables.calendar)
            data["surveys"] = reports.surveys(session, month_ago, now)
    return data


def clock_texts(now: datetime, cal: Calendar) -> dict:
    """The board's clock in the support time zone: `shown` 'Wed 2 Dec 10:05 CST', `asof`
    '10:05:12' (what the stale banner says the figures are from)."""
    local = now.astimezone(cal.tz)
    return {"shown": f"{local:%a} {local.day} {local:%b %H:%M %Z}", "asof": f"{local:%H:%M:%S}"}


def line_state(now: datetime, cal: Calendar) -> dict:
    """Whether the line is open now (`routing.calendar.status_at`), as the board says it:
    'Open until 6 p.m.', 'Closed: opens Monday at 6 a.m. Central', 'Closed today for
    Thanksgiving; opens on Monday, November 30, at 6 a.m. Central'. `state` is "open", "closed" or "holiday"
    (a holiday or an admin's closure)."""
    status = status_at(now, cal)
    if status.open:
        closes = next((c for o, c in cal.hours[status.local.weekday()] if o <= status.local.time() < c), None)
        text = f"Open until {time_spoken(closes)}" if closes else "Open"
        return {"state": "open", "reason": status.reason, "text": text}
    opens = (
        f"opens {when_spoken(now, status.next_open, cal)}" if status.next_open else "no opening in the next few weeks"
    )
    if status.holiday_name:
        return {"state": "holiday", "reason": status.reason, "text": f"Closed today for {status.holiday_name}; {opens}"}
    return {"state": "closed", "reason": status.reason, "text": f"Closed: {opens}"}


def _advisor_rows(advisors, views) -> list[dict]:
    """The roster by name, with each advisor's presence (views None: Redis unreachable, "unknown")."""
    return [
        {
            "id": a.pk,
            "name": a.name,
            "team": a.team,
            "skills": sorted(a.skills),
            "state": views[a.pk].state if views else "unknown",
            "away_reason": views[a.pk].away_reason if views else None,
            "calls_today": views[a.pk].calls_today if views else None,
        }
        for a in sorted(advisors, key=lambda a: a.name)
    ]


def _on_call_now(rotations, now: datetime) -> list[dict]:
    """Who is on call for the primary and secondary layers now, and until when."""
    on_call_now = []
    for layer in ("primary", "secondary"):
        shift = on_call(rotations, layer, now)
        on_call_now.append(
            {
                "layer": layer,
                "engineer": shift.engineer if shift else None,
                "until": shift.ends_at.isoformat() if shift else None,
            }
        )
    return on_call_now


def _open_incidents(session, cal: Calendar) -> list[dict]:
    """The open incidents (`OPEN_STATES`), newest first; `since` is local time."""
    return [
        {
            "id": i.id,
            "state": i.state,
            "district": i.district.name,
            "case": i.case.number,
            "triggered_at": i.triggered_at.isoformat(),
            "since": f"{i.triggered_at.astimezone(cal.tz):%Y-%m-%d %H:%M}",
            "acknowledged_by": i.acknowledged_by.name if i.acknowledged_by else None,
        }
        for i in session.scalars(
            select(Incident).where(Incident.state.in_(OPEN_STATES)).order_by(Incident.triggered_at.desc())
        )
    ]


def refresh_seconds() -> int:
    """How often the page refreshes its live part (tests set the app config key lower)."""
    return int(current_app.config.get("BOARD_REFRESH_SECONDS", REFRESH_SECONDS))


@bp.get("/")
@require("read")
def board():
    return render_template("admin/board.html", data=board_data(), refresh_seconds=refresh_seconds())


@bp.get("/board/live")
@require("read")
def board_live():
    """The board's live part alone (htmx swaps it into the page): the same template as the first
    render, 200 also while Redis is unreachable (the partial then says so)."""
    return render_template("admin/board_live.html", data=board_data(history=False))


@bp.get("/board.json")
@require("read")
def board_json():
    """The board's figures as JSON, for scripts (the page itself refreshes from `/board/live`);
    503 while Redis is unreachable."""
    data = board_data()
    if not data["live"]:
        raise live.LiveUnavailable(live.UNAVAILABLE)
    return jsonify(data)
