"""The case lifecycle: response-due times, the 3 x 10 follow-up on a fake clock through RQ, the
follow-up call's keypresses through signed webhooks, SMS replies, auto-close, and surveys."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from casestore.models import AuditEntry, CallbackTask, Case, CaseEvent, FollowUp, Survey
from casestore.types import CaseStatus
from tests.adminkit import Browser, accounts  # noqa: F401  (fixture)
from tests.factories import World

CALLER_ID = "+18005550100"
UTC = UTC


@pytest.fixture
def settings_overrides(settings_overrides):
    return dict(settings_overrides, twilio_caller_id=CALLER_ID)


@pytest.fixture
def svc(app):
    return app.extensions["supportline"]


def run_jobs(svc) -> None:
    from workers.worker import run_worker

    run_worker(svc, burst=True)


def resolve(client, api_auth, number: int = 240117) -> dict:
    res = client.post(f"/api/cases/{number}/status", json={"status": "pending_verification"}, headers=api_auth("admin"))
    assert res.status_code == 200, res.get_data(as_text=True)
    return res.get_json()


def followups(session, number: int = 240117) -> list[FollowUp]:
    session.expire_all()
    case = session.scalars(select(Case).where(Case.number == number)).one()
    return list(session.scalars(select(FollowUp).where(FollowUp.case_id == case.id).order_by(FollowUp.due_at)))


def the_case(session, number: int = 240117) -> Case:
    session.expire_all()
    return session.scalars(select(Case).where(Case.number == number)).one()


# The test clock starts Tuesday 2026-11-17 09:00 CST; Thanksgiving (Thu 26) and the day after are closed.
def test_follow_ups_land_on_business_days_1_4_7_and_close_on_day_10(client, api_auth, world, session):
    resolve(client, api_auth)
    rows = followups(session)
    assert [(r.attempt, r.due_at.astimezone(UTC)) for r in rows] == [
        (1, datetime(2026, 11, 18, 15, tzinfo=UTC)),  # Wed 18, 09:00 CST
        (2, datetime(2026, 11, 23, 15, tzinfo=UTC)),  # Mon 23
        (3, datetime(2026, 11, 30, 15, tzinfo=UTC)),  # Mon 30: Thanksgiving and the day after skipped
        (0, datetime(2026, 12, 3, 15, tzinfo=UTC)),  # Thu Dec 3: tenth business day, closes
    ]
    assert the_case(session).status == CaseStatus.PENDING_VERIFICATION


def test_nobody_answers_three_follow_ups_then_the_case_closes_and_a_survey_goes_out(
    client, api_auth, svc, world, session, clock, telephony
):
    resolve(client, api_auth)
    for day, calls in (("2026-11-18T15:00", 1), ("2026-11-23T15:00", 2), ("2026-11-30T15:00", 3)):
        clock.set(datetime.fromisoformat(day).replace(tzinfo=UTC) - timedelta(minutes=1))
        run_jobs(svc)
        assert len(telephony.calls) == calls - 1  # not before it is due
        clock.set(datetime.fromisoformat(day).replace(tzinfo=UTC))
        run_jobs(svc)
        assert len(telephony.calls) == calls
        call = telephony.calls[-1]
        assert call.to == World.DANA_PHONE and call.from_ == CALLER_ID and "/voice/followup?fu=" in call.url
        assert call.machine_detection
    assert [m.body.startswith("Campus Support: case 240117 is awaiting") for m in telephony.messages] == [True] * 3
    clock.set(datetime(2026, 12, 3, 15, tzinfo=UTC))
    run_jobs(svc)
    case = the_case(session)
    assert case.status == CaseStatus.CLOSED and case.closed_at is not None
    events = [e.outcome for e in session.scalars(select(CaseEvent).where(CaseEvent.case_id == case.id))]
    assert "closed" in events
    run_jobs(svc)  # the survey job
    assert "How did we do?" in telephony.messages[-1].body


def call_leg(sim, sid: str, path: str, **form: str) -> ET.Element:
    base = {
        "CallSid": sid,
        "AccountSid": "AC" + "0" * 32,
        "From": CALLER_ID,
        "To": World.DANA_PHONE,
        "Direction": "outbound-api",
        "CallStatus": "in-progress",
    }
    return ET.fromstring(sim.post(path, dict(base, **form)))


def said(root: ET.Element) -> str:
    return " ".join(s.text or "" for s in root.iter("Say"))


def answered_followup(sim, svc, clock, telephony) -> tuple[str, ET.Element]:
    clock.set(datetime(2026, 11, 18, 15, tzinfo=UTC))
    run_jobs(svc)
    call = telephony.calls[-1]
    path = call.url[call.url.index("/voice/") :]
    root = call_leg(sim, call.sid, path, AnsweredBy="human")
    assert "240117" not in said(root) and "Lakeview" not in said(root)  # nothing private before the PIN
    root = call_leg(sim, call.sid, root.find("Gather").get("action"), Digits="4821")
    assert "Case 2 4 0 1 1 7 for Lakeview Public Schools" in said(root)
    return call.sid, root


def test_pressing_1_on_the_follow_up_call_closes_the_case(client, api_auth, sim, svc, world, session, clock, telephony):
    resolve(client, api_auth)
    sid, menu = answered_followup(sim, svc, clock, telephony)
    root = call_leg(sim, sid, menu.find("Gather").get("action"), Digits="1")
    assert "is now closed" in said(root)
    assert the_case(session).status == CaseStatus.CLOSED
    assert [r.status for r in followups(session)] == ["sent", "cancelled", "cancelled", "cancelled"]
    entry = session.scalars(
        select(AuditEntry).where(AuditEntry.entity == "case", AuditEntry.actor == "contact:104233")
    ).one()
    assert entry.after["status"] == "closed"


def test_pressing_3_keeps_it_open_and_stops_the_follow_ups(
    client, api_auth, sim, svc, world, session, clock, telephony
):
    resolve(client, api_auth)
    sid, menu = answered_followup(sim, svc, clock, telephony)
    root = call_leg(sim, sid, menu.find("Gather").get("action"), Digits="3")
    assert "stays open" in said(root)
    assert the_case(session).status == CaseStatus.IN_PROGRESS
    clock.set(datetime(2026, 12, 10, 15, tzinfo=UTC))
    run_jobs(svc)
    assert len(telephony.calls) == 1 and the_case(session).status == CaseStatus.IN_PROGRESS


def test_pressing_2_puts_the_contact_through_to_the_case_owner(
    client, api_auth, sim, svc, world, session, clock, telephony
):
    resolve(client, api_auth)
    sid, menu = answered_followup(sim, svc, clock, telephony)
    root = call_leg(sim, sid, menu.find("Gather").get("action"), Digits="2")
    assert "Connecting you to your case owner" in said(root)
    assert (next(iter(root.find("Dial"))).text or "").strip() == "+16125550101"


def test_a_voicemail_hears_nothing_private(client, api_auth, sim, svc, world, session, clock, telephony):
    resolve(client, api_auth)
    clock.set(datetime(2026, 11, 18, 15, tzinfo=UTC))
    run_jobs(svc)
    call = telephony.calls[-1]
    root = call_leg(sim, call.sid, call.url[call.url.index("/voice/") :], AnsweredBy="machine_end_beep")
    assert root.find("Gather") is None and "240117" not in said(root) and "Lakeview" not in said(root)
    assert the_case(session).status == CaseStatus.PENDING_VERIFICATION


def sms(sim, body: str, from_: str = World.DANA_PHONE) -> str:
    return sim.post(
        "/sms/incoming",
        {"From": from_, "To": CALLER_ID, "Body": body, "MessageSid": "SM1", "AccountSid": "AC" + "0" * 32},
    )


def test_sms_replies_to_a_follow_up(client, api_auth, sim, svc, world, session, clock, telephony):
    resolve(client, api_auth)
    assert "None of your cases is awaiting confirmation" in sms(sim, "1 240117")  # nothing sent yet
    clock.set(datetime(2026, 11, 18, 15, tzinfo=UTC))
    run_jobs(svc)
    assert "an advisor will call you back" in sms(sim, " 2  240117 ")
    task = session.scalars(select(CallbackTask)).one()
    assert task.kind == "callback" and task.callback_e164 == World.DANA_PHONE
    assert the_case(session).status == CaseStatus.IN_PROGRESS


def test_an_sms_1_closes_and_a_survey_is_answered_once(client, api_auth, sim, svc, world, session, clock, telephony):
    resolve(client, api_auth)
    clock.set(datetime(2026, 11, 18, 15, tzinfo=UTC))
    run_jobs(svc)
    assert "is now closed" in sms(sim, "1")
    run_jobs(svc)
    assert "How did we do?" in telephony.messages[-1].body
    assert "Thank you for rating" in sms(sim, "4 5 5 4 5")
    survey = session.scalars(select(Survey)).one()
    assert (survey.courtesy, survey.knowledge, survey.timeliness, survey.quality, survey.overall) == (4, 5, 5, 4, 5)
    assert survey.product_area == "grade_book"


def test_at_most_one_survey_every_30_days_and_stop_is_for_good(
    client, api_auth, sim, svc, world, session, clock, telephony
):
    auth = api_auth("admin")
    for number in (240117,):
        client.post(f"/api/cases/{number}/status", json={"status": "closed"}, headers=auth)
    world.other_case.contact = world.dana
    world.other_case.district = world.hosted
    session.commit()
    client.post("/api/cases/250001/status", json={"status": "closed"}, headers=auth)
    assert len(session.scalars(select(Survey)).all()) == 1  # the second close in 30 days sends none
    assert "not get satisfaction surveys" in sms(sim, "STOP")
    session.expire_all()
    assert world.dana.survey_opt_out
    clock.advance(days=40)
    client.post("/api/cases/240117/status", json={"status": "in_progress"}, headers=auth)
    client.post("/api/cases/240117/status", json={"status": "closed"}, headers=auth)
    assert len(session.scalars(select(Survey)).all()) == 1


def test_available_in_release_is_read_back(client, api_auth, sim, world, session):
    res = client.post("/api/cases/240117/status", json={"status": "available_in_release"}, headers=api_auth("admin"))
    assert res.status_code == 400 and res.get_json()["field"] == "release_name"
    client.post(
        "/api/cases/240117/status",
        json={"status": "available_in_release", "release_name": "24.3"},
        headers=api_auth("admin", "admin2"),
    )
    t = sim.call(World.DANA_PHONE, keys=["4821#", "240117#"], dial=["accept"])
    assert t.said("Status: available in release") and t.said("A fix is available in release 24.3")


def test_the_first_answered_call_marks_the_case_responded(sim, world, session, clock):
    assert the_case(session).responded_at is None
    sim.call(World.DANA_PHONE, keys=["4821#", "240117#"], dial=["accept"])
    first = the_case(session).responded_at
    assert first is not None
    sim.call(World.DANA_PHONE, keys=["4821#", "240117#"], dial=["accept"])
    assert the_case(session).responded_at == first


def test_a_new_outage_case_is_due_within_one_business_hour(sim, world, session):
    sim.call(World.DANA_PHONE, keys=["4821#", "8"], dial=["no-answer", "no-answer"])
    case = session.scalars(select(Case).where(Case.is_outage.is_(True))).one()
    assert (case.response_due_at - case.created_at).total_seconds() == 3600  # 09:00 CST Tuesday: open


def test_only_admins_change_case_status(client, api_auth, world):
    res = client.post("/api/cases/240117/status", json={"status": "closed"}, headers=api_auth("supervisor"))
    assert res.status_code == 403


def test_the_case_page_starts_the_follow_up(client, world, session, accounts):
    browser = Browser(client)
    browser.login("admin")
    page = browser.get("/admin/cases/240117").get_data(as_text=True)
    assert "starts the 3 x 10 follow-up" in page
    res = browser.post("/admin/cases/240117/status", {"status": "pending_verification"})
    assert res.status_code == 302
    assert the_case(session).status == CaseStatus.PENDING_VERIFICATION and len(followups(session)) == 4


# Issue #15 item 8: a resolve outside open hours (here Tue Nov 17 19:30 CST) starts the business clock
# at the next opening, so every step is due exactly at 18:00, the closing instant. The call must still
# be placed inside that day's open hours (LAST_CALL_LEAD before closing), not at 06:00 the next day.
def test_a_follow_up_due_at_closing_is_placed_the_same_day(client, api_auth, svc, world, session, clock, telephony):
    clock.set(datetime(2026, 11, 18, 1, 30, tzinfo=UTC))  # Tue Nov 17 19:30 CST: after hours
    resolve(client, api_auth)
    # Steps 1-3 are due Wed 18, Mon 23 and Mon 30 (Thanksgiving and the day after skipped) at 18:00
    # CST. Run the jobs a minute at a time around each closing and at the next opening, and note
    # when each call goes out.
    chicago = ZoneInfo("America/Chicago")
    moments = []
    for closing, next_opening in (((11, 18, 18), (11, 19, 6)), ((11, 23, 18), (11, 24, 6)), ((11, 30, 18), (12, 1, 6))):
        closes = datetime(2026, *closing, tzinfo=chicago)
        moments += [closes - timedelta(minutes=m) for m in range(20, -1, -1)]
        moments.append(datetime(2026, *next_opening, tzinfo=chicago))
    placed = []
    for moment in moments:
        clock.set(moment)
        before = len(telephony.calls)
        run_jobs(svc)
        placed += [moment] * (len(telephony.calls) - before)
    assert [p.astimezone(chicago).strftime("%a %d %H:%M") for p in placed] == [
        "Wed 18 17:45",
        "Mon 23 17:45",
        "Mon 30 17:45",
    ]
    assert [(r.attempt, r.due_at.astimezone(UTC)) for r in followups(session)] == [
        (1, datetime(2026, 11, 18, 23, 45, tzinfo=UTC)),
        (2, datetime(2026, 11, 23, 23, 45, tzinfo=UTC)),
        (3, datetime(2026, 11, 30, 23, 45, tzinfo=UTC)),
        (0, datetime(2026, 12, 4, 0, 0, tzinfo=UTC)),  # Thu Dec 3 18:00 CST: closing the case needs no open desk
    ]


def test_a_late_follow_up_timer_still_waits_for_the_next_opening(
    client, api_auth, svc, world, session, clock, telephony
):
    clock.set(datetime(2026, 11, 18, 1, 30, tzinfo=UTC))  # Tue Nov 17 19:30 CST
    resolve(client, api_auth)
    clock.set(datetime(2026, 11, 19, 0, 5, tzinfo=UTC))  # Wed 18:05 CST: the 17:45 timer ran 20 minutes late
    run_jobs(svc)
    assert telephony.calls == []
    first = followups(session)[0]
    assert (first.status, first.due_at.astimezone(UTC)) == ("scheduled", datetime(2026, 11, 19, 12, tzinfo=UTC))
    clock.set(datetime(2026, 11, 19, 12, tzinfo=UTC))  # Thu 06:00 CST
    run_jobs(svc)
    assert len(telephony.calls) == 1 and followups(session)[0].status == "sent"
