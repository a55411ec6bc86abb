"""The console's call log (console/calls.py): one call's detail (its rings, case events, tasks and
recordings), the filtered list as CSV, and the list's one empty state."""

from __future__ import annotations

import csv
import io
import re
from datetime import UTC, datetime, timedelta

import pytest

from casestore.models import CallbackTask, CallLog, CaseEvent
from console.calls import CSV_COLUMNS
from tests.adminkit import accounts, browser  # noqa: F401  (fixtures)
from tests.factories import World


def _row(session, sid: str, started: datetime, **kw) -> CallLog:
    row = CallLog(
        call_sid=sid,
        from_masked="***0134",
        started_at=started,
        ended_at=started + timedelta(minutes=3),
        outcome=kw.pop("outcome", "connected"),
        status="completed",
        path=kw.pop("path", ["greeting", "pin", "verified"]),
        wait_seconds=0,
        talk_seconds=kw.pop("talk", 90),
        duration_seconds=180,
        **kw,
    )
    session.add(row)
    return row


@pytest.fixture
def rung_call(sim, world, session):
    """A real call through the IVR: the case owner (Priya) does not answer, the next advisor accepts."""
    sim.call(World.DANA_PHONE, keys=["4821#", "240117#"], dial=["no-answer", "accept"], call_sid="CArung")
    session.expire_all()
    return "CArung"


# --------------------------------------------------------------------------- the rings are kept


def test_each_ring_of_a_call_is_kept_on_its_call_log_row(rung_call, session, world):
    log = session.query(CallLog).filter_by(call_sid=rung_call).one()
    assert [r["status"] for r in log.rings] == ["no-answer", "completed"]
    assert [r["accepted"] for r in log.rings] == [False, True]
    owner, taker = log.rings
    assert (
        owner["who"] == "Priya Raman" and owner["route"] == "owner" and owner["target"] == f"advisor:{world.priya.id}"
    )
    assert taker["route"] == "advisor" and taker["who"] != "Priya Raman" and taker["seconds"] > 0
    assert datetime.fromisoformat(owner["at"]) <= datetime.fromisoformat(taker["at"])


# --------------------------------------------------------------------------- the detail page


def test_the_detail_of_a_call_shows_its_facts_rings_and_case_events(browser, rung_call, session):
    browser.login("viewer")
    listing = browser.get("/admin/calls").get_data(as_text=True)
    assert f'href="/admin/calls/{rung_call}"' in listing
    res = browser.get(f"/admin/calls/{rung_call}")
    assert res.status_code == 200
    page = res.get_data(as_text=True)
    assert rung_call in page and "Dana Whitfield (contact ID 104233)" in page
    assert "Lakeview Public Schools" in page and 'href="/admin/cases/240117"' in page
    assert "***0134" in page and "6125550134" not in page  # the caller's number, masked only
    rings = page[page.index('id="rings"') :]
    rings = rings[: rings.index("</table>")]
    assert rings.count("<tr>") == 3  # the header and two rings
    assert "Priya Raman" in rings and "no-answer" in rings and "completed" in rings
    assert "ring to Priya Raman ended: no-answer, not accepted" in page  # on the timeline, with its time
    assert re.search(r"talk with [A-Z][a-z]+ [A-Z][a-z]+ ended \(completed\)", page)
    events = session.query(CaseEvent).filter_by(call_sid=rung_call).all()
    assert events and all(f"{e.kind}</td>" in page for e in events)
    assert "dial owner" in page and "missed owner" in page  # the path


def test_the_detail_shows_the_task_and_the_recording_the_call_left(browser, world, session):
    started = datetime(2026, 11, 17, 15, 0, tzinfo=UTC)
    _row(session, "CAmsg", started, outcome="message_recorded", recording_url="https://api.twilio.com/RE1")
    session.add(
        CallbackTask(
            kind="callback",
            status="open",
            case_id=world.open_case.id,
            call_sid="CAmsg",
            callback_e164="+16125550134",
            recording_url="https://api.twilio.com/RE2",
            priority_rank=2,
            queued_at=started,
            not_before=started + timedelta(hours=15),
            created_at=started + timedelta(minutes=1),
        )
    )
    session.add(
        CaseEvent(case_id=world.open_case.id, at=started, kind="call", call_sid="CAmsg", detail="from +16125550134")
    )
    session.commit()
    browser.login("viewer")
    page = browser.get("/admin/calls/CAmsg").get_data(as_text=True)
    assert 'href="https://api.twilio.com/RE1" rel="noopener noreferrer"' in page
    assert 'href="https://api.twilio.com/RE2"' in page
    tasks = page[page.index('id="tasks"') :]
    assert "callback" in tasks and "open" in tasks and "2026-11-18 00:00" in tasks  # not before, local time
    assert "6125550134" not in page and "***0134" in page
    assert "Nobody was rung" in page  # no rings kept for this call


def test_an_unknown_call_is_a_404(browser):
    browser.login("viewer")
    res = browser.get("/admin/calls/CA<nothing>")
    assert res.status_code == 404
    page = res.get_data(as_text=True)
    assert "No such call" in page and "CA&lt;nothing&gt;" in page and 'href="/admin/calls"' in page


def test_the_detail_and_the_csv_need_a_sign_in(browser, world):
    for path in ("/admin/calls/CAx", "/admin/calls.csv"):
        res = browser.get(path)
        assert res.status_code == 302 and "/admin/login" in res.headers["Location"]


# --------------------------------------------------------------------------- CSV


def _csv(res) -> list[dict]:
    return list(csv.DictReader(io.StringIO(res.get_data(as_text=True))))


@pytest.mark.parametrize("role", ["admin", "supervisor", "viewer"])
def test_every_role_downloads_the_csv_with_its_header_even_when_empty(browser, role):
    browser.login(role)
    res = browser.get("/admin/calls.csv")
    assert res.status_code == 200 and res.mimetype == "text/csv"
    assert re.fullmatch(r'attachment; filename="calls-\d{4}-\d{2}-\d{2}\.csv"', res.headers["Content-Disposition"])
    assert res.get_data(as_text=True).splitlines() == [",".join(CSV_COLUMNS)]


def test_the_csv_carries_the_lists_filters_and_masked_numbers(browser, world, session, rung_call):
    _row(
        session, "CAother", datetime(2026, 11, 10, 15, 0, tzinfo=UTC), outcome="abandoned", district_id=world.onprem.id
    )
    _row(session, "CAformula", datetime(2026, 11, 11, 15, 0, tzinfo=UTC), outcome="closed", path=["=HYPERLINK(1)"])
    session.commit()
    browser.login("viewer")
    every = _csv(browser.get("/admin/calls.csv"))
    assert [r["call_sid"] for r in every] == [rung_call, "CAformula", "CAother"]  # newest first
    mine = every[0]
    assert mine["from"] == "***0134" and mine["case"] == "240117" and mine["outcome"] == "connected"
    assert mine["rings"].startswith("Priya Raman: no-answer; ") and mine["rings"].endswith("completed (accepted)")
    assert every[1]["path"] == "'=HYPERLINK(1)"  # a spreadsheet does not run it
    body = browser.get("/admin/calls.csv").get_data(as_text=True)
    assert "6125550134" not in body.replace("***0134", "")
    assert [r["call_sid"] for r in _csv(browser.get("/admin/calls.csv?outcome=abandoned"))] == ["CAother"]
    assert [r["call_sid"] for r in _csv(browser.get(f"/admin/calls.csv?district={world.onprem.id}"))] == ["CAother"]
    assert [r["call_sid"] for r in _csv(browser.get("/admin/calls.csv?case=240117"))] == [rung_call]
    assert _csv(browser.get("/admin/calls.csv?from=2026-11-10&to=2026-11-10"))[0]["call_sid"] == "CAother"
    assert browser.get("/admin/calls.csv?from=yesterday").status_code == 400


def test_the_lists_csv_link_carries_the_current_filters(browser, world):
    browser.login("viewer")
    page = browser.get(f"/admin/calls?outcome=abandoned&district={world.onprem.id}&page=2").get_data(as_text=True)
    assert f'href="/admin/calls.csv?outcome=abandoned&amp;district={world.onprem.id}"' in page
    assert 'href="/admin/calls.csv"' in browser.get("/admin/calls").get_data(as_text=True)


# --------------------------------------------------------------------------- one empty state


def _empty_messages(page: str) -> list[str]:
    return re.findall(r"No calls[^<]*|Nothing found\.|No calls match\.", page)


def test_the_list_says_once_that_there_are_no_calls(browser, world, session):
    browser.login("viewer")
    page = browser.get("/admin/calls").get_data(as_text=True)
    assert _empty_messages(page) == ["No calls yet. Each call to the line leaves a row here."]
    assert 'id="calls"' not in page  # no empty table, no pager
    _row(session, "CAone", datetime(2026, 11, 10, 15, 0, tzinfo=UTC))
    session.commit()
    page = browser.get("/admin/calls?outcome=abandoned").get_data(as_text=True)
    assert _empty_messages(page) == ["No calls match these filters. "]
    assert 'href="/admin/calls">Clear the filters</a>' in page
    page = browser.get("/admin/calls").get_data(as_text=True)
    assert _empty_messages(page) == [] and "CAone" in page
