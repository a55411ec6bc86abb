"""ivr/flow/area.py's two questions as TwiML, in the call's language: a Gather for keys and speech
within Twilio's rules, Spanish hints and voice for a Spanish call (issue #15 item 2)."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest
from twilio.twiml.voice_response import VoiceResponse

from ivr.flow.area import _area_menu, _urgency_menu
from ivr.state import CallState
from tests.e2e.test_area import assert_valid_gathers


@pytest.mark.parametrize(
    ("language", "tag", "voice", "area_words", "urgency_words"),
    [
        ("en", "en-US", "Polly.Joanna", "For attendance, press 3.", "Otherwise, press 3."),
        ("es", "es-US", "Polly.Lupe", "Para asistencia, oprima 3.", "De lo contrario, oprima 3."),
    ],
)
def test_the_questions_speak_and_listen_in_the_calls_language(language, tag, voice, area_words, urgency_words):
    for ask, step, words, hint in (
        (_area_menu, "area", area_words, "asistencia" if language == "es" else "attendance"),
        (_urgency_menu, "urgency", urgency_words, "urgente" if language == "es" else "urgent"),
    ):
        state = CallState(sid="CAlang", language=language, seq=4)
        doc = str(ask(state, VoiceResponse()))
        assert_valid_gathers(doc)
        gather = ET.fromstring(doc).find("Gather")
        assert gather is not None
        assert gather.get("input") == "dtmf speech" and gather.get("numDigits") == "1"
        assert gather.get("language") == tag and gather.get("speechTimeout") == "auto"
        assert hint in gather.get("hints", "").split(", ")
        assert gather.get("action") == f"/voice/{step}?n=4"
        says = list(gather.iter("Say"))
        assert says and all(s.get("voice") == voice and s.get("language") == tag for s in says)
        assert words in " ".join(s.text or "" for s in says)
        assert state.path[-1] == step
