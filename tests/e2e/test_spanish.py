"""Spanish end to end through the signed webhooks (issue #15 item 7): 9 at the first prompt switches
the call to Spanish (and back), the choice is remembered on the contact for their next call and
for our follow-up calls, and every `<Say>` of every answer carries the call's language and voice:
es-US and Polly.Lupe after the switch, en-US and Polly.Joanna before it, except the offer of the
other language and admins' banners (plain English text). The checks walk every `<Say>` of every
TwiML document, so prompts added later are checked too."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass
from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from casestore.models import CallLog, Contact, FollowUp, StatusBanner
from tests.factories import World

EN = ("Polly.Joanna", "en-US")
ES = ("Polly.Lupe", "es-US")
OFFER_ES = "Para español, oprima nueve."
OFFER_EN = "For English, press 9."


@dataclass(frozen=True)
class Said:
    path: str
    text: str
    voice: str | None
    language: str | None

    @property
    def speech(self) -> tuple[str | None, str | None]:
        return (self.voice, self.language)


class Answers:
    """Every TwiML document the app answered during the calls, in order, with its request path."""

    def __init__(self) -> None:
        self.docs: list[tuple[str, str]] = []

    def says(self, start: int = 0, stop: int | None = None) -> list[Said]:
        out = []
        for path, doc in self.docs[start:stop]:
            if not doc.lstrip().startswith("<"):
                continue
            for say in ET.fromstring(doc).iter("Say"):
                out.append(Said(path, say.text or "", say.get("voice"), say.get("language")))
        return out

    def index_of(self, text: str) -> int:
        """The first document that says `text`."""
        return next(i for i, (_, doc) in enumerate(self.docs) if text in doc)

    def caller_says(self, start: int = 0, stop: int | None = None) -> list[Said]:
        """What the caller hears (the whisper is said to the advisor who answers, in English)."""
        return [s for s in self.says(start, stop) if not s.path.startswith("/voice/whisper")]


@pytest.fixture
def answers(sim, monkeypatch) -> Answers:
    recorded = Answers()
    post = sim.post

    def recording_post(path, params, transcript=None):
        body = post(path, params, transcript)
        recorded.docs.append((path.split("?", 1)[0], body))
        return body

    monkeypatch.setattr(sim, "post", recording_post)
    return recorded


def _all_spanish(says: list[Said], banners: tuple[str, ...] = ()) -> None:
    assert says, "nothing was said"
    for s in says:
        if s.text in banners or s.text == OFFER_EN:
            assert s.speech == EN, s
        else:
            assert s.speech == ES, s
            assert "press" not in s.text.lower() and "please" not in s.text.lower(), s


def _all_english(says: list[Said]) -> None:
    assert says, "nothing was said"
    for s in says:
        assert s.speech == (ES if s.text == OFFER_ES else EN), s


def _set_language(session, contact: Contact, language: str | None) -> None:
    contact.language = language
    session.commit()


def _language_of(session, contact: Contact) -> str | None:
    session.expire_all()
    return session.get(Contact, contact.id).language


# -- choosing ----------------------------------------------------------------------------------


def test_spanish_greeting_to_the_case_owner(sim, world: World, session, answers: Answers):
    t = sim.call(World.DANA_PHONE, keys=["9#", "4821#", "240117#"], dial=["accept"])
    assert t.connected_to == "+16125550101"  # Priya, the case owner
    switch = answers.index_of("Gracias por llamar")
    assert switch == 1  # the answer to the 9
    before = answers.caller_says(0, switch)
    _all_english(before)
    assert [s.text for s in before][-1] == OFFER_ES
    _all_spanish(answers.caller_says(switch))
    heard = " ".join(t.heard)
    assert OFFER_EN in heard  # the way back is offered at the replayed prompt
    assert "Gracias, Dana." in heard
    assert "Caso 2 4 0 1 1 7. Estado: en curso." in heard
    assert "Transfiriendo su llamada al asesor a cargo de su caso." in heard
    # The advisor hears the whisper in English.
    whispers = [s for s in answers.says() if s.path == "/voice/whisper"]
    assert whispers and all(s.speech == EN for s in whispers)
    assert whispers[0].text.startswith("Case 2 4 0 1 1 7 for Lakeview")
    assert _language_of(session, world.dana) == "es"


def test_the_9_is_not_a_pin_try(sim, world: World, session, answers: Answers):
    # Two wrong PINs, with 9s around them: a third wrong PIN would lock; the 9 counts for nothing.
    t = sim.call(World.DANA_PHONE, keys=["9#", "9#", "9#", "9#", "1111#", "2222#", "4821#", "*"])
    assert sum(h == "Gracias por llamar a Campus Support." for h in t.heard) == 2
    assert not t.said("Gracias, Dana.") and t.said("Thank you, Dana.")  # the fourth 9 went back to English
    assert not t.said("paused")
    log = session.scalars(select(CallLog)).one()
    assert log.contact_id == world.dana.id and log.outcome != "locked_out"
    # After the first real entry, 9 is no longer offered, and a 9 is a PIN like any other.
    second = sim.call(World.DANA_PHONE, keys=["1111#", "9#", "4821#"])
    assert second.said("did not match") and not second.said("Gracias")
    assert sum("did not match" in h for h in second.heard) == 2
    assert _language_of(session, world.dana) is None  # back to English: nothing to remember


def test_the_next_call_from_the_contact_starts_in_spanish(sim, world: World, session, answers: Answers):
    sim.call(World.DANA_PHONE, keys=["9#", "4821#", "*"])
    assert _language_of(session, world.dana) == "es"
    start = len(answers.docs)
    t = sim.call(World.DANA_PHONE, keys=["4821#", "0", "0", "3"], dial=["accept"])
    assert t.heard[0] == "Gracias por llamar a Campus Support."
    _all_spanish(answers.caller_says(start))
    assert t.said(OFFER_EN) and not t.said(OFFER_ES)
    assert t.said("Transfiriendo su llamada al próximo asesor disponible.")
    assert t.connected_to is not None


def test_nine_at_a_spanish_call_goes_back_to_english_and_is_remembered(sim, world: World, session, answers: Answers):
    _set_language(session, world.dana, "es")
    t = sim.call(World.DANA_PHONE, keys=["9#", "4821#", "*"])
    switch = answers.index_of("Thank you for calling")
    _all_spanish(answers.caller_says(0, switch))
    says = answers.caller_says(switch)
    assert all(s.speech == (ES if s.text == OFFER_ES else EN) for s in says)
    assert t.said("Thank you, Dana.") and t.said(OFFER_ES)
    assert _language_of(session, world.dana) == "en"
    start = len(answers.docs)
    sim.call(World.DANA_PHONE, keys=["4821#", "*"])
    _all_english(answers.caller_says(start))


def test_unknown_number_chooses_spanish_at_the_contact_id(sim, world: World, session, answers: Answers):
    t = sim.call("+13125550199", keys=["9#", "204511#", "1357#", "*"])
    assert t.heard[0] == "Thank you for calling Campus Support." and t.said(OFFER_ES)
    switch = answers.index_of("Gracias por llamar")
    _all_english(answers.caller_says(0, switch))
    _all_spanish(answers.caller_says(switch))
    assert t.said("Por favor, ingrese su número de contacto") and t.said("Gracias, Omar.")
    assert _language_of(session, world.omar) == "es"


def test_a_shared_line_is_english_unless_everyone_on_it_chose_spanish(sim, world: World, session, answers: Answers):
    _set_language(session, world.shared_a, "es")
    t = sim.call(World.SHARED_PHONE, keys=[])
    assert t.heard[0] == "Thank you for calling Campus Support." and t.said(OFFER_ES)
    _all_english(answers.caller_says())
    shared_b = session.scalars(select(Contact).where(Contact.contact_id == "104301")).one()
    _set_language(session, shared_b, "es")
    start = len(answers.docs)
    t = sim.call(World.SHARED_PHONE, keys=[])
    assert t.heard[0] == "Gracias por llamar a Campus Support." and t.said(OFFER_EN)
    _all_spanish(answers.caller_says(start))


def test_banners_stay_as_the_admin_wrote_them(sim, world: World, session, clock, answers: Answers):
    slow = "We are investigating slow logins for some districts."
    session.add(StatusBanner(message=slow, starts_at=clock.now))
    session.commit()
    _set_language(session, world.dana, "es")
    t = sim.call(World.DANA_PHONE, keys=["4821#", "*"])
    assert t.said(slow)
    _all_spanish(answers.caller_says(), banners=(slow,))


def test_garbage_at_the_first_prompt_is_still_a_valid_answer(sim, world: World, answers: Answers):
    for digits in ("99#", "9*", "#9", "*9#", "09#"):
        sim.call(World.SHARED_PHONE, keys=[digits, "9#", ""])
    for path, doc in answers.docs:
        if path != "/voice/status":
            root = ET.fromstring(doc)
            assert root.tag == "Response"
            for gather in root.iter("Gather"):
                assert gather.get("input") in ("dtmf", "speech", "dtmf speech")


# -- the main paths, in Spanish ----------------------------------------------------------------

THANKSGIVING = datetime(2026, 11, 26, 16, 0, tzinfo=UTC)  # 10:00 CST
EVENING = datetime(2026, 12, 3, 1, 0, tzinfo=UTC)  # Wednesday 19:00 CST

PATHS = {
    "menu, star, an advisor (area said in Spanish)": (
        World.DANA_PHONE,
        ["4821#", "*", "0", "say:asistencia por favor", "say:no es urgente"],
        ["accept"],
        None,
        "Transfiriendo su llamada",
    ),
    "unknown case three times": (
        World.DANA_PHONE,
        ["4821#", "99999#", "99998#", "99997#", "0", "3"],
        ["no-answer", "accept"],
        None,
        "Intentando con otro asesor.",
    ),
    "closed case reopened": (World.DANA_PHONE, ["4821#", "240200#", "1"], ["accept"], None, "se ha reabierto"),
    "closed case too old": (World.DANA_PHONE, ["4821#", "240300#"], [], None, "hace más de 60 días"),
    "closed hours": (World.OMAR_PHONE, ["1357#"], [], EVENING, "Volvemos a abrir mañana a las 6 a. m."),
    "holiday": (World.OMAR_PHONE, ["1357#"], [], THANKSGIVING, "por el Día de Acción de Gracias"),
    "holiday, outage offer": (World.DANA_PHONE, ["4821#", "8"], ["accept"], THANKSGIVING, "ingeniero de guardia"),
    "queue": (World.DANA_PHONE, ["4821#", "240117#"], ["busy"] * 20, None, "en la fila"),
    "queue, callback": (
        World.DANA_PHONE,
        ["4821#", "240117#", "hold:1", "2"],
        ["busy"] * 20,
        None,
        "le devolverá la llamada",
    ),
    "outage, nobody answers": (
        World.DANA_PHONE,
        ["4821#", "8"],
        ["no-answer", "no-answer"],
        None,
        "describa la interrupción",
    ),
    "not hosted, option 8": (World.OMAR_PHONE, ["1357#", "8"], [], None, "solo para clientes con sitios alojados"),
    "lockout": (World.DANA_PHONE, ["1111#", "2222#", "3333#"], [], None, "Puede intentarlo de nuevo en 15 minutos."),
    "silence": (World.DANA_PHONE, ["", "", ""], [], None, "no recibimos ninguna respuesta"),
}


@pytest.mark.parametrize("name", sorted(PATHS))
def test_every_path_speaks_spanish(name: str, sim, world: World, session, clock, answers: Answers):
    phone, keys, dial, when, expected = PATHS[name]
    if when is not None:
        clock.set(when)
    contact = world.dana if phone == World.DANA_PHONE else world.omar
    _set_language(session, contact, "es")
    t = sim.call(phone, keys=keys, dial=dial)
    assert t.said(expected), t.text
    _all_spanish(answers.caller_says())


def test_a_locked_out_caller_who_chose_spanish_hears_spanish(sim, world: World, answers: Answers):
    t = sim.call(World.DANA_PHONE, keys=["9#", "1111#", "2222#", "3333#"])
    assert t.said("Puede intentarlo de nuevo en 15 minutos.")
    _all_spanish(answers.caller_says(1))
    # The lock is on the number: the next call is turned away, in English (nothing was verified, so
    # nothing was remembered).
    start = len(answers.docs)
    again = sim.call(World.DANA_PHONE, keys=["4821#"])
    assert again.said("You can try again in 15 minutes.")
    _all_english(answers.caller_says(start))


# -- follow-up calls ---------------------------------------------------------------------------

CALLER_ID = "+18005550100"


@pytest.fixture
def settings_overrides(settings_overrides):
    return dict(settings_overrides, twilio_caller_id=CALLER_ID)


def _leg(sim, sid: str, path: str, **form: str) -> ET.Element:
    base = {
        "CallSid": sid,
        "AccountSid": "AC" + "0" * 32,
        "From": CALLER_ID,
        "To": World.DANA_PHONE,
        "Direction": "outbound-api",
        "CallStatus": "in-progress",
    }
    return ET.fromstring(sim.post(path, dict(base, **form)))


@pytest.mark.parametrize(("language", "speech"), [("es", ES), (None, EN)])
def test_the_follow_up_call_uses_the_contacts_language(
    language, speech, app, client, api_auth, sim, world: World, session, clock, telephony, answers: Answers
):
    from workers.worker import run_worker

    _set_language(session, world.dana, language)
    res = client.post("/api/cases/240117/status", json={"status": "pending_verification"}, headers=api_auth("admin"))
    assert res.status_code == 200
    clock.set(datetime(2026, 11, 18, 15, tzinfo=UTC))
    run_worker(app.extensions["supportline"], burst=True)
    call = telephony.calls[-1]
    root = _leg(sim, call.sid, call.url[call.url.index("/voice/") :], AnsweredBy="human")
    root = _leg(sim, call.sid, root.find("Gather").get("action"), Digits="4821")
    root = _leg(sim, call.sid, root.find("Gather").get("action"), Digits="1")
    says = answers.says()
    assert len(says) >= 4 and all(s.speech == speech for s in says), says
    text = " ".join(s.text for s in says)
    if language == "es":
        assert "Hola, le llamamos de Campus Support" in text and "ya está cerrado" in text
    else:
        assert "Hello, this is Campus Support" in text and "is now closed" in text
    session.expire_all()
    assert session.scalars(select(FollowUp)).first() is not None
