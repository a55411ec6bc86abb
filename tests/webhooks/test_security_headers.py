"""Every console and API response carries the security headers: a CSP without inline script,
framing refused, no MIME sniffing, a referrer policy, and HSTS when served over https (issue #13,
item 12)."""

from __future__ import annotations

import pytest

from tests.adminkit import accounts, browser  # noqa: F401  (fixtures)

CSP_PARTS = [
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self'",
    "frame-ancestors 'none'",
    "object-src 'none'",
    "base-uri 'self'",
    "form-action 'self'",
]


def _paths(app, prefixes: tuple[str, ...]) -> list[tuple[str, str]]:
    found = []
    for rule in app.url_map.iter_rules():
        if not rule.endpoint.startswith(prefixes):
            continue
        values = {
            arg: 1 if type(conv).__name__ == "IntegerConverter" else "x" for arg, conv in rule._converters.items()
        }
        path = rule.build(values, append_unknown=False)[1]
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            found.append((method, path))
    return sorted(set(found))


def assert_secure_headers(res, https: bool = True, where=None) -> None:
    where = where or (res.request.method, res.request.path, res.status_code)
    csp = res.headers.get("Content-Security-Policy", "")
    for part in CSP_PARTS:
        assert part in csp, (where, part, csp)
    assert "unsafe-inline" not in csp and "unsafe-eval" not in csp, where
    assert res.headers.get("X-Frame-Options") == "DENY", where
    assert res.headers.get("X-Content-Type-Options") == "nosniff", where
    assert res.headers.get("Referrer-Policy") == "same-origin", where
    if https:
        assert res.headers.get("Strict-Transport-Security", "").startswith("max-age="), where
    else:
        assert "Strict-Transport-Security" not in res.headers, where


def test_every_console_route_answers_with_the_headers(app, browser):
    browser.login("admin")
    paths = _paths(app, ("admin.",))
    assert len(paths) > 30
    for method, path in paths:
        if path == "/admin/logout":
            continue  # it would sign the browser out; checked below
        res = browser.client.open(
            path, method=method, base_url="https://localhost", headers={"Referer": "https://localhost/admin/"}
        )
        assert_secure_headers(res)
    assert_secure_headers(browser.post("/admin/logout"))
    assert_secure_headers(browser.get("/admin/login"))


def test_every_api_route_answers_with_the_headers(app, client, api_auth, world):
    headers = api_auth("admin")
    paths = _paths(app, ("api.",))
    assert ("GET", "/api/queue") in paths
    for method, path in paths:
        res = client.open(path, method=method, base_url="https://localhost", headers=headers, json={})
        assert_secure_headers(res)
    assert_secure_headers(client.get("/api/queue", base_url="https://localhost"))  # a 401 too


@pytest.mark.parametrize("base", ["http://localhost", "https://localhost"])
def test_hsts_only_over_https(client, base):
    assert_secure_headers(client.get("/admin/login", base_url=base), https=base.startswith("https"))


def test_hsts_behind_a_trusted_proxy_that_terminates_tls(
    settings_overrides, engine, session_factory, redis_client, clock, telephony
):
    from webhooks import create_app

    app = create_app(
        {**settings_overrides, "trusted_proxies": 1},
        engine=engine,
        sessions=session_factory,
        redis_client=redis_client,
        clock=clock,
        telephony=telephony,
    )
    res = app.test_client().get("/admin/login", headers={"X-Forwarded-Proto": "https", "X-Forwarded-For": "192.0.2.1"})
    assert_secure_headers(res, https=True)
    res = app.test_client().get("/admin/login", headers={"X-Forwarded-Proto": "http", "X-Forwarded-For": "192.0.2.1"})
    assert_secure_headers(res, https=False)


def test_no_console_template_has_inline_script_or_style(repo_root):
    import re

    templates = sorted((repo_root / "console" / "templates").rglob("*.html"))
    assert templates, "no console templates found"
    for template in templates:
        text = template.read_text()
        assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", text), template.name
        assert not re.search(r"\son[a-z]+\s*=", text), template.name
        assert not re.search(r"\sstyle\s*=", text), template.name
        assert "<style" not in text, template.name
