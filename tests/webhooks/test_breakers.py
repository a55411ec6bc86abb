"""Each app owns its degraded-mode breakers (`Services.breakers`, casestore.redisguard): the
requests of one app share them, and two apps in one process never do (issue #14 item 5). The
breakers here are the real ones, opened the way a failure opens them; nothing is mocked."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

from casestore.models import CallStateRow
from tests.conftest import AUTH_TOKEN, BASE_URL
from tests.factories import World

APOLOGY = "trouble with our phone system"


@pytest.fixture
def other(settings_overrides, engine, session_factory, dead_redis, clock, telephony):
    """A second app in this process, on the same database, whose Redis is unreachable."""
    from webhooks import create_app

    return create_app(
        settings_overrides,
        engine=engine,
        sessions=session_factory,
        redis_client=dead_redis,
        clock=clock,
        telephony=telephony,
    )


def _sim(app):
    from twilio_doubles.simulator import CallSimulator

    return CallSimulator(app.test_client(), base_url=BASE_URL, auth_token=AUTH_TOKEN)


def _said(body: str) -> str:
    return " ".join(s.text or "" for s in ET.fromstring(body).iter("Say"))


def _incoming(sim, sid: str) -> str:
    return sim.post(
        "/voice/incoming", {"CallSid": sid, "From": World.DANA_PHONE, "To": "+18005550100", "CallStatus": "in-progress"}
    )


def test_two_apps_in_one_process_have_their_own_breakers(app, other, breakers, redis_client, world):
    theirs = other.extensions["supportline"].breakers
    assert theirs is not breakers and theirs.redis is not breakers.redis and theirs.db is not breakers.db
    # A call on the app whose Redis is down opens that app's Redis breaker (and is still answered)...
    assert "enter your PIN" in _said(_incoming(_sim(other), "CAother"))
    assert not theirs.redis.usable()
    # ...not this one's: its next call keeps its state in Redis, as if nothing had happened.
    assert breakers.redis.usable() and breakers.db.usable()
    assert "enter your PIN" in _said(_incoming(_sim(app), "CAours"))
    assert redis_client.exists("sl:call:CAours")
    assert breakers.redis.usable() and not theirs.redis.usable()


def test_the_requests_of_one_app_share_its_breakers(app, breakers, session):
    from webhooks.voice import call_env

    svc = app.extensions["supportline"]
    assert svc.breakers is breakers
    with svc.sessions() as s:
        env = call_env(svc, s, svc.now())
        assert env.breakers is breakers
        assert env.calls.breaker is breakers.redis and env.lockout.breaker is breakers.redis


def test_a_webhook_skips_redis_while_its_apps_redis_breaker_is_open(app, other, breakers, redis_client, session, world):
    """Redis itself is fine; only this app's breaker says it failed moments ago: the call's state
    goes to the database stand-in, and the next step finds it there."""
    breakers.redis.failed(ConnectionError("failed moments ago"))
    assert other.extensions["supportline"].breakers.redis.usable()  # another app's is not opened
    sim = _sim(app)
    body = _incoming(sim, "CAskip")
    assert "enter your PIN" in _said(body)
    assert not redis_client.exists("sl:call:CAskip")
    assert session.get(CallStateRow, "call:CAskip") is not None
    action = ET.fromstring(body).find("Gather").get("action")
    body = sim.post(
        action,
        {
            "CallSid": "CAskip",
            "From": World.DANA_PHONE,
            "To": "+18005550100",
            "CallStatus": "in-progress",
            "Digits": "4821",
        },
    )
    assert "Thank you, Dana" in _said(body)


def test_a_webhook_answers_the_fallback_while_its_apps_database_breaker_is_open(app, other, breakers, world):
    """The database is fine; this app's breaker says it was unreachable moments ago: this app
    answers the fallback at once, the other app in the process answers the call."""
    breakers.db.failed(OSError("unreachable moments ago"))
    assert APOLOGY in _incoming(_sim(app), "CAfallback")
    theirs = other.extensions["supportline"].breakers
    assert theirs.db.usable()
    assert "enter your PIN" in _said(_incoming(_sim(other), "CAanswered"))


def test_live_figures_follow_the_running_apps_redis_breaker(app, other, breakers):
    from webhooks import live

    breakers.redis.failed(ConnectionError("failed moments ago"))
    with app.app_context():
        assert live.optional(lambda: "figures") is None
        with pytest.raises(live.LiveUnavailable):
            live.read(lambda: "figures")
    with other.app_context():
        assert live.optional(lambda: "figures") == "figures"  # its Redis is down, but its breaker is closed
