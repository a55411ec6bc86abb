"""A new issue without a case number (issue #15 item 2), end to end through signed webhooks: the
product area (keyed or said) picks the advisor's skill, the urgency the priority and the place in
line; the call log, the callback task and the whisper carry both. Every answer the line gives is
checked against Twilio's rules for a Gather."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import timedelta

import pytest
from sqlalchemy import select

from casestore.models import CallbackTask, CallLog, Case
from casestore.types import Priority
from routing.callqueue import CallQueue
from routing.presence import Presence
from tests.conftest import AUTH_TOKEN, BASE_URL
from tests.factories import World
from tests.ivr.test_queue import Leg
from twilio_doubles.simulator import CallSimulator, advance_clock

GATHER_INPUTS = {"dtmf", "speech", "dtmf speech"}


def assert_valid_gathers(doc: str) -> None:
    """Twilio's rules for every <Gather> of a TwiML answer (input, hints, speechTimeout, numDigits)."""
    root = ET.fromstring(doc)
    assert root.tag == "Response", doc
    for gather in root.iter("Gather"):
        kind = gather.get("input", "dtmf")
        assert kind in GATHER_INPUTS, doc
        assert gather.get("action"), doc
        if gather.get("numDigits") is not None:
            assert "dtmf" in kind and int(gather.get("numDigits")) > 0, doc
        if "speech" in kind:
            timeout = gather.get("speechTimeout", "auto")
            assert timeout == "auto" or (timeout.isdigit() and int(timeout) > 0), doc
            assert gather.get("language") in {"en-US", "es-US"}, doc
            entries = (gather.get("hints") or "").split(", ")
            assert all(0 < len(e) <= 100 and "," not in e for e in entries), doc


class SpeakingSimulator(CallSimulator):
    """The call simulator with a caller who may also speak: a key group "say:<text>" (or
    "say:<text>@<confidence>") answers a speech Gather with Twilio's SpeechResult and Confidence.
    Every answer of the line is checked against Twilio's Gather rules."""

    def post(self, path, params, transcript=None):
        doc = super().post(path, params, transcript)
        assert_valid_gathers(doc)
        return doc

    def _gather(self, c, verb):
        spoken = c.pending[0] if c.pending and c.pending[0].startswith("say:") else None
        if spoken is None or "speech" not in (verb.get("input") or ""):
            return super()._gather(c, verb)
        c.pending.pop(0)
        text, _, confidence = spoken[len("say:") :].partition("@")
        for inner in verb:
            if inner.tag == "Say":
                self._hear(c.t, inner.text or "")
        c.t.lines.append(f"caller says: {text}")
        c.params = dict(c.params, SpeechResult=text, Confidence=confidence or "0.91")
        return True, verb.get("action")


@pytest.fixture
def speaker(client, clock):
    return SpeakingSimulator(client, base_url=BASE_URL, auth_token=AUTH_TOKEN, advance=advance_clock(clock))


@pytest.fixture
def presence(redis_client):
    return Presence(redis_client, "America/Chicago")


def _only(presence, clock, world: World, *available):
    for a in (world.priya, world.marcus, world.lena):
        presence.set_state(a.id, "available" if a in available else "offline", clock())


def _log(session, sid: str | None = None) -> CallLog:
    session.expire_all()
    stmt = select(CallLog) if sid is None else select(CallLog).where(CallLog.call_sid == sid)
    return session.scalars(stmt).one()


AREA_MENU = "Which product area is your issue about?"
URGENCY_MENU = "If your site is down or no one can work, press 1."


# --------------------------------------------------------------------------- the area picks the advisor


def test_keyed_area_routes_to_the_advisor_with_that_skill(speaker, world: World, session):
    t = speaker.call(World.OMAR_PHONE, keys=["1357#", "0", "3", "3"], dial=["accept"])
    assert t.said(AREA_MENU) and t.said(URGENCY_MENU)
    assert t.dialled == ["lena"] and t.connected_to == "lena"  # Lena alone has attendance
    assert "(lena hears) Support call from Prairie Ridge USD, attendance, medium priority. Press 1 to accept." in t.text
    log = _log(session)
    assert (log.skill, log.priority, log.outcome) == ("attendance", "medium", "connected")
    assert log.advisor_id == world.lena.id and "area" in log.path and "urgency" in log.path


def test_a_skilled_advisor_is_chosen_over_a_longer_idle_one_without_the_skill(
    speaker, world: World, presence, clock, session
):
    _only(presence, clock, world)
    presence.set_state(world.marcus.id, "available", clock() - timedelta(minutes=30))  # idle longest
    presence.set_state(world.lena.id, "available", clock())
    general = speaker.call(World.OMAR_PHONE, keys=["1357#", "0", "0", "3"], dial=["accept"])
    assert general.dialled == ["+16125550102"]  # a general call: the longest idle, Marcus (grade book)
    clock.advance(minutes=5)  # past Marcus's wrap-up
    attendance = speaker.call(World.OMAR_PHONE, keys=["1357#", "0", "3", "3"], dial=["accept"])
    assert attendance.dialled == ["lena"]


def test_spoken_area_routes_to_the_skilled_advisor(speaker, world: World, session):
    t = speaker.call(World.OMAR_PHONE, keys=["1357#", "0", "say:attendance please", "say:it can wait"])
    assert t.connected_to == "lena"
    assert "caller says: attendance please" in t.lines
    log = _log(session)
    assert (log.skill, log.priority) == ("attendance", "medium")


def test_spoken_spanish_area_and_a_spoken_digit(speaker, world: World, session):
    t = speaker.call(World.OMAR_PHONE, keys=["1357#", "0", "say:asistencia", "say:two"])
    assert t.connected_to == "lena"
    assert (_log(session).skill, _log(session).priority) == ("attendance", "high")
    u = speaker.call(World.OMAR_PHONE, keys=["1357#", "0", "say:one", "3"], dial=["accept"])
    assert u.dialled[0] in {"+16125550101", "+16125550102"}  # grade book: Priya or Marcus


def test_not_sure_is_a_general_call(speaker, world: World, session):
    t = speaker.call(World.OMAR_PHONE, keys=["1357#", "0", "say:I'm not sure", "3"], dial=["accept"])
    assert t.connected_to is not None
    assert "Support call from Prairie Ridge USD, general, medium priority." in t.text
    log = _log(session)
    assert (log.skill, log.priority) == (None, "medium")


def test_low_confidence_or_unrecognised_speech_is_asked_again(speaker, world: World, session):
    t = speaker.call(
        World.OMAR_PHONE, keys=["1357#", "0", "say:attendance@0.21", "say:the weather", "say:attendance", "3"]
    )
    assert t.heard.count("Sorry, I didn't catch that.") == 2
    assert sum(AREA_MENU in h for h in t.heard) == 3
    assert t.connected_to == "lena"


def test_star_repeats_each_question_without_counting_a_try(speaker, world: World, session):
    t = speaker.call(World.OMAR_PHONE, keys=["1357#", "0", "*", "*", "*", "3", "*", "2"], dial=["accept"])
    assert sum(AREA_MENU in h for h in t.heard) == 4
    assert sum(URGENCY_MENU in h for h in t.heard) == 2
    assert not t.said("not one of the options") and t.connected_to == "lena"
    assert _log(session).priority == "high"


# --------------------------------------------------------------------------- urgency and the line


def test_site_down_is_critical_and_goes_ahead_of_medium_callers_already_waiting(
    speaker, world: World, presence, clock, telephony, session, redis_client
):
    _only(presence, clock, world)  # nobody free: everyone waits
    first, second = Leg(speaker, telephony, World.OMAR_PHONE), Leg(speaker, telephony, World.OMAR_PHONE)
    for leg in (first, second):
        root = leg.new_issue(pin="1357", area="3", urgency="3")
        assert "number" in leg.text(root) and root.find("Dial") is None
        clock.advance(seconds=20)
    urgent = Leg(speaker, telephony, World.OMAR_PHONE)
    root = urgent.new_issue(pin="1357", area="3", urgency="1")  # not hosted: no option-8 offer
    assert "You are number 1 in line" in urgent.text(root)
    line = CallQueue(redis_client).entries()
    assert [e.sid for e in line] == [urgent.sid, first.sid, second.sid]
    assert line[0].rank == Priority.CRITICAL.rank and line[1].rank == Priority.MEDIUM.rank
    assert _log(session, urgent.sid).priority == "critical"


def test_time_sensitive_is_high_and_the_call_log_keeps_area_and_priority(speaker, world: World, session):
    t = speaker.call(World.OMAR_PHONE, keys=["1357#", "0", "6", "2"], dial=["accept"])
    log = _log(session)
    assert (log.skill, log.priority) == ("state_reporting", "high")
    # Nobody has state reporting in this world: the caller waits for one (never a wrong advisor).
    assert t.dialled == [] and t.said("in line")


def test_hosted_site_down_is_offered_option_8_and_may_take_it(speaker, world: World, session):
    t = speaker.call(World.DANA_PHONE, keys=["4821#", "0", "1", "1", "8"], dial=["accept"])
    assert t.said("press 8 now to reach the on call engineer")
    assert t.said("We have opened outage case") and t.connected_to == "+16125550177"
    assert session.scalars(select(Case).where(Case.is_outage.is_(True))).one().priority == Priority.CRITICAL


def test_hosted_site_down_that_stays_on_the_line_reaches_an_advisor_at_critical(speaker, world: World, session):
    t = speaker.call(World.DANA_PHONE, keys=["4821#", "0", "1", "say:site down", ""], dial=["accept"])
    assert t.said("press 8 now") and t.connected_to in {"+16125550101", "+16125550102"}
    assert "Support call from Lakeview Public Schools, grade book, critical priority." in t.text
    assert session.scalars(select(Case).where(Case.is_outage.is_(True))).all() == []
    assert (_log(session).skill, _log(session).priority) == ("grade_book", "critical")


def test_a_queued_caller_who_asks_for_a_callback_keeps_area_and_priority_on_the_task(
    speaker, world: World, presence, clock, session
):
    _only(presence, clock, world)
    t = speaker.call(World.OMAR_PHONE, keys=["1357#", "0", "5", "2", "hold:1", "2"], dial=[])
    assert t.said("call you back at the number ending in 0 1 1 1")
    session.expire_all()
    task = session.scalars(select(CallbackTask)).one()
    assert (task.kind, task.skill, task.priority_rank) == ("callback", "point_of_sale", Priority.HIGH.rank)
    assert (_log(session).skill, _log(session).priority) == ("point_of_sale", "high")


def test_a_queued_caller_who_leaves_a_message_keeps_area_and_priority_on_the_task(
    speaker, world: World, presence, clock, session
):
    _only(presence, clock, world)
    speaker.call(World.OMAR_PHONE, keys=["1357#", "0", "say:scheduling", "1", "hold:1", "1"], dial=[])
    session.expire_all()
    task = session.scalars(select(CallbackTask)).one()
    assert (task.kind, task.skill, task.priority_rank) == ("message", "scheduling", Priority.CRITICAL.rank)


# --------------------------------------------------------------------------- nothing usable: a general advisor


@pytest.mark.parametrize(
    "answers",
    [
        ["9", "", "7"],  # a bad key, silence, a bad key
        ["say:the weather", "say:grade book@0.1", ""],  # garbage, low confidence, silence
        ["12", "say:attendance and grades", "#"],  # two keys, two areas, only the pound key
    ],
)
def test_three_misses_at_the_area_question_reach_a_general_advisor(speaker, world: World, session, answers):
    t = speaker.call(World.OMAR_PHONE, keys=["1357#", "0", *answers], dial=["accept"])
    assert sum(AREA_MENU in h for h in t.heard) == 3
    assert not t.said(URGENCY_MENU)
    assert t.connected_to is not None
    log = _log(session)
    assert (log.skill, log.priority, log.outcome) == (None, "medium", "connected")


@pytest.mark.parametrize("answers", [["9", "", "say:yes"], ["say:banana", "say:down@0.3", "0"]])
def test_three_misses_at_the_urgency_question_keep_the_area_at_medium(speaker, world: World, session, answers):
    t = speaker.call(World.OMAR_PHONE, keys=["1357#", "0", "3", *answers], dial=["accept"])
    assert sum(URGENCY_MENU in h for h in t.heard) == 3
    assert t.connected_to == "lena"
    assert (_log(session).skill, _log(session).priority) == ("attendance", "medium")


def test_three_silences_at_the_menu_skip_the_questions(speaker, world: World, session):
    t = speaker.call(World.OMAR_PHONE, keys=["1357#", "", "", ""], dial=["accept"])
    assert not t.said(AREA_MENU) and t.connected_to is not None
    assert (_log(session).skill, _log(session).priority) == (None, "medium")


def test_the_third_unknown_case_number_asks_the_area_once(speaker, world: World, session):
    t = speaker.call(World.OMAR_PHONE, keys=["1357#", "99999#", "99998#", "99997#", "3", "2"], dial=["accept"])
    assert sum("could not find that case number" in h for h in t.heard) == 3
    assert sum(AREA_MENU in h for h in t.heard) == 1 and t.connected_to == "lena"


def test_a_case_met_earlier_in_the_call_is_forgotten_for_a_new_issue(speaker, world: World, session):
    t = speaker.call(World.DANA_PHONE, keys=["4821#", "240300#", "0", "3", "3"], dial=["accept"])
    assert t.said("more than 60 days ago")
    assert t.connected_to == "lena"
    assert "Support call from Lakeview Public Schools, attendance, medium priority." in t.text


@pytest.mark.parametrize("step", ["area", "urgency"])
@pytest.mark.parametrize(
    "params",
    [
        {},
        {"Digits": "abc"},
        {"Digits": "9" * 40},
        {"SpeechResult": "\x00\ufffd" * 50, "Confidence": "NaN"},
        {"SpeechResult": "attendance", "Confidence": "high"},
        {"SpeechResult": "", "Confidence": "0.9", "Digits": ""},
    ],
)
def test_whatever_arrives_at_the_new_questions_the_answer_is_valid_twiml(
    speaker, world: World, telephony, step, params
):
    leg = Leg(speaker, telephony, World.OMAR_PHONE)
    menu = leg.verified_menu("1357")
    root = leg.post(leg.action(menu), Digits="0")
    if step == "urgency":
        root = leg.post(leg.action(root), Digits="3")
    for url in (leg.action(root), leg.action(root) + "&noinput=1"):
        answer = ET.fromstring(speaker.post(url, dict(leg.base, CallStatus="in-progress", **params)))
        assert answer.find("Gather") is not None or answer.find("Dial") is not None
