"""Browser test of the call log: a real call (the owner does not answer, an advisor accepts), then
the call log in headless Chromium, a click on the call, and its detail with both rings.
Skipped like tests/console/test_browser.py when Chromium or Playwright is missing.
SUPPORTLINE_SCREENSHOTS=DIR keeps pictures of the list and the detail there, to look at."""

from __future__ import annotations

import os

from tests.adminkit import accounts  # noqa: F401  (fixture)
from tests.console.test_browser import live_app, page, server, sign_in  # noqa: F401  (fixtures)
from tests.factories import World


def test_open_the_call_log_click_a_call_and_see_its_rings(page, sim, world):
    sim.call(World.DANA_PHONE, keys=["4821#", "240117#"], dial=["no-answer", "accept"], call_sid="CAbrowser")
    shots = os.environ.get("SUPPORTLINE_SCREENSHOTS")
    sign_in(page)
    page.click("nav >> text=Call log")
    page.wait_for_url("**/admin/calls")
    assert page.locator("#calls tbody tr").count() == 1
    assert page.get_attribute("a.csv", "href") == "/admin/calls.csv"
    if shots:
        page.screenshot(path=os.path.join(shots, "calls.png"), full_page=True)
    page.click("#calls a.call")
    page.wait_for_url("**/admin/calls/CAbrowser")
    assert "CAbrowser" in page.inner_text("#call")
    assert "***0134" in page.inner_text("#call") and "Dana Whitfield" in page.inner_text("#call")
    rings = page.locator("#rings tbody tr")
    assert rings.count() == 2
    assert "Priya Raman" in rings.nth(0).inner_text() and "no-answer" in rings.nth(0).inner_text()
    assert "completed" in rings.nth(1).inner_text() and "yes" in rings.nth(1).inner_text()
    assert page.locator("#events tbody tr").count() >= 1
    if shots:
        page.screenshot(path=os.path.join(shots, "call.png"), full_page=True)
    page.click("text=240117 >> nth=0")
    page.wait_for_url("**/admin/cases/240117")
