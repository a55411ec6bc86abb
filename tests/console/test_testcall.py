"""The test-call page: a dry run of the call simulator against the live configuration, from the browser."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select

from casestore.models import AuditEntry, CallbackTask, CallLog, Case, CaseEvent, Contact, Incident, Page
from routing.presence import Presence
from tests.adminkit import Browser, accounts, browser  # noqa: F401  (fixtures)
from tests.factories import World

DANA = {"from": World.DANA_PHONE, "keys": "240117#", "dial": "accept", "at": ""}  # the PIN is simulated


def _counts(session) -> dict:
    session.expire_all()
    return {
        model.__name__: session.scalar(select(func.count()).select_from(model))
        for model in (CallLog, CaseEvent, CallbackTask, AuditEntry, Case, Incident, Page)
    }


def _one_more_audit_entry(before: dict) -> dict:
    """What `_counts` reads after one test call: the call left nothing but its audit entry."""
    return dict(before, AuditEntry=before["AuditEntry"] + 1)


def _redis_state(client) -> dict:
    """Everything in Redis but the test-call rate limit's counters."""
    state = {}
    for key in sorted(k for k in client.keys("*") if not k.startswith("sl:limit:")):
        kind = client.type(key)
        state[key] = (
            kind,
            client.hgetall(key)
            if kind == "hash"
            else client.get(key)
            if kind == "string"
            else client.zrange(key, 0, -1, withscores=True)
            if kind == "zset"
            else sorted(client.smembers(key))
            if kind == "set"
            else client.lrange(key, 0, -1),
        )
    return state


def _csrf_meta(browser) -> str:
    page = browser.get("/admin/test-call").get_data(as_text=True)
    return re.search(r'<meta name="csrf-token" content="([^"]+)"', page).group(1)


def test_a_viewer_may_not_place_test_calls(browser):
    browser.login("viewer")
    assert browser.get("/admin/test-call").status_code == 403
    assert browser.post("/admin/test-call", DANA).status_code == 403


@pytest.mark.parametrize("role", ["admin", "supervisor"])
def test_the_page_has_a_keypad_and_the_ring_outcomes(browser, role, clock):
    browser.login(role)
    page = browser.get("/admin/test-call").get_data(as_text=True)
    for key in "0123456789*#":
        assert f'data-key="{key}"' in page
    assert 'data-action="next"' in page and "testcall.js" in page
    for outcome in ("accept", "decline", "no-answer", "busy", "failed"):
        assert f'<option value="{outcome}"' in page
    assert 'name="at" value="2026-11-17T09:00"' in page  # now, in the desk's zone
    assert 'href="/admin/test-call"' in page  # the nav offers it to this role


def test_dana_reaches_her_case_owner_and_nothing_is_kept(browser, world, session, redis_client, clock):
    browser.login("supervisor")
    browser.get("/admin/test-call")
    case_before = session.get(Case, world.open_case.id)
    status_before, updated_before = case_before.status, case_before.updated_at
    before, redis_before = _counts(session), _redis_state(redis_client)

    res = browser.post("/admin/test-call", DANA)
    assert res.status_code == 200, res.get_data(as_text=True)
    page = res.get_data(as_text=True)
    result = page[page.index('id="result"') :]
    assert "Thank you, Dana" in result
    assert "Connecting you to your case owner" in result
    assert "ringing Priya Raman (+16125550101): accept" in result  # the owner, named
    assert "Put through to: <strong>Priya Raman (+16125550101)</strong>" in result
    assert "call from ***0134 at Tuesday 2026-11-17 09:00 CST" in result and World.DANA_PHONE not in result
    assert "Nothing was kept" in result

    assert _counts(session) == _one_more_audit_entry(before)
    assert _redis_state(redis_client) == redis_before
    case_after = session.get(Case, world.open_case.id)
    assert (case_after.status, case_after.updated_at) == (status_before, updated_before)
    view = Presence(redis_client, "America/Chicago").get(world.priya.id, clock())
    assert view.state == "available" and view.calls_today == 0


def test_fetch_with_the_csrf_header_answers_json(browser, world, session):
    browser.login("admin")
    token = _csrf_meta(browser)
    before = _counts(session)
    res = browser.client.post(
        "/admin/test-call",
        base_url="https://localhost",
        data={"from": "(612) 555-0134", "keys": "240117#", "dial": ["no-answer", "accept"], "at": ""},
        headers={"X-CSRFToken": token, "Accept": "application/json", "Referer": "https://localhost/admin/test-call"},
    )
    assert res.status_code == 200, res.get_data(as_text=True)
    data = res.get_json()
    assert data["dry_run"] is True and data["from"] == "***0134"
    assert data["dialled"] == ["+16125550101", "+16125550102"]  # the owner misses; Marcus takes it
    assert data["connected_to"] == "+16125550102"
    kinds = [s["kind"] for s in data["steps"]]
    assert kinds[0] == "say" and "press" in kinds and "ring" in kinds and "connect" in kinds and kinds[-1] == "end"
    assert {"kind": "say", "text": "Connecting you to your case owner."} in data["steps"]
    assert World.DANA_PHONE not in res.get_data(as_text=True)
    assert _counts(session) == _one_more_audit_entry(before)


def test_a_post_without_the_csrf_token_is_refused(browser, world, session):
    browser.login("admin")
    before = _counts(session)
    assert browser.post("/admin/test-call", DANA, csrf=False).status_code == 400
    assert _counts(session) == before


def test_the_call_runs_at_the_chosen_local_time(browser, world):
    browser.login("supervisor")
    res = browser.post("/admin/test-call", {"from": World.OMAR_PHONE, "keys": "", "at": "2026-11-26T10:00"})
    assert res.status_code == 200
    page = res.get_data(as_text=True)
    assert "Thursday 2026-11-26 10:00 CST" in page
    assert "closed today for Thanksgiving" in page and "Not put through to anyone" in page


def test_bad_input_is_explained(browser, world, session):
    browser.login("admin")
    before = _counts(session)
    res = browser.post("/admin/test-call", {"from": "", "keys": "12a#", "dial": "maybe", "at": "someday"})
    assert res.status_code == 400
    page = res.get_data(as_text=True)
    assert "from: the caller&#39;s number is required" in page
    assert "keys: &#39;12a#&#39; is not a key group" in page
    assert "dial: &#39;maybe&#39; is not one of" in page
    assert "at: cannot read" in page
    res = browser.client.post(
        "/admin/test-call",
        base_url="https://localhost",
        data={"from": World.DANA_PHONE, "keys": "x", "csrf_token": _csrf_meta(browser)},
        headers={"Accept": "application/json", "Referer": "https://localhost/admin/test-call"},
    )
    assert res.status_code == 400 and res.get_json()["problems"][0].startswith("keys:")
    assert _counts(session) == before


def test_the_callers_number_is_validated(browser, world, session):
    browser.login("admin")
    page = browser.post("/admin/test-call", {"from": "555-01", "keys": ""}).get_data(as_text=True)
    assert "from: &#39;555-01&#39; is not a valid phone number" in page
    for number in ("anonymous", "Restricted", "(612) 555-0134", "+1 612 555 0134"):
        res = browser.post("/admin/test-call", {"from": number, "keys": ""})
        assert "is not a valid phone number" not in res.get_data(as_text=True), number


def test_while_closed_the_default_time_is_the_next_opening(browser, world, clock):
    clock.set(datetime(2026, 11, 21, 16, tzinfo=UTC))  # Saturday 10:00 Central: closed
    browser.login("admin")
    page = browser.get("/admin/test-call").get_data(as_text=True)
    assert 'name="at" value="2026-11-23T06:00"' in page  # Monday's opening


def test_the_people_rung_are_named(browser, world):
    browser.login("admin")
    res = browser.post("/admin/test-call", {"from": World.DANA_PHONE, "keys": "240117#", "dial": "no-answer"})
    page = res.get_data(as_text=True)
    assert "ringing Priya Raman (+16125550101): no-answer" in page
    # The next advisor answers (rings after those chosen are accepted): a name, then the number.
    assert re.search(r"Put through to: <strong>[A-Z][a-z]+ [A-Z][a-z]+ \(\+1[0-9]{10}\)</strong>", page)


def test_a_caller_who_holds_and_leaves_a_message_leaves_nothing(browser, world, session, redis_client):
    """Everyone busy: the caller waits, then asks to leave a message (a task and a case event in
    a committed call; none here)."""
    browser.login("admin")
    browser.get("/admin/test-call")
    before, redis_before = _counts(session), _redis_state(redis_client)
    res = browser.post(
        "/admin/test-call", {"from": World.DANA_PHONE, "keys": "240117#,hold:1,1", "dial": ["busy"] * 12}
    )
    assert res.status_code == 200, res.get_data(as_text=True)
    assert _counts(session) == _one_more_audit_entry(before)
    assert _redis_state(redis_client) == redis_before


def test_an_outage_report_pages_nobody_and_leaves_nothing(browser, world, session, redis_client, telephony):
    browser.login("admin")
    browser.get("/admin/test-call")
    before, redis_before = _counts(session), _redis_state(redis_client)
    res = browser.post("/admin/test-call", {"from": World.DANA_PHONE, "keys": "8", "dial": "accept"})
    page = res.get_data(as_text=True)
    assert res.status_code == 200 and "We have opened outage case" in page and "on call engineer" in page
    assert _counts(session) == _one_more_audit_entry(before)  # no outage case, incident or page survives
    assert _redis_state(redis_client) == redis_before  # no paging job queued
    assert (telephony.calls, telephony.updates, telephony.messages) == ([], [], [])  # the live carrier: untouched


# --------------------------------------------------------------------------------------------
# Not a PIN oracle: the page simulates the PIN; every call is audited; the page is rate-limited
# --------------------------------------------------------------------------------------------


def _json_call(browser, data: dict):
    return browser.client.post(
        "/admin/test-call",
        base_url="https://localhost",
        data={**data, "csrf_token": _csrf_meta(browser)},
        headers={"Accept": "application/json", "Referer": "https://localhost/admin/test-call"},
    )


def _test_call_entries(session) -> list[AuditEntry]:
    session.expire_all()
    return list(session.scalars(select(AuditEntry).where(AuditEntry.action == "test_call").order_by(AuditEntry.id)))


@pytest.mark.parametrize(
    "caller, before_guess",
    [
        (World.DANA_PHONE, ""),  # caller ID finds Dana: the line asks her PIN at once
        ("+16125550999", "104233#,"),  # an unknown number: her contact ID, then the PIN
    ],
)
def test_guesses_at_the_real_pin_cannot_be_told_apart(browser, world, session, caller, before_guess):
    """The attack: a supervisor tries PINs (4821 is Dana's). Before: the right guess reached the
    menu ("Thank you, Dana") and the wrong ones heard "That did not match". Now the PIN prompt is
    answered by the simulator with a one-time PIN, so every guess hears the same call."""
    browser.login("supervisor")
    real_hash = session.get(Contact, world.dana.id).pin_hash
    heard = {}
    for guess in ("4820#", "4821#", "4822#", "1357#"):
        res = _json_call(browser, {"from": caller, "keys": f"{before_guess}{guess}", "at": ""})
        assert res.status_code == 200, res.get_data(as_text=True)
        data = res.get_json()
        heard[guess] = data["heard"]
        presses = [s["text"] for s in data["steps"] if s["kind"] == "press"]
        assert "(a simulated PIN)" in presses
    assert len({tuple(h) for h in heard.values()}) == 1, heard  # the right PIN is not told apart
    assert "Thank you, Dana." in heard["4821#"] and "That did not match our records." not in heard["4820#"]
    session.expire_all()
    assert session.get(Contact, world.dana.id).pin_hash == real_hash  # the one-time PIN was rolled back


def test_a_wrong_pin_can_still_be_simulated(browser, world):
    browser.login("supervisor")
    res = _json_call(browser, {"from": World.DANA_PHONE, "keys": "", "pin": "wrong", "at": ""})
    assert res.status_code == 200, res.get_data(as_text=True)
    data = res.get_json()
    assert "That did not match our records." in data["heard"] and "Thank you, Dana." not in data["heard"]
    assert "(a simulated wrong PIN)" in [s["text"] for s in data["steps"] if s["kind"] == "press"]
    assert data["ended_by"] == "hung up by the line"  # three wrong PINs: locked out (in the dry run only)


def test_every_test_call_is_audited_without_numbers_or_pin_like_keys(browser, world, session):
    browser.login("supervisor")
    res = browser.post(
        "/admin/test-call",
        {"from": "(612) 555-0134", "keys": "240117#,4821#,1,hold:1", "dial": "no-answer", "at": "2026-11-17T09:30"},
    )
    assert res.status_code == 200
    [entry] = _test_call_entries(session)
    assert (entry.actor, entry.entity, entry.entity_key) == ("admin:supervisor", "call", "***0134")
    assert entry.at == browser.client.application.extensions["supportline"].now()
    assert entry.after["from"] == "***0134" and entry.after["at"] == "2026-11-17T09:30"
    assert entry.after["keys"] == ["<6 digits>#", "<4 digits>#", "1", "hold:1"]
    assert entry.after["pin"] == "simulated" and entry.after["dial"] == ["no-answer"]
    assert entry.after["outcome"] and entry.after["connected_to"] == "***0102"
    text = repr((entry.before, entry.after, entry.entity_key))
    assert "4821" not in text and "240117" not in text and "555" not in text
    log = browser.get("/admin/audit").get_data(as_text=True)  # the audit log page lists it
    assert "test_call" in log and "admin:supervisor" in log and "***0134" in log and "4821" not in log


def test_the_page_is_rate_limited_per_user(browser, world, session, clock):
    browser.login("supervisor")
    quick = {"from": "anonymous", "keys": "", "at": ""}  # hangs up at the first prompt
    for _ in range(20):
        assert _json_call(browser, quick).status_code == 200
    res = _json_call(browser, quick)
    assert res.status_code == 429
    assert res.get_json()["problems"] == ["too many test calls: at most 20 in 10 minutes; try again later"]
    page = browser.post("/admin/test-call", quick)
    assert page.status_code == 429 and "too many test calls" in page.get_data(as_text=True)
    assert len(_test_call_entries(session)) == 20  # refused calls are not placed
    other = Browser(browser.client.application.test_client())
    other.login("admin")
    assert _json_call(other, quick).status_code == 200  # another user has their own allowance
    clock.advance(minutes=10, seconds=1)
    assert _json_call(browser, quick).status_code == 200  # the window has moved on


def test_with_redis_down_the_page_refuses_test_calls(
    browser, settings_overrides, engine, session_factory, dead_redis, clock, telephony, session
):
    """Fail closed: without the rate limit's counter no test call is placed (503). (Signed in
    while Redis was up: the same session cookie on a worker whose Redis is unreachable.)"""
    from webhooks import create_app

    browser.login("supervisor")
    app = create_app(
        settings_overrides,
        engine=engine,
        sessions=session_factory,
        redis_client=dead_redis,
        clock=clock,
        telephony=telephony,
    )
    down = Browser(app.test_client())
    cookie = browser.client.get_cookie("session", domain="localhost")
    down.client.set_cookie("session", cookie.value, domain="localhost")
    res = _json_call(down, {"from": World.DANA_PHONE, "keys": "", "at": ""})
    assert res.status_code == 503
    assert "Redis" in res.get_json()["problems"][0]
    assert _test_call_entries(session) == []
