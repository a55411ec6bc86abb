"""Browser test (headless Chromium, as tests/console/test_browser.py): an admin sets a contact's
language on the line to Spanish on the contact form (issue #15 item 7). SUPPORTLINE_SCREENSHOTS=DIR
keeps a picture of the form there."""

from __future__ import annotations

import os

from casestore.models import Contact
from tests.adminkit import accounts  # noqa: F401  (fixture)
from tests.console.test_browser import live_app, page, server, sign_in  # noqa: F401  (fixtures; skips without Chromium)


def test_an_admin_sets_a_contacts_language_to_spanish(page, world, session):
    sign_in(page)
    page.goto(f"/admin/contacts/{world.dana.id}/edit")
    assert page.input_value("select[name=language]") == "en"
    page.select_option("select[name=language]", "es")
    shots = os.environ.get("SUPPORTLINE_SCREENSHOTS")
    if shots:
        page.screenshot(path=os.path.join(shots, "contact_language.png"), full_page=True)
    page.click("button:has-text('Save') >> nth=1")
    page.wait_for_url(f"**/admin/districts/{world.hosted.id}")
    assert "Saved Dana Whitfield." in page.inner_text(".flash")
    session.expire_all()
    assert session.get(Contact, world.dana.id).language == "es"
    page.goto(f"/admin/contacts/{world.dana.id}/edit")
    assert page.input_value("select[name=language]") == "es"
