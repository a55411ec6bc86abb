"""After hours, end to end through the signed webhooks (issue #15 item 3): a verified caller is
offered a message for an advisor (1) or a callback when the desk opens (2), on their case or a new
issue; what they leave is a task for the next opening (`not_before`, in UTC across DST changes
and holidays), in the order they called; hosted callers keep option 8; silence, wrong keys and
garbage speech get valid TwiML and a polite end."""

from __future__ import annotations

import uuid
import xml.etree.ElementTree as ET
from datetime import UTC, datetime

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from casestore.models import CallbackTask, CallLog, Case, CaseEvent
from casestore.types import CaseStatus, Priority, ProductArea
from tests.conftest import AUTH_TOKEN, BASE_URL
from tests.factories import World
from twilio_doubles.simulator import CallSimulator

TUESDAY_20_00 = datetime(2026, 11, 18, 2, 0, tzinfo=UTC)  # Tue 2026-11-17 20:00 CST
WEDNESDAY_06_00 = datetime(2026, 11, 18, 12, 0, tzinfo=UTC)  # the next opening
WEDNESDAY_03_00 = datetime(2026, 11, 18, 9, 0, tzinfo=UTC)
OPTIONS = "To leave a message for an advisor, press 1. To have an advisor call you back when we open, press 2."


@pytest.fixture
def recorded(sim: CallSimulator, monkeypatch):
    """Every TwiML document the line answers during the test."""
    docs: list[str] = []
    post = sim.post

    def keep(path, params, transcript=None):
        body = post(path, params, transcript)
        docs.append(body)
        return body

    monkeypatch.setattr(sim, "post", keep)
    return docs


def assert_valid_twiml(doc: str) -> ET.Element:
    """A TwiML response whose every Gather follows Twilio's rules."""
    root = ET.fromstring(doc)
    assert root.tag == "Response"
    for gather in root.iter("Gather"):
        inputs = gather.get("input", "dtmf")
        assert inputs in ("dtmf", "speech", "dtmf speech"), inputs
        assert gather.get("action")
        if gather.get("numDigits") is not None:
            assert "dtmf" in inputs and int(gather.get("numDigits", "")) > 0
        if "speech" in inputs:
            timeout = gather.get("speechTimeout", "auto")
            assert timeout == "auto" or int(timeout) > 0
            hints = [h.strip() for h in gather.get("hints", "").split(",")]
            assert all(0 < len(h) <= 100 for h in hints), hints
            assert gather.get("language") in ("en-US", "es-US")
    for record in root.iter("Record"):
        assert record.get("action") and 0 < int(record.get("maxLength", "0")) <= 14400
    return root


def _count(t, fragment: str) -> int:
    return sum(fragment.lower() in text.lower() for text in t.heard)


def _task(session) -> CallbackTask:
    return session.scalars(select(CallbackTask)).one()


def _log(session) -> CallLog:
    return session.scalars(select(CallLog)).one()


def test_non_hosted_caller_at_20_00_leaves_a_message_on_their_case(sim, world: World, session, clock, recorded):
    clock.set(TUESDAY_20_00)
    t = sim.call(World.OMAR_PHONE, keys=["1357#", "1", "250001#"])
    assert t.said("closed right now") and t.said("We open again tomorrow at 6 a.m. Central.")
    assert t.said(OPTIONS) and not t.said("press 8")
    assert t.said("If this is about an existing case, enter the case number")
    assert t.said("Case 2 5 0 0 0 1.") and t.said("Please leave your message after the tone")
    assert t.said("Your message has been saved, and an advisor will call you back after we open")
    task = _task(session)
    assert (task.kind, task.status, task.case_id) == ("message", "open", world.other_case.id)
    assert task.skill == ProductArea.GRADE_BOOK.value and task.priority_rank == Priority.MEDIUM.rank
    assert task.recording_url == "https://api.twilio.com/recordings/RE-demo" and task.callback_e164 is None
    assert task.not_before == WEDNESDAY_06_00  # 06:00 Central, the next opening, in UTC
    assert task.queued_at == TUESDAY_20_00  # when they called: before the morning's live callers
    log = _log(session)
    assert log.outcome == "message_recorded" and log.case_id == world.other_case.id
    # The call log carries the case's area and priority, as the task does.
    assert (log.skill, log.priority) == (task.skill, Priority.of_rank(task.priority_rank).value)
    assert log.recording_url == task.recording_url
    assert log.path == [
        "greeting",
        "pin",
        "verified",
        "closed",
        "after_hours_message",
        "case",
        "after_hours_record",
        "message_recorded",
    ]
    events = session.scalars(select(CaseEvent).where(CaseEvent.case_id == world.other_case.id)).all()
    assert {(e.kind, e.outcome) for e in events} == {("call", "message_recorded"), ("task", "message_requested")}
    assert any("left after hours: https://api.twilio.com/recordings/RE-demo" in e.detail for e in events)
    for doc in recorded:
        assert_valid_twiml(doc)


def test_callback_for_a_new_issue_goes_to_the_callers_number(sim, world: World, session, clock, recorded):
    clock.set(TUESDAY_20_00)
    t = sim.call(World.OMAR_PHONE, keys=["1357#", "2", "#"])
    assert t.said("call you back at the number ending in 0 1 1 1 after we open")
    task = _task(session)
    assert (task.kind, task.case_id, task.skill) == ("callback", None, None)
    assert task.callback_e164 == World.OMAR_PHONE and task.recording_url is None
    assert task.priority_rank == Priority.MEDIUM.rank and task.district_id == world.onprem.id
    assert task.contact_id == world.omar.id and task.not_before == WEDNESDAY_06_00
    assert _log(session).outcome == "callback_requested"
    assert (_log(session).skill, _log(session).priority) == (None, "medium")  # a new issue
    assert not session.scalars(select(CaseEvent)).all()  # no case, nothing in a case's log
    for doc in recorded:
        assert_valid_twiml(doc)


def test_hosted_caller_at_03_00_keeps_option_8_and_hears_the_new_options(sim, world: World, clock, recorded):
    clock.set(WEDNESDAY_03_00)
    t = sim.call(World.DANA_PHONE, keys=["4821#", "8"], dial=["accept"])
    assert t.said(OPTIONS) and t.said("press 8 to reach the on call engineer")
    assert t.said("We have opened outage case") and t.connected_to == "+16125550177"
    for doc in recorded:
        assert_valid_twiml(doc)


def test_hosted_caller_at_03_00_asks_for_a_callback_on_their_case(sim, world: World, session, clock):
    clock.set(WEDNESDAY_03_00)
    t = sim.call(World.DANA_PHONE, keys=["4821#", "2", "240117#"])
    assert t.said("Case 2 4 0 1 1 7.") and t.said("number ending in 0 1 3 4")
    task = _task(session)
    assert (task.kind, task.case_id, task.callback_e164) == ("callback", world.open_case.id, World.DANA_PHONE)
    assert task.skill == "grade_book" and task.priority_rank == Priority.HIGH.rank  # the case's
    assert task.not_before == WEDNESDAY_06_00 and task.queued_at == WEDNESDAY_03_00
    event = session.scalars(select(CaseEvent).where(CaseEvent.kind == "task")).one()
    assert event.detail == "Callback requested after hours to ***0134"


def test_a_wrong_case_number_is_said_once_and_asked_again(sim, world: World, session, clock):
    clock.set(TUESDAY_20_00)
    t = sim.call(World.OMAR_PHONE, keys=["1357#", "1", "240117#", "250001#"])  # 240117: another district's
    assert _count(t, "could not find that case number for your district") == 1
    assert _count(t, "If this is about an existing case") == 2
    assert _task(session).case_id == world.other_case.id


def test_two_wrong_case_numbers_make_a_new_issue(sim, world: World, session, clock):
    clock.set(TUESDAY_20_00)
    t = sim.call(World.OMAR_PHONE, keys=["1357#", "2", "99999#", "12#"])
    assert _count(t, "could not find that case number") == 2 and t.said("We will take this as a new issue.")
    task = _task(session)
    assert task.case_id is None and task.skill is None and task.priority_rank == Priority.MEDIUM.rank


def test_no_caller_id_is_offered_no_callback(sim, world: World, session, clock, recorded):
    clock.set(TUESDAY_20_00)
    t = sim.call("Anonymous", keys=["204511#", "1357#", "2", "*", "1", "#"])
    assert not t.said("call you back when we open") and t.said("To leave a message for an advisor, press 1.")
    assert t.said("that is not one of the options")  # 2 is not an option without a number
    assert _count(t, "To leave a message for an advisor, press 1.") == 3  # offer, after 2, after star
    task = _task(session)
    assert task.kind == "message" and task.callback_e164 is None and task.case_id is None
    for doc in recorded:
        assert_valid_twiml(doc)


def test_silence_asks_again_twice_then_ends_politely(sim, world: World, session, clock, recorded):
    clock.set(TUESDAY_20_00)
    t = sim.call(World.OMAR_PHONE, keys=["1357#", "", "", ""])
    assert _count(t, OPTIONS) == 3
    assert t.heard[-2:] == [
        "You can submit a case online at any time through the Support Case Portal.",
        "Thank you for calling Campus Support. Goodbye.",
    ]
    assert t.ended_by == "hung up by the line"
    assert _log(session).outcome == "closed" and not session.scalars(select(CallbackTask)).all()
    for doc in recorded:
        assert_valid_twiml(doc)


def test_wrong_keys_are_not_options_then_a_polite_end(sim, world: World, session, clock, recorded):
    clock.set(TUESDAY_20_00)
    t = sim.call(World.OMAR_PHONE, keys=["1357#", "5", "8", "9", "0"])
    assert t.said("hosted customers only")  # 8 from a district that is not hosted
    assert _count(t, "that is not one of the options") == 3
    assert t.heard[-1] == "Thank you for calling Campus Support. Goodbye."
    assert _log(session).outcome == "closed"
    for doc in recorded:
        assert_valid_twiml(doc)


def test_star_repeats_the_offer(sim, world: World, clock):
    clock.set(TUESDAY_20_00)
    t = sim.call(World.OMAR_PHONE, keys=["1357#", "*"])
    assert _count(t, OPTIONS) == 2 and _count(t, "We open again tomorrow") == 2


def test_a_message_with_nothing_recorded_is_offered_again_then_ends(sim, world: World, session, clock):
    clock.set(TUESDAY_20_00)
    t = sim.call(World.OMAR_PHONE, keys=["1357#", "1", "#"], record=None)
    assert _count(t, "We did not receive a message.") == 2
    assert _count(t, "Please leave your message after the tone") == 2
    assert t.heard[-1] == "Thank you for calling Campus Support. Goodbye."
    assert not session.scalars(select(CallbackTask)).all() and _log(session).outcome == "closed"


def test_hanging_up_at_the_offer_still_reads_closed(sim, world: World, session, clock):
    clock.set(TUESDAY_20_00)
    sim.call(World.OMAR_PHONE, keys=["1357#"])
    assert _log(session).outcome == "closed"


# (the call's instant, the next opening the task waits for), both in UTC.
NEXT_OPENINGS = [
    # Thanksgiving night: the day after is a holiday too, so the Monday after.
    (datetime(2026, 11, 27, 2, 0, tzinfo=UTC), datetime(2026, 11, 30, 12, 0, tzinfo=UTC)),
    # Thanksgiving day itself (a holiday closure, not hours).
    (datetime(2026, 11, 26, 16, 0, tzinfo=UTC), datetime(2026, 11, 30, 12, 0, tzinfo=UTC)),
    # Friday 20:00 CDT before the fall-back Sunday: Monday 06:00 CST is 12:00 UTC.
    (datetime(2026, 10, 31, 1, 0, tzinfo=UTC), datetime(2026, 11, 2, 12, 0, tzinfo=UTC)),
    # Friday 20:00 CST before the spring-forward Sunday: Monday 06:00 CDT is 11:00 UTC.
    (datetime(2026, 3, 7, 2, 0, tzinfo=UTC), datetime(2026, 3, 9, 11, 0, tzinfo=UTC)),
    # Christmas Eve evening: closed the 24th and 25th, open again Monday the 28th.
    (datetime(2026, 12, 24, 2, 0, tzinfo=UTC), datetime(2026, 12, 28, 12, 0, tzinfo=UTC)),
    # Before opening on a weekday: the same morning.
    (datetime(2026, 11, 18, 11, 30, tzinfo=UTC), datetime(2026, 11, 18, 12, 0, tzinfo=UTC)),
]


@pytest.mark.parametrize(("called", "opens"), NEXT_OPENINGS, ids=[c.isoformat() for c, _ in NEXT_OPENINGS])
def test_not_before_is_the_next_opening_in_utc(sim, world: World, session, clock, called, opens):
    clock.set(called)
    t = sim.call(World.OMAR_PHONE, keys=["1357#", "2", "#"])
    assert t.said("after we open")
    task = _task(session)
    assert task.not_before == opens and task.queued_at == called


def test_holiday_offer_names_the_holiday(sim, world: World, clock):
    clock.set(datetime(2026, 11, 27, 2, 0, tzinfo=UTC))  # Thanksgiving, 20:00 CST
    t = sim.call(World.DANA_PHONE, keys=["4821#"])
    assert t.said("We open again on Monday, November 30, at 6 a.m. Central.")
    assert t.said(OPTIONS) and t.said("press 8")


def test_api_task_list_shows_not_before_and_keeps_the_order(sim, client, api_auth, world: World, session, clock):
    clock.set(TUESDAY_20_00)
    sim.call(World.OMAR_PHONE, keys=["1357#", "1", "#"])  # 20:00, medium
    clock.set(WEDNESDAY_03_00)
    sim.call(World.DANA_PHONE, keys=["4821#", "2", "#"])  # 03:00, medium
    morning = datetime(2026, 11, 18, 12, 30, tzinfo=UTC)  # a live caller's task at 06:30, medium
    session.add(
        CallbackTask(
            kind="callback",
            status="open",
            district_id=world.hosted.id,
            call_sid="CA" + uuid.uuid4().hex,
            callback_e164=World.DANA_PHONE,
            priority_rank=Priority.MEDIUM.rank,
            queued_at=morning,
            created_at=morning,
        )
    )
    session.commit()
    tasks = client.get("/api/tasks", headers=api_auth("viewer")).get_json()
    assert [(t["kind"], t["queued_at"]) for t in tasks] == [
        ("message", TUESDAY_20_00.isoformat()),
        ("callback", WEDNESDAY_03_00.isoformat()),
        ("callback", morning.isoformat()),
    ]
    assert [t["not_before"] for t in tasks] == [WEDNESDAY_06_00.isoformat(), WEDNESDAY_06_00.isoformat(), None]


# -- garbage: whatever arrives at the after-hours steps, valid TwiML --------------------------


def _to_offer(sim: CallSimulator, phone: str = World.OMAR_PHONE, pin: str = "1357") -> tuple[dict, str]:
    """A call verified and at the after-hours offer: its parameters and the offer's action."""
    base = {"CallSid": "CA" + uuid.uuid4().hex, "From": phone, "To": "+18005550100", "CallStatus": "in-progress"}
    greeting = ET.fromstring(sim.post("/voice/incoming", base))
    offer = ET.fromstring(sim.post(greeting.find("Gather").get("action"), dict(base, Digits=pin)))
    return base, offer.find("Gather").get("action")


def _signed(client, path: str, params: dict):
    from twilio.request_validator import RequestValidator

    signature = RequestValidator(AUTH_TOKEN).compute_signature(BASE_URL + path, params)
    return client.post(path, data=params, headers={"X-Twilio-Signature": signature})


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    digits=st.one_of(st.none(), st.text(max_size=12)),
    speech=st.one_of(st.none(), st.text(max_size=40), st.sampled_from(["message", "call me back", "outage", "uh"])),
    confidence=st.one_of(st.none(), st.sampled_from(["0.9", "0.2", "high", "", "nan"])),
)
def test_anything_at_the_offer_and_the_case_prompt_gets_valid_twiml(
    sim, client, world: World, clock, digits, speech, confidence
):
    clock.set(TUESDAY_20_00)
    base, action = _to_offer(sim)
    params = dict(base)
    for name, value in (("Digits", digits), ("SpeechResult", speech), ("Confidence", confidence)):
        if value is not None:
            params[name] = value.replace("\x00", "")
    res = _signed(client, action, params)
    assert res.status_code == 200
    root = assert_valid_twiml(res.get_data(as_text=True))
    gather = root.find("Gather")
    if gather is not None and "/voice/after-hours-case" in gather.get("action", ""):
        again = _signed(client, gather.get("action"), dict(params, Digits=(digits or "")[:12]))
        assert again.status_code == 200
        assert_valid_twiml(again.get_data(as_text=True))


def test_spoken_choices_at_the_offer(sim, client, world: World, clock):
    clock.set(TUESDAY_20_00)
    base, action = _to_offer(sim)
    said = ET.fromstring(sim.post(action, dict(base, SpeechResult="I'd like a call back", Confidence="0.83")))
    assert "/voice/after-hours-case" in said.find("Gather").get("action") and "kind=callback" in said.find(
        "Gather"
    ).get("action")
    base, action = _to_offer(sim)
    unsure = ET.fromstring(sim.post(action, dict(base, SpeechResult="leave a message", Confidence="0.2")))
    assert "not one of the options" in " ".join(s.text or "" for s in unsure.iter("Say"))


def test_a_case_step_with_a_forged_kind_goes_back_to_the_offer(sim, world: World, clock):
    clock.set(TUESDAY_20_00)
    base, action = _to_offer(sim)
    n = action.split("n=")[1]
    root = assert_valid_twiml(sim.post(f"/voice/after-hours-case?n={n}&kind=nonsense", dict(base, Digits="250001")))
    assert "/voice/closed" in root.find("Gather").get("action")


def test_a_closed_case_of_the_district_takes_a_message_too(sim, world: World, session, clock):
    case = Case(
        number=250002,
        district=world.onprem,
        product_area=ProductArea.STATE_REPORTING,
        priority=Priority.CRITICAL,
        status=CaseStatus.CLOSED,
        created_at=datetime(2026, 9, 1, tzinfo=UTC),
        closed_at=datetime(2026, 9, 2, tzinfo=UTC),
    )
    session.add(case)
    session.commit()
    clock.set(TUESDAY_20_00)
    sim.call(World.OMAR_PHONE, keys=["1357#", "1", "250002#"])
    task = _task(session)
    assert task.case_id == case.id and task.priority_rank == Priority.CRITICAL.rank
    assert task.skill == "state_reporting"
