"""The JSON API's read-only records: cases (`GET /api/cases`, and one case with its communication
log, `GET /api/cases/<number>`) and the call log (`GET /api/calls`, `GET /api/calls/<call_sid>`).

Lists are paginated like the routing tables (`limit`, `offset`; the answer is `items`, `total`,
`limit`, `offset`), newest first, and filtered by query parameters; a filter that names nothing
(an unknown district, a status that does not exist) is a 400 naming it. Callers' numbers are
masked; every token role may read.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from flask import abort, jsonify, request
from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session, selectinload

from api.plumbing import _fail, _page_args
from api.views import bp
from casestore.models import CallbackTask, CallLog, Case, CaseEvent, District
from casestore.types import CaseStatus, Priority, ProductArea
from webhooks.services import current_services

SID_LIMIT = 64


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _enum_arg(name: str, kind: type[enum.Enum]) -> Any | None:
    raw = request.args.get(name, "").strip()
    if not raw:
        return None
    try:
        return kind(raw)
    except ValueError:
        _fail(name, f"one of {', '.join(str(e.value) for e in kind)}")


def _district_arg(session: Session) -> int | None:
    name = request.args.get("district", "").strip()
    if not name:
        return None
    pk = session.scalar(select(District.id).where(District.name == name))
    if pk is None:
        _fail("district", f"no district named {name!r}")
    return pk


def _page(session: Session, query: Select, render: Callable[[list[Any]], list[dict[str, Any]]]) -> Any:
    """One page of `query`'s rows as `{"items", "total", "limit", "offset"}`; `render` turns the
    page's rows into items (all at once, so it can look up what they refer to in one query)."""
    limit, offset = _page_args()
    total = session.scalar(select(func.count()).select_from(query.order_by(None).subquery())) or 0
    rows = list(session.scalars(query.limit(limit).offset(offset)))
    return jsonify(items=render(rows), total=total, limit=limit, offset=offset)


def case_json(case: Case) -> dict[str, Any]:
    return {
        "number": case.number,
        "district": case.district.name,
        "contact": case.contact.name if case.contact else None,
        "summary": case.summary,
        "product_area": case.product_area.value,
        "priority": case.priority.value,
        "status": case.status.value,
        "owner": case.owner.name if case.owner else None,
        "is_outage": case.is_outage,
        "release_name": case.release_name,
        "created_at": case.created_at.isoformat(),
        "updated_at": case.updated_at.isoformat(),
        "response_due_at": _iso(case.response_due_at),
        "responded_at": _iso(case.responded_at),
        "closed_at": _iso(case.closed_at),
        "reopen_count": case.reopen_count,
    }


def _event_json(event: CaseEvent) -> dict[str, Any]:
    return {
        "at": event.at.isoformat(),
        "kind": event.kind,
        "direction": event.direction,
        "call_sid": event.call_sid,
        "outcome": event.outcome,
        "detail": event.detail,
    }


@bp.get("/cases")
def case_list():
    """Cases, newest first; `district` (name), `status`, `priority` and `product_area` filter."""
    svc = current_services()
    with svc.sessions() as session:
        query = select(Case).options(selectinload(Case.district), selectinload(Case.contact), selectinload(Case.owner))
        district = _district_arg(session)
        if district is not None:
            query = query.where(Case.district_id == district)
        for name, enum, column in (
            ("status", CaseStatus, Case.status),
            ("priority", Priority, Case.priority),
            ("product_area", ProductArea, Case.product_area),
        ):
            value = _enum_arg(name, enum)
            if value is not None:
                query = query.where(column == value)
        query = query.order_by(Case.created_at.desc(), Case.number.desc())
        return _page(session, query, lambda rows: [case_json(c) for c in rows])


@bp.get("/cases/<int:number>")
def case_detail(number: int):
    """One case with its communication log (oldest first)."""
    svc = current_services()
    with svc.sessions() as session:
        case = session.scalar(select(Case).where(Case.number == number))
        if case is None:
            abort(404)
        events = session.scalars(
            select(CaseEvent).where(CaseEvent.case_id == case.id).order_by(CaseEvent.at, CaseEvent.id)
        )
        return jsonify({**case_json(case), "events": [_event_json(e) for e in events]})


def call_json(row: CallLog, cases: dict[int, int]) -> dict[str, Any]:
    return {
        "call_sid": row.call_sid,
        "from": row.from_masked,
        "contact": row.contact_id,
        "district": row.district_id,
        "case": cases.get(row.case_id) if row.case_id is not None else None,
        "advisor": row.advisor_id,
        "started_at": row.started_at.isoformat(),
        "ended_at": _iso(row.ended_at),
        "outcome": row.outcome,
        "status": row.status,
        "skill": row.skill,
        "priority": row.priority,
        "path": list(row.path or []),
        "queued_at": _iso(row.queued_at),
        "wait_seconds": row.wait_seconds,
        "talk_seconds": row.talk_seconds,
        "duration_seconds": row.duration_seconds,
        "recording_url": row.recording_url,
    }


def _day_arg(name: str) -> date | None:
    raw = request.args.get(name, "").strip()
    if not raw:
        return None
    try:
        return date.fromisoformat(raw)
    except ValueError:
        _fail(name, "a date, YYYY-MM-DD (the line's local day)")


def _calls_query(session: Session) -> Select:
    tz = ZoneInfo(current_services().settings.support_timezone)
    query = select(CallLog)
    since, until = _day_arg("since"), _day_arg("until")
    if since is not None:
        query = query.where(CallLog.started_at >= datetime.combine(since, time(0), tzinfo=tz))
    if until is not None:
        query = query.where(CallLog.started_at < datetime.combine(until + timedelta(days=1), time(0), tzinfo=tz))
    district = _district_arg(session)
    if district is not None:
        query = query.where(CallLog.district_id == district)
    outcome = request.args.get("outcome", "").strip()
    if outcome:
        query = query.where(CallLog.outcome == outcome[:64])
    raw_case = request.args.get("case", "").strip()
    if raw_case:
        if not (raw_case.isascii() and raw_case.isdigit()) or len(raw_case) > 10:
            _fail("case", "a case number")
        query = query.where(CallLog.case_id.in_(select(Case.id).where(Case.number == int(raw_case))))
    return query.order_by(CallLog.started_at.desc(), CallLog.id.desc())


def _case_numbers(session: Session, rows: list[CallLog]) -> dict[int, int]:
    ids = {r.case_id for r in rows if r.case_id is not None}
    if not ids:
        return {}
    out: dict[int, int] = {}
    for pk, number in session.execute(select(Case.id, Case.number).where(Case.id.in_(ids))):
        out[pk] = number
    return out


@bp.get("/calls")
def call_list():
    """The call log, newest first; `since`, `until` (local days), `district`, `outcome`, `case` filter."""
    svc = current_services()
    with svc.sessions() as session:

        def render(rows: list[CallLog]) -> list[dict[str, Any]]:
            cases = _case_numbers(session, rows)
            return [call_json(r, cases) for r in rows]

        return _page(session, _calls_query(session), render)


def _ring_json(ring: dict[str, Any]) -> dict[str, Any]:
    """One ring of the call (`ivr.flow.shared.note_ring`): who, when it ended, how."""
    return {
        "who": ring.get("who"),
        "target": ring.get("target"),
        "route": ring.get("route"),
        "at": ring.get("at"),
        "status": ring.get("status"),
        "accepted": bool(ring.get("accepted")),
        "seconds": ring.get("seconds") or 0,
    }


def _task_json(task: CallbackTask) -> dict[str, Any]:
    return {
        "kind": task.kind,
        "status": task.status,
        "not_before": _iso(task.not_before),
        "queued_at": _iso(task.queued_at),
    }


@bp.get("/calls/<call_sid>")
def call_detail(call_sid: str):
    """One call: who was rung and how each ring ended, the tasks it left, the case events it wrote."""
    svc = current_services()
    if len(call_sid) > SID_LIMIT:
        abort(404)
    with svc.sessions() as session:
        row = session.scalar(select(CallLog).where(CallLog.call_sid == call_sid))
        if row is None:
            abort(404)
        tasks = session.scalars(select(CallbackTask).where(CallbackTask.call_sid == call_sid)).all()
        events = session.scalars(select(CaseEvent).where(CaseEvent.call_sid == call_sid).order_by(CaseEvent.at))
        return jsonify(
            {
                **call_json(row, _case_numbers(session, [row])),
                "rings": [_ring_json(ring) for ring in row.rings or [] if isinstance(ring, dict)],
                "tasks": [_task_json(t) for t in tasks],
                "events": [_event_json(e) for e in events],
            }
        )
