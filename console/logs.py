"""Read-only logs: a case with its communication log, callback tasks and incident timeline, the
audit log with before/after shown as a diff, and what the logs share (paging, masking free text,
local times). The call log is `console.calls`.

Every page reads; none writes. Times are shown in the desk's time zone. Phone numbers are never
shown in full: the call log keeps only `from_masked`, callback numbers go through
`casestore.phones.mask`, and free text (case-log details, incident notes, audit values) goes
through `mask_text`, which masks anything that looks like a phone number.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from datetime import date, datetime, time
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from flask import abort, render_template, request
from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session, selectinload

from casestore.models import (
    Advisor,
    AuditEntry,
    CallbackTask,
    CallLog,
    Case,
    Contact,
    Engineer,
    Incident,
    IncidentEvent,
)
from casestore.phones import mask
from casestore.types import Priority
from console import bp, require
from console.cases import overdue
from webhooks.cleaning import whole_number
from webhooks.services import current_services

PER_PAGE = 50

# E.164 (+ and 8-15 digits), North American notation ((612) 555-0134, 612-555-0134, 612.555.0134)
# and a bare 10- or 11-digit run; none of them inside a longer word or number (CallSids, dates and
# case numbers are left alone).
_PHONE = re.compile(
    r"(?<![\w+])\+\d{8,15}(?!\d)"
    r"|(?<!\w)(?:\+?1[\s.-]?)?(?:\(\d{3}\)\s?|\d{3}[\s.-])\d{3}[\s.-]\d{4}(?!\d)"
    r"|\b1?\d{10}\b"
)


def mask_text(text: Any) -> str:
    """`text` with every phone-number-looking run replaced by its mask (`***0134`)."""
    return _PHONE.sub(lambda m: mask(m.group(0)), "" if text is None else str(text))


def local(dt: datetime | None, tz: ZoneInfo, fmt: str = "%Y-%m-%d %H:%M") -> str:
    return dt.astimezone(tz).strftime(fmt) if dt is not None else ""


def local_midnight(day: date, tz: ZoneInfo) -> datetime:
    return datetime.combine(day, time(0), tzinfo=tz)


# --------------------------------------------------------------------------- paging


@dataclass
class Pager:
    page: int
    pages: int
    total: int
    per_page: int = PER_PAGE

    @property
    def first(self) -> int:
        return 0 if self.total == 0 else (self.page - 1) * self.per_page + 1

    @property
    def last(self) -> int:
        return min(self.total, self.page * self.per_page)

    def url(self, page: int) -> str:
        """This page's URL with the same filters, at `page`."""
        args = [(k, v) for k, v in request.args.items(multi=True) if k != "page" and v != ""]
        if page > 1:
            args.append(("page", str(page)))
        return request.path + ("?" + urlencode(args) if args else "")


def paginate(session: Session, stmt: Select, per_page: int = PER_PAGE) -> tuple[list, Pager]:
    """One page of `stmt` (which must already have a stable order) and its pager; the page number
    comes from `?page=` and is clamped to the pages there are."""
    total = session.scalar(select(func.count()).select_from(stmt.order_by(None).subquery())) or 0
    pages = max(1, math.ceil(total / per_page))
    page = min(max(1, whole_number(request.args.get("page")) or 1), pages)
    rows = list(session.execute(stmt.limit(per_page).offset((page - 1) * per_page)))
    return rows, Pager(page=page, pages=pages, total=total, per_page=per_page)


def _date_arg(name: str, problems: list[str]) -> date | None:
    raw = request.args.get(name, "").strip()
    if not raw:
        return None
    try:
        return date.fromisoformat(raw)
    except ValueError:
        problems.append(f"{name}: not a date (use YYYY-MM-DD)")
        return None


def _seconds(value: int | None) -> str:
    """m:ss (h:mm:ss from an hour)."""
    minutes, seconds = divmod(max(0, int(value or 0)), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{seconds:02d}" if hours else f"{minutes}:{seconds:02d}"


# --------------------------------------------------------------------------- a case


@bp.get("/cases/<int:number>")
@require("read")
def case_detail(number: int):
    svc = current_services()
    tz = ZoneInfo(svc.settings.support_timezone)
    with svc.sessions() as session:
        case = session.scalars(
            select(Case)
            .where(Case.number == number)
            .options(
                selectinload(Case.district),
                selectinload(Case.contact),
                selectinload(Case.owner),
                selectinload(Case.events),
            )
        ).first()
        if case is None:
            abort(404)
        advisors = dict(session.execute(select(Advisor.id, Advisor.name)).all())
        details = _case_details(case, tz)
        events = _case_events(session, case, advisors, tz)
        tasks = _callback_tasks(session, case, advisors, tz)
        incident = _incident(session, case, tz) if case.is_outage else None
        calls_count = session.scalar(select(func.count()).select_from(CallLog).where(CallLog.case_id == case.id))
        return render_template(
            "admin/case.html",
            case=case,
            details=details,
            events=events,
            tasks=tasks,
            incident=incident,
            calls_count=calls_count or 0,
            summary=mask_text(case.summary),
            overdue=overdue(case, svc.now()),
        )


def _case_details(case: Case, tz: ZoneInfo) -> list[tuple[str, str]]:
    """The case's fields as (label, text), in the page's order."""
    return [
        ("District", case.district.name),
        ("Contact", f"{case.contact.name} (contact ID {case.contact.contact_id})" if case.contact else ""),
        ("Product area", case.product_area.value.replace("_", " ")),
        ("Priority", case.priority.value),
        ("Status", case.status.value.replace("_", " ")),
        ("Owner", case.owner.name if case.owner else "unassigned"),
        ("Release", case.release_name or ""),
        ("Outage", "yes" if case.is_outage else "no"),
        ("Created", local(case.created_at, tz)),
        ("Updated", local(case.updated_at, tz)),
        ("Response due", local(case.response_due_at, tz)),
        ("Responded", local(case.responded_at, tz)),
        ("Closed", local(case.closed_at, tz)),
        ("Reopened", f"{case.reopen_count} time{'s' if case.reopen_count != 1 else ''}"),
    ]


def _case_events(session: Session, case: Case, advisors: dict[int, str], tz: ZoneInfo) -> list[dict]:
    """The communication log, oldest first, free text masked."""
    contact_ids = {e.contact_id for e in case.events if e.contact_id}
    contacts = (
        dict(session.execute(select(Contact.id, Contact.name).where(Contact.id.in_(contact_ids))).all())
        if contact_ids
        else {}
    )
    return [
        {
            "at": local(e.at, tz, "%Y-%m-%d %H:%M:%S"),
            "kind": e.kind,
            "direction": e.direction or "",
            "outcome": e.outcome or "",
            "advisor": advisors.get(e.advisor_id, "") if e.advisor_id else "",
            "contact": contacts.get(e.contact_id, "") if e.contact_id else "",
            "detail": mask_text(e.detail),
        }
        for e in sorted(case.events, key=lambda e: (e.at, e.id))
    ]


def _callback_tasks(session: Session, case: Case, advisors: dict[int, str], tz: ZoneInfo) -> list[dict]:
    """The case's callback tasks in queue order, callback numbers masked; one left after hours says
    from when it is to be worked (its `not_before`, the desk's next opening)."""
    return [
        {
            "kind": t.kind,
            "status": t.status,
            "queued": local(t.queued_at, tz),
            "not_before": f"after hours: from {local(t.not_before, tz, '%a %H:%M')}" if t.not_before else "",
            "not_before_full": local(t.not_before, tz),
            "created": local(t.created_at, tz),
            "done": local(t.done_at, tz),
            "callback": mask(t.callback_e164) if t.callback_e164 else "",
            "recording": t.recording_url if (t.recording_url or "").startswith("https://") else "",
            "skill": (t.skill or "general").replace("_", " "),
            "priority": _priority_name(t.priority_rank),
            "advisor": advisors.get(t.advisor_id, "") if t.advisor_id else "",
        }
        for t in session.scalars(
            select(CallbackTask)
            .where(CallbackTask.case_id == case.id)
            .order_by(CallbackTask.queued_at, CallbackTask.id)
        )
    ]


def _priority_name(rank: int) -> str:
    """A task's `priority_rank` as its priority ("critical"), as the line ordered it."""
    priorities = list(Priority)
    return priorities[rank].value if 0 <= rank < len(priorities) else ""


def _incident(session: Session, case: Case, tz: ZoneInfo) -> dict | None:
    incident = session.scalars(
        select(Incident)
        .where(Incident.case_id == case.id)
        .options(
            selectinload(Incident.linked_districts),
            selectinload(Incident.acknowledged_by),
            selectinload(Incident.resolved_by),
        )
    ).first()
    if incident is None:
        return None
    engineers = dict(session.execute(select(Engineer.id, Engineer.name)).all())
    timeline = [
        {
            "at": local(e.at, tz, "%Y-%m-%d %H:%M:%S"),
            "kind": e.kind,
            "engineer": engineers.get(e.engineer_id, "") if e.engineer_id else "",
            "detail": mask_text(e.detail),
        }
        for e in session.scalars(
            select(IncidentEvent)
            .where(IncidentEvent.incident_id == incident.id)
            .order_by(IncidentEvent.at, IncidentEvent.id)
        )
    ]
    return {
        "id": incident.id,
        "state": incident.state,
        "triggered": local(incident.triggered_at, tz),
        "acknowledged": local(incident.acknowledged_at, tz),
        "acknowledged_by": incident.acknowledged_by.name if incident.acknowledged_by else "",
        "resolved": local(incident.resolved_at, tz),
        "resolved_by": incident.resolved_by.name if incident.resolved_by else "",
        "linked": sorted(d.name for d in incident.linked_districts),
        "timeline": timeline,
    }


# --------------------------------------------------------------------------- the audit log


def _show(value: Any) -> str:
    if value is None:
        return "–"
    if isinstance(value, str):
        return mask_text(value)
    return mask_text(json.dumps(value, sort_keys=True, ensure_ascii=False, default=str))


def audit_diff(before: dict | None, after: dict | None) -> list[dict]:
    """Rows of a readable before/after diff: one per field, with `change` one of added, removed,
    changed or same; lists of plain values also say which items came and went."""
    before, after = before or {}, after or {}
    if not isinstance(before, dict) or not isinstance(after, dict):  # not the usual shape: show it whole
        return [
            {
                "field": "(value)",
                "before": _show(before or None),
                "after": _show(after or None),
                "change": "changed",
                "came_went": None,
            }
        ]
    rows = []
    for key in sorted(set(before) | set(after), key=str):
        old, new = before.get(key), after.get(key)
        if key not in before:
            change = "added"
        elif key not in after:
            change = "removed"
        else:
            change = "same" if old == new else "changed"
        came_went = None
        if (
            change == "changed"
            and isinstance(old, list)
            and isinstance(new, list)
            and all(not isinstance(v, (dict, list)) for v in old + new)
        ):
            gone = [v for v in old if v not in new]
            came = [v for v in new if v not in old]
            came_went = {"added": [_show(v) for v in came], "removed": [_show(v) for v in gone]}
        rows.append(
            {
                "field": str(key),
                "before": _show(old) if key in before else "",
                "after": _show(new) if key in after else "",
                "change": change,
                "came_went": came_went,
            }
        )
    return rows


@bp.get("/audit")
@require("read")
def audit_log():
    svc = current_services()
    tz = ZoneInfo(svc.settings.support_timezone)
    args = request.args
    stmt = select(AuditEntry)
    entity = args.get("entity", "").strip()
    if entity:
        stmt = stmt.where(AuditEntry.entity == entity)
    actor = args.get("actor", "").strip()
    if actor:
        stmt = stmt.where(func.lower(AuditEntry.actor).contains(actor.lower(), autoescape=True))
    key = args.get("key", "").strip()
    if key:
        stmt = stmt.where(AuditEntry.entity_key == key)
    stmt = stmt.order_by(AuditEntry.at.desc(), AuditEntry.id.desc())
    with svc.sessions() as session:
        rows, pager = paginate(session, stmt)
        entities = list(session.scalars(select(AuditEntry.entity).distinct().order_by(AuditEntry.entity)))
        items = [
            {
                "at": local(e.at, tz, "%Y-%m-%d %H:%M:%S"),
                "actor": mask_text(e.actor),
                "action": e.action,
                "entity": e.entity,
                "key": mask_text(e.entity_key),
                "diff": audit_diff(e.before, e.after),
            }
            for (e,) in rows
        ]
    if entity and entity not in entities:
        entities.append(entity)
    return render_template(
        "admin/audit.html",
        items=items,
        pager=pager,
        args=args,
        entities=entities,
        tz_name=svc.settings.support_timezone,
    )
