"""The admin console: sign-in, throttling, roles, CSRF, the live board and the advisors pages."""

from __future__ import annotations

import re

from sqlalchemy import select

from casestore.models import Advisor, AuditEntry
from routing.presence import Presence
from tests.adminkit import PASSWORD, accounts, browser  # noqa: F401  (fixtures)


def test_pages_need_a_sign_in(browser):
    res = browser.get("/admin/")
    assert res.status_code == 302 and "/admin/login" in res.headers["Location"]
    assert browser.get("/admin/board.json").status_code == 302


def test_the_service_address_lands_on_the_console(browser):
    res = browser.get("/")
    assert res.status_code == 302 and res.headers["Location"].endswith("/admin/")
    assert browser.get("/admin/").headers["Location"].startswith("/admin/login")
    browser.login("viewer")
    res = browser.get("/")
    assert res.status_code == 302
    assert "Live board" in browser.get(res.headers["Location"]).get_data(as_text=True)


def test_sign_in_and_the_live_board(browser):
    assert browser.login("viewer", "wrong password!").status_code == 401
    res = browser.login("viewer")
    assert res.status_code == 302 and res.headers["Location"].endswith("/admin/")
    page = browser.get("/admin/").get_data(as_text=True)
    assert "Live board" in page and "Marcus Bell" in page and "Sam Ortiz" in page
    data = browser.get("/admin/board.json").get_json()
    assert {a["name"] for a in data["advisors"]} >= {"Priya Raman", "Marcus Bell", "Lena Ortiz"}
    assert data["on_call"][0] == {"layer": "primary", "engineer": "Sam Ortiz", "until": data["on_call"][0]["until"]}
    assert data["queue"]["waiting"] == 0


def test_the_session_cookie_is_secure_and_http_only(browser):
    res = browser.login("viewer")
    (cookie,) = [c for c in res.headers.getlist("Set-Cookie") if c.startswith("session=")]
    assert "Secure" in cookie and "HttpOnly" in cookie and "SameSite=Lax" in cookie


def test_failed_sign_ins_are_throttled(browser):
    for _ in range(5):
        assert browser.login("admin", "not the password").status_code == 401
    assert browser.login("admin").status_code == 429  # even the right password, for 15 minutes


def test_a_redirect_after_sign_in_stays_on_the_console(browser):
    page = browser.get("/admin/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)
    res = browser.client.post(
        "/admin/login?next=//evil.example/x",
        base_url="https://localhost",
        headers={"Referer": "https://localhost/admin/login"},
        data={"username": "viewer", "password": PASSWORD, "csrf_token": token},
    )
    assert res.headers["Location"].endswith("/admin/")


def test_forms_need_the_csrf_token(browser, world):
    browser.login("supervisor")
    res = browser.post(f"/admin/advisors/{world.lena.id}/presence", {"state": "away"}, csrf=False)
    assert res.status_code == 400


def test_a_viewer_reads_but_cannot_write(browser, world):
    browser.login("viewer")
    assert browser.get("/admin/advisors").status_code == 200
    assert browser.post(f"/admin/advisors/{world.lena.id}/presence", {"state": "away"}).status_code == 403
    assert browser.get(f"/admin/advisors/{world.lena.id}/edit").status_code == 403


def test_a_supervisor_sets_presence_but_cannot_edit_advisors(browser, world, redis_client, clock, session):
    browser.login("supervisor")
    res = browser.post(f"/admin/advisors/{world.lena.id}/presence", {"state": "away", "reason": "training"})
    assert res.status_code == 302
    view = Presence(redis_client).get(world.lena.id, clock())
    assert view.state == "away" and view.away_reason == "training"
    entry = session.scalars(select(AuditEntry).where(AuditEntry.entity == "advisor_presence")).one()
    assert entry.actor == "admin:supervisor"
    assert browser.post(f"/admin/advisors/{world.lena.id}/edit", {"name": "Lena Ortiz"}).status_code == 403


def test_an_admin_edits_skills_and_the_change_is_audited(browser, world, session):
    browser.login("admin")
    form = {
        "name": "Marcus Bell",
        "reach": "+16125550102",
        "team": "Campus Support",
        "active": "1",
        "skill_grade_book": "1",
        "skill_attendance": "1",
    }
    res = browser.post(f"/admin/advisors/{world.marcus.id}/edit", form)
    assert res.status_code == 302
    session.expire_all()
    marcus = session.get(Advisor, world.marcus.id)
    assert {s.value for s in marcus.skills} == {"grade_book", "attendance"}
    entry = session.scalars(
        select(AuditEntry).where(AuditEntry.entity == "advisor", AuditEntry.entity_key == "Marcus Bell")
    ).one()
    assert entry.actor == "admin:admin" and sorted(entry.after["skills"]) == ["attendance", "grade_book"]


def test_bad_input_is_shown_and_nothing_is_written(browser, world, session):
    browser.login("admin")
    res = browser.post(
        f"/admin/advisors/{world.marcus.id}/edit",
        {"name": "Marcus Bell", "reach": "not a number", "skill_grade_book": "1", "active": "1"},
    )
    assert res.status_code == 400 and "reach:" in res.get_data(as_text=True)
    session.expire_all()
    assert session.get(Advisor, world.marcus.id).reach == "+16125550102"


def test_an_admin_renames_and_adds_advisors(browser, world, session):
    browser.login("admin")
    res = browser.post(
        f"/admin/advisors/{world.lena.id}/edit",
        {"name": "Lena Ortiz-Park", "reach": "client:lena", "skill_attendance": "1", "active": "1"},
    )
    assert res.status_code == 302
    res = browser.post(
        "/admin/advisors/new", {"name": "Noor Haddad", "reach": "+16125550111", "skill_scheduling": "1", "active": "1"}
    )
    assert res.status_code == 302
    session.expire_all()
    names = set(session.scalars(select(Advisor.name)))
    assert {"Lena Ortiz-Park", "Noor Haddad"} <= names and "Lena Ortiz" not in names


def test_a_new_advisor_cannot_take_an_existing_name_and_a_rename_is_checked(browser, world, session):
    browser.login("admin")
    res = browser.post("/admin/advisors/new", {"name": "Marcus Bell", "reach": "+16125550111", "active": "1"})
    assert res.status_code == 400 and "already exists" in res.get_data(as_text=True)
    res = browser.post(
        f"/admin/advisors/{world.lena.id}/edit",
        {"name": "L" * 300, "reach": "client:lena", "skill_attendance": "1", "active": "1"},
    )
    assert res.status_code == 400
    session.expire_all()
    assert session.get(Advisor, world.lena.id).name == "Lena Ortiz"
    assert session.get(Advisor, world.marcus.id).reach == "+16125550102"


def test_a_missing_page_inside_the_console_is_a_console_page(browser, world):
    anonymous = browser.get("/admin/no-such-page")
    assert anonymous.status_code == 404 and "Not found" in anonymous.get_data(as_text=True)
    browser.login("viewer")
    for path in ("/admin/no-such-page", "/admin/cases/999999"):
        res = browser.get(path)
        page = res.get_data(as_text=True)
        assert res.status_code == 404 and "<h1>Not found</h1>" in page and "Find a case" in page, path
    wrong_method = browser.client.delete("/admin/cases", base_url="https://localhost")
    assert wrong_method.status_code == 405 and "Not allowed here" in wrong_method.get_data(as_text=True)
    assert browser.get("/no-such-page").status_code == 404  # outside the console: Flask's own
    assert "Find a case" not in browser.get("/no-such-page").get_data(as_text=True)
