"""Where calls and callback tasks are listed, their product area and priority show (issue #15 item 2):
the console's call log and case page, and the API's task list."""

from __future__ import annotations

import re
from datetime import timedelta

from casestore.models import CallbackTask
from routing.presence import Presence
from tests.adminkit import accounts, browser  # noqa: F401  (fixtures)
from tests.factories import World


def _row_of(page: str, marker: str) -> str:
    rows = [r for r in re.findall(r"<tr>(.*?)</tr>", page, flags=re.S) if marker in r]
    assert len(rows) == 1, rows
    return rows[0]


def test_the_call_log_shows_a_new_issues_area_and_priority(browser, sim, world, session):
    sim.call(World.OMAR_PHONE, keys=["1357#", "0", "3", "2"], dial=["accept"])
    sim.call(World.DANA_PHONE, keys=["4821#", "240117#"], dial=["accept"])  # a case call: the case's priority
    browser.login("viewer")
    page = browser.get("/admin/calls").get_data(as_text=True)
    assert "<th>Skill</th><th>Priority</th>" in page
    new_issue = _row_of(page, "Prairie Ridge USD")
    assert "<td>attendance</td>\n    <td>high</td>" in new_issue
    case_call = _row_of(page, "Lakeview Public Schools")
    assert "<td>grade book</td>\n    <td>high</td>" in case_call


def test_the_case_page_shows_each_tasks_priority(browser, world, session, clock):
    session.add(
        CallbackTask(
            kind="message",
            status="open",
            case_id=world.open_case.id,
            district_id=world.hosted.id,
            contact_id=world.dana.id,
            call_sid="CAcritical",
            skill="grade_book",
            priority_rank=0,
            queued_at=clock() - timedelta(minutes=3),
        )
    )
    session.commit()
    browser.login("viewer")
    page = browser.get(f"/admin/cases/{world.open_case.number}").get_data(as_text=True)
    assert "<th>Skill</th><th>Priority</th>" in page
    assert "<td>grade book</td><td>critical</td>" in page


def test_the_api_task_list_names_the_priority(client, api_auth, sim, world, session, redis_client, clock):
    presence = Presence(redis_client, "America/Chicago")
    for advisor in (world.priya, world.marcus, world.lena):  # nobody free: the caller waits, then asks for a callback
        presence.set_state(advisor.id, "offline", clock())
    sim.call(World.OMAR_PHONE, keys=["1357#", "0", "5", "2", "hold:1", "2"], dial=[])
    (task,) = client.get("/api/tasks", headers=api_auth("viewer")).get_json()
    assert (task["kind"], task["skill"], task["priority_rank"], task["priority"]) == (
        "callback",
        "point_of_sale",
        1,
        "high",
    )
