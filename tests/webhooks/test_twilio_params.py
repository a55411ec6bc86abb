"""Twilio's parameters cleaned at the edge (`webhooks.twilio_params`): NUL bytes and other control
characters, numbers out of any sane range and over-long values are ordinary input, never a fault
(a DataError or an integer overflow on PostgreSQL, an OverflowError on SQLite), on every webhook
Twilio calls: always 200, valid TwiML, and no fault logged."""

from __future__ import annotations

import logging
import xml.etree.ElementTree as ET

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from casestore.models import CallLog, Incident
from tests.conftest import AUTH_TOKEN, BASE_URL
from tests.factories import World
from webhooks import twilio_params

APOLOGY = "trouble with our phone system"


@pytest.fixture
def plain_sim(client):
    """A simulator that does not move the clock: durations here are absurd on purpose."""
    from twilio_doubles.simulator import CallSimulator

    return CallSimulator(client, base_url=BASE_URL, auth_token=AUTH_TOKEN, talk_seconds=10**12)


def _said(body: str) -> str:
    return " ".join(s.text or "" for s in ET.fromstring(body).iter("Say"))


def _faults(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR and r.name.startswith("supportline")]


def test_nul_bytes_in_callsid_from_and_digits_are_stripped(sim, world, session, caplog):
    base = {"CallSid": "CAnul\x00", "From": World.DANA_PHONE + "\x00", "To": "+18005550100"}
    root = ET.fromstring(sim.post("/voice/incoming", base))
    assert "enter your PIN" in _said(ET.tostring(root, encoding="unicode"))  # the caller ID was recognised
    body = sim.post(root.find("Gather").get("action"), dict(base, Digits="48\x0021"))
    assert "Thank you, Dana" in _said(body) and APOLOGY not in _said(body)
    row = session.scalars(select(CallLog)).one()
    assert row.call_sid == "CAnul" and row.from_masked.endswith("0134")
    assert not _faults(caplog)


def test_durations_of_ten_to_the_twelve_are_clamped_to_a_day(plain_sim, world, session, caplog):
    t = plain_sim.call(World.DANA_PHONE, keys=["4821#", "240117#"], dial=["accept"], call_sid="CAlong")
    assert t.connected_to == "+16125550101" and not t.said(APOLOGY)
    row = session.scalars(select(CallLog).where(CallLog.call_sid == "CAlong")).one()
    assert row.outcome == "connected" and row.ended_at is not None
    assert row.talk_seconds == twilio_params.MAX_SECONDS and row.duration_seconds == twilio_params.MAX_SECONDS
    assert not _faults(caplog)


def test_a_600_character_recording_url_is_bounded(sim, world, session, caplog):
    url = "https://api.twilio.com/recordings/RE" + "x" * 570
    t = sim.call(World.DANA_PHONE, keys=["4821#", "8"], dial=["no-answer", "no-answer"], record=url)
    assert t.said("describe the outage") and not t.said(APOLOGY)
    row = session.scalars(select(CallLog)).one()
    assert row.outcome == "message_recorded" and row.recording_url == url[: twilio_params.LIMITS["RecordingUrl"]]
    assert len(session.scalars(select(Incident)).one().recording_url) <= 500
    assert not _faults(caplog)


def test_the_cleaning_rules():
    clean = twilio_params.clean_form(
        {
            "CallSid": "CA\x00ab\r\n",
            "Body": "line one\nline\x00 two\x1b",
            "CallDuration": "1000000000000",
            "DialCallDuration": "-5",
            "QueueTime": "12abc",
            "RecordingDuration": "²",
            "From": "+1" + "9" * 500,
            "Weird\x00Key": "v",
        }
    )
    assert clean["CallSid"] == "CAab" and clean["Body"] == "line one\nline two"
    assert clean["CallDuration"] == "86400" and clean["DialCallDuration"] == "0"
    assert "QueueTime" not in clean and "RecordingDuration" not in clean  # not numbers: missing
    assert len(clean["From"]) == twilio_params.LIMITS["From"] and clean["WeirdKey"] == "v"
    query = twilio_params.clean_query({"page": "9" * 40, "n": "3", "fu": "²", "parent": "CA\x00x", "o": "a" * 200})
    assert query == {"n": "3", "parent": "CAx", "o": "a" * twilio_params.DEFAULT_QUERY_LIMIT}


# -- fuzz: every webhook Twilio calls, with any parameters --------------------------------------

TWILIO_PATHS = [
    "/voice/incoming",
    "/voice/pin?n=1",
    "/voice/contact-id?n=1",
    "/voice/menu?n=2",
    "/voice/dial-result?n=3",
    "/voice/queue?n=3",
    "/voice/queue-menu?n=3&stage=choose",
    "/voice/queue-message?n=4",
    "/voice/recording?n=4",
    "/voice/whisper?parent=CAfuzz&a=1&adv=1",
    "/voice/whisper-accept?parent=CAfuzz&a=1&adv=1",
    "/voice/status",
    "/voice/followup?fu=1",
    "/voice/fallback",
    "/page/voice?page=1",
    "/page/key?page=1",
    "/page/status?page=1",
    "/sms/incoming",
]
FIELDS = [
    "CallSid",
    "From",
    "To",
    "Digits",
    "CallStatus",
    "DialCallStatus",
    "CallDuration",
    "DialCallDuration",
    "RecordingUrl",
    "RecordingDuration",
    "AnsweredBy",
    "Body",
    "MessageStatus",
    "QueueTime",
]
nasty = st.one_of(
    st.text(max_size=40),
    st.text(alphabet=st.characters(codec="utf-8"), min_size=400, max_size=700),
    st.integers(min_value=-(10**20), max_value=10**20).map(str),
    st.sampled_from(["\x00", "CA\x00", "²", "9" * 30, "%00", "1e9"]),
)
queries = st.dictionaries(
    st.sampled_from(["n", "page", "fu", "a", "adv", "eng", "repeat", "parent", "o", "stage"]), nasty, max_size=3
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    path=st.sampled_from(TWILIO_PATHS),
    params=st.dictionaries(st.sampled_from(FIELDS), nasty, max_size=6),
    extra=queries,
)
@example(
    path="/voice/status", params={"CallSid": "CAfuzz", "CallStatus": "completed", "CallDuration": "9" * 20}, extra={}
)
@example(path="/page/voice", params={}, extra={"page": "²"})
@example(path="/voice/followup", params={"CallSid": "CAfu"}, extra={"fu": "9" * 30})
def test_any_parameters_get_200_and_twiml_and_no_fault(sim, world, caplog, path, params, extra):
    from urllib.parse import urlencode

    caplog.clear()
    if extra:
        path += ("&" if "?" in path else "?") + urlencode(extra)
    params = dict({"CallSid": "CAfuzz", "From": World.DANA_PHONE}, **params)
    signature = sim.validator.compute_signature(BASE_URL + path, params)
    res = sim.client.post(path, data=params, headers={"X-Twilio-Signature": signature})
    assert res.status_code == 200
    root = ET.fromstring(res.get_data(as_text=True))
    assert root.tag == "Response"
    if not path.startswith("/voice/fallback"):  # Twilio's Fallback URL: the apology is its job
        assert APOLOGY not in _said(res.get_data(as_text=True)), (path, params)
    assert not _faults(caplog), (path, params)
