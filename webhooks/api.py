"""The JSON API for supervisors and the live board: `/api/...`, bearer-token protected.

Until the admin accounts of the admin console land, the API accepts the shared tokens listed in
SUPPORTLINE_API_TOKENS (none listed: every request gets 401). Writes are audited with the token's
index as the actor; input errors get a 400 naming the field.

  GET  /api/queue                          the line now and today's figures (`ivr.metrics`)
  GET  /api/advisors/presence              every active advisor's live presence
  POST /api/advisors/<id>/presence         {"state": "available"|"away"|"offline", "reason": "..."}
  GET  /api/tasks?status=open              callback and message tasks, in queue order
"""

from __future__ import annotations

import hmac

from flask import Blueprint, abort, g, jsonify, request
from sqlalchemy import select

from casestore.models import Advisor, CallbackTask
from casestore.phones import mask
from ivr import staffing
from ivr.metrics import queue_metrics
from webhooks.services import current_services

bp = Blueprint("api", __name__, url_prefix="/api")


@bp.before_request
def check_token():
    svc = current_services()
    header = request.headers.get("Authorization", "")
    given = header[len("Bearer "):].strip() if header.startswith("Bearer ") else ""
    for i, token in enumerate(svc.settings.api_tokens):
        if given and hmac.compare_digest(given.encode(), token.encode()):
            g.api_actor = f"api:token{i + 1}"
            return None
    resp = jsonify(error="unauthorized", detail="send Authorization: Bearer <token>")
    resp.status_code = 401
    resp.headers["WWW-Authenticate"] = 'Bearer realm="supportline"'
    return resp


def _bad(field: str, detail: str):
    resp = jsonify(error="invalid", field=field, detail=detail)
    resp.status_code = 400
    return resp


@bp.get("/queue")
def queue():
    svc = current_services()
    with svc.sessions() as session:
        tables = svc.tables.get(session)
        return jsonify(queue_metrics(session, svc.redis, svc.presence, tables.advisors, svc.now(),
                                     svc.settings.support_timezone))


@bp.get("/advisors/presence")
def presence_list():
    svc = current_services()
    now = svc.now()
    with svc.sessions() as session:
        rows = session.execute(
            select(Advisor.id, Advisor.name).where(Advisor.active.is_(True)).order_by(Advisor.name)
        ).all()
    views = svc.presence.snapshot([pk for pk, _ in rows], now)
    return jsonify([
        {"advisor": pk, "name": name, "state": views[pk].state, "calls_today": views[pk].calls_today,
         "missed_in_a_row": views[pk].missed_in_a_row, "away_reason": views[pk].away_reason}
        for pk, name in rows
    ])


@bp.post("/advisors/<int:advisor_id>/presence")
def presence_set(advisor_id: int):
    svc = current_services()
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        return _bad("body", "a JSON object is required")
    state = body.get("state")
    if state not in staffing.CHOOSABLE:
        return _bad("state", f"must be one of {', '.join(staffing.CHOOSABLE)}")
    reason = body.get("reason")
    if reason is not None and (not isinstance(reason, str) or len(reason) > 120):
        return _bad("reason", "a string of at most 120 characters")
    now = svc.now()
    with svc.sessions() as session:
        if session.get(Advisor, advisor_id) is None:
            abort(404)
        try:
            staffing.set_presence(session, svc.presence, advisor_id, state, now, actor=g.api_actor, reason=reason)
        except staffing.PresenceError as exc:
            return _bad("state", str(exc))
        session.commit()
        advisors = svc.tables.get(session).advisors
    svc.dispatcher.run(advisors, now)
    view = svc.presence.get(advisor_id, now)
    return jsonify(advisor=advisor_id, state=view.state, away_reason=view.away_reason)


@bp.get("/tasks")
def tasks():
    svc = current_services()
    status = request.args.get("status", "open")
    if status not in ("open", "done", "cancelled"):
        return _bad("status", "must be open, done or cancelled")
    with svc.sessions() as session:
        rows = session.scalars(
            select(CallbackTask).where(CallbackTask.status == status)
            .order_by(CallbackTask.priority_rank, CallbackTask.queued_at).limit(500)
        )
        return jsonify([
            {"id": t.id, "kind": t.kind, "case": t.case.number if t.case else None, "district": t.district_id,
             "contact": t.contact_id, "callback_to": mask(t.callback_e164) if t.callback_e164 else None,
             "callback_e164": t.callback_e164, "recording_url": t.recording_url, "skill": t.skill,
             "priority_rank": t.priority_rank, "queued_at": t.queued_at.isoformat(),
             "created_at": t.created_at.isoformat()}
            for t in rows
        ])


@bp.errorhandler(404)
def not_found(_exc):
    resp = jsonify(error="not_found")
    resp.status_code = 404
    return resp
