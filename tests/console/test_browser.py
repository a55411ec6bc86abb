"""Browser tests: the admin console in headless Chromium (Debian's `chromium`, driven by Playwright).

They sign in, edit an advisor's skills, add a closure and see it in the 12-month preview, and run a
test call. The app is served by a werkzeug server in a thread, on the test database and Redis.
Skipped when Chromium or Playwright is missing, unless SUPPORTLINE_REQUIRE_BROWSER=1 (CI sets it:
there a missing browser is a failure, not a skip).
"""

from __future__ import annotations

import os
import shutil
import threading

import pytest

from casestore.models import Advisor
from tests.adminkit import PASSWORD, accounts  # noqa: F401  (fixture)

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
REQUIRED = os.environ.get("SUPPORTLINE_REQUIRE_BROWSER") == "1"

try:
    from playwright.sync_api import sync_playwright
except ImportError:  # pragma: no cover - only when the test extra is not installed
    sync_playwright = None

if not (CHROMIUM and sync_playwright) and not REQUIRED:
    pytest.skip("needs Debian's chromium and playwright (CI installs both)", allow_module_level=True)

# Flags for a closed network and a root user (see the machine notes): no sandbox, no background
# networking, a fresh profile per launch.
CHROMIUM_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture
def live_app(settings_overrides, engine, session_factory, redis_client, clock, telephony):
    """The app as the browser sees it: development mode only so that the session cookie is not
    marked Secure on plain http://127.0.0.1 (secrets are the test ones, not the demo ones)."""
    from webhooks import create_app

    return create_app(
        dict(settings_overrides, development=True),
        engine=engine,
        sessions=session_factory,
        redis_client=redis_client,
        clock=clock,
        telephony=telephony,
    )


@pytest.fixture
def server(live_app):
    from werkzeug.serving import make_server

    srv = make_server("127.0.0.1", 0, live_app, threaded=False)
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{srv.server_port}"
    srv.shutdown()
    thread.join(timeout=5)


@pytest.fixture
def page(server, accounts, world):
    assert CHROMIUM and sync_playwright, "SUPPORTLINE_REQUIRE_BROWSER=1 but chromium or playwright is missing"
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        context = browser.new_context(base_url=server)
        tab = context.new_page()
        tab.set_default_timeout(15_000)
        yield tab
        context.close()
        browser.close()


def sign_in(page, username: str = "admin") -> None:
    page.goto("/admin/login")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url("**/admin/")


def test_sign_in_and_edit_an_advisors_skills(page, world, session):
    sign_in(page)
    assert page.locator("h1").first.inner_text().startswith("Live board")
    page.click("nav >> text=Advisors")
    page.click(f"a[href='/admin/advisors/{world.marcus.id}/edit']")
    page.check("input[name=skill_attendance]")
    page.click("button:has-text('Save')")
    page.wait_for_url("**/admin/advisors")
    assert "Saved Marcus Bell." in page.inner_text(".flash")
    row = page.locator("tr", has_text="Marcus Bell")
    assert "attendance" in row.inner_text()
    session.expire_all()
    assert {s.value for s in session.get(Advisor, world.marcus.id).skills} == {"grade_book", "attendance"}


def test_add_a_closure_and_see_it_in_the_12_month_preview(page, clock):
    sign_in(page)
    page.click("nav >> text=Hours & holidays")
    page.fill("form.closure-form input[name=date]", "2027-02-12")
    page.fill("form.closure-form input[name=name]", "the staff training day")
    page.click("form.closure-form button[type=submit]")
    page.wait_for_load_state()
    assert "the staff training day" in page.inner_text("#closures")
    preview = page.locator("tr", has_text="2027-02-12")
    assert "the staff training day" in preview.first.inner_text()


def test_run_a_test_call_from_the_keypad(page):
    sign_in(page)
    page.click("nav >> text=Test call")
    page.fill("input[name=from]", "+16125550134")
    page.fill("input[name=at]", "2026-11-17T09:00")
    for key in "240117#":  # the case number: the PIN prompt is answered by the dry run
        page.click(f"#keypad button[data-key='{key}']")
    assert page.input_value("#keys") == "240117#"
    page.click("button:has-text('Place test call')")
    page.wait_for_selector("#result :text('Connecting you to your case owner')")
    result = page.inner_text("#result")
    assert "Case 2 4 0 1 1 7" in result and "6125550101" in result.replace(" ", "").replace("-", "")


def test_the_pages_run_under_the_content_security_policy(page, tmp_path):
    """No page asks for anything the CSP blocks (inline script or style, another origin): the
    browser reports every violation on its console. SUPPORTLINE_SCREENSHOTS=DIR keeps a picture
    of each page there, to look at."""
    messages: list[str] = []
    page.on("console", lambda msg: messages.append(f"{msg.type}: {msg.text} ({page.url} {msg.location.get('url')})"))
    page.on("pageerror", lambda exc: messages.append(f"pageerror: {exc}"))
    sign_in(page)
    shots = os.environ.get("SUPPORTLINE_SCREENSHOTS")
    for path in (
        "/admin/",
        "/admin/advisors",
        "/admin/test-call",
        "/admin/charts",
        "/admin/calendar",
        "/admin/districts",
        "/admin/oncall",
        "/admin/banners",
        "/admin/calls",
        "/admin/audit",
    ):
        response = page.goto(path)
        page.wait_for_load_state("networkidle")
        assert "script-src 'self'" in response.headers["content-security-policy"], path
        if shots:
            name = path.strip("/").replace("/", "_").replace("admin_", "").replace("admin", "board") or "board"
            page.screenshot(path=os.path.join(shots, f"{name}.png"), full_page=True)
    page.goto("/admin/test-call")
    page.fill("input[name=from]", "+16125550134")
    page.click("#keypad button[data-key='4']")
    page.click("button:has-text('Place test call')")
    page.wait_for_selector("#result p, #result li, #problems p")
    violations = [m for m in messages if "Content Security Policy" in m or m.startswith(("error", "pageerror"))]
    assert violations == [], "\n".join(violations)
