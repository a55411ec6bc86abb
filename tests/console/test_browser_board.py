"""Browser test (headless Chromium, as tests/console/test_browser.py): the live board's htmx refresh
keeps its markup (presence pills, bold on-call names, the same columns), runs under the strict
Content-Security-Policy, shows a 'stale since' banner while a refresh fails and clears it on the
next good one, and never swaps the sign-in page into the board (issue #16 item 5).
SUPPORTLINE_SCREENSHOTS=DIR keeps pictures of the board, fresh and stale, there."""

from __future__ import annotations

import os
from datetime import timedelta

from routing.presence import Presence
from tests.adminkit import accounts  # noqa: F401  (fixture)
from tests.console.test_browser import live_app, page, server, sign_in  # noqa: F401  (fixtures; skips without Chromium)

LIVE = "**/admin/board/live"


def _shot(page, name: str) -> None:
    shots = os.environ.get("SUPPORTLINE_SCREENSHOTS")
    if shots:
        page.screenshot(path=os.path.join(shots, name), full_page=True)


def _markup(page) -> dict:
    return {
        "pills": page.locator("#board-live #advisors span.state").count(),
        "bold_on_call": page.locator("#board-live #oncall strong").count(),
        "columns": [page.locator(f"#board-live #{t} thead th").count() for t in ("incidents", "line", "advisors")],
        "line_state": page.locator("#board-live .line-state").count(),
    }


REFRESH_NOW = """() => new Promise((resolve) => {
  const region = document.getElementById("board-live");
  region.addEventListener("htmx:afterRequest", (e) => resolve(e.detail.successful === true), { once: true });
  htmx.trigger(region, "refresh");
})"""


def _refresh(page) -> bool:
    """One refresh now (the page's own hx-get, as its 5 s timer sends it); True when it succeeded
    (htmx:afterRequest comes after the swap, if any)."""
    return page.evaluate(REFRESH_NOW)


def test_a_refresh_keeps_the_markup_and_a_failed_one_says_the_board_is_stale(page, world, redis_client, clock):
    csp_errors: list[str] = []
    page.on("console", lambda m: csp_errors.append(m.text) if "Content Security Policy" in m.text else None)
    sign_in(page)
    first = _markup(page)
    assert first == {"pills": 3, "bold_on_call": 2, "columns": [5, 4, 4], "line_state": 1}
    assert page.inner_text("#asof") == "Tue 17 Nov 09:00 CST"
    assert page.inner_text("#line-state") == "Open until 6 p.m."

    clock.set(clock() + timedelta(minutes=5, seconds=12))
    Presence(redis_client).set_state(world.lena.id, "away", clock(), reason="training")
    assert _refresh(page) is True
    assert page.inner_text("#asof") == "Tue 17 Nov 09:05 CST"
    assert _markup(page) == first
    assert page.locator("#board-live tr", has_text="Lena Ortiz").locator("span.state.away").inner_text() == "away"
    assert page.locator("#board-stale").is_hidden()
    _shot(page, "board.png")

    page.route(LIVE, lambda route: route.abort())
    clock.set(clock() + timedelta(minutes=1))
    assert _refresh(page) is False
    assert page.inner_text("#board-stale") == "Stale since 09:05:12: the last refresh failed (retrying)."
    assert _markup(page) == first and page.inner_text("#asof") == "Tue 17 Nov 09:05 CST"
    _shot(page, "board_stale.png")

    page.unroute(LIVE)
    assert _refresh(page) is True
    assert page.locator("#board-stale").is_hidden()
    assert page.inner_text("#asof") == "Tue 17 Nov 09:06 CST"
    assert csp_errors == []


def test_a_server_error_is_stale_too_and_a_signed_out_board_is_not_replaced_by_the_sign_in_page(page):
    sign_in(page)
    page.route(LIVE, lambda route: route.fulfill(status=500, body="boom"))
    assert _refresh(page) is False
    assert page.inner_text("#board-stale").startswith("Stale since 09:00:00")
    page.unroute(LIVE)

    page.context.clear_cookies()
    _refresh(page)
    assert page.inner_text("#board-stale") == "Signed out: reload to sign in."
    assert page.locator("#board-live input[name=password]").count() == 0
    assert _markup(page)["pills"] == 3
    _shot(page, "board_signed_out.png")


def test_the_board_polls_by_itself(live_app, page):
    live_app.config["BOARD_REFRESH_SECONDS"] = 1
    sign_in(page)
    assert page.get_attribute("#board-live", "hx-trigger") == "every 1s, refresh"
    with page.expect_response(LIVE) as response:
        pass  # the page's own timer sends it
    assert response.value.ok
