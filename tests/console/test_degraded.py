"""With Redis down the console still signs in and every page renders, saying that live figures
are unavailable where it would show them; the API answers 503 JSON where it needs Redis (issue #13,
item 8)."""

from __future__ import annotations

import pytest

from tests.adminkit import Browser, accounts  # noqa: F401  (fixture)
from tests.webhooks.test_security_headers import _paths

NOTE = "Live figures are unavailable"


@pytest.fixture
def down(settings_overrides, engine, session_factory, dead_redis, clock, telephony, accounts, world):
    from webhooks import create_app

    return create_app(
        settings_overrides,
        engine=engine,
        sessions=session_factory,
        redis_client=dead_redis,
        clock=clock,
        telephony=telephony,
    )


def test_every_console_page_renders_with_redis_down(down):
    browser = Browser(down.test_client())
    assert browser.login("admin").status_code == 302  # was a 500
    for method, path in _paths(down, ("admin.",)):
        if method != "GET" or path == "/admin/logout":
            continue
        res = browser.get(path)
        if path.endswith(".json"):  # the board's poll: 503 JSON, the page then shows the note
            assert res.status_code in (200, 503) and res.is_json, (path, res.status_code)
        else:
            assert res.status_code < 500, (path, res.status_code)


@pytest.mark.parametrize("path", ["/admin/", "/admin/advisors"])
def test_live_pages_say_their_figures_are_unavailable(down, path, world):
    browser = Browser(down.test_client())
    browser.login("viewer")
    res = browser.get(path)
    page = res.get_data(as_text=True)
    assert res.status_code == 200 and NOTE in page
    assert "Priya Raman" in page  # the roster still comes from the database


def test_the_board_json_says_so_too(down):
    browser = Browser(down.test_client())
    browser.login("viewer")
    res = browser.get("/admin/board.json")
    assert res.status_code == 503 and res.get_json()["error"] == "unavailable"


def test_setting_presence_with_redis_down_says_why(down, world):
    browser = Browser(down.test_client())
    browser.login("supervisor")
    res = browser.post(f"/admin/advisors/{world.lena.id}/presence", {"state": "away"})
    assert res.status_code == 503 and NOTE in res.get_data(as_text=True)


@pytest.mark.parametrize(
    "method, path",
    [("GET", "/api/queue"), ("GET", "/api/advisors/presence"), ("POST", "/api/advisors/{lena}/presence")],
)
def test_api_endpoints_that_need_redis_answer_503_json(down, api_auth, world, method, path):
    res = down.test_client().open(
        path.format(lena=world.lena.id), method=method, headers=api_auth("admin"), json={"state": "away"}
    )
    assert res.status_code == 503, res.status_code  # /api/queue was a 500
    body = res.get_json()
    assert body["error"] == "unavailable" and "Redis" in body["detail"]
    assert res.headers.get("Retry-After")


def test_every_api_route_answers_json_with_redis_down(down, api_auth):
    client, headers = down.test_client(), api_auth("admin")
    for method, path in _paths(down, ("api.",)):
        res = client.open(path, method=method, headers=headers, json={})
        assert res.status_code < 500 or res.status_code == 503, (method, path, res.status_code)
        assert res.is_json, (method, path)
