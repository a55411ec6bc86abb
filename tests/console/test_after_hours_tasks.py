"""The case page and the queue figures show a task left after hours for what it is (issue #15 item
3): from when it is to be worked (its `not_before`, the desk's next opening, in local time), and
that it is not work to be done yet."""

from __future__ import annotations

from datetime import UTC, datetime

from casestore.models import CallbackTask
from casestore.types import Priority
from tests.adminkit import accounts, browser  # noqa: F401  (fixtures)
from tests.factories import World

TUESDAY_20_00 = datetime(2026, 11, 18, 2, 0, tzinfo=UTC)  # Tue 2026-11-17 20:00 CST
WEDNESDAY_06_00 = datetime(2026, 11, 18, 12, 0, tzinfo=UTC)


def _task(world: World, sid: str, queued_at: datetime, not_before: datetime | None) -> CallbackTask:
    return CallbackTask(
        kind="message",
        status="open",
        case_id=world.open_case.id,
        district_id=world.hosted.id,
        call_sid=sid,
        recording_url="https://api.twilio.com/recordings/RE1",
        skill="grade_book",
        priority_rank=Priority.HIGH.rank,
        queued_at=queued_at,
        not_before=not_before,
        created_at=queued_at,
    )


def test_case_page_says_from_when_an_after_hours_task_is_to_be_worked(browser, world: World, session):
    session.add_all(
        [
            _task(world, "CAnight", TUESDAY_20_00, WEDNESDAY_06_00),
            _task(world, "CAmorning", datetime(2026, 11, 18, 13, 0, tzinfo=UTC), None),
        ]
    )
    session.commit()
    browser.login("viewer")
    page = browser.get("/admin/cases/240117").get_data(as_text=True)
    table = page[page.index('<table id="tasks">') :]
    table = table[: table.index("</table>")]
    assert '<span title="2026-11-18 06:00">after hours: from Wed 06:00</span>' in table  # Central, not UTC
    rows = table.split("<tr>")[2:]
    assert "2026-11-17 20:00" in rows[0] and "after hours" in rows[0]
    assert "2026-11-18 07:00" in rows[1] and ">now<" in rows[1]


def test_queue_figures_count_tasks_before_the_opening_apart(client, api_auth, world: World, session, clock):
    session.add_all(
        [
            _task(world, "CAnight", TUESDAY_20_00, WEDNESDAY_06_00),
            _task(world, "CAday", datetime(2026, 11, 17, 20, 0, tzinfo=UTC), None),
        ]
    )
    session.commit()
    viewer = api_auth("viewer")
    clock.set(datetime(2026, 11, 18, 11, 0, tzinfo=UTC))  # 05:00: the night's task is not due yet
    data = client.get("/api/queue", headers=viewer).get_json()
    assert (data["open_callback_tasks"], data["open_callback_tasks_before_opening"]) == (2, 1)
    clock.set(WEDNESDAY_06_00)  # the desk opens: it is work now
    data = client.get("/api/queue", headers=viewer).get_json()
    assert (data["open_callback_tasks"], data["open_callback_tasks_before_opening"]) == (2, 0)
