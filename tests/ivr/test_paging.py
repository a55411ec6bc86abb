"""Outage incidents and paging: escalation on a fake clock through RQ (a burst worker on the test
Redis: real Redis in CI's second pass), acknowledgement by keypress or SMS, voicemail that does not
count, one incident per district, idempotent jobs, rate limits, and the real Twilio client against
the fake Twilio HTTP server."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from casestore.models import CaseEvent, Engineer, EscalationPolicy, EscalationStep, Incident, Page
from routing.escalation import EXHAUSTED, FALLBACK_POLICY, PolicySpec, Position, StepSpec, after, targets
from routing.oncall import RotationSpec
from routing.pagelimits import PageLimits
from tests.conftest import BASE_URL
from tests.factories import World

CALLER_ID = "+18005550100"
MANAGER_PHONE = "+16125550199"


# --------------------------------------------------------------------------- plain policy logic


def test_positions_run_steps_then_repeats_then_exhausted():
    policy = PolicySpec("p", (StepSpec(5, ("primary",)), StepSpec(10, ("secondary",))), repeats=1, manager="M")
    pos, seen = Position(0, 0), []
    while pos is not None:
        seen.append((pos.round, pos.step))
        pos = after(policy, pos)
    assert seen == [(0, 0), (0, 1), (1, 0), (1, 1), (1, EXHAUSTED)]


def test_targets_are_layer_on_call_then_named_engineers_once(world):
    rotations = load_rotations_from(world)
    at = datetime(2026, 11, 17, 15, tzinfo=UTC)
    policy = PolicySpec("p", (StepSpec(5, ("primary", "secondary"), ("Sam Ortiz", "Ann Bell")),), manager="Boss")
    assert targets(policy, Position(0, 0), rotations, at) == ["Sam Ortiz", "Lee Chen", "Ann Bell"]
    assert targets(policy, Position(0, EXHAUSTED), rotations, at) == ["Boss"]
    assert targets(FALLBACK_POLICY, Position(0, 1), rotations, at) == ["Lee Chen"]


def load_rotations_from(world) -> list[RotationSpec]:
    from sqlalchemy.orm import object_session

    from casestore.models import Rotation
    from routing.oncall import spec_from_row

    session = object_session(world.sam)
    return [spec_from_row(r) for r in session.scalars(select(Rotation))]


def test_page_rate_limits(redis_client):
    limits = PageLimits(redis_client)
    t0 = datetime(2026, 11, 17, 15, tzinfo=UTC)
    assert limits.allow(1, "voice", t0, "a") == 0
    assert limits.allow(1, "voice", t0 + timedelta(seconds=30), "b") == 60  # 1 a minute
    assert limits.allow(2, "voice", t0 + timedelta(seconds=30), "c") == 0  # per engineer
    assert limits.allow(1, "voice", t0 + timedelta(minutes=2), "d") == 0
    assert limits.allow(1, "voice", t0 + timedelta(minutes=4), "e") == 0
    assert limits.allow(1, "voice", t0 + timedelta(minutes=6), "f") == 900  # 3 per 15 minutes
    assert limits.allow(1, "voice", t0 + timedelta(minutes=16), "g") == 0
    assert limits.allow(1, "sms", t0 + timedelta(minutes=16), "h") == 0  # channels count apart


# --------------------------------------------------------------------------- the line and the worker


@pytest.fixture
def policy(session, world):
    manager = Engineer(name="Avery Johnson", phone=MANAGER_PHONE, sms=False)
    p = EscalationPolicy(name="Hosted outage", repeats=1, manager=manager, is_default=True)
    p.steps = [
        EscalationStep(position=0, delay_minutes=5, layers="primary"),
        EscalationStep(position=1, delay_minutes=5, layers="secondary"),
    ]
    session.add_all([manager, p])
    session.commit()
    return p


@pytest.fixture
def settings_overrides(settings_overrides):
    return dict(settings_overrides, twilio_caller_id=CALLER_ID)


@pytest.fixture
def svc(app):
    return app.extensions["supportline"]


def run_jobs(svc) -> None:
    """What `supportline worker` does each second: release timers due on the service clock, then
    run the queued jobs (a burst RQ worker)."""
    from workers.worker import run_worker

    run_worker(svc, burst=True)


def outage_call(sim, dial=("no-answer", "no-answer")):
    return sim.call(World.DANA_PHONE, keys=["4821#", "8"], dial=list(dial))


def the_incident(session) -> Incident:
    session.expire_all()
    (incident,) = session.scalars(select(Incident)).all()
    return incident


def voice_pages_to(telephony) -> list[str]:
    return [c.to for c in telephony.calls]


def test_nobody_answers_steps_and_repeats_run_in_order_then_the_manager(
    sim, svc, world, policy, clock, telephony, session
):
    t = outage_call(sim)
    assert t.said("opened outage case") and t.said("describe the outage")
    run_jobs(svc)
    assert voice_pages_to(telephony) == ["+16125550177"]  # Sam, primary
    assert [m.to for m in telephony.messages] == ["+16125550177"]
    assert "Reply 4" in telephony.messages[0].body
    for expected in (["+16125550178"], ["+16125550177"], ["+16125550178"], [MANAGER_PHONE]):
        before = len(telephony.calls)
        clock.advance(minutes=4)
        run_jobs(svc)
        assert len(telephony.calls) == before  # the step's 5 minutes are not over
        clock.advance(minutes=1)
        run_jobs(svc)
        assert voice_pages_to(telephony)[before:] == expected
    incident = the_incident(session)
    assert incident.state == "unacknowledged"
    clock.advance(hours=1)
    run_jobs(svc)
    assert len(telephony.calls) == 5  # nothing after the manager
    kinds = [e.kind for e in incident.events]
    assert kinds[0] == "triggered" and "unacknowledged" in kinds and kinds.count("page_sent") == 5 + 4
    # The timeline is in the case's communication log too.
    logged = session.scalars(
        select(CaseEvent).where(CaseEvent.case_id == incident.case_id, CaseEvent.kind == "incident")
    )
    assert len(list(logged)) >= 10


def page_post(sim, path: str, **form: str) -> ET.Element:
    base = {"CallSid": form.pop("CallSid", "CApage"), "AccountSid": "AC" + "0" * 32, "CallStatus": "in-progress"}
    return ET.fromstring(sim.post(path, dict(base, **form)))


def page_url(call) -> str:
    return call.url[len(BASE_URL) :]


def test_ack_by_keypress_stops_everything_at_once(sim, svc, world, policy, clock, telephony, session):
    outage_call(sim)
    run_jobs(svc)
    (sam_call,) = telephony.calls
    assert sam_call.machine_detection and sam_call.from_ == CALLER_ID
    root = page_post(sim, page_url(sam_call), CallSid=sam_call.sid, AnsweredBy="human")
    said = " ".join(s.text for s in root.iter("Say"))
    assert "Lakeview Public Schools" in said and "Press 4 to acknowledge" in said
    assert root.find("Gather/Play") is not None  # the caller's recorded message
    root = page_post(sim, root.find("Gather").get("action"), CallSid=sam_call.sid, Digits="4")
    assert "acknowledged. Thank you, Sam" in " ".join(s.text for s in root.iter("Say"))
    incident = the_incident(session)
    assert incident.state == "acknowledged" and incident.acknowledged_by.name == "Sam Ortiz"
    clock.advance(minutes=30)
    run_jobs(svc)
    assert len(telephony.calls) == 1 and len(telephony.messages) == 1
    page = session.scalars(select(Page).where(Page.sid == sam_call.sid)).one()
    assert page.result == "acknowledged"
    # Resolving from the same call later.
    root = page_post(sim, page_url(sam_call), CallSid=sam_call.sid, AnsweredBy="human")
    assert "acknowledged by Sam Ortiz" in " ".join(s.text for s in root.iter("Say"))
    root = page_post(sim, root.find("Gather").get("action"), CallSid=sam_call.sid, Digits="6")
    assert the_incident(session).state == "resolved"


def test_ack_by_sms_reply_stops_it(sim, svc, world, policy, clock, telephony, session):
    outage_call(sim)
    run_jobs(svc)
    clock.advance(minutes=5)
    run_jobs(svc)
    assert voice_pages_to(telephony) == ["+16125550177", "+16125550178"]
    incident = the_incident(session)
    reply = sim.post(
        "/sms/incoming",
        {
            "From": "(612) 555-0178",
            "To": CALLER_ID,
            "Body": f"  ack  {incident.id} ",
            "MessageSid": "SM1",
            "AccountSid": "AC" + "0" * 32,
        },
    )
    assert f"Incident {incident.id} (Lakeview Public Schools) acknowledged" in reply
    assert the_incident(session).acknowledged_by.name == "Lee Chen"
    # Lee's ringing page call is hung up; nothing more is paged.
    assert any(u.call_sid == telephony.calls[1].sid and u.status == "canceled" for u in telephony.updates)
    clock.advance(hours=2)
    run_jobs(svc)
    assert len(telephony.calls) == 2
    again = sim.post("/sms/incoming", {"From": "+16125550177", "Body": f"4 {incident.id}", "MessageSid": "SM2"})
    assert "already acknowledged by Lee Chen" in again
    done = sim.post("/sms/incoming", {"From": "+16125550177", "Body": f"6{incident.id}", "MessageSid": "SM3"})
    assert "resolved" in done and the_incident(session).state == "resolved"


@pytest.mark.parametrize(
    "body,expected",
    [
        ("4 {id}", "acknowledged"),
        ("ACK{id}", "acknowledged"),
        (" 6   {id} ", "resolved"),
        ("Resolve #{id}", "resolved"),
        ("yes", "Reply 4 and the incident number"),
        ("4 999999", "no incident 999999"),
    ],
)
def test_sms_replies_are_read_tolerantly(sim, svc, world, policy, session, body, expected):
    outage_call(sim)
    incident = the_incident(session)
    reply = sim.post(
        "/sms/incoming", {"From": "+16125550177", "Body": body.format(id=incident.id), "MessageSid": "SM1"}
    )
    assert expected in reply


def test_sms_from_a_stranger_changes_nothing(sim, svc, world, policy, session):
    outage_call(sim)
    incident = the_incident(session)
    reply = sim.post("/sms/incoming", {"From": "+15555550100", "Body": f"4 {incident.id}", "MessageSid": "SM1"})
    assert "only takes replies to Campus Support messages" in reply and the_incident(session).state == "triggered"


def test_voicemail_does_not_acknowledge(sim, svc, world, policy, clock, telephony, session):
    outage_call(sim)
    run_jobs(svc)
    (sam_call,) = telephony.calls
    root = page_post(sim, page_url(sam_call), CallSid=sam_call.sid, AnsweredBy="machine_end_beep")
    assert root.find("Gather") is None and root.find("Hangup") is not None
    sim.post(
        f"/page/status?page={sam_call.url.split('page=')[1]}",
        {"CallSid": sam_call.sid, "CallStatus": "completed", "AnsweredBy": "machine_end_beep"},
    )
    assert the_incident(session).state == "triggered"
    clock.advance(minutes=5)
    run_jobs(svc)
    assert voice_pages_to(telephony) == ["+16125550177", "+16125550178"]
    delivery = [e.detail for e in the_incident(session).events if e.kind == "page_delivery"]
    assert any("voicemail: not an acknowledgement" in d for d in delivery)


def test_two_calls_for_the_same_district_open_one_incident_and_one_round_of_pages(
    sim, svc, world, policy, telephony, session
):
    first = outage_call(sim)
    second = outage_call(sim)
    assert first.said("opened outage case") and second.said("already being handled")
    run_jobs(svc)
    assert len(session.scalars(select(Incident)).all()) == 1
    assert voice_pages_to(telephony) == ["+16125550177"]
    assert "caller_joined" in [e.kind for e in the_incident(session).events]


def test_a_job_run_twice_pages_once(sim, svc, world, policy, telephony, session):
    from ivr.jobs import set_context
    from ivr.paging import run_step

    outage_call(sim)
    incident = the_incident(session)
    set_context(svc.job_context())
    try:
        assert run_step(incident.id, 0, 0) == "paged 1"
        assert run_step(incident.id, 0, 0) == "duplicate"
    finally:
        set_context(None)
    assert len(telephony.calls) == 1 and len(telephony.messages) == 1


def test_the_live_caller_accepted_by_the_engineer_acknowledges(sim, svc, world, policy, telephony, session):
    t = outage_call(sim, dial=("accept",))
    assert t.connected_to == "+16125550177"
    incident = the_incident(session)
    assert incident.state == "acknowledged" and incident.acknowledged_by.name == "Sam Ortiz"
    run_jobs(svc)
    assert telephony.calls == []  # the page job finds it acknowledged


def test_a_storm_of_pages_is_rate_limited(sim, svc, world, session, clock, telephony):
    # Three districts' incidents within a minute: Sam's phone rings once; the rest are held.
    from auth.pins import hash_pin
    from casestore.models import Contact, ContactPhone, District
    from tests.conftest import PIN_PEPPER

    for i in range(2):
        d = District(name=f"Hosted {i}", state="MN", hosted=True)
        c = Contact(
            contact_id=f"90000{i}", district=d, name=f"Caller {i}", pin_hash=hash_pin(PIN_PEPPER, f"90000{i}", "1111")
        )
        c.phones = [ContactPhone(e164=f"+1612555020{i}", position=0)]
        session.add_all([d, c])
    session.commit()
    outage_call(sim)
    for i in range(2):
        sim.call(f"+1612555020{i}", keys=["1111#", "8"], dial=["no-answer", "no-answer"])
    run_jobs(svc)
    assert voice_pages_to(telephony) == ["+16125550177"]
    held = session.scalars(select(Page).where(Page.status == "rate_limited", Page.channel == "voice")).all()
    assert len(held) == 2


def test_pages_through_the_real_twilio_client(fake_twilio, sim, svc, world, policy, session):
    from ivr.jobs import set_context
    from ivr.paging import run_step
    from ivr.telephony import TwilioTelephony

    outage_call(sim)
    incident = the_incident(session)
    ctx = svc.job_context()
    ctx.telephony = TwilioTelephony(fake_twilio.account_sid, fake_twilio.auth_token, base_url=fake_twilio.base_url)
    set_context(ctx)
    try:
        run_step(incident.id, 0, 0)
    finally:
        set_context(None)
    (call,) = fake_twilio.calls
    assert call["To"] == "+16125550177" and call["MachineDetection"] == "Enable"
    assert "/page/voice?page=" in call["Url"] and "/page/status?page=" in call["StatusCallback"]
    (sms,) = fake_twilio.messages
    assert f"Reply 4 {incident.id}" in sms["Body"]
    page = session.scalars(select(Page).where(Page.channel == "voice")).one()
    assert page.sid and page.sid.startswith("CA") and page.status == "initiated"


def test_unsigned_page_and_sms_webhooks_are_refused(client):
    for path in ("/page/voice?page=1", "/page/key?page=1", "/page/status?page=1", "/sms/incoming"):
        assert client.post(path, data={"CallSid": "CA1"}).status_code == 403


def test_admins_link_districts_and_set_the_banner_from_an_incident(client, api_auth, sim, world, policy, session):
    api = client
    auth = api_auth("supervisor")
    outage_call(sim)
    incident = the_incident(session)
    bad = api.post(f"/api/incidents/{incident.id}/districts", json={"district": "Nowhere"}, headers=auth)
    assert bad.status_code == 400 and bad.get_json()["field"] == "district"
    world.onprem.hosted = True
    session.commit()
    ok = api.post(f"/api/incidents/{incident.id}/districts", json={"district": "Prairie Ridge USD"}, headers=auth)
    assert ok.get_json()["linked_districts"] == ["Prairie Ridge USD"]
    banner = api.post(
        f"/api/incidents/{incident.id}/banner",
        json={"message": "We know the hosted sites are down.", "expires_minutes": 60},
        headers=auth,
    )
    assert banner.get_json()["districts"] == ["Lakeview Public Schools", "Prairie Ridge USD"]
    # A caller of the linked district hears the banner and joins the same incident.
    t = sim.call(World.OMAR_PHONE, keys=["1357#", "8"], dial=["no-answer", "no-answer"])
    assert t.said("We know the hosted sites are down") and t.said("already being handled")
    assert len(session.scalars(select(Incident)).all()) == 1
    detail = api.get(f"/api/incidents/{incident.id}", headers=auth).get_json()
    kinds = [e["kind"] for e in detail["timeline"]]
    assert {"triggered", "district_linked", "banner_set", "caller_joined"} <= set(kinds)
    assert api.get("/api/incidents", headers=auth).get_json()[0]["id"] == incident.id
