"""Presence in the call flow, the waiting line and its dispatcher, callback tasks, queue figures,
and the JSON API: signed webhooks end to end, on the fake clock."""

from __future__ import annotations

import uuid
import xml.etree.ElementTree as ET
from datetime import timedelta

import pytest
from sqlalchemy import select

from casestore.models import Advisor, AuditEntry, CallbackTask, CallLog
from routing.callqueue import CallQueue, Waiting, position_in
from routing.presence import AUTOPAUSE_REASON, Presence
from tests.conftest import BASE_URL
from tests.factories import World

# --------------------------------------------------------------------------- plain queue logic


def test_line_order_is_priority_then_longest_waiting(redis_client):
    q = CallQueue(redis_client)
    t0 = 1_800_000_000.0
    q.join(Waiting("low-early", rank=3, queued_at=t0))
    q.join(Waiting("med-late", rank=2, queued_at=t0 + 20))
    q.join(Waiting("med-early", rank=2, queued_at=t0 + 5))
    q.join(Waiting("critical", rank=0, queued_at=t0 + 90))
    assert [e.sid for e in q.entries()] == ["critical", "med-early", "med-late", "low-early"]
    # Joining again keeps the original place.
    q.join(Waiting("med-early", rank=2, queued_at=t0 + 500))
    assert [e.sid for e in q.entries()][1] == "med-early"
    assert q.leave("critical") and not q.leave("critical")
    assert q.waiting() == 3


def test_within_a_priority_an_overdue_case_goes_ahead(redis_client):
    q = CallQueue(redis_client)
    t0 = 1_800_000_000.0
    q.join(Waiting("first-in", rank=1, queued_at=t0))
    q.join(Waiting("overdue", rank=1, queued_at=t0 + 30, due_at=t0 - 600))  # response overdue 10 min
    q.join(Waiting("due-later", rank=1, queued_at=t0 + 10, due_at=t0 + 7200))
    q.join(Waiting("critical", rank=0, queued_at=t0 + 60))
    assert [e.sid for e in q.entries()] == ["critical", "overdue", "first-in", "due-later"]


def test_position_counts_only_callers_competing_for_the_same_advisors():
    entries = [
        Waiting("a", 0, 1.0, skill="attendance"),
        Waiting("b", 1, 2.0, skill="grade_book"),
        Waiting("c", 1, 3.0, skill=None),  # general: competes with everyone
        Waiting("d", 2, 4.0, skill="grade_book"),
    ]
    assert position_in(entries, "d") == 3  # b and c are ahead, a is not competing
    assert position_in(entries, "c") == 3
    assert position_in(entries, "zz") is None


# --------------------------------------------------------------------------- a signed step driver


class Leg:
    """One inbound call driven by hand, request by request, the way Twilio would."""

    def __init__(self, sim, telephony, from_number: str, sid: str | None = None) -> None:
        self.sim = sim
        self.advance = sim.advance
        self.sid = sid or "CA" + uuid.uuid4().hex
        self.base = {
            "CallSid": self.sid,
            "AccountSid": "AC" + "0" * 32,
            "From": from_number,
            "To": "+18005550100",
            "Direction": "inbound",
        }
        telephony.inbound(self.sid)

    def post(self, path: str, **extra: str) -> ET.Element:
        if path.startswith(BASE_URL):
            path = path[len(BASE_URL) :]
        return ET.fromstring(self.sim.post(path, dict(self.base, CallStatus="in-progress", **extra)))

    @staticmethod
    def action(root: ET.Element, tag: str = "Gather") -> str:
        node = root.find(tag)
        assert node is not None, ET.tostring(root)
        return node.get("action")

    def text(self, root: ET.Element) -> str:
        return " ".join((n.text or "") for n in root.iter("Say"))

    def verified_menu(self, pin: str) -> ET.Element:
        root = self.post("/voice/incoming")
        return self.post(self.action(root), Digits=pin)

    def new_issue(self, pin: str = "4821", area: str = "0", urgency: str = "3") -> ET.Element:
        """0 at the menu, then the product area and urgency (by default not sure and not urgent: a
        general call at medium priority, `ivr.flow.area`)."""
        root = self.post(self.action(self.verified_menu(pin)), Digits="0")
        root = self.post(self.action(root), Digits=area)
        return self.post(self.action(root), Digits=urgency)

    def enter_case(self, number: str, pin: str = "4821") -> ET.Element:
        menu = self.verified_menu(pin)
        return self.post(self.action(menu), Digits=number)

    def answer(self, dial_root: ET.Element, press: str = "1", talk: int = 120, status: str = "completed") -> ET.Element:
        """The dialled advisor answers, hears the whisper and presses `press`; the Dial ends."""
        dial = dial_root.find("Dial")
        assert dial is not None, ET.tostring(dial_root)
        endpoint = next(iter(dial))
        leg = {
            "CallSid": self.sid + "-leg",
            "ParentCallSid": self.sid,
            "AccountSid": "AC" + "0" * 32,
            "CallStatus": "in-progress",
        }
        whisper = ET.fromstring(self.sim.post(endpoint.get("url"), leg))
        self.sim.post(whisper.find("Gather").get("action"), dict(leg, Digits=press))
        if press == "1":
            self.advance(talk)
        return self.post(dial.get("action"), DialCallStatus=status, DialCallDuration=str(talk if press == "1" else 0))

    def end(self) -> None:
        self.sim.post("/voice/status", dict(self.base, CallStatus="completed", CallDuration="300"))


def _dialled(root: ET.Element) -> str | None:
    dial = root.find("Dial")
    return None if dial is None else (next(iter(dial)).text or "").strip()


@pytest.fixture
def presence(redis_client):
    return Presence(redis_client, "America/Chicago")


def _only(presence, clock, world: World, *available):
    """Exactly these advisors are available; everyone else is offline."""
    for a in (world.priya, world.marcus, world.lena):
        presence.set_state(a.id, "available" if a in available else "offline", clock())


# --------------------------------------------------------------------------- presence in the flow


def test_accepted_call_puts_the_advisor_on_a_call_then_wrap_up_then_available(sim, world, presence, clock):
    t = sim.call(World.DANA_PHONE, keys=["4821#", "240117#"], dial=["accept"])
    assert t.connected_to == "+16125550101"
    view = presence.get(world.priya.id, clock())
    assert view.state == "wrap_up" and view.calls_today == 1
    clock.advance(seconds=59)
    assert presence.get(world.priya.id, clock()).state == "wrap_up"
    clock.advance(seconds=2)
    assert presence.get(world.priya.id, clock()).state == "available"


def test_two_missed_calls_in_a_row_set_the_advisor_away_with_a_reason(sim, world, presence, clock, session):
    _only(presence, clock, world, world.priya, world.marcus)
    sim.call(World.DANA_PHONE, keys=["4821#", "240117#"], dial=["no-answer", "accept"])
    assert presence.get(world.priya.id, clock()).missed_in_a_row == 1
    clock.advance(minutes=5)
    sim.call(World.DANA_PHONE, keys=["4821#", "240117#"], dial=["decline", "accept"])
    view = presence.get(world.priya.id, clock())
    assert view.state == "away" and view.away_reason == AUTOPAUSE_REASON
    session.expire_all()
    row = session.get(Advisor, world.priya.id)
    assert row.signed_in_state == "away" and row.away_reason == AUTOPAUSE_REASON
    assert session.scalars(select(AuditEntry).where(AuditEntry.actor == "ivr:autopause")).first() is not None
    # Away advisors get no calls: the next caller goes straight to Marcus.
    t = sim.call(World.DANA_PHONE, keys=["4821#", "240117#"], dial=["accept"])
    assert t.dialled == ["+16125550102"]


def test_nobody_signed_in_queues_the_caller_without_an_estimate(sim, world, presence, clock):
    _only(presence, clock, world)
    t = sim.call(World.DANA_PHONE, keys=["4821#", "240117#"], dial=[])
    assert t.said("You are number 1 in line") and not t.said("expected wait")
    assert t.dialled == []


def test_owner_busy_caller_waits_for_the_owner_then_takes_anyone_fitting(sim, world, presence, clock, telephony):
    _only(presence, clock, world, world.priya, world.marcus)
    busy = presence.reserve([], skill=None, call_sid="CA-other", now=clock(), owner_pk=world.priya.id)
    assert busy == world.priya.id
    leg = Leg(sim, telephony, World.DANA_PHONE)
    root = leg.enter_case("240117")
    # Marcus (grade book) is free, but the owner is only busy: wait for her first.
    assert _dialled(root) is None and "number 1 in line" in leg.text(root)
    clock.advance(seconds=30)
    root = leg.post(root.find("Redirect").text)
    assert _dialled(root) is None
    clock.advance(seconds=31)  # past the 60 s the owner is waited for
    root = leg.post(root.find("Redirect").text)
    assert _dialled(root) == "+16125550102"


def test_owner_away_skips_the_wait(sim, world, presence, clock):
    _only(presence, clock, world, world.marcus)
    presence.set_state(world.priya.id, "away", clock(), "training")
    t = sim.call(World.DANA_PHONE, keys=["4821#", "240117#"], dial=["accept"])
    assert t.dialled == ["+16125550102"] and not t.said("in line")


# --------------------------------------------------------------------------- the line, end to end


def test_an_advisor_coming_free_is_given_to_the_right_waiting_caller(sim, world, presence, clock, telephony, session):
    _only(presence, clock, world, world.marcus)
    # Marcus takes a first call and talks.
    first = Leg(sim, telephony, World.DANA_PHONE)
    root = first.enter_case("240117")
    # The owner (Priya) is offline: straight to Marcus.
    assert _dialled(root) == "+16125550102"
    # Three more callers queue: general (medium), case 240117 (high), general (medium).
    a = Leg(sim, telephony, World.DANA_PHONE)
    ra = a.new_issue()
    clock.advance(seconds=5)
    b = Leg(sim, telephony, World.DANA_PHONE)
    rb = b.enter_case("240117")
    clock.advance(seconds=5)
    c = Leg(sim, telephony, World.DANA_PHONE)
    rc = c.new_issue()
    for waiting in (ra, rb, rc):
        assert _dialled(waiting) is None and waiting.find("Redirect") is not None
    assert "number 1 in line" in b.text(rb)  # high priority goes ahead of the general calls
    assert "number 2 in line" in c.text(rc) or "number 3 in line" in c.text(rc)
    # Marcus's call ends: with wrap-up the line waits; after it, the dispatcher gives him to B.
    first.answer(root, talk=200)
    first.end()
    assert telephony.updates == []
    clock.advance(seconds=61)
    assert _pass_dispatcher(sim) == 1
    (update,) = telephony.updates
    assert update.call_sid == b.sid and "/voice/connect?adv=" in update.url
    connected = b.post(update.url)
    assert _dialled(connected) == "+16125550102"
    done = b.answer(connected, talk=90)
    assert "Goodbye" in b.text(done)
    b.end()
    session.expire_all()
    row = session.scalars(select(CallLog).where(CallLog.call_sid == b.sid)).one()
    assert row.outcome == "connected" and row.advisor_id == world.marcus.id
    assert row.wait_seconds >= 60
    # A and C are still waiting, A first.
    assert [e.sid for e in CallQueue(sim.client.application.extensions["supportline"].redis).entries()] == [
        a.sid,
        c.sid,
    ]


def _pass_dispatcher(sim) -> int:
    svc = sim.client.application.extensions["supportline"]
    with svc.sessions() as session:
        advisors = svc.tables.get(session).advisors
    return len(svc.dispatcher.run(advisors, svc.now()).bridged)


def test_a_failed_redirect_frees_the_advisor_and_keeps_the_place(sim, world, presence, clock, telephony):
    from ivr.telephony import CallNotInProgress

    _only(presence, clock, world)
    a = Leg(sim, telephony, World.DANA_PHONE)
    a.new_issue()
    clock.advance(seconds=3)
    b = Leg(sim, telephony, World.DANA_PHONE)
    b.new_issue()
    telephony.fail_next(CallNotInProgress("gone", code=21220, status=400))
    presence.set_state(world.lena.id, "available", clock())
    assert _pass_dispatcher(sim) == 1  # A's call had ended: A leaves, B gets Lena
    assert presence.get(world.lena.id, clock()).call_sid == b.sid
    assert [u.call_sid for u in telephony.updates] == [b.sid]


def test_waiting_callers_own_hold_round_takes_an_overdue_offer(sim, world, presence, clock, telephony):
    _only(presence, clock, world)
    a = Leg(sim, telephony, World.DANA_PHONE)
    root = a.new_issue()
    presence.set_state(world.lena.id, "available", clock())
    assert _pass_dispatcher(sim) == 1
    clock.advance(seconds=20)  # the redirect never came
    root = a.post(root.find("Redirect").text)
    assert _dialled(root) == "lena"


# --------------------------------------------------------------------------- leaving the line


def test_press_1_then_record_a_message_leaves_a_task_in_the_callers_place(sim, world, presence, clock, session):
    _only(presence, clock, world)
    t = sim.call(World.DANA_PHONE, keys=["4821#", "240117#", "hold:1", "1"], dial=[])
    assert t.said("leave a voice message") and t.said("Your message has been saved")
    session.expire_all()
    task = session.scalars(select(CallbackTask)).one()
    assert task.kind == "message" and task.case_id == world.open_case.id and task.recording_url
    assert task.priority_rank == 1  # the case is high priority
    row = session.scalars(select(CallLog)).one()
    assert row.outcome == "message_recorded" and row.queued_at is not None


def test_press_1_then_2_asks_for_a_callback_to_the_calling_number(sim, world, presence, clock, session):
    _only(presence, clock, world)
    t = sim.call(World.DANA_PHONE, keys=["4821#", "0", "0", "3", "hold:1", "2"], dial=[])
    assert t.said("call you back at the number ending in 0 1 3 4")
    session.expire_all()
    task = session.scalars(select(CallbackTask)).one()
    assert task.kind == "callback" and task.callback_e164 == World.DANA_PHONE and task.case_id is None


def test_star_keeps_the_place(sim, world, presence, clock):
    _only(presence, clock, world)
    t = sim.call(World.DANA_PHONE, keys=["4821#", "0", "0", "3", "hold:1", "*"], dial=[])
    assert t.said("You are still in line")


# --------------------------------------------------------------------------- bad input and faults


def test_status_callbacks_in_any_order_never_leave_an_advisor_stuck(sim, world, presence, clock, telephony):
    _only(presence, clock, world, world.marcus)
    leg = Leg(sim, telephony, World.DANA_PHONE)
    root = leg.enter_case("240117")
    assert _dialled(root) == "+16125550102"
    # The caller hangs up while it rings: the status callback arrives before the dial action.
    leg.end()
    assert presence.get(world.marcus.id, clock()).state == "available"
    leg.end()  # a second completed callback changes nothing
    assert presence.get(world.marcus.id, clock()).state == "available"
    # A status callback for a call we never saw is fine too.
    sim.post("/voice/status", {"CallSid": "CA-never-seen", "CallStatus": "completed"})


def test_an_advisor_deleted_while_reserved_is_let_go(sim, world, presence, clock, session, telephony):
    _only(presence, clock, world)
    a = Leg(sim, telephony, World.DANA_PHONE)
    root = a.new_issue()
    presence.set_state(world.lena.id, "available", clock())
    presence.set_state(world.marcus.id, "available", clock())
    assert _pass_dispatcher(sim) == 1
    (update,) = telephony.updates
    taken = int(update.url.split("adv=")[1].split("&")[0])
    session.get(Advisor, taken).active = False
    session.commit()
    root = a.post(update.url)
    other = world.marcus if taken == world.lena.id else world.lena
    assert _dialled(root) == other.reach.removeprefix("client:")
    assert presence.get(taken, clock()).call_sid is None


def test_reconcile_restores_presence_after_redis_loses_it(session, redis_client, presence, world, clock):
    from ivr import staffing

    staffing.set_presence(session, presence, world.marcus.id, "available", clock(), actor="test")
    staffing.set_presence(session, presence, world.lena.id, "away", clock(), actor="test", reason="lunch")
    session.commit()
    presence.reserve([], skill=None, call_sid="CA-dead", now=clock(), owner_pk=world.marcus.id)
    assert presence.get(world.marcus.id, clock()).state == "on_call"
    # The call is long gone (no call state in Redis): reconcile frees Marcus.
    changes = staffing.reconcile(session, presence, redis_client, clock(), 60)
    assert presence.get(world.marcus.id, clock()).state == "available" and world.marcus.id in changes
    redis_client.flushdb()
    staffing.reconcile(session, presence, redis_client, clock(), 60)
    assert presence.get(world.marcus.id, clock()).state == "available"
    assert presence.get(world.lena.id, clock()).away_reason == "lunch"


# --------------------------------------------------------------------------- figures and the API


@pytest.fixture
def api_client(client):
    return client


def test_api_needs_a_token_and_a_role(api_client, api_auth, world):
    assert api_client.get("/api/queue").status_code == 401
    assert api_client.get("/api/queue", headers={"Authorization": "Bearer slt_nope"}).status_code == 401
    viewer = api_auth("viewer")
    assert api_client.get("/api/queue", headers=viewer).status_code == 200
    denied = api_client.post(f"/api/advisors/{world.lena.id}/presence", json={"state": "away"}, headers=viewer)
    assert denied.status_code == 403 and denied.get_json()["error"] == "forbidden"


def test_api_sets_presence_with_field_errors_and_an_audit_entry(api_client, api_auth, world, session):
    auth = api_auth("supervisor")
    bad = api_client.post(f"/api/advisors/{world.lena.id}/presence", json={"state": "on_call"}, headers=auth)
    assert bad.status_code == 400 and bad.get_json()["field"] == "state"
    assert api_client.post("/api/advisors/999999/presence", json={"state": "away"}, headers=auth).status_code == 404
    ok = api_client.post(
        f"/api/advisors/{world.lena.id}/presence", json={"state": "away", "reason": "training"}, headers=auth
    )
    assert ok.status_code == 200 and ok.get_json() == {
        "advisor": world.lena.id,
        "state": "away",
        "away_reason": "training",
    }
    entry = session.scalars(select(AuditEntry).where(AuditEntry.entity == "advisor_presence")).one()
    assert entry.actor == "api:supervisor-user" and entry.after["presence"] == "away"
    listed = {r["name"]: r["state"] for r in api_client.get("/api/advisors/presence", headers=auth).get_json()}
    assert listed["Lena Ortiz"] == "away" and listed["Marcus Bell"] == "available"


def test_queue_figures_from_the_call_log(api_client, api_auth, sim, world, presence, clock):
    auth = api_auth("viewer")
    sim.call(World.DANA_PHONE, keys=["4821#", "240117#"], dial=["accept"])  # answered at once
    _only(presence, clock, world)
    sim.hold_rounds = 1
    sim.call(World.DANA_PHONE, keys=["4821#", "0", "0", "3"], dial=[])  # queued, then hung up: abandoned
    sim.call(World.DANA_PHONE, keys=["4821#", "0", "0", "3", "hold:1", "2"], dial=[])  # callback: excluded
    data = api_client.get("/api/queue", headers=auth).get_json()
    today = data["today"]
    assert today["answered"] == 1 and today["abandoned"] == 1 and today["left_message_or_callback"] == 1
    assert today["service_level"] == 0.5 and today["abandonment_rate"] == 1.0 and today["asa_seconds"] == 0
    assert data["by_skill"]["grade_book"]["answered"] == 1 and data["by_skill"]["general"]["abandoned"] == 1
    assert data["waiting"] == 0 and data["open_callback_tasks"] == 1
    assert data["advisors"]["offline"] == 3


# --------------------------------------------------------------------------- teams


def test_team_order_is_data():
    from routing.selection import TeamView, preferred_teams

    teams = [
        TeamView("State Reporting", "state_reporting", 20),
        TeamView("Campus Support", "campus", 10),
        TeamView("North Star ESA", "partner", 30),
    ]
    assert preferred_teams("North Star ESA", "grade_book", teams) == (
        "North Star ESA",
        "Campus Support",
        "State Reporting",
    )
    assert preferred_teams(None, "state_reporting", teams) == ("State Reporting", "Campus Support", "North Star ESA")
    assert preferred_teams("North Star ESA", "state_reporting", teams)[:2] == ("North Star ESA", "State Reporting")


def test_a_partner_teams_advisors_take_their_districts_calls_first(sim, world, presence, clock, session):
    from casestore.models import AdvisorSkill, Team
    from casestore.types import ProductArea, TeamKind

    partner = Team(name="North Star ESA", kind=TeamKind.PARTNER, route_order=30)
    pat = Advisor(name="Pat Quinn", reach="+16125550109", team=partner)
    pat.skill_rows = [AdvisorSkill(skill=ProductArea.GRADE_BOOK)]
    world.hosted.team = partner
    session.add_all([partner, pat])
    session.commit()
    _only(presence, clock, world, world.marcus)  # Marcus has been idle longest
    clock.advance(minutes=10)
    presence.set_state(pat.id, "available", clock())
    t = sim.call(World.DANA_PHONE, keys=["4821#", "240117#"], dial=["accept"])
    assert t.dialled == ["+16125550109"]
    t = sim.call(World.OMAR_PHONE, keys=["1357#", "250001#"], dial=["accept"])
    assert t.dialled == ["+16125550102"]  # another district: the longest idle, Marcus


def test_a_caller_being_put_through_is_not_offered_a_second_advisor(sim, world, presence, clock, telephony):
    """A dispatcher pass that read the line just before the caller left it must not redirect them
    again (the storm bench found this race)."""
    from routing.callqueue import CallQueue, Waiting

    _only(presence, clock, world)
    a = Leg(sim, telephony, World.DANA_PHONE)
    a.new_issue()
    presence.set_state(world.lena.id, "available", clock())
    assert _pass_dispatcher(sim) == 1
    (update,) = telephony.updates
    connected = a.post(update.url)
    assert _dialled(connected) == "lena"
    # The stale view: A still in line, and another advisor comes free.
    queue = CallQueue(sim.client.application.extensions["supportline"].redis)
    queue.join(Waiting(a.sid, rank=2, queued_at=clock().timestamp() - 60))
    presence.set_state(world.marcus.id, "available", clock())
    assert _pass_dispatcher(sim) == 0 and len(telephony.updates) == 1
    assert presence.get(world.marcus.id, clock()).state == "available"


def test_a_caller_back_in_line_after_a_miss_can_be_offered_again(sim, world, presence, clock, telephony):
    _only(presence, clock, world)
    a = Leg(sim, telephony, World.DANA_PHONE)
    a.new_issue()
    presence.set_state(world.lena.id, "available", clock())
    assert _pass_dispatcher(sim) == 1
    connected = a.post(telephony.updates[0].url)
    back = a.answer(connected, press="2", status="completed")  # Lena declines: back in line
    assert _dialled(back) is None and back.find("Redirect") is not None
    presence.set_state(world.marcus.id, "available", clock())
    assert _pass_dispatcher(sim) == 1
    assert telephony.updates[-1].call_sid == a.sid and f"adv={world.marcus.id}" in telephony.updates[-1].url


def test_the_hold_prompt_counts_what_the_busy_advisors_calls_have_run(sim, world, presence, clock):
    """No history yet (the default 5 min handle time), every advisor 4 minutes into a call: the
    first caller in line hears about a minute, not a third of the handle time twice over."""
    _only(presence, clock, world, world.priya, world.marcus, world.lena)
    started = clock() - timedelta(minutes=4)
    for n, advisor in enumerate((world.priya, world.marcus, world.lena)):
        assert presence.reserve([], skill=None, call_sid=f"CA-busy-{n}", now=started, owner_pk=advisor.id)
    t = sim.call(World.DANA_PHONE, keys=["4821#", "0", "0", "3"], dial=[])
    assert t.said("You are number 1 in line. The expected wait is about 1 minute.")  # was "2 minutes"
    assert t.dialled == []


def test_a_caller_leaving_the_line_for_an_advisor_is_a_departure(sim, world, presence, clock, telephony, redis_client):
    _only(presence, clock, world, world.priya)
    assert presence.reserve([], skill=None, call_sid="CA-other", now=clock(), owner_pk=world.priya.id)
    leg = Leg(sim, telephony, World.DANA_PHONE)
    root = leg.new_issue()
    assert _dialled(root) is None and "number 1 in line" in leg.text(root)
    assert CallQueue(redis_client).departures(None, clock()) == ()
    clock.advance(seconds=30)
    presence.release(world.priya.id, "CA-other", clock(), missed=False)
    root = leg.post(root.find("Redirect").text)
    assert _dialled(root) == "+16125550101"
    assert CallQueue(redis_client).departures(None, clock()) == (clock().timestamp(),)
    assert CallQueue(redis_client).departures("attendance", clock()) == (clock().timestamp(),)  # a general call
