"""The test-call page: a dry run of the call simulator against the live configuration, from the browser."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import func, select

from casestore.models import AuditEntry, CallbackTask, CallLog, Case, CaseEvent, Incident, Page
from routing.presence import Presence
from tests.adminkit import accounts, browser  # noqa: F401  (fixtures)
from tests.factories import World

DANA = {"from": World.DANA_PHONE, "keys": "4821#,240117#", "dial": "accept", "at": ""}


def _counts(session) -> dict:
    session.expire_all()
    return {model.__name__: session.scalar(select(func.count()).select_from(model))
            for model in (CallLog, CaseEvent, CallbackTask, AuditEntry, Case, Incident, Page)}


def _redis_state(client) -> dict:
    state = {}
    for key in sorted(client.keys("*")):
        kind = client.type(key)
        state[key] = (kind, client.hgetall(key) if kind == "hash" else client.get(key) if kind == "string"
                      else client.zrange(key, 0, -1, withscores=True) if kind == "zset"
                      else sorted(client.smembers(key)) if kind == "set" else client.lrange(key, 0, -1))
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
    result = page[page.index('id="result"'):]
    assert "Thank you, Dana" in result
    assert "Connecting you to your case owner" in result
    assert "ringing +16125550101: accept" in result  # the owner, Priya
    assert "Put through to: <strong>+16125550101</strong>" in result
    assert "call from ***0134 at Tuesday 2026-11-17 09:00 CST" in result and World.DANA_PHONE not in result
    assert "Nothing was kept" in result

    assert _counts(session) == before
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
        "/admin/test-call", base_url="https://localhost",
        data={"from": "(612) 555-0134", "keys": "4821#,240117#", "dial": ["no-answer", "accept"], "at": ""},
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
    assert _counts(session) == before


def test_a_post_without_the_csrf_token_is_refused(browser, world, session):
    browser.login("admin")
    before = _counts(session)
    assert browser.post("/admin/test-call", DANA, csrf=False).status_code == 400
    assert _counts(session) == before


def test_the_call_runs_at_the_chosen_local_time(browser, world):
    browser.login("supervisor")
    res = browser.post("/admin/test-call", {"from": World.OMAR_PHONE, "keys": "1357#", "at": "2026-11-26T10:00"})
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
    res = browser.client.post("/admin/test-call", base_url="https://localhost",
                              data={"from": World.DANA_PHONE, "keys": "x", "csrf_token": _csrf_meta(browser)},
                              headers={"Accept": "application/json", "Referer": "https://localhost/admin/test-call"})
    assert res.status_code == 400 and res.get_json()["problems"][0].startswith("keys:")
    assert _counts(session) == before


def test_a_caller_who_holds_and_leaves_a_message_leaves_nothing(browser, world, session, redis_client):
    """Everyone busy: the caller waits, then asks to leave a message (a task and a case event in
    a committed call; none here)."""
    browser.login("admin")
    browser.get("/admin/test-call")
    before, redis_before = _counts(session), _redis_state(redis_client)
    res = browser.post("/admin/test-call", {"from": World.DANA_PHONE, "keys": "4821#,240117#,hold:1,1",
                                            "dial": ["busy"] * 12})
    assert res.status_code == 200, res.get_data(as_text=True)
    assert _counts(session) == before
    assert _redis_state(redis_client) == redis_before


def test_an_outage_report_pages_nobody_and_leaves_nothing(browser, world, session, redis_client, telephony):
    browser.login("admin")
    browser.get("/admin/test-call")
    before, redis_before = _counts(session), _redis_state(redis_client)
    res = browser.post("/admin/test-call", {"from": World.DANA_PHONE, "keys": "4821#,8", "dial": "accept"})
    page = res.get_data(as_text=True)
    assert res.status_code == 200 and "We have opened outage case" in page and "on call engineer" in page
    assert _counts(session) == before  # no outage case, incident or page survives
    assert _redis_state(redis_client) == redis_before  # no paging job queued
    assert (telephony.calls, telephony.updates, telephony.messages) == ([], [], [])  # the live carrier: untouched
