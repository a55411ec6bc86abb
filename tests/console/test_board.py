"""The live board (issue #16 item 5): the refreshed partial is the same markup as the first render
(presence pills, bold on-call names), the clock is Central time, and the board says whether the
line is open, closed until when, or closed for a holiday."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime

import pytest

from casestore.models import Case, Closure, Incident
from casestore.types import CaseStatus, Priority, ProductArea
from console.board import line_state
from routing.calendar import default_calendar
from routing.presence import Presence
from tests.adminkit import accounts, browser  # noqa: F401  (fixtures)


def _live_part(html: str) -> str:
    """The `board-live-part` block of a page or partial (it holds no nested div of that class)."""
    match = re.search(r'<div class="board-live-part".*?</table>\s*</div>', html, re.S)
    assert match, html
    return match.group(0)


def test_the_refreshed_partial_is_the_markup_of_the_first_render(browser, world, redis_client, clock):
    Presence(redis_client).set_state(world.lena.id, "away", clock(), reason="training")
    browser.login("viewer")
    page = browser.get("/admin/").get_data(as_text=True)
    res = browser.get("/admin/board/live")
    assert res.status_code == 200
    partial = res.get_data(as_text=True)
    assert "<html" not in partial and "Last 30 days" not in partial
    assert _live_part(partial) == _live_part(page)
    assert '<span class="state away">away</span> <span class="muted">training</span>' in partial
    assert '<span class="state available">available</span>' in partial
    assert "primary: <strong>Sam Ortiz</strong>" in partial


def test_the_page_refreshes_the_partial_with_htmx_from_its_own_origin(browser):
    browser.login("viewer")
    page = browser.get("/admin/").get_data(as_text=True)
    assert 'hx-get="/admin/board/live"' in page and 'hx-trigger="every 5s, refresh"' in page
    assert '<script src="/admin/static/vendor/htmx.min.js">' in page and "board.css" in page
    assert '"allowEval": false' in page and '"includeIndicatorStyles": false' in page
    script = browser.get("/admin/static/vendor/htmx.min.js")
    try:
        assert script.status_code == 200 and b"htmx" in script.data
    finally:
        script.close()


def test_the_partial_needs_a_sign_in(browser):
    res = browser.get("/admin/board/live")
    assert res.status_code == 302 and "/admin/login" in res.headers["Location"]


def test_the_board_shows_central_time_not_utc(browser, clock):
    clock.set(datetime(2026, 12, 2, 16, 5, 12, tzinfo=UTC))
    browser.login("viewer")
    partial = browser.get("/admin/board/live").get_data(as_text=True)
    assert ">Wed 2 Dec 10:05 CST</time>" in partial and 'data-asof="10:05:12"' in partial
    assert "UTC" not in partial
    assert browser.get("/admin/board.json").get_json()["clock"] == {"shown": "Wed 2 Dec 10:05 CST", "asof": "10:05:12"}


def test_open_incidents_say_since_when_in_central_time(browser, world, session):
    outage = Case(
        number=260101,
        district=world.hosted,
        product_area=ProductArea.ATTENDANCE,
        priority=Priority.CRITICAL,
        status=CaseStatus.NEW,
        is_outage=True,
        summary="Outage reported by phone",
        created_at=datetime(2026, 11, 17, 14, 30, tzinfo=UTC),
    )
    session.add(outage)
    session.flush()
    session.add(
        Incident(
            case_id=outage.id,
            district_id=world.hosted.id,
            state="triggered",
            triggered_at=datetime(2026, 11, 17, 14, 30, tzinfo=UTC),
        )
    )
    session.commit()
    browser.login("viewer")
    partial = browser.get("/admin/board/live").get_data(as_text=True)
    row = re.search(r"<tr><td>\d+ \(case 260101\)</td>.*?</tr>", partial).group(0)
    assert "<td>triggered</td><td>2026-11-17 08:30</td>" in row


@pytest.mark.parametrize(
    "at, state, text",
    [
        (datetime(2026, 11, 17, 15, 0, tzinfo=UTC), "open", "Open until 6 p.m."),
        (datetime(2026, 11, 18, 1, 0, tzinfo=UTC), "closed", "Closed: opens tomorrow at 6 a.m. Central"),
        (datetime(2026, 11, 21, 15, 0, tzinfo=UTC), "closed", "Closed: opens Monday at 6 a.m. Central"),
        (
            datetime(2026, 12, 25, 15, 0, tzinfo=UTC),
            "holiday",
            "Closed today for Christmas Day; opens Monday at 6 a.m. Central",
        ),
    ],
)
def test_the_board_says_whether_the_line_is_open(browser, clock, at, state, text):
    clock.set(at)
    browser.login("viewer")
    partial = browser.get("/admin/board/live").get_data(as_text=True)
    assert f'<span class="line-state {state}" id="line-state">{text}</span>' in partial


def test_an_admins_closure_shows_by_name(browser, clock, session):
    session.add(Closure(day=date(2026, 11, 17), name="the all-staff conference"))
    session.commit()
    browser.login("viewer")
    partial = browser.get("/admin/board/live").get_data(as_text=True)
    assert "Closed today for the all-staff conference; opens tomorrow at 6 a.m. Central" in partial


def test_open_until_the_end_of_the_current_range():
    cal = default_calendar()
    assert line_state(datetime(2026, 11, 17, 23, 59, tzinfo=UTC), cal) == {
        "state": "open",
        "reason": "open",
        "text": "Open until 6 p.m.",
    }


def test_the_partial_says_live_figures_are_unavailable_with_redis_down(
    settings_overrides, engine, session_factory, dead_redis, clock, telephony, accounts, world
):
    from tests.adminkit import Browser
    from webhooks import create_app

    app = create_app(
        settings_overrides,
        engine=engine,
        sessions=session_factory,
        redis_client=dead_redis,
        clock=clock,
        telephony=telephony,
    )
    b = Browser(app.test_client())
    b.login("viewer")
    res = b.get("/admin/board/live")
    partial = res.get_data(as_text=True)
    assert res.status_code == 200 and "Live figures are unavailable" in partial
    assert '<span class="state unknown">unknown</span>' in partial and "Open until 6 p.m." in partial
