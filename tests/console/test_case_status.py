"""The case page's status form starts at the case's own status: one Save never starts the 3 x 10
follow-up by accident (issue #16 item 8), and saving the current status changes nothing."""

from __future__ import annotations

import re
from datetime import timedelta

from sqlalchemy import func, select

from casestore.models import AuditEntry, Case, FollowUp
from casestore.types import CaseStatus
from tests.adminkit import accounts, browser  # noqa: F401  (fixtures)


def _selected(page: str) -> list[str]:
    form = page[page.index('<select name="status">') : page.index("</select>")]
    return re.findall(r'<option value="([^"]*)"[^>]* selected', form)


def test_the_status_form_preselects_the_current_status(browser, world, session):
    browser.login("admin")
    page = browser.get(f"/admin/cases/{world.open_case.number}").get_data(as_text=True)
    assert _selected(page) == ["in_progress"]
    assert "in progress (current)" in page


def test_a_status_not_offered_is_shown_current_and_cannot_be_saved_as_is(browser, world, session):
    case = session.get(Case, world.open_case.id)
    case.status = CaseStatus.NEW
    session.commit()
    browser.login("admin")
    page = browser.get(f"/admin/cases/{case.number}").get_data(as_text=True)
    assert _selected(page) == [""]  # the disabled "new (current)": choosing is deliberate
    assert re.search(r'<option value="" selected disabled>new \(current\)</option>', page)


def test_saving_the_current_status_changes_nothing(browser, world, session):
    browser.login("admin")
    audits = session.scalar(select(func.count()).select_from(AuditEntry))
    res = browser.post(f"/admin/cases/{world.open_case.number}/status", {"status": "in_progress"})
    assert res.status_code == 302
    page = browser.get(res.headers["Location"]).get_data(as_text=True)
    assert "No change: the case is already in progress." in page
    session.expire_all()
    assert session.scalar(select(func.count()).select_from(AuditEntry)) == audits
    assert not session.scalar(select(func.count()).select_from(FollowUp))
    res = browser.post(f"/admin/cases/{world.open_case.number}/status", {"status": "pending_verification"})
    session.expire_all()
    assert session.get(Case, world.open_case.id).status == CaseStatus.PENDING_VERIFICATION
    assert session.scalar(select(func.count()).select_from(FollowUp)) > 0


def test_cases_are_found_by_number_district_or_contact(browser, world, session):
    browser.login("viewer")
    res = browser.get(f"/admin/cases?q={world.open_case.number}")
    assert res.status_code == 302 and res.headers["Location"].endswith(f"/admin/cases/{world.open_case.number}")
    page = browser.get("/admin/cases?q=lakeview").get_data(as_text=True)
    assert str(world.open_case.number) in page
    by_contact = browser.get("/admin/cases?q=dana").get_data(as_text=True)
    assert str(world.open_case.number) in by_contact
    by_id = browser.get(f"/admin/cases?q={world.dana.contact_id}").get_data(as_text=True)
    assert str(world.open_case.number) in by_id
    nothing = browser.get("/admin/cases?q=no-such-district").get_data(as_text=True)
    assert "No case matches this search." in nothing
    closed = browser.get("/admin/cases?status=closed").get_data(as_text=True)
    assert str(world.open_case.number) not in closed.split('id="cases"')[1]


def test_an_overdue_response_target_is_highlighted(browser, world, session, clock):
    case = session.get(Case, world.open_case.id)
    case.responded_at = None
    case.response_due_at = clock() - timedelta(hours=1)
    session.commit()
    browser.login("viewer")
    page = browser.get(f"/admin/cases/{case.number}").get_data(as_text=True)
    assert "response overdue" in page
    listing = browser.get(f"/admin/cases?q={world.hosted.name}").get_data(as_text=True)
    assert '<span class="state away">overdue</span>' in listing
    case.responded_at = clock()
    session.commit()
    assert "response overdue" not in browser.get(f"/admin/cases/{case.number}").get_data(as_text=True)
