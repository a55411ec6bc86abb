"""Outbound telephony: TwilioTelephony end to end (real twilio client -> fake Twilio over HTTP),
the mapping of Twilio failures to domain errors, and the in-memory RecordingTelephony."""

from __future__ import annotations

import logging

import pytest
import requests
from twilio.base.exceptions import TwilioRestException
from twilio.twiml.voice_response import VoiceResponse

from ivr.telephony import (
    AuthenticationFailed,
    CallNotInProgress,
    InvalidNumber,
    ProviderUnavailable,
    RateLimited,
    RecordingTelephony,
    Telephony,
    TelephonyError,
    TwilioTelephony,
    error_from_transport,
    error_from_twilio,
)

CUSTOMER = "+16125550134"
SUPPORT_LINE = "+16125550100"
ANSWER_URL = "https://ivr.example.test/voice/whisper?n=1"
STATUS_URL = "https://ivr.example.test/voice/status"


@pytest.fixture
def telephony(fake_twilio):
    tel = TwilioTelephony(fake_twilio.account_sid, fake_twilio.auth_token, base_url=fake_twilio.base_url, timeout=2.0)
    yield tel
    tel.close()


@pytest.fixture
def live_call(telephony):
    return telephony.place_call(CUSTOMER, SUPPORT_LINE, ANSWER_URL)


# -- the happy paths, through the real client --------------------------------------------------


def test_both_implementations_satisfy_the_protocol(telephony):
    assert isinstance(telephony, Telephony)
    assert isinstance(RecordingTelephony(), Telephony)


def test_place_call_sends_the_twilio_form_and_returns_the_sid(telephony, fake_twilio):
    sid = telephony.place_call(
        CUSTOMER, SUPPORT_LINE, ANSWER_URL, status_callback=STATUS_URL, timeout=25, machine_detection=True
    )
    assert sid.startswith("CA") and len(sid) == 34
    [call] = fake_twilio.calls
    assert call.sid == sid
    assert call["To"] == CUSTOMER
    assert call["From"] == SUPPORT_LINE
    assert call["Url"] == ANSWER_URL
    assert call["StatusCallback"] == STATUS_URL
    assert call["Timeout"] == "25"
    assert call["MachineDetection"] == "Enable"
    assert fake_twilio.call_status(sid) == "queued"


def test_place_call_defaults_leave_optional_fields_out(telephony, fake_twilio):
    telephony.place_call(CUSTOMER, SUPPORT_LINE, ANSWER_URL)
    [call] = fake_twilio.calls
    assert call["Timeout"] == "20"
    assert "StatusCallback" not in call.form
    assert "MachineDetection" not in call.form


def test_update_call_redirects_to_a_url(telephony, fake_twilio, live_call):
    telephony.update_call(live_call, url="https://ivr.example.test/voice/bridge?n=7")
    [update] = fake_twilio.updates
    assert update.sid == live_call
    assert dict(update.form) == {"Url": "https://ivr.example.test/voice/bridge?n=7"}
    assert fake_twilio.call_status(live_call) == "in-progress"


def test_update_call_with_inline_twiml(telephony, fake_twilio, live_call):
    response = VoiceResponse()
    response.say("Connecting you now.")
    response.dial("+16125550199")
    telephony.update_call(live_call, twiml=str(response))
    [update] = fake_twilio.updates
    assert update["Twiml"] == str(response)
    assert "<Dial>+16125550199</Dial>" in update["Twiml"]


def test_update_call_hangs_up_and_then_the_call_is_over(telephony, fake_twilio, live_call):
    telephony.update_call(live_call, status="completed")
    assert fake_twilio.updates[0].form == {"Status": "completed"}
    assert fake_twilio.call_status(live_call) == "completed"
    with pytest.raises(CallNotInProgress):
        telephony.update_call(live_call, url=ANSWER_URL)


def test_inbound_calls_can_be_redirected_and_hooks_hear_each_update(telephony, fake_twilio):
    inbound = "CA" + "1" * 32
    with pytest.raises(TelephonyError) as info:  # not registered: unknown to the carrier
        telephony.update_call(inbound, url=ANSWER_URL)
    assert info.value.code == 20404
    heard = []
    fake_twilio.on_update(heard.append)
    fake_twilio.inbound(inbound)
    assert fake_twilio.call_status(inbound) == "in-progress"
    telephony.update_call(inbound, url="https://ivr.example.test/voice/connect?adv=3&o=ab")
    assert [(u.sid, dict(u.form)) for u in heard] == [
        (inbound, {"Url": "https://ivr.example.test/voice/connect?adv=3&o=ab"})
    ]
    fake_twilio.end_call(inbound)
    with pytest.raises(CallNotInProgress):
        telephony.update_call(inbound, url=ANSWER_URL)
    assert len(heard) == 1  # refused updates are not heard


def test_update_call_rejects_meaningless_arguments_before_any_request(telephony, fake_twilio, live_call):
    with pytest.raises(ValueError):
        telephony.update_call(live_call)
    with pytest.raises(ValueError):
        telephony.update_call(live_call, url=ANSWER_URL, twiml="<Response/>")
    with pytest.raises(ValueError):
        telephony.update_call(live_call, status="busy")
    assert fake_twilio.updates == []


def test_call_status_fetches_the_call_from_the_carrier(telephony, fake_twilio, live_call):
    """Reconcile asks the carrier whether a call an advisor is held on is over."""
    assert telephony.call_status(live_call) == "queued"
    fake_twilio.end_call(live_call)
    assert telephony.call_status(live_call) == "completed"
    assert telephony.call_status("CA" + "9" * 32) is None  # a call the carrier does not know
    stand_in = RecordingTelephony()
    stand_in.inbound("CAin")
    assert (stand_in.call_status("CAin"), stand_in.call_status("CAunknown")) == ("in-progress", None)
    stand_in.end_call("CAin")
    assert stand_in.call_status("CAin") == "completed"


def test_send_sms(telephony, fake_twilio):
    sid = telephony.send_sms(CUSTOMER, SUPPORT_LINE, "Case 10234 has been updated.", status_callback=STATUS_URL)
    assert sid.startswith("SM") and len(sid) == 34
    [message] = fake_twilio.messages
    assert message.sid == sid
    assert dict(message.form) == {
        "To": CUSTOMER,
        "From": SUPPORT_LINE,
        "Body": "Case 10234 has been updated.",
        "StatusCallback": STATUS_URL,
    }


# -- Twilio errors -> domain errors, end to end ------------------------------------------------


@pytest.mark.parametrize("bad", ["6125550134", "+1612", "+1612555013412345678", "+1 612 555"])
def test_invalid_number_is_not_retryable(telephony, fake_twilio, bad):
    with pytest.raises(InvalidNumber) as info:
        telephony.place_call(bad, SUPPORT_LINE, ANSWER_URL)
    assert info.value.code == 21211
    assert info.value.status == 400
    assert info.value.retryable is False
    assert fake_twilio.calls == []


def test_invalid_sms_number_is_invalid_number(telephony, fake_twilio):
    with pytest.raises(InvalidNumber) as info:
        telephony.send_sms("+0612555013", SUPPORT_LINE, "hello")
    assert (info.value.code, info.value.retryable) == (21211, False)
    assert fake_twilio.messages == []


def test_error_messages_and_logs_mask_the_number(telephony, caplog):
    caplog.set_level(logging.DEBUG)
    bad = "16125550134"  # no '+': Twilio echoes it back in its error message
    with pytest.raises(InvalidNumber) as info:
        telephony.send_sms(bad, SUPPORT_LINE, "hello")
    assert bad not in str(info.value)
    assert "***0134" in str(info.value)
    assert info.value.__cause__ is None and info.value.__suppress_context__
    assert bad not in caplog.text
    assert "***0134" in caplog.text


def test_invalid_from_number_is_invalid_number(telephony):
    with pytest.raises(InvalidNumber) as info:
        telephony.place_call(CUSTOMER, "support", ANSWER_URL)
    assert info.value.code == 21212


def test_updating_an_ended_call_is_call_not_in_progress(telephony, fake_twilio, live_call):
    fake_twilio.end_call(live_call)
    with pytest.raises(CallNotInProgress) as info:
        telephony.update_call(live_call, url=ANSWER_URL)
    assert (info.value.code, info.value.status, info.value.retryable) == (21220, 400, False)


def test_updating_an_unknown_call_is_a_plain_non_retryable_error(telephony):
    with pytest.raises(TelephonyError) as info:
        telephony.update_call("CA" + "9" * 32, url=ANSWER_URL)
    assert type(info.value) is TelephonyError
    assert (info.value.code, info.value.status, info.value.retryable) == (20404, 404, False)


def test_rate_limited_is_retryable_and_the_retry_succeeds(telephony, fake_twilio):
    fake_twilio.fail_next(status=429, code=20429, message="Too Many Requests")
    with pytest.raises(RateLimited) as info:
        telephony.send_sms(CUSTOMER, SUPPORT_LINE, "hello")
    assert (info.value.code, info.value.status, info.value.retryable) == (20429, 429, True)
    assert telephony.send_sms(CUSTOMER, SUPPORT_LINE, "hello").startswith("SM")


def test_429_without_a_twilio_code_is_rate_limited(telephony, fake_twilio):
    fake_twilio.fail_next(status=429)
    with pytest.raises(RateLimited) as info:
        telephony.place_call(CUSTOMER, SUPPORT_LINE, ANSWER_URL)
    assert (info.value.code, info.value.status) == (None, 429)


@pytest.mark.parametrize("code", [None, 20500])
def test_server_error_is_provider_unavailable_and_retryable(telephony, fake_twilio, code):
    fake_twilio.fail_next(status=503, code=code)
    with pytest.raises(ProviderUnavailable) as info:
        telephony.place_call(CUSTOMER, SUPPORT_LINE, ANSWER_URL)
    assert info.value.status == 503
    assert info.value.code == code  # a plain-text 503 has no Twilio code
    assert info.value.retryable is True
    assert fake_twilio.calls == []


def test_wrong_token_is_authentication_failed(fake_twilio):
    with (
        TwilioTelephony(fake_twilio.account_sid, "not-the-token", base_url=fake_twilio.base_url) as tel,
        pytest.raises(AuthenticationFailed) as info,
    ):
        tel.place_call(CUSTOMER, SUPPORT_LINE, ANSWER_URL)
    assert (info.value.code, info.value.status, info.value.retryable) == (20003, 401, False)
    assert fake_twilio.calls == []


def test_stopped_server_is_provider_unavailable(telephony, fake_twilio):
    fake_twilio.stop()
    with pytest.raises(ProviderUnavailable) as info:
        telephony.send_sms(CUSTOMER, SUPPORT_LINE, "hello")
    assert info.value.retryable is True
    assert info.value.code is None and info.value.status is None


def test_timeout_is_provider_unavailable(fake_twilio):
    fake_twilio.stall_next()
    with (
        TwilioTelephony(
            fake_twilio.account_sid, fake_twilio.auth_token, base_url=fake_twilio.base_url, timeout=0.1
        ) as tel,
        pytest.raises(ProviderUnavailable) as info,
    ):
        tel.place_call(CUSTOMER, SUPPORT_LINE, ANSWER_URL)
    assert "Timeout" in str(info.value)


def test_fake_records_nothing_for_failed_requests_and_counts_them(telephony, fake_twilio):
    fake_twilio.fail_next(status=500, code=20500)
    fake_twilio.fail_next(status=503)
    for _ in range(2):
        with pytest.raises(ProviderUnavailable):
            telephony.place_call(CUSTOMER, SUPPORT_LINE, ANSWER_URL)
    sid = telephony.place_call(CUSTOMER, SUPPORT_LINE, ANSWER_URL)
    assert [c.sid for c in fake_twilio.calls] == [sid]
    assert fake_twilio.requests == 3


# -- the mapping itself -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "status, code, kind, retryable",
    [
        (400, 21211, InvalidNumber, False),
        (400, 21214, InvalidNumber, False),
        (400, 21217, InvalidNumber, False),
        (400, 21401, InvalidNumber, False),
        (400, 21421, InvalidNumber, False),
        (400, 21614, InvalidNumber, False),
        (400, 21220, CallNotInProgress, False),
        (429, 20429, RateLimited, True),
        (429, None, RateLimited, True),
        (401, 20003, AuthenticationFailed, False),
        (500, 20500, ProviderUnavailable, True),
        (502, None, ProviderUnavailable, True),
        (400, 21205, TelephonyError, False),
        (404, 20404, TelephonyError, False),
    ],
)
def test_error_from_twilio(status, code, kind, retryable):
    error = error_from_twilio(TwilioRestException(status, "/Calls.json", "Unable to create record", code))
    assert type(error) is kind
    assert error.retryable is retryable
    assert (error.code, error.status) == (code, status)


@pytest.mark.parametrize(
    "exc", [requests.ConnectionError("refused"), requests.ConnectTimeout("slow"), requests.ReadTimeout("slow")]
)
def test_transport_failures_are_provider_unavailable(exc):
    error = error_from_transport(exc)
    assert isinstance(error, ProviderUnavailable) and error.retryable


def test_other_transport_failures_are_not_retryable():
    error = error_from_transport(requests.exceptions.InvalidURL("nope"))
    assert type(error) is TelephonyError and not error.retryable


def test_twilio_telephony_needs_credentials():
    with pytest.raises(ValueError):
        TwilioTelephony("", "token")


# -- RecordingTelephony --------------------------------------------------------------------------


def test_recording_place_call_and_sms_have_deterministic_sids():
    tel = RecordingTelephony()
    first = tel.place_call(CUSTOMER, SUPPORT_LINE, ANSWER_URL, machine_detection=True)
    second = tel.place_call(CUSTOMER, SUPPORT_LINE, ANSWER_URL, status_callback=STATUS_URL, timeout=30)
    sms = tel.send_sms(CUSTOMER, SUPPORT_LINE, "hi", status_callback=STATUS_URL)
    assert first == "CA" + "0" * 31 + "1"
    assert second == "CA" + "0" * 31 + "2"
    assert sms == "SM" + "0" * 31 + "1"
    assert [c.sid for c in tel.calls] == [first, second]
    assert tel.calls[0].machine_detection is True and tel.calls[0].timeout == 20
    assert tel.calls[1].status_callback == STATUS_URL and tel.calls[1].timeout == 30
    assert tel.messages[0].body == "hi" and tel.messages[0].to == CUSTOMER


def test_recording_update_call_and_hang_up():
    tel = RecordingTelephony()
    sid = tel.place_call(CUSTOMER, SUPPORT_LINE, ANSWER_URL)
    tel.update_call(sid, url="https://ivr.example.test/voice/bridge")
    tel.update_call(sid, twiml="<Response><Hangup/></Response>")
    tel.update_call(sid, status="completed")
    assert [(u.url, u.twiml, u.status) for u in tel.updates] == [
        ("https://ivr.example.test/voice/bridge", None, None),
        (None, "<Response><Hangup/></Response>", None),
        (None, None, "completed"),
    ]
    assert sid in tel.ended
    with pytest.raises(CallNotInProgress):
        tel.update_call(sid, url=ANSWER_URL)


def test_recording_behaves_like_the_carrier_on_errors():
    tel = RecordingTelephony()
    with pytest.raises(InvalidNumber) as info:
        tel.place_call("6125550134", SUPPORT_LINE, ANSWER_URL)
    assert "6125550134" not in str(info.value)
    with pytest.raises(TelephonyError) as unknown:
        tel.update_call("CA-unknown", url=ANSWER_URL)
    assert unknown.value.code == 20404
    sid = tel.place_call(CUSTOMER, SUPPORT_LINE, ANSWER_URL)
    tel.end_call(sid)
    with pytest.raises(CallNotInProgress):
        tel.update_call(sid, status="completed")
    with pytest.raises(ValueError):
        tel.update_call(sid)
    assert tel.calls[0].sid == sid and tel.updates == []


def test_recording_scripted_failures_are_used_once_each():
    tel = RecordingTelephony()
    tel.fail_next(RateLimited("slow down", code=20429, status=429))
    tel.fail_next(ProviderUnavailable("down"))
    with pytest.raises(RateLimited):
        tel.send_sms(CUSTOMER, SUPPORT_LINE, "hi")
    with pytest.raises(ProviderUnavailable):
        tel.place_call(CUSTOMER, SUPPORT_LINE, ANSWER_URL)
    assert tel.send_sms(CUSTOMER, SUPPORT_LINE, "hi").startswith("SM")
    assert len(tel.messages) == 1 and tel.calls == []
