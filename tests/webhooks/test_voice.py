"""The contract with Twilio: signatures, valid TwiML for anything, retries, faults."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select
from sqlalchemy.exc import OperationalError
from twilio.request_validator import RequestValidator

from casestore.models import CallLog, Case
from ivr import flow
from ivr.flow import steps, verify
from tests.conftest import AUTH_TOKEN, BASE_URL

STEPS = sorted(flow.STEPS)


def signed_post(client, path, params, token=AUTH_TOKEN, base=BASE_URL):
    sig = RequestValidator(token).compute_signature(base + path, params)
    return client.post(path, data=params, headers={"X-Twilio-Signature": sig})


def assert_twiml(res):
    assert res.status_code == 200, res.get_data(as_text=True)
    assert res.mimetype == "application/xml"
    root = ET.fromstring(res.get_data(as_text=True))
    assert root.tag == "Response"
    return root


CALL = {"CallSid": "CA" + "1" * 32, "From": "+16125550134", "To": "+18005550100", "CallStatus": "ringing"}


def test_missing_signature_is_403(client, world):
    res = client.post("/voice/incoming", data=CALL)
    assert res.status_code == 403
    assert b"<Response" not in res.data


def test_tampered_signature_is_403(client, world):
    sig = RequestValidator(AUTH_TOKEN).compute_signature(BASE_URL + "/voice/incoming", CALL)
    tampered = dict(CALL, From="+16125550999")
    res = client.post("/voice/incoming", data=tampered, headers={"X-Twilio-Signature": sig})
    assert res.status_code == 403


def test_signature_for_another_url_is_403(client, world):
    res = signed_post(client, "/voice/incoming", CALL, base="https://evil.example")
    assert res.status_code == 403


def test_wrong_token_is_403_and_nothing_happens(client, world, session):
    res = signed_post(client, "/voice/incoming", CALL, token="x" * 32)
    assert res.status_code == 403
    assert session.scalars(select(CallLog)).first() is None


def test_rotated_tokens_are_all_accepted(settings_overrides, engine, session_factory, redis_client, clock, world):
    from webhooks import create_app

    cfg = dict(settings_overrides, twilio_auth_tokens=("new-token-0123456789abcdef", AUTH_TOKEN))
    app = create_app(cfg, engine=engine, sessions=session_factory, redis_client=redis_client, clock=clock)
    c = app.test_client()
    assert_twiml(signed_post(c, "/voice/incoming", CALL, token="new-token-0123456789abcdef"))
    assert_twiml(signed_post(c, "/voice/incoming", dict(CALL, CallSid="CA" + "2" * 32)))


def test_query_string_is_part_of_the_signed_url(client, world):
    path = "/voice/menu?n=3"
    sig = RequestValidator(AUTH_TOKEN).compute_signature(BASE_URL + "/voice/menu?n=4", CALL)
    assert client.post(path, data=CALL, headers={"X-Twilio-Signature": sig}).status_code == 403


def test_unknown_step_and_missing_callsid_get_twiml(client, world):
    assert_twiml(signed_post(client, "/voice/nonsense", CALL))
    assert_twiml(signed_post(client, "/voice/menu", {"Digits": "1"}))


def test_state_step_for_unknown_call_restarts_at_greeting(client, world):
    root = assert_twiml(signed_post(client, "/voice/menu?n=5", dict(CALL, Digits="240117")))
    assert root.find("Redirect").text.startswith("/voice/incoming?restart=")
    assert "Lakeview" not in ET.tostring(root, encoding="unicode")


def test_retried_request_gets_the_same_answer_and_no_second_row(client, world, session):
    first = signed_post(client, "/voice/incoming", CALL)
    again = signed_post(client, "/voice/incoming", CALL)
    assert first.data == again.data
    assert len(session.scalars(select(CallLog)).all()) == 1


def test_retried_option_8_opens_one_outage_case(sim, client, world, session):
    sid = "CA" + "3" * 32
    base = dict(CALL, CallSid=sid)
    signed_post(client, "/voice/incoming", base)
    signed_post(client, "/voice/pin?n=0", dict(base, Digits="4821"))
    first = signed_post(client, "/voice/menu?n=1", dict(base, Digits="8"))
    retry = signed_post(client, "/voice/menu?n=1", dict(base, Digits="8"))
    assert first.data == retry.data
    assert len(session.scalars(select(Case).where(Case.is_outage.is_(True))).all()) == 1


def test_status_callback_twice_and_before_anything(client, world, session):
    done = dict(CALL, CallSid="CA" + "4" * 32, CallStatus="completed", CallDuration="12")
    assert_twiml(signed_post(client, "/voice/status", done))  # never seen: harmless
    signed_post(client, "/voice/incoming", dict(CALL, CallSid="CA" + "5" * 32))
    done = dict(done, CallSid="CA" + "5" * 32)
    assert_twiml(signed_post(client, "/voice/status", done))
    assert_twiml(signed_post(client, "/voice/status", dict(done, CallDuration="99")))
    row = session.scalars(select(CallLog).where(CallLog.call_sid == "CA" + "5" * 32)).one()
    assert row.duration_seconds == 12 and row.outcome == "hung_up"


def test_database_fault_answers_apology_and_overflow(client, world, monkeypatch):
    def broken(*_a, **_k):
        raise OperationalError("SELECT 1", {}, Exception("server closed the connection"))

    monkeypatch.setattr(verify.actions, "ensure_call_log", broken)
    root = assert_twiml(signed_post(client, "/voice/incoming", CALL))
    text = ET.tostring(root, encoding="unicode")
    assert "trouble with our phone system" in text
    assert root.find("Dial").text == "+16125550100"
    assert "Traceback" not in text and "OperationalError" not in text


def test_a_database_fault_answers_the_fallback(client, world, app, monkeypatch):
    svc = app.extensions["supportline"]

    def broken():
        raise OSError("database unreachable")

    monkeypatch.setattr(svc, "sessions", broken)
    root = assert_twiml(signed_post(client, "/voice/incoming", CALL))
    assert root.find("Dial").text == "+16125550100"


def test_fault_without_overflow_still_says_something(
    settings_overrides, engine, session_factory, redis_client, clock, world, monkeypatch
):
    from webhooks import create_app

    app = create_app(
        dict(settings_overrides, overflow_number=""),
        engine=engine,
        sessions=session_factory,
        redis_client=redis_client,
        clock=clock,
    )
    monkeypatch.setattr(steps, "incoming", lambda *a: 1 / 0)
    root = assert_twiml(signed_post(app.test_client(), "/voice/incoming", CALL))
    assert root.find("Dial") is None and root.find("Hangup") is not None


def test_oversized_and_malformed_bodies(client, world):
    res = client.post("/voice/incoming", data=b"\xff\xfe" * 10, content_type="application/x-www-form-urlencoded")
    assert res.status_code == 403
    res = client.get("/voice/incoming")
    assert res.status_code in (403, 405)


form_values = st.one_of(
    st.text(max_size=40),
    st.sampled_from(
        [
            "",
            "*",
            "#",
            "8",
            "0",
            "1",
            "4821",
            "240117",
            "99999999999",
            "Anonymous",
            "+16125550134",
            "completed",
            "no-answer",
            "busy",
            "answered",
        ]
    ),
)
form_keys = st.sampled_from(
    [
        "CallSid",
        "From",
        "To",
        "Digits",
        "CallStatus",
        "DialCallStatus",
        "DialCallDuration",
        "RecordingUrl",
        "CallDuration",
        "ParentCallSid",
        "Junk",
    ]
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    step=st.sampled_from(STEPS + ["nope"]),
    fields=st.dictionaries(form_keys, form_values, max_size=8),
    query=st.dictionaries(st.sampled_from(["n", "a", "parent", "noinput", "x"]), st.text(max_size=10), max_size=3),
    known_call=st.booleans(),
)
def test_any_signed_input_gets_twiml(client, world, step, fields, query, known_call):
    if known_call:
        # Put a real call in a mid-flow state first so stateful steps are exercised too.
        signed_post(client, "/voice/incoming", CALL)
        signed_post(client, "/voice/pin?n=0", dict(CALL, Digits="4821"))
        fields = dict(fields, CallSid=CALL["CallSid"])
    from urllib.parse import urlencode

    path = f"/voice/{step}" + (f"?{urlencode(query)}" if query else "")
    fields = {k: v.replace("\x00", "") for k, v in fields.items()}
    assert_twiml(signed_post(client, path, fields))


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(fields=st.dictionaries(form_keys, form_values, max_size=6))
def test_any_unsigned_input_is_403(client, fields):
    assert client.post("/voice/incoming", data=fields).status_code == 403


def test_fallback_url_needs_neither_database_nor_redis(app, client, monkeypatch):
    svc = app.extensions["supportline"]

    def boom(*_a, **_k):
        raise AssertionError("the fallback must not touch the database or Redis")

    monkeypatch.setattr(svc, "sessions", boom)
    monkeypatch.setattr(svc, "redis", boom)
    root = assert_twiml(signed_post(client, "/voice/fallback", CALL))
    assert root.find("Dial").text == "+16125550100"
    assert client.post("/voice/fallback", data=CALL).status_code == 403


def test_a_second_trip_back_to_the_greeting_is_not_a_replay(client, world):
    """Each restart URL is new, so the greeting is answered afresh, not from the replay cache."""
    first = assert_twiml(signed_post(client, "/voice/menu?n=5", dict(CALL, CallSid="CAlost", Digits="0")))
    second = assert_twiml(signed_post(client, "/voice/menu?n=6", dict(CALL, CallSid="CAlost", Digits="0")))
    assert first.find("Redirect").text != second.find("Redirect").text


def test_a_restarted_call_never_meets_an_answer_cached_for_the_lost_one(client, world):
    """Redis lost the call's state: the restart redirect is not cached, and the new state's
    counter starts past the request's n, so the restarted call's URLs are all new."""
    lost = assert_twiml(signed_post(client, "/voice/queue?n=3", dict(CALL, CallSid="CAwiped")))
    restart = lost.find("Redirect").text
    assert restart.startswith("/voice/incoming?restart=") and restart.endswith("&n=4")
    greeting = assert_twiml(signed_post(client, restart, dict(CALL, CallSid="CAwiped")))
    assert greeting.find("Gather").get("action").endswith("n=4")
    again = assert_twiml(signed_post(client, "/voice/queue?n=3", dict(CALL, CallSid="CAother")))
    assert again.find("Redirect").text != restart


def test_a_dial_result_for_a_lost_call_hangs_up(client, world):
    root = assert_twiml(
        signed_post(
            client,
            "/voice/dial-result?n=7",
            dict(CALL, CallSid="CAgone", DialCallStatus="completed", DialCallDuration="95"),
        )
    )
    assert root.find("Hangup") is not None and root.find("Redirect") is None


def test_a_request_signed_for_another_deployment_is_403_whatever_its_host(client, world, session):
    """Signed for https://other.example/voice/incoming and sent with that Host: the app checks
    only its configured PUBLIC_BASE_URL."""
    sig = RequestValidator(AUTH_TOKEN).compute_signature("https://other.example/voice/incoming", CALL)
    res = client.post(
        "/voice/incoming", data=CALL, base_url="https://other.example", headers={"X-Twilio-Signature": sig}
    )
    assert res.status_code == 403
    assert session.scalars(select(CallLog)).first() is None


def test_without_public_base_url_only_development_checks_the_request_url(settings_overrides):
    """Outside development mode, no configured URL means no signature is valid (the request's own
    Host header is never trusted); development mode may use the request URL."""
    from flask import Flask

    from webhooks.config import load_settings
    from webhooks.signature import signature_valid

    sig = RequestValidator(AUTH_TOKEN).compute_signature("https://other.example/voice/incoming", CALL)
    production = load_settings(dict(settings_overrides, public_base_url=""), environ={})
    development = load_settings(dict(settings_overrides, public_base_url="", development=True), environ={})
    with Flask(__name__).test_request_context(
        "/voice/incoming",
        method="POST",
        data=CALL,
        base_url="https://other.example",
        headers={"X-Twilio-Signature": sig},
    ):
        from flask import request

        assert not signature_valid(request, production)
        assert signature_valid(request, development)
