"""Forms show each problem beside its field (issue #16 item 11): the reason under the input, the
input marked `aria-invalid` and pointing at it, and the list at the top as before."""

from __future__ import annotations

import re

import pytest

from tests.adminkit import accounts, browser  # noqa: F401  (fixtures)


def _beside(page: str, name: str) -> str:
    """The reason shown beside field `name`, after checking its input points at it."""
    error_id = "error-" + re.sub(r"[^A-Za-z0-9_-]+", "-", name).strip("-")
    field = re.escape(name.split("[")[0])
    tag = re.search(rf'<(?:input|select|textarea)[^>]*name="{field}"[^>]*>', page)
    assert tag is not None, name
    assert 'aria-invalid="true"' in tag.group(0) and f'aria-describedby="{error_id}"' in tag.group(0)
    found = re.search(rf'<span class="field-error" id="{re.escape(error_id)}">([^<]+)</span>', page)
    assert found is not None, page
    return found.group(1)


@pytest.mark.parametrize(
    ("path", "form", "field", "words"),
    [
        (
            "/admin/advisors/new",
            {"name": "Test Advisor", "reach": "nope", "active": "1"},
            "reach",
            "not a phone number",
        ),
        ("/admin/districts/new", {"name": "Test ISD", "state": "Minnesota"}, "state", "two"),
        ("/admin/oncall/engineers/new", {"name": "Test Engineer", "phone": "12"}, "phone", "phone"),
    ],
)
def test_a_refused_field_says_why_beside_it(browser, world, path, form, field, words):
    browser.login("admin")
    res = browser.post(path, form)
    assert res.status_code == 400
    page = res.get_data(as_text=True)
    assert words in _beside(page, field).lower()
    assert page.count('class="field-error"') == 1  # only the field that was wrong


def test_a_contacts_phone_is_marked_in_its_own_row(browser, world):
    browser.login("admin")
    form = {"district": "Lakeview Public Schools", "name": "New Person", "contact_id": "777001", "email": "x"}
    res = browser.post(f"/admin/districts/{world.hosted.id}/contacts/new", {**form, "phones": ["+16125550190", "12"]})
    assert res.status_code == 400
    page = res.get_data(as_text=True)
    assert 'id="error-email"' in page
    assert 'aria-describedby="error-phones-1"' in page and 'id="error-phones-1"' in page
    assert 'id="error-phones-0"' not in page  # the good number is not marked


def test_a_page_without_problems_marks_nothing(browser, world):
    browser.login("admin")
    for path in ("/admin/advisors/new", "/admin/districts/new", "/admin/oncall/engineers/new"):
        page = browser.get(path).get_data(as_text=True)
        assert "field-error" not in page and "aria-invalid" not in page
