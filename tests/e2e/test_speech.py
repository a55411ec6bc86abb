"""Speech or keypad, end to end through the signed webhooks (issue #15 item 1): the simulator's
"say:" key groups send Twilio's SpeechResult and Confidence to every Gather that listens for speech.
A spoken case number or contact ID is read back before it is used, speech the line is not sure of
is asked again, words stand for keys (agent 0, outage 8), the PIN stays keypad-only, and every
Gather of every path stays within Twilio's rules."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import UTC, datetime
from urllib.parse import urlsplit

import pytest
from sqlalchemy import select

from casestore.models import CallbackTask, CallLog, Case, FollowUp
from casestore.types import CaseStatus
from routing.presence import Presence
from tests.factories import World
from twilio_doubles.simulator import CannotSpeak, SpeechEntryError, Spoken, Transcript
from twilio_doubles.twiml_rules import gather_problems

CALLER_ID = "+18005550100"
HEARD = "I heard"
DIDNT_CATCH = "Sorry, I didn't catch that."


@pytest.fixture
def settings_overrides(settings_overrides):
    return dict(settings_overrides, twilio_caller_id=CALLER_ID)  # for the follow-up call


def _count(t: Transcript, fragment: str) -> int:
    return sum(fragment.lower() in text.lower() for text in t.heard)


def _steps(t: Transcript) -> list[str]:
    return [urlsplit(g.get("action", "")).path.removeprefix("/voice/") for g in t.gathers]


def _log(session) -> CallLog:
    session.expire_all()
    return session.scalars(select(CallLog)).one()


# ------------------------------------------------------------------------------- the main menu


def test_a_spoken_case_number_is_read_back_then_rings_the_owner(sim, world: World, session):
    t = sim.call(World.DANA_PHONE, keys=["4821#", "say:two four oh one one seven", "say:yes"], dial=["accept"])
    assert 'caller says: "two four oh one one seven"' in t.lines
    assert t.said("I heard 2 4 0 1 1 7. If that is right, press 1 or say yes. To enter it again, press 2 or say no.")
    assert t.said("Case 2 4 0 1 1 7. Status: in progress")
    assert t.connected_to == "+16125550101"  # Priya, the owner
    log = _log(session)
    assert log.case_id == world.open_case.id and log.outcome == "connected"
    assert "case_readback" in log.path


def test_a_case_number_said_in_tens_is_read_as_six_digits(sim, world: World):
    t = sim.call(World.DANA_PHONE, keys=["4821#", "say:two forty one seventeen", "1"], dial=["accept"])
    assert t.said("I heard 2 4 0 1 1 7.")  # and 1 on the keypad confirms it
    assert t.connected_to == "+16125550101"


def test_a_keyed_case_number_is_not_read_back(sim, world: World):
    t = sim.call(World.DANA_PHONE, keys=["4821#", "240117#"], dial=["accept"])
    assert _count(t, HEARD) == 0 and t.connected_to == "+16125550101"
    assert "case-confirm" not in _steps(t)


def test_no_to_the_read_back_asks_again(sim, world: World):
    t = sim.call(
        World.DANA_PHONE,
        keys=["4821#", "say:two four oh one one eight", "say:no", "say:two four oh one one seven", "say:yes"],
        dial=["accept"],
    )
    assert t.said("I heard 2 4 0 1 1 8.") and t.said("I heard 2 4 0 1 1 7.")
    assert _count(t, "Enter your case number followed by the pound key, or say it.") == 2
    assert not t.said("could not find that case")  # 240118 was never looked up
    assert t.connected_to == "+16125550101"


def test_three_noes_count_as_case_tries_and_reach_an_advisor(sim, world: World):
    spoken = ["say:two four oh one one eight", "say:no"] * 3
    # The third try makes it a new issue: its area (0, not sure) and urgency (3, neither) first.
    t = sim.call(World.DANA_PHONE, keys=["4821#", *spoken, "0", "3"], dial=["accept"])
    assert _count(t, HEARD) == 3
    assert t.said("Which product area is your issue about?")
    assert t.said("Connecting you to the next available advisor") and t.connected_to is not None


def test_an_unclear_read_back_is_asked_again_then_taken_as_no(sim, world: World):
    keys = ["4821#", "say:two four oh one one seven", "say:maybe", "", "say@0.2:yes"]
    t = sim.call(World.DANA_PHONE, keys=[*keys, "240117#"], dial=["accept"])
    assert _count(t, HEARD) == 3  # asked, then again after "maybe" and after the silence
    assert t.said(DIDNT_CATCH) and t.said("we did not receive your entry")
    # The third unclear answer is a no: back at the menu, where the keypad works as ever.
    assert t.connected_to == "+16125550101"


def test_low_confidence_asks_again(sim, world: World, session):
    t = sim.call(
        World.DANA_PHONE,
        keys=["4821#", "say@0.3:two four oh one one seven", "say:two four oh one one seven", "say:yes"],
        dial=["accept"],
    )
    assert 'caller says: "two four oh one one seven" (confidence 0.3)' in t.lines
    first = t.heard.index(DIDNT_CATCH)
    assert not any(HEARD in line for line in t.heard[:first])  # nothing read back from the unsure one
    assert t.heard[first + 1].startswith("Enter your case number")
    assert t.connected_to == "+16125550101"


def test_speech_never_understood_ends_like_wrong_entries(sim, world: World, session):
    t = sim.call(World.DANA_PHONE, keys=["4821#", *["say@0.2:two four oh one one seven"] * 4, "0"])
    assert _count(t, DIDNT_CATCH) == 4
    assert t.said("Goodbye") and t.connected_to is None
    assert t.ended_by == "hung up by the line"
    assert _log(session).outcome == "ended_in_menu"


def test_spoken_agent_is_0(sim, world: World):
    t = sim.call(World.DANA_PHONE, keys=["4821#", "say:agent", "say:not sure", "say:not urgent"], dial=["accept"])
    assert t.said("Which product area is your issue about?")  # a new issue: its area and urgency
    assert t.said("Connecting you to the next available advisor")
    assert _count(t, HEARD) == 0 and t.connected_to == "+16125550101"


def test_spoken_representative_and_zero_are_0_too(sim, world: World):
    for words in ("say:I want to speak to a representative", "say:zero"):
        t = sim.call(World.DANA_PHONE, keys=["4821#", words, "0", "3"], dial=["accept"])
        assert t.said("Connecting you to the next available advisor"), words


def test_spoken_outage_for_a_hosted_district_is_8(sim, world: World, session):
    t = sim.call(World.DANA_PHONE, keys=["4821#", "say:outage"], dial=["accept"])
    assert t.said("We have opened outage case")
    assert t.dialled == ["+16125550177"] and t.connected_to == "+16125550177"
    assert session.scalars(select(Case).where(Case.is_outage.is_(True))).one().district_id == world.hosted.id


def test_spoken_outage_for_a_district_not_hosted_says_so(sim, world: World):
    t = sim.call(World.OMAR_PHONE, keys=["1357#", "say:our site is down"])
    assert t.said("hosted customers only")
    assert t.dialled == []


def test_spoken_repeat_and_a_digit_option(sim, world: World):
    t = sim.call(World.DANA_PHONE, keys=["4821#", "say:repeat", "say:option one", "say:eight"], dial=["accept"])
    assert _count(t, "To report an outage of your hosted site, press 8 or say outage.") == 3
    assert t.said("Sorry, that is not one of the options.")  # "one", as the key 1 would be
    assert t.said("We have opened outage case")


# ------------------------------------------------------------------------- the contact ID and PIN


def test_a_spoken_contact_id_from_an_unknown_number_is_read_back_before_the_pin(sim, world: World):
    t = sim.call(
        "+13125550199",
        keys=["say:one oh four two three three", "say:yes", "4821#", "say:agent", "0", "3"],
        dial=["accept"],
    )
    assert t.said("I heard 1 0 4 2 3 3.")
    before_pin = t.heard[: t.heard.index("Thank you, Dana.")]
    assert not any(word in line for line in before_pin for word in ("Dana", "Lakeview", "Whitfield"))
    assert t.connected_to is not None


def test_an_unknown_spoken_contact_id_gets_the_same_pin_prompt(sim, world: World):
    t = sim.call("+13125550199", keys=["say:nine nine nine nine nine nine", "say:yes", "4821#"])
    assert t.said("I heard 9 9 9 9 9 9.")
    assert t.said("Using your keypad, please enter your PIN") and t.said("did not match")
    assert not t.said("Dana")


def test_no_to_a_spoken_contact_id_asks_for_it_again(sim, world: World):
    t = sim.call("Anonymous", keys=["say:one oh four two three four", "say:no", "104233#", "4821#", "*"])
    assert _count(t, "Please enter your contact I D followed by the pound key, or say it.") == 2
    assert t.said("Thank you, Dana")


def test_speech_not_understood_at_the_contact_id_is_counted(sim, world: World, session):
    t = sim.call("Anonymous", keys=["say:agent", "say@0.1:one oh four", "say:pizza"])
    assert _count(t, DIDNT_CATCH) == 3 and t.said("Goodbye")
    assert not t.said("PIN")


def test_the_pin_gather_listens_for_keys_only(sim, world: World):
    t = sim.call(World.DANA_PHONE, keys=["4821#", "*"])
    pins = [g for g, step in zip(t.gathers, _steps(t), strict=True) if step == "pin"]
    assert pins and all(g["input"] == "dtmf" and "hints" not in g and "speechTimeout" not in g for g in pins)
    assert t.said("Using your keypad, please enter your PIN, followed by the pound key.")
    with pytest.raises(CannotSpeak, match="/voice/pin takes keys only"):
        sim.call(World.DANA_PHONE, keys=["say:four eight two one"])


def test_say_groups_are_checked():
    assert Spoken.of("240117#") is None
    assert Spoken.of("say:two  four ") == Spoken("two four", "0.9")
    assert Spoken.of("say@0.3:yes") == Spoken("yes", "0.3")
    for bad in ("say:", "say@:yes", "say@high:yes", "say@1.5:yes"):
        with pytest.raises(SpeechEntryError):
            Spoken.of(bad)


# --------------------------------------------------------------- the reopen offer, the line, follow-up


def test_yes_reopens_a_closed_case(sim, world: World, session):
    t = sim.call(World.DANA_PHONE, keys=["4821#", "240200#", "say:banana", "say:yes"], dial=["accept"])
    assert t.said("To reopen it and speak with an advisor, press 1 or say yes.")
    assert t.said(DIDNT_CATCH) and t.said("has been reopened")
    session.expire_all()
    assert session.get(Case, world.recent_closed.id).status == CaseStatus.IN_PROGRESS


def test_no_to_the_reopen_offer_is_the_main_menu(sim, world: World, session):
    t = sim.call(World.DANA_PHONE, keys=["4821#", "240200#", "say:no", "*"])
    assert _count(t, "Enter your case number followed by the pound key, or say it.") >= 2
    session.expire_all()
    assert session.get(Case, world.recent_closed.id).status == CaseStatus.CLOSED


def _nobody_free(redis_client, clock, world: World) -> None:
    presence = Presence(redis_client, "America/Chicago")
    for advisor in (world.priya, world.marcus, world.lena):
        presence.set_state(advisor.id, "offline", clock())


def test_on_hold_call_back_said_asks_for_a_callback(sim, world: World, session, redis_client, clock):
    _nobody_free(redis_client, clock, world)
    t = sim.call(World.DANA_PHONE, keys=["4821#", "0", "0", "3", "hold:1", "say:call me back"], dial=[])
    assert t.said("press 2 or say call back")
    assert t.said("call you back at the number ending in 0 1 3 4")
    session.expire_all()
    assert session.scalars(select(CallbackTask)).one().kind == "callback"


def test_on_hold_unclear_choice_is_asked_once_then_back_in_line(sim, world: World, redis_client, clock):
    _nobody_free(redis_client, clock, world)
    t = sim.call(World.DANA_PHONE, keys=["4821#", "0", "0", "3", "hold:1", "say:pizza", "say:pizza"], dial=[])
    assert _count(t, DIDNT_CATCH) == 1
    assert t.said("You are still in line")


def _followup_call(sim, client, api_auth, svc, clock, telephony) -> tuple[str, ET.Element]:
    from workers.worker import run_worker

    res = client.post("/api/cases/240117/status", json={"status": "pending_verification"}, headers=api_auth("admin"))
    assert res.status_code == 200
    clock.set(datetime(2026, 11, 18, 15, tzinfo=UTC))
    run_worker(svc, burst=True)
    call = telephony.calls[-1]
    base = {"CallSid": call.sid, "AccountSid": "AC" + "0" * 32, "From": CALLER_ID, "To": World.DANA_PHONE}
    post = lambda path, **form: ET.fromstring(sim.post(path, dict(base, CallStatus="in-progress", **form)))  # noqa: E731
    root = post(call.url[call.url.index("/voice/") :], AnsweredBy="human")
    assert root.find("Gather").get("input") == "dtmf"  # the PIN
    root = post(root.find("Gather").get("action"), Digits="4821")
    return call.sid, root, post


@pytest.mark.parametrize(
    ("words", "result", "status"),
    [("it's resolved", "resolved", CaseStatus.CLOSED), ("keep it open", "keep_open", CaseStatus.IN_PROGRESS)],
)
def test_the_follow_up_call_hears_its_choices(
    sim, client, api_auth, app, world, session, clock, telephony, words, result, status
):
    svc = app.extensions["supportline"]
    _, menu, post = _followup_call(sim, client, api_auth, svc, clock, telephony)
    gather = menu.find("Gather")
    assert gather.get("input") == "dtmf speech" and not gather_problems(gather.attrib)
    assert "say resolved" in " ".join(s.text or "" for s in menu.iter("Say"))
    unsure = post(gather.get("action"), SpeechResult=words, Confidence="0.1")
    assert DIDNT_CATCH in " ".join(s.text or "" for s in unsure.iter("Say"))
    post(unsure.find("Gather").get("action"), SpeechResult=words, Confidence="0.8")
    session.expire_all()
    case = session.scalars(select(Case).where(Case.number == 240117)).one()
    assert case.status == status
    assert result in [row.result for row in session.scalars(select(FollowUp).where(FollowUp.case_id == case.id))]


# -------------------------------------------------------------------- every Gather, Twilio's rules


PATHS = {
    "spoken case, owner": (World.DANA_PHONE, ["4821#", "say:two four oh one one seven", "say:yes"], ["accept"]),
    "spoken case, no, keyed": (World.DANA_PHONE, ["4821#", "say:two four one", "say:no", "240117#"], ["accept"]),
    "unclear at the menu": (World.DANA_PHONE, ["4821#", "say@0.1:agent", "", "say:agent"], ["accept"]),
    "contact ID said": ("Anonymous", ["say:one oh four two three three", "say:yes", "4821#", "say:star", "8"], []),
    "reopen said": (World.DANA_PHONE, ["4821#", "240200#", "say:reopen"], ["accept"]),
    "not hosted": (World.OMAR_PHONE, ["1357#", "say:outage", "say:two five oh oh oh one", "say:yes"], ["accept"]),
    "hold, message said": (World.DANA_PHONE, ["4821#", "240117#", "hold:1", "say:message"], ["busy"] * 12),
}


@pytest.mark.parametrize("path", PATHS.values(), ids=PATHS.keys())
def test_every_gather_of_the_paths_keeps_twilios_rules(sim, world: World, path):
    caller, keys, dial = path
    t = sim.call(caller, keys=keys, dial=dial)
    assert t.gathers
    for gather, step in zip(t.gathers, _steps(t), strict=True):
        assert gather_problems(gather) == [], step
        if step in ("pin", "whisper-accept"):
            assert gather["input"] == "dtmf", step
        elif "speech" in gather["input"]:
            assert gather["input"] == "dtmf speech" and gather["speechTimeout"] == "auto", step
            assert gather["language"] == "en-US" and gather["hints"], step
            entries = gather["hints"].split(",")
            assert len(entries) <= 500 and all(0 < len(e.strip()) <= 100 for e in entries), step


def test_the_paths_meet_every_speech_gather_of_the_line(sim, world: World):
    steps: set[str] = set()
    for caller, keys, dial in PATHS.values():
        t = sim.call(caller, keys=keys, dial=dial)
        steps |= {s for g, s in zip(t.gathers, _steps(t), strict=True) if "speech" in g["input"]}
    assert steps >= {"menu", "case-confirm", "contact-id", "contact-id-confirm", "reopen", "queue-menu"}


@pytest.mark.parametrize(
    ("attrs", "problem"),
    [
        ({"input": "voice"}, "input='voice'"),
        ({"input": "dtmf", "hints": "yes"}, "hints on a Gather that does not listen"),
        ({"input": "dtmf speech", "speechTimeout": "auto"}, "language=None"),
        ({"input": "speech", "language": "en-US", "speechTimeout": "0"}, "speechTimeout='0'"),
        ({"input": "speech", "language": "en-US", "speechTimeout": "auto", "speechModel": "phone_call"}, "13335"),
        ({"input": "speech", "language": "en-US", "hints": "a, " + "x" * 101}, "at most 100 characters"),
        ({"input": "speech", "language": "en-US", "hints": ",".join(["a"] * 501)}, "at most 500"),
        ({"input": "speech", "language": "en-US", "hints": "a,,b"}, "non-empty"),
        ({"timeout": "0"}, "timeout='0'"),
        ({"finishOnKey": "##"}, "finishOnKey"),
    ],
)
def test_twilios_gather_rules_catch_what_twilio_would_refuse(attrs, problem):
    assert any(problem in p for p in gather_problems(attrs)), gather_problems(attrs)


def test_a_valid_speech_gather_has_no_problems():
    attrs = {
        "input": "dtmf speech",
        "action": "/voice/menu?n=3",
        "method": "POST",
        "timeout": "7",
        "finishOnKey": "#",
        "actionOnEmptyResult": "false",
        "hints": "agent, case number",
        "speechTimeout": "auto",
        "language": "es-US",
    }
    assert gather_problems(attrs) == []
