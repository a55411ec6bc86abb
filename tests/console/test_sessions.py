"""A console session ends for good: a session cookie saved before signing out, or before the
account's password changed, no longer signs anyone in (issue #13, item 11)."""

from __future__ import annotations

from sqlalchemy import select

from auth.admins import set_password
from casestore.models import AdminUser
from tests.adminkit import accounts, browser  # noqa: F401  (fixtures)


def _session_cookie(browser) -> str:
    cookie = browser.client.get_cookie("session", domain="localhost")
    assert cookie is not None
    return cookie.value


def _replay(browser, value: str):
    browser.client.set_cookie("session", value, domain="localhost", secure=True, httponly=True)
    return browser.get("/admin/advisors")


def test_a_cookie_saved_before_sign_out_is_refused_afterwards(browser):
    browser.login("supervisor")
    assert browser.get("/admin/advisors").status_code == 200
    saved = _session_cookie(browser)
    assert browser.post("/admin/logout").status_code == 302
    res = _replay(browser, saved)
    assert res.status_code == 302 and "/admin/login" in res.headers["Location"]


def test_signing_in_again_after_sign_out_works(browser):
    browser.login("viewer")
    browser.post("/admin/logout")
    assert browser.login("viewer").status_code == 302
    assert browser.get("/admin/advisors").status_code == 200


def test_a_password_change_ends_every_session_of_that_account(browser, session):
    browser.login("admin")
    saved = _session_cookie(browser)
    user = session.scalars(select(AdminUser).where(AdminUser.username == "admin")).one()
    set_password(user, "a brand new long password")
    session.commit()
    res = _replay(browser, saved)
    assert res.status_code == 302 and "/admin/login" in res.headers["Location"]
    assert browser.login("admin", "a brand new long password").status_code == 302
    assert browser.get("/admin/advisors").status_code == 200


def test_a_session_of_another_account_is_untouched_by_a_sign_out(app, browser, accounts):
    other = app.test_client()
    from tests.adminkit import Browser

    second = Browser(other)
    second.login("viewer")
    browser.login("admin")
    browser.post("/admin/logout")
    assert second.get("/admin/advisors").status_code == 200
