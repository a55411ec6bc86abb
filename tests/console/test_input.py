"""Malformed console and API input is ordinary input: NULs, control characters, huge numbers and
long values in query strings and forms get a normal answer (a page, a 400), never a 500; the
sign-in `next=` never leaves the console nor breaks the redirect (issue #13, item 7)."""

from __future__ import annotations

import re

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.adminkit import PASSWORD, accounts, browser  # noqa: F401  (fixtures)

# Every query name a console page or an API list reads, and a few it does not.
QUERY_NAMES = [
    "page",
    "from",
    "to",
    "outcome",
    "district",
    "case",
    "skill",
    "entity",
    "actor",
    "key",
    "status",
    "state",
    "limit",
    "offset",
    "next",
    "strict",
    "q",
    "x",
]
NASTY = ["\x00", "a\x00b", "1\x00", "\r\nSet-Cookie: x=1", "²", "9" * 30, "-1", "\x1b[31m", "é" * 5000]


def _get_routes(app, prefix: str) -> list[str]:
    paths = []
    for rule in app.url_map.iter_rules():
        if "GET" not in rule.methods or not rule.endpoint.startswith(prefix) or rule.endpoint.endswith("static"):
            continue
        values = {
            arg: 1 if type(conv).__name__ == "IntegerConverter" else "x" for arg, conv in rule._converters.items()
        }
        paths.append(rule.build(values, append_unknown=False)[1])
    return sorted(set(paths))


def _assert_ordinary(res, path):
    assert res.status_code < 500, (path, res.status_code)


def test_nul_and_friends_in_every_console_filter_are_ordinary_input(app, browser):
    browser.login("admin")
    paths = _get_routes(app, "admin.")
    assert "/admin/calls" in paths and "/admin/audit" in paths
    for path in paths:
        for value in NASTY:
            res = browser.get(path, query_string=dict.fromkeys(QUERY_NAMES, value))
            _assert_ordinary(res, path)


def test_nul_and_friends_in_every_api_list_are_ordinary_input(app, client, api_auth, world):
    headers = api_auth("admin")
    paths = _get_routes(app, "api.")
    assert "/api/tasks" in paths
    for path in paths:
        for value in NASTY:
            res = client.get(path, headers=headers, query_string=dict.fromkeys(QUERY_NAMES, value))
            _assert_ordinary(res, path)
            assert res.is_json, path


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(query=st.dictionaries(st.sampled_from(QUERY_NAMES), st.text(max_size=40), max_size=6))
def test_any_call_log_and_audit_filter_gets_a_page(browser, query):
    if not getattr(browser, "_signed_in", False):
        browser.login("viewer")
        browser._signed_in = True
    for path in ("/admin/calls", "/admin/audit", "/admin/banners"):
        res = browser.get(path, query_string=query)
        assert res.status_code in (200, 400), (path, query, res.status_code)


def test_nul_in_a_form_field_is_ordinary_input(browser, world):
    browser.login("admin")
    res = browser.post(
        "/admin/banners", {"message": "Down\x00 for a bit", "district": "\x00", "starts": "\x00", "expires": "\x00"}
    )
    assert res.status_code in (200, 302, 400)
    res = browser.post(f"/admin/advisors/{world.lena.id}/presence", {"state": "away\x00", "reason": "\x00" * 10})
    assert res.status_code in (302, 400)


def _login_with_next(browser, target: str):
    page = browser.get("/admin/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)
    return browser.client.post(
        "/admin/login",
        query_string={"next": target},
        base_url="https://localhost",
        headers={"Referer": "https://localhost/admin/login"},
        data={"username": "viewer", "password": PASSWORD, "csrf_token": token},
    )


BOARD = "/admin/"


@pytest.mark.parametrize(
    "target, lands",
    [
        ("/admin/\r\nSet-Cookie: evil=1", BOARD),  # header injection: a 500 before
        ("/admin/calls\r\n", "/admin/calls"),  # the control characters are dropped at the edge
        ("/admin\x00", "/admin"),
        ("//evil.example/admin", BOARD),
        ("/admin/../../evil", BOARD),
        ("https://evil.example/admin", BOARD),
        ("/admin@evil.example", BOARD),
        ("/\\evil.example", BOARD),
        ("/adminx", BOARD),
        (" /admin/calls", BOARD),
    ],
)
def test_a_bad_next_redirects_inside_the_console(browser, target, lands):
    res = _login_with_next(browser, target)
    assert res.status_code == 302
    assert res.headers["Location"] in (lands, "https://localhost" + lands), res.headers["Location"]
    assert "evil" not in "".join(res.headers.getlist("Set-Cookie"))


def test_a_local_next_is_kept(browser):
    res = _login_with_next(browser, "/admin/calls?outcome=answered&page=2")
    assert res.status_code == 302 and res.headers["Location"].endswith("/admin/calls?outcome=answered&page=2")


def test_nul_in_api_json_bodies_is_ordinary_input(client, api_auth, world):
    headers = api_auth("admin")
    res = client.post(
        f"/api/advisors/{world.lena.id}/presence", headers=headers, json={"state": "away", "reason": "lunch\x00"}
    )  # a 500 on PostgreSQL before
    assert res.status_code == 200 and res.get_json()["away_reason"] == "lunch"
    res = client.post(
        "/api/cases/240117/status",
        headers=headers,
        json={"status": "available_in_release", "release_name": "2027.1\x00"},
    )
    assert res.status_code == 200 and res.get_json()["release_name"] == "2027.1"
    for path, body in [
        ("/api/districts/x", {"name": "x", "state": "M\x00N"}),
        ("/api/teams/t\x00", {"name": "t\x00"}),
        ("/api/incidents/1/districts", {"district": "d\x00"}),
    ]:
        method = client.post if "incidents" in path else client.put
        assert method(path, headers=headers, json=body).status_code < 500, path
