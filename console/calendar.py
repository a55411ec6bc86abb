"""Hours & holidays: the weekly business hours, the nine holiday rules, one-off closures, and a
preview of every closed day in the next 12 months.

Everyone reads; admins edit. Hours and holiday rules are written through the load-file path
(`write`): the `hours` section replaces the whole week (a weekday left out is closed), and
`holidays.observe` lists every rule to observe (the others are turned off). Adding a closure is a
`holidays.closures` row (an upsert by date: a second closure on the same date renames it).
Removing one cannot be said in the load format (closures only upsert), so that view deletes the
row itself and records the audit entry.

The preview is computed by `routing.calendar` from the *saved* configuration, in the service's
time zone, from the service clock's local date: the same answer the line gives a caller.
"""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta

from flask import abort, flash, redirect, render_template, request, url_for
from sqlalchemy import select

from casestore import audit
from casestore.interchange.fields import fmt_time
from casestore.models import BusinessHours, Closure, HolidayRule
from casestore.types import HOLIDAY_RULES, Weekday
from console import actor, bp, flash_problems, require, write
from routing.calendar import Calendar, closed_days, holiday_date, load_calendar, status_at
from webhooks.services import current_services

DAY_NAMES = {
    Weekday.MON: "Monday",
    Weekday.TUE: "Tuesday",
    Weekday.WED: "Wednesday",
    Weekday.THU: "Thursday",
    Weekday.FRI: "Friday",
    Weekday.SAT: "Saturday",
    Weekday.SUN: "Sunday",
}
_KEY_OF_NAME = {name: key for key, name in HOLIDAY_RULES.items()}

_REASONS = {
    "holiday": "closed for {name}",
    "closure": "closed for {name}",
    "weekend": "closed (no hours today)",
    "before_hours": "closed (before hours)",
    "after_hours": "closed (after hours)",
}


# --------------------------------------------------------------------------------------------
# Reading: the saved configuration and the preview
# --------------------------------------------------------------------------------------------


def _hours_text(session) -> dict[str, str]:
    """Weekday value -> its ranges as the form shows them ("06:00-12:00, 13:00-18:00")."""
    by_day: dict[str, list[BusinessHours]] = {}
    for row in session.scalars(select(BusinessHours)):
        by_day.setdefault(Weekday(row.weekday).value, []).append(row)
    return {
        day.value: ", ".join(
            f"{fmt_time(r.opens)}-{fmt_time(r.closes)}"
            for r in sorted(by_day.get(day.value, []), key=lambda r: r.opens)
        )
        for day in Weekday
    }


def _rules(session) -> list[dict]:
    """The nine rules in the support document's order, with whether each is observed."""
    stored = {r.key: r for r in session.scalars(select(HolidayRule))}
    return [
        {"key": key, "name": name, "active": bool(stored[key].active) if key in stored else False}
        for key, name in HOLIDAY_RULES.items()
    ]


def one_year_later(day: date) -> date:
    try:
        return day.replace(year=day.year + 1)
    except ValueError:  # Feb 29
        return day.replace(year=day.year + 1, day=28)


def _actual_date(key: str, observed: date) -> date | None:
    """The holiday's own (unshifted) date nearest to the date it is observed on."""
    try:
        candidates = [holiday_date(key, year) for year in (observed.year - 1, observed.year, observed.year + 1)]
    except LookupError:
        return None
    return min(candidates, key=lambda d: abs((d - observed).days))


def _why(day: date, name: str, cal: Calendar) -> list[dict]:
    """The reasons a preview day is closed: the closure, or each holiday observed on it."""
    if day in cal.closures:
        return [{"kind": "closure", "name": name, "observed": False, "actual": None}]
    names = [name] if name in _KEY_OF_NAME else name.split(" and ")  # two holidays on one date
    reasons = []
    for holiday in names:
        key = _KEY_OF_NAME.get(holiday)
        actual = _actual_date(key, day) if key else None
        reasons.append(
            {"kind": "holiday", "name": holiday, "observed": actual is not None and actual != day, "actual": actual}
        )
    return reasons


def closed_day_preview(cal: Calendar, now: datetime) -> list[dict]:
    """Every holiday and closure in the 12 months from the local date of `now` (that date included,
    the same date next year not)."""
    start = now.astimezone(cal.tz).date()
    end = one_year_later(start)
    return [
        {"date": day, "weekday": day.strftime("%A"), "reasons": _why(day, name, cal)}
        for day, name in closed_days(start, (end - start).days, cal)
    ]


def _render(session, *, status: int = 200, hours: dict[str, str] | None = None, closure: dict[str, str] | None = None):
    svc = current_services()
    now = svc.now()
    tz_name = svc.settings.support_timezone
    cal = load_calendar(session, tz_name)
    current = status_at(now, cal)
    now_text = "open now" if current.open else _REASONS.get(current.reason, "closed").format(name=current.holiday_name)
    closures = list(session.scalars(select(Closure).order_by(Closure.day)))
    today = now.astimezone(cal.tz).date()
    return render_template(
        "admin/calendar.html",
        days=[(d.value, DAY_NAMES[d]) for d in Weekday],
        hours=hours if hours is not None else _hours_text(session),
        rules=_rules(session),
        closures=[{"row": c, "past": c.day < today} for c in closures],
        closure=closure or {"date": "", "name": ""},
        preview=closed_day_preview(cal, now),
        tz_name=tz_name,
        today=today,
        until=one_year_later(today) - timedelta(days=1),
        now_text=now_text,
        next_open=current.next_open,
    ), status


@bp.get("/calendar")
@require("read")
def calendar():
    svc = current_services()
    with svc.sessions() as session:
        return _render(session)


# --------------------------------------------------------------------------------------------
# Writing
# --------------------------------------------------------------------------------------------


def _ranges(text: str) -> list[str]:
    """ "6:00 - 12:00, 13:00-18:00" -> ["6:00-12:00", "13:00-18:00"] (validated by the load format)."""
    parts = re.split(r"[,;\n]+", text.replace("\u2013", "-").replace("\u2014", "-"))
    return [re.sub(r"\s+", "", part) for part in parts if part.strip()]


_HOURS_PATH = re.compile(r"^(mon|tue|wed|thu|fri|sat|sun)(?:\[(\d+)\])?: ")


def _hours_problem(problem: str) -> str:
    """ "mon[1]: closes ..." -> "Monday, range 2: closes ..."."""
    match = _HOURS_PATH.match(problem)
    if not match:
        return problem
    where = DAY_NAMES[Weekday(match[1])] + (f", range {int(match[2]) + 1}" if match[2] is not None else "")
    return f"{where}: {problem[match.end() :]}"


@bp.post("/calendar/hours")
@require("edit")
def calendar_hours():
    svc = current_services()
    texts = {d.value: request.form.get(f"hours_{d.value}", "").strip() for d in Weekday}
    with svc.sessions() as session:
        problems = write(session, {"hours": {day: _ranges(text) for day, text in texts.items()}})
        if problems:
            session.rollback()
            flash_problems([_hours_problem(p) for p in problems])
            return _render(session, status=400, hours=texts)
        session.commit()
    flash("Business hours saved.", "success")
    return redirect(url_for("admin.calendar"))


@bp.post("/calendar/holidays")
@require("edit")
def calendar_holidays():
    svc = current_services()
    observe = [key for key in HOLIDAY_RULES if request.form.get(f"observe_{key}")]
    with svc.sessions() as session:
        problems = write(session, {"holidays": {"observe": observe}})
        if problems:
            session.rollback()
            flash_problems(problems)
            return _render(session, status=400)
        session.commit()
    flash(f"Holidays saved: {len(observe)} of {len(HOLIDAY_RULES)} observed.", "success")
    return redirect(url_for("admin.calendar"))


@bp.post("/calendar/closures")
@require("edit")
def calendar_closure_add():
    svc = current_services()
    form = {"date": request.form.get("date", "").strip(), "name": request.form.get("name", "").strip()}
    problems = [f"{field}: required" for field in ("date", "name") if not form[field]]
    with svc.sessions() as session:
        if not problems:
            problems = write(session, {"holidays": {"closures": [form]}}) or []
        if problems:
            session.rollback()
            flash_problems([p.replace("closures[0].", "") for p in problems])
            return _render(session, status=400, closure=form)
        saved = session.scalars(select(Closure).where(Closure.day == date.fromisoformat(form["date"]))).one()
        session.commit()
        flash(f"Closed on {saved.day:%A, %B} {saved.day.day}, {saved.day.year}: {saved.name}.", "success")
    return redirect(url_for("admin.calendar"))


@bp.post("/calendar/closures/<day>/remove")
@require("edit")
def calendar_closure_remove(day: str):
    svc = current_services()
    try:
        when = date.fromisoformat(day)
    except ValueError:
        abort(404)
    with svc.sessions() as session:
        closure = session.scalars(select(Closure).where(Closure.day == when)).first()
        if closure is None:
            abort(404)
        audit.record(
            session,
            at=svc.now(),
            actor=actor(),
            action="delete",
            entity="closure",
            key=when.isoformat(),
            before={"date": closure.day, "name": closure.name},
        )
        name = closure.name
        session.delete(closure)
        session.commit()
    flash(f"Removed the closure on {when.isoformat()} ({name}).", "success")
    return redirect(url_for("admin.calendar"))
