"""Twilio's Fallback URL, `POST /voice/fallback`: no database, no Redis; the apology and the
overflow transfer for everyone, and the on-call outage line on 8 for a hosted district's contact
found in the local (hashed) contacts file."""

from __future__ import annotations

import json
import os
import stat
import time
import xml.etree.ElementTree as ET

import pytest
import redis as redis_lib
from sqlalchemy import event
from sqlalchemy.exc import OperationalError
from twilio.request_validator import RequestValidator

from ivr.flow import verify
from tests.conftest import AUTH_TOKEN, BASE_URL
from tests.factories import World
from webhooks import fallback

OUTAGE_LINE = "+16125550199"
OVERFLOW = "+16125550100"  # conftest's settings_overrides
OMAR_PHONE = "+16515550111"  # a contact of the district that is not hosted
SID = "CA" + "f" * 32


def signed_post(client, path, params):
    sig = RequestValidator(AUTH_TOKEN).compute_signature(BASE_URL + path, params)
    return client.post(path, data=params, headers={"X-Twilio-Signature": sig})


def twiml(res) -> ET.Element:
    assert res.status_code == 200, res.get_data(as_text=True)
    assert res.mimetype == "application/xml"
    root = ET.fromstring(res.get_data(as_text=True))
    assert root.tag == "Response"
    return root


def said(root: ET.Element) -> str:
    return " ".join((e.text or "") for e in root.iter("Say"))


def call(from_number: str, **extra: str) -> dict[str, str]:
    return {"CallSid": SID, "From": from_number, "To": "+18005550100", "CallStatus": "in-progress", **extra}


@pytest.fixture
def outage_line(monkeypatch):
    """FALLBACK_OUTAGE_LINE is set (any common notation; it is normalised to E.164). Tests list it
    before `app`, so the app is built with it whether the setting is read at build or per request."""
    monkeypatch.setenv(fallback.OUTAGE_LINE_ENV, "(612) 555-0199")
    monkeypatch.delenv(fallback.CACHE_FILE_ENV, raising=False)
    return OUTAGE_LINE


@pytest.fixture
def no_outage_line(monkeypatch):
    monkeypatch.delenv(fallback.OUTAGE_LINE_ENV, raising=False)


@pytest.fixture
def settings(settings_overrides, outage_line):
    from webhooks.config import load_settings

    return load_settings(settings_overrides)


@pytest.fixture
def contacts_file(world, session_factory, settings):
    """The hosted-contacts file, refreshed from the test world's database, as the worker does."""
    assert fallback.refresh(session_factory, settings) == 2  # Dana's, and the one Jo and Ravi share
    return fallback.config(settings).cache_path


@pytest.fixture
def broken_app(settings_overrides, outage_line, monkeypatch):
    """The service built with a database and a Redis nobody answers at, and a record of every
    connection anything tries to open to either."""
    import redis.connection

    from webhooks import create_app

    attempts: list[str] = []
    real_connect = redis.connection.Connection.connect

    def redis_connect(self, *a, **k):
        if getattr(self, "port", None) == 1:  # the unreachable one (not the test world's fakeredis)
            attempts.append("redis")
        return real_connect(self, *a, **k)

    monkeypatch.setattr(redis.connection.Connection, "connect", redis_connect)
    app = create_app(
        dict(
            settings_overrides,
            database_url="postgresql+psycopg://nobody@127.0.0.1:1/unreachable",
            redis_url="redis://127.0.0.1:1/0",
        )
    )
    svc = app.extensions["supportline"]
    event.listen(svc.engine, "do_connect", lambda *a, **k: attempts.append("database"))
    app.connection_attempts = attempts
    return app


def test_fallback_answers_with_database_and_redis_unreachable(broken_app, contacts_file):
    client = broken_app.test_client()
    for number in (World.DANA_PHONE, "+16125550999", "Anonymous"):
        started = time.perf_counter()
        root = twiml(signed_post(client, "/voice/fallback", call(number, CallStatus="ringing")))
        assert time.perf_counter() - started < 1.0
        assert "trouble with our phone system" in said(root)
        assert root.find("Dial").text == OVERFLOW
        assert root.find("Hangup") is not None
    assert broken_app.connection_attempts == []
    # The worker's refresh cannot reach the database either: the file it has stays as it was.
    before = contacts_file.read_bytes()
    with pytest.raises(OperationalError):  # the unreachable PostgreSQL
        fallback.refresh(broken_app.extensions["supportline"].sessions, broken_app.extensions["supportline"].settings)
    assert contacts_file.read_bytes() == before


def test_a_hosted_contact_hears_the_offer_and_8_dials_the_outage_line(broken_app, contacts_file):
    client = broken_app.test_client()
    root = twiml(signed_post(client, "/voice/fallback", call(World.DANA_PHONE, CallStatus="ringing")))
    verbs = [e.tag for e in root]
    assert verbs.index("Gather") < verbs.index("Dial")  # the offer first, then the transfer
    gather = root.find("Gather")
    assert "press 8" in said(gather) and gather.get("numDigits") == "1"
    assert gather.get("action") == "/voice/fallback?stage=offer"
    assert root.find("Dial").text == OVERFLOW  # no key: the overflow transfer

    root = twiml(signed_post(client, gather.get("action"), call(World.DANA_PHONE, Digits="8")))
    dial = root.find("Dial")
    assert dial.text == OUTAGE_LINE and "on call engineer" in said(root)
    assert dial.get("action") == "/voice/fallback?stage=outage"

    # The engineer answered and the talk ended: goodbye, no transfer afterwards.
    root = twiml(signed_post(client, dial.get("action"), call(World.DANA_PHONE, DialCallStatus="completed")))
    assert root.find("Dial") is None and root.find("Hangup") is not None
    # Nobody answered the line: a person at the overflow number after all.
    root = twiml(signed_post(client, dial.get("action"), call(World.DANA_PHONE, DialCallStatus="no-answer")))
    assert root.find("Dial").text == OVERFLOW
    # Another key than 8: the overflow transfer, no second apology.
    root = twiml(signed_post(client, gather.get("action"), call(World.DANA_PHONE, Digits="1")))
    assert root.find("Dial").text == OVERFLOW and "trouble" not in said(root)
    # A number shared by two contacts of a hosted district counts too; any notation of it does.
    root = twiml(signed_post(client, "/voice/fallback", call("(612) 555-0150")))
    assert root.find("Gather") is not None
    assert broken_app.connection_attempts == []


def test_unknown_and_on_premises_numbers_hear_no_offer(broken_app, contacts_file):
    client = broken_app.test_client()
    for number in (OMAR_PHONE, "+16125550999", "Anonymous", ""):
        root = twiml(signed_post(client, "/voice/fallback", call(number)))
        assert root.find("Gather") is None and "press 8" not in said(root)
        assert root.find("Dial").text == OVERFLOW
        # Pressing 8 anyway (a crafted request to the offer's action) still only transfers.
        root = twiml(signed_post(client, "/voice/fallback?stage=offer", call(number, Digits="8")))
        assert root.find("Dial").text == OVERFLOW
    assert signed_post(client, "/voice/fallback?stage=offer", call(World.DANA_PHONE, Digits="8")).status_code == 200
    unsigned = client.post("/voice/fallback?stage=offer", data=call(World.DANA_PHONE, Digits="8"))
    assert unsigned.status_code == 403


def test_without_the_outage_line_nobody_hears_the_offer(no_outage_line, app, client, world, session_factory):
    svc = app.extensions["supportline"]
    assert fallback.refresh(session_factory, svc.settings) is None  # nothing written either
    assert not fallback.config(svc.settings).cache_path.exists()
    root = twiml(signed_post(client, "/voice/fallback", call(World.DANA_PHONE)))
    assert root.find("Gather") is None and root.find("Dial").text == OVERFLOW


def test_the_file_holds_no_number_in_clear(contacts_file, world):
    text = contacts_file.read_text(encoding="utf-8")
    doc = json.loads(text)
    assert doc["format"] == fallback.FORMAT and len(doc["hosted_contacts"]) == 2
    for number in (World.DANA_PHONE, "+16125550150", OMAR_PHONE):
        digits = number.lstrip("+")
        for fragment in (digits, digits[1:], digits[-7:], digits[-4:] + '"'):
            assert fragment not in text, fragment
    assert all(len(h) == 64 and set(h) <= set("0123456789abcdef") for h in doc["hosted_contacts"])
    assert stat.S_IMODE(os.stat(contacts_file).st_mode) == 0o600
    assert [p.name for p in contacts_file.parent.iterdir() if p.name != contacts_file.name] == []


def test_a_file_written_with_another_key_is_ignored(
    settings_overrides, outage_line, world, session_factory, contacts_file
):
    from webhooks import create_app
    from webhooks.config import load_settings

    other = dict(settings_overrides, pin_pepper="another-pepper-0123456789abcdef")
    cfg = fallback.config(load_settings(other))
    assert cfg.cache_path == contacts_file
    assert not fallback.is_hosted_contact(cfg, World.DANA_PHONE)
    assert fallback.describe_cache(cfg) == "written with another key (ignored)"
    app = create_app(other, redis_client=redis_lib.Redis(host="127.0.0.1", port=1))
    root = twiml(signed_post(app.test_client(), "/voice/fallback", call(World.DANA_PHONE)))
    assert root.find("Gather") is None and root.find("Dial").text == OVERFLOW


def test_an_unreadable_file_means_no_offer_and_still_a_transfer(broken_app, contacts_file):
    contacts_file.write_text("{not json", encoding="utf-8")
    root = twiml(signed_post(broken_app.test_client(), "/voice/fallback", call(World.DANA_PHONE)))
    assert root.find("Gather") is None and root.find("Dial").text == OVERFLOW


def test_the_refresh_follows_the_database(world, session, session_factory, settings, contacts_file):
    cfg = fallback.config(settings)
    assert fallback.is_hosted_contact(cfg, "+1 612-555-0134")
    world.dana.active = False
    session.commit()
    assert fallback.refresh(session_factory, settings) == 1  # only the shared number is left
    assert not fallback.is_hosted_contact(cfg, World.DANA_PHONE)
    world.hosted.hosted = False
    session.commit()
    assert fallback.refresh(session_factory, settings) == 0
    assert not fallback.is_hosted_contact(cfg, "+16125550150")


def test_a_webhook_fault_offers_the_outage_line_too(outage_line, app, client, world, contacts_file, monkeypatch):
    def broken(*_a, **_k):
        raise OperationalError("SELECT 1", {}, Exception("server closed the connection"))

    monkeypatch.setattr(verify.actions, "ensure_call_log", broken)
    root = twiml(signed_post(client, "/voice/incoming", call(World.DANA_PHONE, CallStatus="ringing")))
    assert "trouble with our phone system" in said(root)
    assert root.find("Gather").get("action") == "/voice/fallback?stage=offer"
    assert root.find("Dial").text == OVERFLOW


def test_fault_answers_on_advisor_legs_are_unchanged(app):
    from webhooks.voice import fallback_twiml

    with app.test_request_context("/voice/whisper", method="POST", data=call(World.DANA_PHONE)):
        assert ET.fromstring(fallback_twiml(OVERFLOW, "whisper")).find("Hangup") is not None
        assert list(ET.fromstring(fallback_twiml(OVERFLOW, "status"))) == []
        assert list(ET.fromstring(fallback_twiml(OVERFLOW, "whisper-accept"))) == []
    root = ET.fromstring(fallback_twiml(OVERFLOW))  # outside a request: the plain apology
    assert root.find("Dial").text == OVERFLOW and root.find("Gather") is None


def test_the_web_start_refresh_runs_once_for_processes_starting_together(outage_line, app, world):
    svc = app.extensions["supportline"]
    path = fallback.config(svc.settings).cache_path
    fallback.refresh_in_background(svc).join(timeout=10)
    first = os.stat(path).st_mtime_ns
    fallback.refresh_in_background(svc).join(timeout=10)  # a second gunicorn worker, moments later
    assert os.stat(path).st_mtime_ns == first
    assert fallback.is_hosted_contact(fallback.config(svc.settings), World.DANA_PHONE)


def test_the_worker_timer_loop_refreshes_the_file_at_start(outage_line, app, world):
    import threading

    from workers.worker import _timers

    svc = app.extensions["supportline"]
    path = fallback.config(svc.settings).cache_path
    stop = threading.Event()
    timer = threading.Thread(target=_timers, args=(svc, stop), daemon=True)
    timer.start()
    deadline = time.monotonic() + 10
    while not path.exists() and time.monotonic() < deadline:
        time.sleep(0.02)
    stop.set()
    timer.join(timeout=10)
    assert path.exists() and fallback.is_hosted_contact(fallback.config(svc.settings), World.DANA_PHONE)
    assert fallback.REFRESH_SECONDS == 300


def test_refresh_from_the_command_line(tmp_path, monkeypatch, capsys):
    from casestore.db import make_engine, make_session_factory, upgrade
    from casestore.models import Contact, ContactPhone, District

    url = f"sqlite:///{tmp_path / 'cli.sqlite3'}"
    engine = make_engine(url)
    upgrade(engine)
    with make_session_factory(engine)() as s:
        district = District(name="Lakeview Public Schools", state="MN", hosted=True)
        contact = Contact(contact_id="104233", district=district, name="Dana Whitfield")
        contact.phones = [ContactPhone(e164=World.DANA_PHONE, position=0)]
        s.add_all([district, contact])
        s.commit()
    engine.dispose()
    monkeypatch.setenv("DATABASE_URL", url)
    monkeypatch.setenv("SUPPORTLINE_INSTANCE", str(tmp_path / "instance"))
    monkeypatch.setenv(fallback.OUTAGE_LINE_ENV, OUTAGE_LINE)
    monkeypatch.setenv(fallback.CACHE_FILE_ENV, str(tmp_path / "run" / "contacts.json"))
    assert fallback.main(["--dev"]) == 0
    assert "1 hosted contact number(s)" in capsys.readouterr().out
    assert (tmp_path / "run" / "contacts.json").exists()
    monkeypatch.delenv(fallback.OUTAGE_LINE_ENV)
    assert fallback.main(["--dev"]) == 0
    assert "nothing to write" in capsys.readouterr().out
