"""The JSON API for supervisors and the live board: `/api/...`, bearer-token protected.

Every request carries a per-user token (`supportline admin token USER`, or the console): no token
or a wrong one gets 401, a role that may not do the thing gets 403. Writes are audited with the
user as the actor; input errors get a 400 naming the field.

  GET  /api/queue                          the line now and today's figures (`ivr.metrics`); like
                                           the presence routes, 503 JSON while Redis is unreachable
  GET  /api/advisors/presence              every active advisor's live presence
  POST /api/advisors/<id>/presence         {"state": "available"|"away"|"offline", "reason": "..."}
  GET  /api/tasks?status=open              callback and message tasks, in queue order
  GET  /api/incidents?state=open|all       outage incidents
  GET  /api/incidents/<id>                 one incident with its timeline and pages
  POST /api/incidents/<id>/districts       {"district": "<name>"}: link another district to it
  POST /api/incidents/<id>/banner          {"message": "...", "expires_minutes": 120}: a status
                                           banner for every district of the incident
  POST /api/cases/<number>/status          {"status": "pending_verification" | "available_in_release" |
                                           "in_progress" | "closed", "release_name": "..."}
  GET|PUT|DELETE /api/<section>[/<key>]    the routing tables (api.tables)
  GET  /api/openapi.json                   the OpenAPI 3.1 document (no token)
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta

import redis
from flask import Blueprint, abort, g, jsonify, request
from sqlalchemy import select
from sqlalchemy.orm import object_session
from werkzeug.exceptions import HTTPException

from auth.admins import allowed, user_for_token
from auth.disclosure import phone_for
from casestore import audit
from casestore.models import Advisor, CallbackTask, Case, District, Incident, Page, StatusBanner
from casestore.phones import mask
from casestore.types import Priority
from ivr import incidents as incident_ops
from ivr import lifecycle, staffing
from ivr.metrics import queue_metrics
from webhooks import live
from webhooks.cleaning import MAX_ID, json_strings
from webhooks.services import current_services

API_PREFIX = "/api"
bp = Blueprint("api", __name__, url_prefix=API_PREFIX)


@bp.url_value_preprocessor
def ids_in_range(_endpoint, values):
    """An <int:...> id past the INTEGER range is no row, and must not reach the database."""
    if values and any(isinstance(v, int) and v > MAX_ID for v in values.values()):
        abort(404)


@bp.before_request
def check_token():
    """A per-user token (`supportline admin token USER`): `Authorization: Bearer slt_...`."""
    svc = current_services()
    header = request.headers.get("Authorization", "")
    given = header[len("Bearer ") :].strip() if header.startswith("Bearer ") else ""
    with svc.sessions() as session:
        user = user_for_token(session, given)
        if user is not None:
            g.api_actor = f"api:{user.username}"
            g.api_role = user.role.value
            return None
    if not given:  # RFC 6750: no credentials, no error code; a wrong one is "invalid_token"
        resp = jsonify(error="unauthorized", detail="send Authorization: Bearer <your API token>")
        resp.headers["WWW-Authenticate"] = 'Bearer realm="supportline"'
    else:
        resp = jsonify(
            error="invalid_token",
            detail="this API token is not valid: mistyped, or replaced by a newer one (supportline admin token USER)",
        )
        resp.headers["WWW-Authenticate"] = 'Bearer realm="supportline", error="invalid_token"'
    resp.status_code = 401
    return resp


def is_api_path(path: str) -> bool:
    return path == API_PREFIX or path.startswith(API_PREFIX + "/")


def json_error(exc: HTTPException):
    """A 404 or 405 under /api as JSON: a path that does not exist or a method it does not take
    fail while routing, before the blueprint's own handlers could run (`webhooks.app` calls this)."""
    if exc.code == 405:
        resp = jsonify(error="method_not_allowed", detail=f"{request.method} is not allowed on {request.path}")
        resp.headers["Allow"] = ", ".join(getattr(exc, "valid_methods", None) or [])
    else:
        resp = jsonify(error="not_found", detail=f"no such resource: {request.path}")
    resp.status_code = exc.code or 404
    return resp


def permit(permission: str):
    """403 unless the token's role allows `permission`."""
    if not allowed(g.api_role, permission):
        resp = jsonify(error="forbidden", detail=f"your role ({g.api_role}) may not do this ({permission})")
        resp.status_code = 403
        abort(resp)


def _bad(field: str, detail: str):
    resp = jsonify(error="invalid", field=field, detail=detail)
    resp.status_code = 400
    return resp


# Live figures need Redis: while it is unreachable these answer 503 JSON (`webhooks.live`).
bp.register_error_handler(live.LiveUnavailable, live.unavailable_json)
bp.register_error_handler(redis.RedisError, live.unavailable_json)


@bp.get("/queue")
def queue():
    svc = current_services()
    with svc.sessions() as session:
        tables = svc.tables.get(session)
        return jsonify(
            live.read(
                lambda: queue_metrics(
                    session, svc.redis, svc.presence, tables.advisors, svc.now(), svc.settings.support_timezone
                )
            )
        )


@bp.get("/advisors/presence")
def presence_list():
    svc = current_services()
    with svc.sessions() as session:
        return jsonify(live.read(lambda: staffing.presence_rows(session, svc.presence, svc.now())))


@bp.post("/advisors/<int:advisor_id>/presence")
def presence_set(advisor_id: int):
    permit("presence")
    svc = current_services()
    body = json_strings(request.get_json(silent=True))
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
            live.read(
                lambda: staffing.set_presence(
                    session, svc.presence, advisor_id, state, now, actor=g.api_actor, reason=reason
                )
            )
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
            select(CallbackTask)
            .where(CallbackTask.status == status)
            .order_by(CallbackTask.priority_rank, CallbackTask.queued_at)
            .limit(500)
        )
        return jsonify(
            [
                {
                    "id": t.id,
                    "kind": t.kind,
                    "case": t.case.number if t.case else None,
                    "district": t.district_id,
                    "contact": t.contact_id,
                    "callback_to": mask(t.callback_e164) if t.callback_e164 else None,
                    "callback_e164": phone_for(g.api_role, t.callback_e164),
                    "recording_url": t.recording_url,
                    "skill": t.skill,
                    "priority_rank": t.priority_rank,
                    "priority": Priority.of_rank(t.priority_rank).value,
                    "queued_at": t.queued_at.isoformat(),
                    "not_before": t.not_before.isoformat() if t.not_before else None,
                    "created_at": t.created_at.isoformat(),
                }
                for t in rows
            ]
        )


def _incident_json(incident: Incident, detail: bool = False) -> dict:
    out = {
        "id": incident.id,
        "state": incident.state,
        "case": incident.case.number,
        "district": incident.district.name,
        "linked_districts": [d.name for d in incident.linked_districts],
        "triggered_at": incident.triggered_at.isoformat(),
        "acknowledged_at": incident.acknowledged_at.isoformat() if incident.acknowledged_at else None,
        "acknowledged_by": incident.acknowledged_by.name if incident.acknowledged_by else None,
        "resolved_at": incident.resolved_at.isoformat() if incident.resolved_at else None,
        "resolved_by": incident.resolved_by.name if incident.resolved_by else None,
    }
    if detail:
        out["timeline"] = [{"at": e.at.isoformat(), "kind": e.kind, "detail": e.detail} for e in incident.events]
        with_pages = incident_pages(incident)
        out["pages"] = [
            {
                "id": p.id,
                "engineer": p.engineer.name if p.engineer else None,
                "channel": p.channel,
                "round": p.round,
                "step": p.step,
                "status": p.status,
                "answered_by": p.answered_by,
                "result": p.result,
                "at": p.created_at.isoformat(),
            }
            for p in with_pages
        ]
    return out


def incident_pages(incident: Incident) -> Sequence[Page]:
    session = object_session(incident)
    assert session is not None  # loaded by the view's session
    return session.scalars(select(Page).where(Page.incident_id == incident.id).order_by(Page.id)).all()


@bp.get("/incidents")
def incident_list():
    svc = current_services()
    state = request.args.get("state", "open")
    if state not in ("open", "all"):
        return _bad("state", "must be open or all")
    with svc.sessions() as session:
        query = select(Incident).order_by(Incident.triggered_at.desc()).limit(200)
        if state == "open":
            query = query.where(Incident.state.in_(incident_ops.OPEN_STATES))
        return jsonify([_incident_json(i) for i in session.scalars(query)])


@bp.get("/incidents/<int:incident_id>")
def incident_detail(incident_id: int):
    svc = current_services()
    with svc.sessions() as session:
        incident = session.get(Incident, incident_id)
        if incident is None:
            abort(404)
        return jsonify(_incident_json(incident, detail=True))


@bp.post("/incidents/<int:incident_id>/districts")
def incident_link(incident_id: int):
    permit("incidents")
    svc = current_services()
    body = json_strings(request.get_json(silent=True))
    name = body.get("district") if isinstance(body, dict) else None
    if not isinstance(name, str) or not name.strip():
        return _bad("district", "the name of a district")
    with svc.sessions() as session:
        incident = session.get(Incident, incident_id)
        if incident is None:
            abort(404)
        district = session.scalars(select(District).where(District.name == name.strip())).first()
        if district is None:
            return _bad("district", f"no district named {name.strip()!r}")
        incident_ops.link_district(session, incident, district, svc.now(), g.api_actor)
        session.commit()
        return jsonify(_incident_json(incident))


@bp.post("/incidents/<int:incident_id>/banner")
def incident_banner(incident_id: int):
    """The status notice callers of the incident's districts hear after verification."""
    permit("banners")
    svc = current_services()
    body = json_strings(request.get_json(silent=True))
    if not isinstance(body, dict):
        return _bad("body", "a JSON object is required")
    message = body.get("message")
    if not isinstance(message, str) or not 3 <= len(message.strip()) <= 500:
        return _bad("message", "3 to 500 characters")
    minutes = body.get("expires_minutes", 120)
    if not isinstance(minutes, int) or isinstance(minutes, bool) or not 1 <= minutes <= 7 * 24 * 60:
        return _bad("expires_minutes", "a whole number of minutes from 1 to 10080")
    now = svc.now()
    with svc.sessions() as session:
        incident = session.get(Incident, incident_id)
        if incident is None:
            abort(404)
        districts = [incident.district, *incident.linked_districts]
        for district in districts:
            session.add(
                StatusBanner(
                    district_id=district.id,
                    message=message.strip(),
                    starts_at=now,
                    expires_at=now + timedelta(minutes=minutes),
                    active=True,
                )
            )
            audit.record(
                session,
                at=now,
                actor=g.api_actor,
                action="create",
                entity="status_banner",
                key=district.name,
                after={"message": message.strip(), "incident": incident.id, "expires_minutes": minutes},
            )
        incident_ops.note(
            session,
            incident,
            now,
            "banner_set",
            f"Status banner set for {len(districts)} district(s) by {g.api_actor}.",
        )
        session.commit()
    return jsonify(incident=incident_id, districts=[d.name for d in districts], expires_minutes=minutes)


@bp.errorhandler(404)
def not_found(_exc):
    resp = jsonify(error="not_found")
    resp.status_code = 404
    return resp


@bp.post("/cases/<int:number>/status")
def case_status(number: int):
    """An advisor's decision on a case: {"status": "pending_verification"} (resolved: starts the
    3 x 10 follow-up), "available_in_release" (with "release_name"), "in_progress", or "closed"."""
    permit("edit")
    svc = current_services()
    body = json_strings(request.get_json(silent=True))
    if not isinstance(body, dict):
        return _bad("body", "a JSON object is required")
    status = body.get("status")
    if status not in lifecycle.STATUS_CHOICES:
        return _bad("status", f"must be one of {', '.join(lifecycle.STATUS_CHOICES)}")
    release = body.get("release_name")
    if status == "available_in_release" and (not isinstance(release, str) or not 1 <= len(release.strip()) <= 120):
        return _bad("release_name", "the release's name (1 to 120 characters) is required for available_in_release")
    now = svc.now()
    with svc.sessions() as session:
        case = session.scalars(select(Case).where(Case.number == number)).first()
        if case is None:
            abort(404)
        lifecycle.set_status(
            session,
            svc.jobs,
            case,
            status,
            now,
            svc.tables.get(session).calendar,
            actor=g.api_actor,
            release=(release or "").strip(),
        )
        session.commit()
        return jsonify(
            case=case.number,
            status=case.status.value,
            release_name=case.release_name,
            response_due_at=case.response_due_at.isoformat() if case.response_due_at else None,
        )
