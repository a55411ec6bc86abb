"""Degraded modes: Redis unreachable (calls still verified and routed from the database, lockouts
counted in the database, recovery when it returns) and the database unreachable (every webhook
answers the fallback TwiML, quickly)."""

from __future__ import annotations

import time

import pytest
import redis as redis_lib
from sqlalchemy import select

from casestore.models import AuthFailure, CallbackTask, CallLog
from tests.conftest import AUTH_TOKEN, BASE_URL
from tests.factories import World


@pytest.fixture
def degraded(settings_overrides, engine, session_factory, dead_redis, clock, telephony):
    from twilio_doubles.simulator import CallSimulator, advance_clock
    from webhooks import create_app

    app = create_app(
        settings_overrides,
        engine=engine,
        sessions=session_factory,
        redis_client=dead_redis,
        clock=clock,
        telephony=telephony,
    )
    return CallSimulator(app.test_client(), base_url=BASE_URL, auth_token=AUTH_TOKEN, advance=advance_clock(clock))


def test_with_redis_down_a_caller_is_verified_and_put_through_to_the_owner(degraded, world, session):
    t = degraded.call(World.DANA_PHONE, keys=["4821#", "240117#"], dial=["accept"])
    assert t.said("Thank you, Dana") and t.said("Connecting you to your case owner")
    assert t.connected_to == "+16125550101"
    row = session.scalars(select(CallLog)).one()
    assert row.outcome == "connected" and row.advisor_id == world.priya.id


def test_with_redis_down_the_next_advisor_then_a_message(degraded, world, session):
    t = degraded.call(World.DANA_PHONE, keys=["4821#", "240117#"], dial=["no-answer", "busy", "no-answer"])
    assert t.dialled[:2] == ["+16125550101", "+16125550102"]  # owner, then the other grade book advisor
    assert t.said("leave your message")
    from casestore.models import CallbackTask

    assert session.scalars(select(CallbackTask)).one().kind == "message"


def test_with_redis_down_lockouts_are_counted_in_the_database(degraded, world, session):
    t = degraded.call(World.DANA_PHONE, keys=["1111#", "2222#", "3333#"])
    assert t.said("entry has been paused")
    assert len(session.scalars(select(AuthFailure)).all()) >= 3
    assert all(World.DANA_PHONE not in f.subject for f in session.scalars(select(AuthFailure)))
    again = degraded.call(World.DANA_PHONE, keys=["4821#"])
    assert again.said("entry has been paused") and not again.said("Thank you, Dana")


def test_the_breaker_skips_redis_after_a_failure_and_tries_again_after_the_cooldown():
    from casestore.redisguard import Breaker

    now = [100.0]
    breaker = Breaker(clock=lambda: now[0])
    assert breaker.usable()
    breaker.failed(ConnectionError("down"))
    assert not breaker.usable()
    now[0] += breaker.cooldown
    assert breaker.usable()
    breaker.succeeded()
    assert breaker.usable()


def test_a_call_carries_on_when_redis_comes_back_mid_call(
    settings_overrides, engine, session_factory, dead_redis, redis_client, clock, telephony, world
):
    """State written to the database while Redis was down is found once it is back."""
    from twilio_doubles.simulator import CallSimulator
    from webhooks import create_app

    down = create_app(
        settings_overrides,
        engine=engine,
        sessions=session_factory,
        redis_client=dead_redis,
        clock=clock,
        telephony=telephony,
    )
    up = create_app(
        settings_overrides,
        engine=engine,
        sessions=session_factory,
        redis_client=redis_client,
        clock=clock,
        telephony=telephony,
    )
    sim_down = CallSimulator(down.test_client(), base_url=BASE_URL, auth_token=AUTH_TOKEN)
    sim_up = CallSimulator(up.test_client(), base_url=BASE_URL, auth_token=AUTH_TOKEN)
    import xml.etree.ElementTree as ET

    base = {"CallSid": "CAmid", "From": World.DANA_PHONE, "To": "+18005550100", "CallStatus": "in-progress"}
    root = ET.fromstring(sim_down.post("/voice/incoming", base))
    action = root.find("Gather").get("action")
    # Redis is back: `up` (its own breakers, never opened: apps do not share them) reads it again.
    assert not down.extensions["supportline"].breakers.redis.usable()
    assert up.extensions["supportline"].breakers.redis.usable()
    root = ET.fromstring(sim_up.post(action, dict(base, Digits="4821")))
    assert "Thank you, Dana" in " ".join(s.text or "" for s in root.iter("Say"))


def test_with_the_database_down_every_webhook_answers_the_fallback_within_a_second(
    settings_overrides, redis_client, clock, telephony, world
):
    from twilio_doubles.simulator import CallSimulator
    from webhooks import create_app

    app = create_app(
        dict(settings_overrides, database_url="postgresql+psycopg://nobody@127.0.0.1:1/none"),
        redis_client=redis_client,
        clock=clock,
        telephony=telephony,
    )
    sim = CallSimulator(app.test_client(), base_url=BASE_URL, auth_token=AUTH_TOKEN)
    for path in ("/voice/incoming", "/voice/pin?n=1", "/voice/menu?n=2", "/voice/status"):
        started = time.perf_counter()
        body = sim.post(
            path, {"CallSid": "CAdown", "From": World.DANA_PHONE, "Digits": "4821", "CallStatus": "completed"}
        )
        assert time.perf_counter() - started < 1.0
        assert "<Response" in body
    body = sim.post("/voice/incoming", {"CallSid": "CAdown2", "From": World.DANA_PHONE})
    assert "+16125550100" in body and "trouble with our phone system" in body
    # Later requests to this app do not even try for a few seconds.
    assert not app.extensions["supportline"].breakers.db.usable()


def test_call_log_records_are_spooled_while_the_database_is_down_and_replayed_after(
    settings_overrides, engine, session_factory, redis_client, clock, telephony, world, session
):
    """Write-behind: the fallback keeps the call's trace in a local file (not in Redis, which may
    lose it); the call log gets it exactly once when the database is back."""
    from ivr import spool
    from twilio_doubles.simulator import CallSimulator
    from webhooks import create_app
    from webhooks.voice import spool_path

    broken = create_app(
        dict(settings_overrides, database_url="postgresql+psycopg://nobody@127.0.0.1:1/none"),
        redis_client=redis_client,
        clock=clock,
        telephony=telephony,
    )
    svc = broken.extensions["supportline"]
    sim = CallSimulator(broken.test_client(), base_url=BASE_URL, auth_token=AUTH_TOKEN)
    sim.post("/voice/incoming", {"CallSid": "CAspool1", "From": World.DANA_PHONE})
    sim.post("/voice/incoming", {"CallSid": "CAspool2", "From": World.DANA_PHONE})
    path = spool_path(svc)
    assert path.name == "call_log.jsonl" and spool.pending(path) == 2 and svc.spooled.is_set()
    assert World.DANA_PHONE not in path.read_text() and "0134" in path.read_text()
    redis_client.flushdb()  # Redis restarting meanwhile loses nothing
    assert spool.replay(session, path) == 2
    rows = {r.call_sid: r for r in session.scalars(select(CallLog))}
    assert rows["CAspool1"].outcome == "fallback" and rows["CAspool1"].from_masked.endswith("0134")
    assert rows["CAspool2"].outcome == "fallback"
    assert spool.pending(path) == 0
    assert spool.replay(session, path) == 0  # exactly once


REDIS_SERVER = __import__("shutil").which("redis-server")


@pytest.fixture
def private_redis(tmp_path):
    """A redis-server of this test's own on a free port, which the test may kill and restart."""
    import socket
    import subprocess

    if not REDIS_SERVER:
        pytest.skip("needs redis-server")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]

    class Server:
        proc: subprocess.Popen | None = None

        def start(self) -> None:
            self.proc = subprocess.Popen(
                [
                    REDIS_SERVER,
                    "--port",
                    str(port),
                    "--bind",
                    "127.0.0.1",
                    "--save",
                    "",
                    "--appendonly",
                    "no",
                    "--dir",
                    str(tmp_path),
                ],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            client = redis_lib.Redis(port=port)
            for _ in range(200):
                try:
                    client.ping()
                    return
                except redis_lib.ConnectionError:
                    time.sleep(0.02)  # waiting for a real server process to listen, not for the clock
            raise RuntimeError("redis-server did not start")

        def kill(self) -> None:
            self.proc.kill()
            self.proc.wait(timeout=5)

    server = Server()
    server.start()
    server.port = port
    yield server
    if server.proc and server.proc.poll() is None:
        server.kill()


def test_a_real_redis_killed_mid_call_and_restarted(
    private_redis, settings_overrides, engine, session_factory, clock, telephony, world, session
):
    """Kill the real Redis between two steps of a call: the call is still verified and put through
    (degraded mode); restart it: the next call uses Redis again."""
    import xml.etree.ElementTree as ET

    from redis.backoff import NoBackoff
    from redis.retry import Retry

    from ivr import staffing
    from routing.presence import Presence
    from twilio_doubles.simulator import CallSimulator
    from webhooks import create_app

    client = redis_lib.Redis(
        port=private_redis.port, decode_responses=True, socket_connect_timeout=0.5, retry=Retry(NoBackoff(), 0)
    )
    staffing.set_presence(session, Presence(client), world.priya.id, "available", clock(), actor="test")
    session.commit()
    app = create_app(
        settings_overrides,
        engine=engine,
        sessions=session_factory,
        redis_client=client,
        clock=clock,
        telephony=telephony,
    )
    sim = CallSimulator(app.test_client(), base_url=BASE_URL, auth_token=AUTH_TOKEN)
    base = {"CallSid": "CAkill", "From": World.DANA_PHONE, "To": "+18005550100", "CallStatus": "in-progress"}
    root = ET.fromstring(sim.post("/voice/incoming", base))
    assert client.exists("sl:call:CAkill")  # the state is in Redis
    private_redis.kill()
    # The call's state went with Redis: the caller is sent back to the greeting (nothing private is
    # said, nobody is dropped), verifies again (counted in the database), and is put through.
    root = ET.fromstring(sim.post(root.find("Gather").get("action"), dict(base, Digits="4821")))
    assert root.find("Redirect").text.startswith("/voice/incoming?restart=")
    root = ET.fromstring(sim.post(root.find("Redirect").text, base))
    root = ET.fromstring(sim.post(root.find("Gather").get("action"), dict(base, Digits="4821")))
    assert "Thank you, Dana" in " ".join(s.text or "" for s in root.iter("Say"))
    root = ET.fromstring(sim.post(root.find("Gather").get("action"), dict(base, Digits="240117")))
    assert (next(iter(root.find("Dial"))).text or "").strip() == "+16125550101"
    private_redis.start()  # empty: presence, the line and call states are gone
    app.extensions["supportline"].breakers.redis.reset()  # the cooldown has passed
    # What the dispatcher does every 30 s: presence comes back from the database, and Priya, whom
    # the database holds for CAkill (put through while Redis was down), is on that call, not free.
    assert staffing.reconcile(session, Presence(client), client, clock(), 60)[world.priya.id] == "on_call"
    session.commit()
    assert Presence(client).get(world.priya.id, clock()).call_sid == "CAkill"
    busy = sim.call(World.DANA_PHONE, keys=["4821#", "240117#"], dial=["accept"], call_sid="CAwhilebusy")
    assert busy.connected_to is None
    # CAkill ends: Priya is free again for the next call.
    sim.post("/voice/status", dict(base, CallStatus="completed", CallDuration="60"))
    t = sim.call(World.DANA_PHONE, keys=["4821#", "240117#"], dial=["accept"])
    assert t.connected_to == "+16125550101"


def test_a_process_still_in_its_cooldown_finds_a_call_another_process_wrote_to_redis(redis_client, session):
    """After a Redis restart, one process is back on Redis while another's breaker is still open:
    the second finds no state in the database, probes Redis, finds it there, and carries on
    instead of sending the caller back to the greeting."""
    from casestore.redisguard import Breaker
    from ivr.state import CallState, CallStore

    now = [100.0]
    breaker = Breaker(clock=lambda: now[0])  # this process's
    store = CallStore(redis_client, session=session, breaker=breaker)
    store.finish("CAback", "/voice/pin?n=1", "<Response/>", CallState(sid="CAback", seq=1), False)
    breaker.failed(ConnectionError("was down"))  # this process has not noticed it is back
    _answer, state = store.begin("CAback", "/voice/menu?n=2")
    assert state is not None and state.seq == 1 and breaker.usable()
    # While Redis is really down, probes are spaced out: one every PROBE_SECONDS at most.
    dead = CallStore(
        __import__("redis").Redis(host="127.0.0.1", port=1, socket_connect_timeout=0.2),
        session=session,
        breaker=breaker,
    )
    pings = []

    def ping():
        pings.append(now[0])
        raise redis_lib.ConnectionError("refused")

    dead.redis.ping = ping
    now[0] += 0.5  # the first probe was just now
    breaker.failed(ConnectionError("down"))
    assert dead.begin("CAnone", "/voice/menu?n=2") == (None, None)
    assert not breaker.usable()
    assert dead.load("CAnone") is None and len(pings) == 1  # no second probe within PROBE_SECONDS
    now[0] += 0.5
    assert dead.load("CAnone") is None and len(pings) == 2


def test_only_an_unreachable_database_opens_the_breaker():
    import sqlite3

    import psycopg
    from psycopg import errors as pg_errors
    from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError

    from casestore.db import unreachable

    assert unreachable(OperationalError("SELECT 1", {}, psycopg.OperationalError("connection refused")))
    assert unreachable(OSError("no route to host"))
    assert unreachable(DBAPIError("SELECT 1", {}, psycopg.DatabaseError("gone"), connection_invalidated=True))
    assert unreachable(OperationalError("SELECT 1", {}, sqlite3.OperationalError("unable to open database file")))
    assert not unreachable(OperationalError("UPDATE", {}, pg_errors.DeadlockDetected("deadlock detected")))
    assert not unreachable(OperationalError("UPDATE", {}, pg_errors.SerializationFailure("could not serialize")))
    assert not unreachable(OperationalError("UPDATE", {}, sqlite3.OperationalError("database is locked")))
    assert not unreachable(IntegrityError("INSERT", {}, psycopg.IntegrityError("duplicate key")))
    assert not unreachable(ValueError("a bug"))


def test_one_transactions_deadlock_answers_that_request_only(app, sim, world, monkeypatch, redis_breaker):
    """A deadlock (or serialization failure) fails one request with the fallback; it does not open
    the database breaker, so the next caller is answered normally at once."""
    from psycopg import errors as pg_errors
    from sqlalchemy.exc import OperationalError

    from ivr import flow

    real = flow.handle
    calls = []

    def deadlocked_once(env, inp, state):
        if not calls:
            calls.append(inp.sid)
            raise OperationalError("UPDATE", {}, pg_errors.DeadlockDetected("deadlock detected"))
        return real(env, inp, state)

    monkeypatch.setattr(flow, "handle", deadlocked_once)
    body = sim.post("/voice/incoming", {"CallSid": "CAdeadlock", "From": World.DANA_PHONE})
    assert "trouble with our phone system" in body
    assert app.extensions["supportline"].breakers.db.usable()
    # The failed request's trace was spooled; replay it here rather than in the background thread
    # the next request would start (this test's sessions share one connection).
    from ivr import spool
    from webhooks.voice import spool_path

    svc = app.extensions["supportline"]
    assert svc.spooled.is_set()
    svc.spooled.clear()
    with svc.sessions() as s:
        assert spool.replay(s, spool_path(svc)) == 1
    t = sim.call(World.DANA_PHONE, keys=["4821#", "240117#"], dial=["accept"])
    assert t.said("Thank you, Dana") and t.connected_to == "+16125550101"


# -- the queue-message step with Redis down (issue #13, item 8) ---------------------------------


def _record_prompt(sim, keys):
    """Drive a call with Redis down up to the degraded 'leave your message' prompt; the Record's
    action URL and the call's parameters."""
    import xml.etree.ElementTree as ET

    base = {"CallSid": "CAnoredis", "From": World.DANA_PHONE, "To": "+18005550100", "CallStatus": "in-progress"}
    root = ET.fromstring(sim.post("/voice/incoming", base))
    for digits in keys:
        root = ET.fromstring(sim.post(root.find("Gather").get("action"), dict(base, Digits=digits)))
    while root.find("Dial") is not None:  # nobody answers
        root = ET.fromstring(sim.post(root.find("Dial").get("action"), dict(base, DialCallStatus="no-answer")))
    assert root.find("Record") is not None, ET.tostring(root)
    return root.find("Record").get("action"), base


def _said(body: str) -> str:
    import xml.etree.ElementTree as ET

    return " ".join(s.text or "" for s in ET.fromstring(body).iter("Say"))


def test_with_redis_down_silence_at_the_beep_leaves_a_callback_task_not_the_apology(degraded, world, session):
    """Press 0, three no-answers, then nothing said at the beep: there is no line to go back to,
    so the caller gets a callback (a task in the database) and is told so."""
    t = degraded.call(World.DANA_PHONE, keys=["4821#", "0", "0", "3"], dial=["no-answer"] * 3, record=None)
    assert t.said("leave your message")
    assert not t.said("trouble with our phone system")
    assert t.said("call you back at the number ending in 0 1 3 4")
    task = session.scalars(select(CallbackTask)).one()
    assert task.kind == "callback" and task.callback_e164 == World.DANA_PHONE
    assert session.scalars(select(CallLog.outcome)).one() == "callback_requested"


def test_with_redis_down_a_message_at_the_beep_is_saved(degraded, world, session):
    t = degraded.call(World.DANA_PHONE, keys=["4821#", "0", "0", "3"], dial=["no-answer"] * 3)
    assert t.said("Your message has been saved") and not t.said("trouble with our phone system")
    task = session.scalars(select(CallbackTask)).one()
    assert task.kind == "message" and task.recording_url.startswith("https://api.twilio.com/recordings/")


@pytest.mark.parametrize(
    "digits, said, kind",
    [
        ("2", "call you back at the number ending in 0 1 3 4", "callback"),  # a callback instead of waiting
        ("*", "leave your message", None),  # back to the line: there is none, so the degraded message prompt
    ],
)
def test_with_redis_down_the_queue_choices_work_in_degraded_mode(degraded, world, session, digits, said, kind):
    """A hold prompt's choices answered while Redis is unreachable (the caller pressed 1 on hold
    just as it went away): a callback is recorded in the database, and 'keep my place' gives the
    degraded path instead of the line."""
    action, base = _record_prompt(degraded, ["4821", "0", "0", "3"])
    n = action.split("n=")[1].split("&")[0]
    body = degraded.post(f"/voice/queue-menu?n={n}&stage=choose", dict(base, Digits=digits))
    assert "trouble with our phone system" not in _said(body) and said in _said(body)
    kinds = session.scalars(select(CallbackTask.kind)).all()
    assert kinds == ([kind] if kind else [])


def test_redis_lost_between_two_reads_of_a_hold_round_hunts_instead_of_the_apology(
    sim, world, session, redis_client, clock, monkeypatch, redis_breaker
):
    """Redis goes away after the hold round read the caller's place in line but before it read the
    caller's offer (seen in the storm bench's Redis kill): the caller is put through by the
    degraded hunt, never the apology."""
    from ivr.flow import connect
    from routing.presence import Presence

    presence = Presence(redis_client, "America/Chicago")
    for a in (world.priya, world.marcus, world.lena):
        presence.set_state(a.id, "offline", clock())

    reads = []
    get = connect.Offers.get

    def lost_after_joining(self, sid):
        reads.append(sid)
        if len(reads) > 1:  # the first read is the caller's joining the line; then Redis is gone
            raise redis_lib.ConnectionError("Redis went away")
        return get(self, sid)

    monkeypatch.setattr(connect.Offers, "get", lost_after_joining)
    t = sim.call(World.DANA_PHONE, keys=["4821#", "0", "0", "3"], dial=["accept"])
    assert t.said("You are number 1 in line")
    assert len(reads) == 2 and not t.said("trouble with our phone system")
    assert t.connected_to is not None
