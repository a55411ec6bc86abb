"""The call log: the list (filters, 50 a page), one call's detail, and the filtered list as CSV.

Every page reads; none writes. Times are shown in the desk's time zone. Caller numbers are never
shown in full: the call log keeps only `from_masked`, callback numbers go through
`casestore.phones.mask` and free text through `console.logs.mask_text`. A call's detail puts its
rings (who was rung and how each ring ended: `CallLog.rings`, written at each Dial result), the
case events it left and its callback tasks on one timeline.
"""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from flask import Response, render_template, request
from sqlalchemy import select
from sqlalchemy.orm import Session

from casestore.models import Advisor, CallbackTask, CallLog, Case, CaseEvent, Contact, District
from casestore.phones import mask
from casestore.types import ProductArea
from console import bp, require
from console.logs import _date_arg, _priority_name, _seconds, local, local_midnight, mask_text, paginate
from webhooks.cleaning import whole_number
from webhooks.services import current_services

# Every final outcome the call flow writes to call_log.outcome (ivr/flow/), in a sensible order.
OUTCOMES = (
    "connected",
    "abandoned",
    "hung_up",
    "callback_requested",
    "callback_pending",
    "message_recorded",
    "closed",
    "locked_out",
    "no_input",
    "ended_in_menu",
    "in_progress",
)
SKILLS = [p.value for p in ProductArea]
GENERAL = "general"  # the skill filter's name for calls routed without a product area (skill NULL)
FILTERS = ("from", "to", "outcome", "district", "case", "skill")
CSV_MAX_ROWS = 50_000  # the export's bound: the newest this many calls of the filter
CSV_COLUMNS = (
    "started",
    "ended",
    "call_sid",
    "from",
    "contact",
    "district",
    "case",
    "skill",
    "priority",
    "outcome",
    "twilio_status",
    "wait_seconds",
    "talk_seconds",
    "duration_seconds",
    "advisor",
    "rings",
    "path",
    "recording",
)


# --------------------------------------------------------------------------- the list


@bp.get("/calls")
@require("read")
def calls():
    svc = current_services()
    tz = ZoneInfo(svc.settings.support_timezone)
    problems: list[str] = []
    args = request.args
    stmt = _call_log_query(tz, problems)
    outcome = args.get("outcome", "").strip()
    with svc.sessions() as session:
        rows, pager = paginate(session, stmt)
        districts = list(session.execute(select(District.id, District.name).order_by(District.name)))
        items = [_call_item(row, tz) for row in rows]
    outcomes = list(OUTCOMES) + ([outcome] if outcome and outcome not in OUTCOMES else [])
    filters = [(k, args.get(k, "").strip()) for k in FILTERS if args.get(k, "").strip()]
    return render_template(
        "admin/calls.html",
        items=items,
        pager=pager,
        problems=problems,
        args=args,
        filtered=bool(filters),
        csv_url=request.path + ".csv" + ("?" + urlencode(filters) if filters else ""),
        csv_max=CSV_MAX_ROWS,
        outcomes=outcomes,
        districts=districts,
        skills=SKILLS + [GENERAL],
        tz_name=svc.settings.support_timezone,
    ), (400 if problems else 200)


def _call_log_query(tz: ZoneInfo, problems: list[str]):
    """The call log with its district, case, advisor and contact, filtered by the query string
    (from/to local dates, outcome, district, case, skill), newest first; a filter that does not
    parse is left out and reported in `problems`."""
    args = request.args
    stmt = (
        select(CallLog, District.name, Case.number, Advisor.name, Contact.name)
        .outerjoin(District, District.id == CallLog.district_id)
        .outerjoin(Case, Case.id == CallLog.case_id)
        .outerjoin(Advisor, Advisor.id == CallLog.advisor_id)
        .outerjoin(Contact, Contact.id == CallLog.contact_id)
    )
    start, end = _date_arg("from", problems), _date_arg("to", problems)
    if start and end and end < start:
        problems.append("to: before from")
        start = end = None
    if start:
        stmt = stmt.where(CallLog.started_at >= local_midnight(start, tz))
    if end:
        stmt = stmt.where(CallLog.started_at < local_midnight(end + timedelta(days=1), tz))
    outcome = args.get("outcome", "").strip()
    if outcome:
        stmt = stmt.where(CallLog.outcome == outcome)
    district = args.get("district", "").strip()
    if district:
        if whole_number(district) is not None:
            stmt = stmt.where(CallLog.district_id == whole_number(district))
        else:
            problems.append("district: unknown district")
    case_number = args.get("case", "").strip()
    if case_number:
        if whole_number(case_number) is not None:
            stmt = stmt.where(Case.number == whole_number(case_number))
        else:
            problems.append("case: a case number is digits only")
    skill = args.get("skill", "").strip()
    if skill == GENERAL:
        stmt = stmt.where(CallLog.skill.is_(None))
    elif skill:
        stmt = stmt.where(CallLog.skill == skill)
    # Newest first; the id breaks ties so paging never repeats or skips a call.
    return stmt.order_by(CallLog.started_at.desc(), CallLog.id.desc())


def _call_item(row, tz: ZoneInfo) -> dict:
    """One call-log row as the page (and the CSV) shows it."""
    log, district_name, number, advisor_name, contact_name = row
    return {
        "started": local(log.started_at, tz),
        "ended": local(log.ended_at, tz),
        "from": log.from_masked or "withheld",
        "contact": contact_name or "",
        "district": district_name or "",
        "case": number,
        "skill": (log.skill or GENERAL).replace("_", " "),
        "priority": log.priority or "",
        "outcome": log.outcome,
        "status": log.status or "",
        "duration": _seconds(log.duration_seconds),
        "wait": _seconds(log.wait_seconds) if log.queued_at is not None or log.wait_seconds else "",
        "talk": _seconds(log.talk_seconds) if log.talk_seconds else "",
        "advisor": advisor_name or "",
        "path": [str(step) for step in (log.path or [])],
        "sid": log.call_sid,
        "recording": bool(log.recording_url),
    }


# --------------------------------------------------------------------------- CSV


def _cell(value: Any) -> str:
    """A CSV cell a spreadsheet will not run: text starting like a formula gets a leading quote."""
    text = "" if value is None else str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


@bp.get("/calls.csv")
@require("read")
def calls_csv():
    """The filtered call log as CSV, newest first, at most `CSV_MAX_ROWS` rows; the header row is
    there even when nothing matches. A filter that does not parse is a 400 (nothing half-filtered)."""
    svc = current_services()
    tz = ZoneInfo(svc.settings.support_timezone)
    problems: list[str] = []
    stmt = _call_log_query(tz, problems)
    if problems:
        return Response("\n".join(problems) + "\n", status=400, mimetype="text/plain")
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    with svc.sessions() as session:
        for row in session.execute(stmt.limit(CSV_MAX_ROWS)):
            log = row[0]
            item = _call_item(row, tz)
            writer.writerow(
                _cell(v)
                for v in (
                    item["started"],
                    item["ended"],
                    log.call_sid,
                    item["from"],
                    item["contact"],
                    item["district"],
                    item["case"] or "",
                    item["skill"],
                    item["priority"],
                    log.outcome,
                    item["status"],
                    log.wait_seconds or 0,
                    log.talk_seconds or 0,
                    log.duration_seconds or 0,
                    item["advisor"],
                    "; ".join(_ring_summary(r) for r in _rings(log, tz)),
                    " > ".join(item["path"]),
                    "yes" if log.recording_url else "",
                )
            )
    filename = f"calls-{svc.now().astimezone(tz).date().isoformat()}.csv"
    return Response(
        out.getvalue(),
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{filename}"', "Cache-Control": "no-store"},
    )


def _ring_summary(ring: dict) -> str:
    return f"{ring['who']}: {ring['status']}{' (accepted)' if ring['accepted'] else ''}"


# --------------------------------------------------------------------------- one call


@bp.get("/calls/<string:call_sid>")
@require("read")
def call_detail(call_sid: str):
    svc = current_services()
    tz = ZoneInfo(svc.settings.support_timezone)
    with svc.sessions() as session:
        row = session.execute(
            select(CallLog, District.name, Case.number, Advisor.name, Contact.name)
            .outerjoin(District, District.id == CallLog.district_id)
            .outerjoin(Case, Case.id == CallLog.case_id)
            .outerjoin(Advisor, Advisor.id == CallLog.advisor_id)
            .outerjoin(Contact, Contact.id == CallLog.contact_id)
            .where(CallLog.call_sid == call_sid[:64])
        ).first()
        if row is None:
            return render_template("admin/call_missing.html", sid=call_sid[:64]), 404
        log = row[0]
        item = _call_item(row, tz)
        contact = session.get(Contact, log.contact_id) if log.contact_id else None
        advisors = dict(session.execute(select(Advisor.id, Advisor.name)).all())
        events = _events(session, log.call_sid, advisors, tz)
        tasks = _tasks(session, log.call_sid, advisors, tz)
        rings = _rings(log, tz)
        return render_template(
            "admin/call.html",
            call=item,
            contact_id=contact.contact_id if contact else "",
            rings=rings,
            events=events,
            tasks=tasks,
            recordings=_recordings(log, tasks),
            timeline=_timeline(log, rings, events, tasks, tz),
            tz_name=svc.settings.support_timezone,
        )


def _rings(log: CallLog, tz: ZoneInfo) -> list[dict]:
    """The call's rings as kept at each Dial result (oldest first); a malformed entry is skipped."""
    out = []
    for ring in log.rings or []:
        if not isinstance(ring, dict):
            continue
        try:
            at: datetime | None = datetime.fromisoformat(str(ring.get("at")))
        except ValueError:
            at = None
        if at is not None and at.tzinfo is None:
            at = at.replace(tzinfo=UTC)
        out.append(
            {
                "at_utc": at,
                "at": local(at, tz, "%Y-%m-%d %H:%M:%S"),
                "who": str(ring.get("who") or ring.get("target") or "unknown"),
                "route": str(ring.get("route") or ""),
                "status": str(ring.get("status") or "no result"),
                "accepted": bool(ring.get("accepted")),
                "talk": _seconds(ring.get("seconds")) if ring.get("seconds") else "",
            }
        )
    return out


def _events(session: Session, sid: str, advisors: dict[int, str], tz: ZoneInfo) -> list[dict]:
    """The case events this call left (on any case), oldest first, free text masked."""
    rows = session.execute(
        select(CaseEvent, Case.number)
        .join(Case, Case.id == CaseEvent.case_id)
        .where(CaseEvent.call_sid == sid)
        .order_by(CaseEvent.at, CaseEvent.id)
    ).all()
    return [
        {
            "at_utc": e.at,
            "at": local(e.at, tz, "%Y-%m-%d %H:%M:%S"),
            "case": number,
            "kind": e.kind,
            "direction": e.direction or "",
            "outcome": (e.outcome or "").replace("_", " "),
            "advisor": advisors.get(e.advisor_id, "") if e.advisor_id else "",
            "detail": mask_text(e.detail),
        }
        for e, number in rows
    ]


def _tasks(session: Session, sid: str, advisors: dict[int, str], tz: ZoneInfo) -> list[dict]:
    """The callback task (a message or a callback) the call left, its number masked."""
    return [
        {
            "at_utc": t.created_at,
            "created": local(t.created_at, tz),
            "kind": t.kind,
            "status": t.status,
            "not_before": local(t.not_before, tz),
            "callback": mask(t.callback_e164) if t.callback_e164 else "",
            "recording": t.recording_url if (t.recording_url or "").startswith("https://") else "",
            "priority": _priority_name(t.priority_rank),
            "advisor": advisors.get(t.advisor_id, "") if t.advisor_id else "",
            "done": local(t.done_at, tz),
        }
        for t in session.scalars(select(CallbackTask).where(CallbackTask.call_sid == sid).order_by(CallbackTask.id))
    ]


def _recordings(log: CallLog, tasks: list[dict]) -> list[str]:
    """The call's recordings (https links only), without repeats."""
    found = [log.recording_url or ""] + [t["recording"] for t in tasks]
    return list(dict.fromkeys(url for url in found if url.startswith("https://")))


def _timeline(log: CallLog, rings: list[dict], events: list[dict], tasks: list[dict], tz: ZoneInfo) -> list[dict]:
    """What happened when: the start, each ring's end (the talk's, for the ring accepted), each case
    event (at the time it was logged), each task, the end."""
    lines: list[tuple[datetime, int, str]] = [(log.started_at, 0, "call started")]
    for ring in rings:
        if ring["at_utc"] is not None and ring["accepted"]:
            lines.append((ring["at_utc"], 1, f"talk with {ring['who']} ended ({ring['status']})"))
        elif ring["at_utc"] is not None:
            lines.append((ring["at_utc"], 1, f"ring to {ring['who']} ended: {ring['status']}, not accepted"))
    for event in events:
        outcome = f" ({event['outcome']})" if event["outcome"] else ""
        lines.append((event["at_utc"], 1, f"case {event['case']}: {event['kind']} logged{outcome}"))
    for task in tasks:
        lines.append((task["at_utc"], 1, f"{task['kind']} task left ({task['status']})"))
    if log.ended_at is not None:
        lines.append((log.ended_at, 2, f"call ended: {log.outcome.replace('_', ' ')}"))
    lines.sort(key=lambda line: (line[0], line[1]))
    return [{"at": local(at, tz, "%H:%M:%S"), "what": what} for at, _, what in lines]
