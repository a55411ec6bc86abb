"""The hours & holidays page: weekly hours, holiday rules, closures and the 12-month closed-day preview."""

from __future__ import annotations

import html
import re
from datetime import UTC, date, time

import pytest
from sqlalchemy import select

from casestore.models import AuditEntry, BusinessHours, Closure, HolidayRule
from casestore.types import Weekday
from tests.adminkit import Browser, accounts  # noqa: F401  (fixtures)
from tests.factories import World

ROLES = ("admin", "supervisor", "viewer")


@pytest.fixture
def signed_in(app, accounts, world):
    """`signed_in("viewer")`: a browser of its own, signed in with that role."""

    def make(role: str) -> Browser:
        b = Browser(app.test_client())
        assert b.login(role).status_code == 302
        return b

    return make


def preview(page: str) -> dict[str, str]:
    """The closed-day preview as {iso date: the row's text}."""
    section = page[page.index('id="preview"') :]
    rows = re.findall(r'<tr data-date="([0-9-]+)">(.*?)</tr>', section, re.S)
    return {day: html.unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", body))).strip() for day, body in rows}


@pytest.mark.parametrize("role", ROLES)
def test_every_role_reads_the_calendar(signed_in, role):
    page = signed_in(role).get("/admin/calendar")
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    assert "Hours &amp; holidays" in text and "America/Chicago" in text
    days = preview(text)
    # The clock reads Tue 2026-11-17 09:00 CST: a year of holidays from today.
    assert "Thanksgiving" in days["2026-11-26"] and "Thursday" in days["2026-11-26"]
    assert "the day after Thanksgiving" in days["2026-11-27"]
    assert "Christmas Day" in days["2026-12-25"] and "Christmas Eve" in days["2026-12-24"]
    assert "2027-11-25" not in days  # next year's Thanksgiving is past the 12 months
    assert len(days) == 9
    editable = 'name="hours_mon"' in text and 'name="observe_juneteenth"' in text and "Add closure" in text
    assert editable == (role == "admin")
    if role != "admin":
        assert "06:00-18:00" in text  # read-only hours table


def test_a_holiday_moved_off_a_weekend_is_marked_observed(signed_in):
    days = preview(signed_in("viewer").get("/admin/calendar").get_data(as_text=True))
    # July 4, 2027 is a Sunday: observed Monday July 5; Juneteenth 2027 (Saturday) on Friday June 18.
    assert days["2027-07-05"].startswith("2027-07-05 Monday Independence Day observed")
    assert "falls on Sun Jul 4" in days["2027-07-05"]
    assert "Juneteenth observed" in days["2027-06-18"]
    assert "observed" not in days["2026-11-26"]


@pytest.mark.parametrize("role", ("viewer", "supervisor"))
def test_only_admins_change_hours_holidays_and_closures(signed_in, session, role):
    session.add(Closure(day=date(2026, 12, 31), name="year-end inventory"))
    session.commit()
    b = signed_in(role)
    assert b.post("/admin/calendar/hours", {"hours_mon": "07:00-08:00"}).status_code == 403
    assert b.post("/admin/calendar/holidays", {"observe_thanksgiving": "1"}).status_code == 403
    assert b.post("/admin/calendar/closures", {"date": "2026-12-30", "name": "a day off"}).status_code == 403
    assert b.post("/admin/calendar/closures/2026-12-31/remove").status_code == 403
    session.expire_all()
    assert session.scalars(select(Closure.day)).all() == [date(2026, 12, 31)]
    assert session.scalars(select(HolidayRule).where(HolidayRule.active.is_(False))).first() is None
    assert session.scalars(select(AuditEntry)).first() is None


def test_an_added_closure_shows_in_the_preview_and_a_removed_one_goes(signed_in, session):
    b = signed_in("admin")
    res = b.post("/admin/calendar/closures", {"date": "2027-03-12", "name": "the all-staff conference"})
    assert res.status_code == 302
    days = preview(b.get("/admin/calendar").get_data(as_text=True))
    assert days["2027-03-12"] == "2027-03-12 Friday the all-staff conference closure"
    entry = session.scalars(select(AuditEntry).where(AuditEntry.entity == "closure")).one()
    assert (entry.actor, entry.action, entry.entity_key) == ("admin:admin", "create", "2027-03-12")

    res = b.post("/admin/calendar/closures/2027-03-12/remove")
    assert res.status_code == 302
    assert "2027-03-12" not in preview(b.get("/admin/calendar").get_data(as_text=True))
    session.expire_all()
    assert session.scalars(select(Closure)).first() is None
    removed = session.scalars(select(AuditEntry).where(AuditEntry.action == "delete")).one()
    assert (removed.actor, removed.entity) == ("admin:admin", "closure")
    assert removed.before == {"date": "2027-03-12", "name": "the all-staff conference"}
    assert b.post("/admin/calendar/closures/2027-03-12/remove").status_code == 404


def test_a_closure_today_is_heard_by_callers(signed_in, sim):
    res = signed_in("admin").post("/admin/calendar/closures", {"date": "2026-11-17", "name": "the staff training day"})
    assert res.status_code == 302
    t = sim.call(World.OMAR_PHONE, keys=["1357#"])
    assert t.said("closed today for the staff training day")


def test_a_closure_on_a_holiday_wins_in_the_preview(signed_in):
    b = signed_in("admin")
    b.post("/admin/calendar/closures", {"date": "2026-11-26", "name": "the company retreat"})
    days = preview(b.get("/admin/calendar").get_data(as_text=True))
    assert "the company retreat" in days["2026-11-26"] and "Thanksgiving" not in days["2026-11-26"]


def test_turning_a_holiday_off_removes_it_from_the_preview(signed_in, session):
    b = signed_in("admin")
    observe = {
        f"observe_{key}": "1"
        for key in (
            "new_years_day",
            "memorial_day",
            "juneteenth",
            "independence_day",
            "labor_day",
            "thanksgiving",
            "christmas_eve",
            "christmas_day",
        )
    }
    res = b.post("/admin/calendar/holidays", observe)  # everything but the day after Thanksgiving
    assert res.status_code == 302
    days = preview(b.get("/admin/calendar").get_data(as_text=True))
    assert "2026-11-27" not in days and "2026-11-26" in days and len(days) == 8
    session.expire_all()
    rule = session.scalars(select(HolidayRule).where(HolidayRule.key == "day_after_thanksgiving")).one()
    assert rule.active is False
    entry = session.scalars(select(AuditEntry).where(AuditEntry.entity == "holiday_rule")).one()
    assert entry.actor == "admin:admin" and entry.before == {"active": True} and entry.after == {"active": False}
    # And back on.
    b.post("/admin/calendar/holidays", {**observe, "observe_day_after_thanksgiving": "1"})
    assert "2026-11-27" in preview(b.get("/admin/calendar").get_data(as_text=True))


def test_an_admin_sets_several_ranges_and_closes_a_day(signed_in, session):
    b = signed_in("admin")
    form = {f"hours_{d.value}": "06:00-18:00" for d in Weekday if d.iso_index < 5}
    form["hours_mon"] = "7:00 - 12:00, 13:00-17:30"
    form["hours_fri"] = ""  # closed on Fridays
    form["hours_sat"] = "09:00-12:00"
    assert b.post("/admin/calendar/hours", form).status_code == 302
    session.expire_all()
    rows = {(Weekday(r.weekday).value, r.opens, r.closes) for r in session.scalars(select(BusinessHours))}
    assert ("mon", time(7), time(12)) in rows and ("mon", time(13), time(17, 30)) in rows
    assert not any(day == "fri" for day, _, _ in rows) and ("sat", time(9), time(12)) in rows
    page = b.get("/admin/calendar").get_data(as_text=True)
    assert 'value="07:00-12:00, 13:00-17:30"' in page
    monday = session.scalars(
        select(AuditEntry).where(AuditEntry.entity == "business_hours", AuditEntry.entity_key == "mon")
    ).one()
    assert monday.actor == "admin:admin" and monday.after == {"ranges": ["07:00-12:00", "13:00-17:30"]}


@pytest.mark.parametrize(
    "monday, reason",
    [
        ("18:00-06:00", "Monday, range 1: closes (06:00) must be after it opens (18:00)"),
        ("06:00-12:00, 11:00-14:00", "Monday, range 2: overlaps another range of the same day"),
        ("breakfast", "Monday, range 1: expected an opening range"),
    ],
)
def test_bad_hours_are_shown_and_nothing_is_written(signed_in, session, monday, reason):
    b = signed_in("admin")
    res = b.post("/admin/calendar/hours", {"hours_mon": monday, "hours_tue": "06:00-18:00"})
    assert res.status_code == 400
    page = html.unescape(res.get_data(as_text=True))
    assert reason in page and f'value="{monday}"' in page  # the form keeps what was typed
    session.expire_all()
    assert len(session.scalars(select(BusinessHours)).all()) == 5  # still Mon-Fri 06:00-18:00
    assert session.scalars(select(AuditEntry)).first() is None


@pytest.mark.parametrize(
    "form, reason",
    [
        ({"date": "", "name": "a day off"}, "date: required"),
        ({"date": "2027-02-30", "name": "a day off"}, "date: expected a date"),
        ({"date": "2027-02-03", "name": ""}, "name: required"),
        ({"date": "2027-02-03", "name": "x" * 121}, "name: longer than 120 characters"),
    ],
)
def test_a_bad_closure_is_refused(signed_in, session, form, reason):
    res = signed_in("admin").post("/admin/calendar/closures", form)
    assert res.status_code == 400 and reason in html.unescape(res.get_data(as_text=True))
    session.expire_all()
    assert session.scalars(select(Closure)).first() is None


def test_the_preview_marks_new_years_day_observed_the_year_before():
    from datetime import datetime

    from console.calendar import closed_day_preview
    from routing.calendar import default_calendar

    cal = default_calendar("America/Chicago")
    days = {d["date"]: d for d in closed_day_preview(cal, datetime(2027, 12, 1, 18, tzinfo=UTC))}
    # Jan 1, 2028 is a Saturday: observed on Friday Dec 31, 2027; Christmas 2027 (Sat) on Fri Dec 24,
    # which pushes Christmas Eve back to Thu Dec 23.
    (reason,) = days[date(2027, 12, 31)]["reasons"]
    assert reason["name"] == "New Year's Day" and reason["observed"] and reason["actual"] == date(2028, 1, 1)
    assert days[date(2027, 12, 24)]["reasons"][0]["name"] == "Christmas Day"
    assert days[date(2027, 12, 23)]["reasons"][0] == {
        "kind": "holiday",
        "name": "Christmas Eve",
        "observed": True,
        "actual": date(2027, 12, 24),
    }
    assert date(2028, 1, 1) not in days
    assert min(days) == date(2027, 12, 23) and max(days) < date(2028, 12, 1)
