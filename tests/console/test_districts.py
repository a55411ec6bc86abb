"""Admin console: districts and authorized contacts (read for every role; admins create, edit,
deactivate and reset PINs, all through the audited load-file writer)."""

from __future__ import annotations

import json
import logging
import re

import pytest
from sqlalchemy import func, select

from auth.callers import match_caller, verify_pin
from auth.pins import valid_pin
from casestore.models import AuditEntry, Contact, District
from console import districts as districts_module
from tests.adminkit import accounts, browser  # noqa: F401  (fixtures)
from tests.conftest import PIN_PEPPER


def _audit_count(session) -> int:
    return session.scalar(select(func.count(AuditEntry.id)))


def _entries(session, entity: str, key: str) -> list[AuditEntry]:
    return list(
        session.scalars(
            select(AuditEntry).where(AuditEntry.entity == entity, AuditEntry.entity_key == key).order_by(AuditEntry.id)
        )
    )


def _contact(session, contact_id: str) -> Contact | None:
    return session.scalars(select(Contact).where(Contact.contact_id == contact_id)).first()


def _contact_form(contact: Contact, **changes) -> dict:
    form = {
        "district": contact.district.name,
        "name": contact.name,
        "contact_id": contact.contact_id,
        "email": contact.email or "",
        "phones": [p.e164 for p in contact.phones],
        "active": "1",
    }
    form.update(changes)
    return form


@pytest.mark.parametrize("role", ["viewer", "supervisor", "admin"])
def test_the_pages_render_for_every_role(browser, world, role):
    browser.login(role)
    res = browser.get("/admin/districts")
    page = res.get_data(as_text=True)
    assert res.status_code == 200
    assert "Lakeview Public Schools" in page and "Prairie Ridge USD" in page
    assert f'href="/admin/districts/{world.hosted.id}"' in page
    row = re.search(r"Lakeview Public Schools</a></td>(.*?)</tr>", page, re.S).group(1)
    assert re.findall(r"<td>(.*?)</td>", row) == ["MN", "yes", "–", "yes", "3"]  # three active contacts
    assert ("New district" in page) is (role == "admin")

    res = browser.get(f"/admin/districts/{world.hosted.id}")
    page = res.get_data(as_text=True)
    assert res.status_code == 200
    assert "Dana Whitfield" in page and "104233" in page and "Jo Park" in page
    assert "Omar Haddad" not in page  # the other district's contact
    assert 'href="/admin/cases/240117"' in page and "in progress" in page and "Priya Raman" in page
    assert "240200" not in page and "240300" not in page  # closed cases are not open cases
    if role == "viewer":
        assert world.DANA_PHONE not in page and "***0134" in page and "masked" in page
    else:
        assert world.DANA_PHONE in page and "***0134" not in page
    assert ("Reset PIN" in page and "Deactivate" in page) is (role == "admin")
    assert browser.get("/admin/districts/999999").status_code == 404


@pytest.mark.parametrize("role", ["viewer", "supervisor"])
def test_only_admins_edit_districts_and_contacts(browser, world, session, role):
    browser.login(role)
    before = _audit_count(session)
    dana = world.dana
    for path in (
        "/admin/districts/new",
        f"/admin/districts/{world.hosted.id}/edit",
        f"/admin/districts/{world.hosted.id}/contacts/new",
        f"/admin/contacts/{dana.id}/edit",
    ):
        assert browser.get(path).status_code == 403, path
    assert browser.post("/admin/districts/new", {"name": "Nope ISD", "state": "TX", "active": "1"}).status_code == 403
    assert browser.post(f"/admin/contacts/{dana.id}/edit", _contact_form(dana, name="Mallory")).status_code == 403
    assert (
        browser.post(
            f"/admin/districts/{world.hosted.id}/contacts/new",
            {
                "district": world.hosted.name,
                "name": "Mallory",
                "contact_id": "666666",
                "phones": ["+16125550199"],
                "active": "1",
            },
        ).status_code
        == 403
    )
    assert browser.post(f"/admin/contacts/{dana.id}/deactivate").status_code == 403
    res = browser.post(f"/admin/contacts/{dana.id}/pin")
    assert res.status_code == 403 and "not shown again" not in res.get_data(as_text=True)
    session.expire_all()
    dana = session.get(Contact, dana.id)
    assert dana.name == "Dana Whitfield" and dana.active and verify_pin(PIN_PEPPER, dana, "4821")
    assert _contact(session, "666666") is None and _audit_count(session) == before


def test_an_admin_creates_a_district_and_a_contact_with_two_phones(browser, world, session):
    browser.login("admin")
    res = browser.post(
        "/admin/districts/new",
        {"name": "Cedar Falls CSD", "state": "ia", "team": "Campus Support", "hosted": "1", "active": "1"},
    )
    assert res.status_code == 302
    session.expire_all()
    cedar = session.scalars(select(District).where(District.name == "Cedar Falls CSD")).one()
    assert res.headers["Location"].endswith(f"/admin/districts/{cedar.id}")
    assert (cedar.state, cedar.hosted, cedar.team.name, cedar.active) == ("IA", True, "Campus Support", True)
    (entry,) = _entries(session, "district", "Cedar Falls CSD")
    assert entry.actor == "admin:admin" and entry.action == "create" and entry.after["state"] == "IA"

    res = browser.post(
        f"/admin/districts/{cedar.id}/contacts/new",
        {
            "district": "Cedar Falls CSD",
            "name": "Alex Moreno",
            "contact_id": "305001",
            "email": "amoreno@cfcsd.example",
            "phones": ["(319) 555-0142", "", "+1 319 555 0199"],
            "active": "1",
        },
    )
    assert res.status_code == 302 and res.headers["Location"].endswith(f"/admin/districts/{cedar.id}")
    session.expire_all()
    alex = _contact(session, "305001")
    assert alex.district_id == cedar.id and alex.email == "amoreno@cfcsd.example" and alex.pin_hash is None
    assert [p.e164 for p in alex.phones] == ["+13195550142", "+13195550199"]
    assert match_caller(session, "+13195550142").contact_pk == alex.id
    assert match_caller(session, "+13195550199").contact_pk == alex.id
    (entry,) = _entries(session, "contact", "305001")
    assert entry.actor == "admin:admin" and entry.action == "create"
    assert entry.after["phones"] == ["+13195550142", "+13195550199"] and entry.after["pin"] == "not set"

    page = browser.get(f"/admin/districts/{cedar.id}").get_data(as_text=True)
    assert "Alex Moreno" in page and "+13195550142" in page and "Set PIN" in page and "No PIN yet" in page
    page = browser.get("/admin/districts").get_data(as_text=True)
    row = re.search(r"Cedar Falls CSD</a></td>(.*?)</tr>", page, re.S).group(1)
    assert re.findall(r"<td>(.*?)</td>", row) == ["IA", "yes", "Campus Support", "yes", "1"]


def test_bad_input_is_shown_next_to_the_form_and_nothing_is_written(browser, world, session):
    browser.login("admin")
    before = _audit_count(session)
    res = browser.post("/admin/districts/new", {"name": "Bad State SD", "state": "Minnesota", "active": "1"})
    page = res.get_data(as_text=True)
    assert res.status_code == 400 and "state: expected a two-letter state code" in page
    assert 'value="Bad State SD"' in page and 'aria-invalid="true"' in page  # the form keeps what was typed
    res = browser.post(
        f"/admin/districts/{world.onprem.id}/edit", {"name": "Prairie Ridge USD", "state": "K5", "active": "1"}
    )
    assert res.status_code == 400 and "state:" in res.get_data(as_text=True)
    res = browser.post("/admin/districts/new", {"name": "Prairie Ridge USD", "state": "KS", "active": "1"})
    assert res.status_code == 400 and "already exists" in res.get_data(as_text=True)

    res = browser.post(
        f"/admin/districts/{world.hosted.id}/contacts/new",
        {
            "district": world.hosted.name,
            "name": "Pat Doe",
            "contact_id": "104999",
            "phones": ["+16125550161", "", "555-12"],
            "active": "1",
        },
    )
    page = res.get_data(as_text=True)
    assert res.status_code == 400 and "phones[2]: not a valid phone number" in page  # the third input
    res = browser.post(
        f"/admin/districts/{world.hosted.id}/contacts/new",
        {"district": world.hosted.name, "name": "Pat Doe", "contact_id": "0123", "phones": ["+16125550161"]},
    )
    assert res.status_code == 400 and "contact_id: not a valid contact ID" in res.get_data(as_text=True)
    res = browser.post(
        f"/admin/districts/{world.hosted.id}/contacts/new",
        {
            "district": world.hosted.name,
            "name": "Pat Doe",
            "contact_id": world.omar.contact_id,
            "phones": ["+16125550161"],
            "active": "1",
        },
    )
    assert res.status_code == 400 and "already the contact ID of Omar Haddad" in res.get_data(as_text=True)
    res = browser.post(
        f"/admin/contacts/{world.dana.id}/edit",
        _contact_form(world.dana, name="Dana W.", phones=[world.DANA_PHONE, "12"], email="dana@"),
    )
    page = res.get_data(as_text=True)
    assert res.status_code == 400 and "phones[1]:" in page and "email:" in page

    session.expire_all()
    assert session.scalars(select(District).where(District.name == "Bad State SD")).first() is None
    assert session.get(District, world.onprem.id).state == "KS"
    assert _contact(session, "104999") is None and match_caller(session, "+16125550161").contact_pk is None
    dana = session.get(Contact, world.dana.id)
    assert dana.name == "Dana Whitfield" and [p.e164 for p in dana.phones] == [world.DANA_PHONE]
    assert _audit_count(session) == before


def test_phone_inputs_are_added_and_removed_without_saving(browser, world, session):
    browser.login("admin")
    dana = world.dana
    res = browser.post(f"/admin/contacts/{dana.id}/edit", _contact_form(dana, phone_action="add"))
    page = res.get_data(as_text=True)
    assert res.status_code == 200 and page.count('name="phones"') == 2
    res = browser.post(
        f"/admin/contacts/{dana.id}/edit",
        _contact_form(dana, phones=[world.DANA_PHONE, "+16125550162"], phone_action="remove:0"),
    )
    page = res.get_data(as_text=True)
    assert res.status_code == 200 and page.count('name="phones"') == 1 and 'value="+16125550162"' in page
    session.expire_all()
    assert [p.e164 for p in session.get(Contact, dana.id).phones] == [world.DANA_PHONE]

    res = browser.post(
        f"/admin/contacts/{dana.id}/edit", _contact_form(dana, phones=["+16125550162", world.DANA_PHONE])
    )
    assert res.status_code == 302
    session.expire_all()
    assert [p.e164 for p in session.get(Contact, dana.id).phones] == ["+16125550162", world.DANA_PHONE]
    assert match_caller(session, "+16125550162").contact_pk == dana.id


def test_an_admin_deactivates_a_contact(browser, world, session):
    browser.login("admin")
    assert match_caller(session, world.DANA_PHONE).contact_pk == world.dana.id
    page = browser.get(f"/admin/districts/{world.hosted.id}").get_data(as_text=True)
    assert f'action="/admin/contacts/{world.dana.id}/deactivate"' in page
    res = browser.post(f"/admin/contacts/{world.dana.id}/deactivate")
    assert res.status_code == 302 and res.headers["Location"].endswith(f"/admin/districts/{world.hosted.id}")
    session.expire_all()
    dana = session.get(Contact, world.dana.id)
    assert not dana.active and match_caller(session, world.DANA_PHONE).contact_pk is None
    assert not verify_pin(PIN_PEPPER, dana, "4821")
    (entry,) = _entries(session, "contact", "104233")
    assert entry.actor == "admin:admin" and entry.before == {"active": True} and entry.after == {"active": False}
    page = browser.get(f"/admin/districts/{world.hosted.id}").get_data(as_text=True)
    assert "Deactivated Dana Whitfield" in page
    assert f'action="/admin/contacts/{world.dana.id}/deactivate"' not in page


def test_a_pin_reset_shows_the_pin_once(browser, world, session, monkeypatch, caplog):
    caplog.set_level(logging.DEBUG)
    monkeypatch.setattr(districts_module, "new_pin", lambda: "739251")
    browser.login("admin")
    res = browser.post(f"/admin/contacts/{world.dana.id}/pin")
    page = res.get_data(as_text=True)
    assert res.status_code == 200 and "Location" not in res.headers
    assert '<output id="new-pin">739251</output>' in page and "it is not shown again" in page
    assert res.headers["Cache-Control"] == "no-store"
    with browser.client.session_transaction() as cookie_session:
        assert "739251" not in json.dumps(dict(cookie_session), default=str)

    page = browser.get(f"/admin/districts/{world.hosted.id}").get_data(as_text=True)
    assert "739251" not in page and "new-pin" not in page

    session.expire_all()
    dana = session.get(Contact, world.dana.id)
    assert verify_pin(PIN_PEPPER, dana, "739251") and not verify_pin(PIN_PEPPER, dana, "4821")
    (entry,) = _entries(session, "contact", "104233")
    assert entry.actor == "admin:admin" and entry.before == {"pin": "set"} and entry.after == {"pin": "changed"}
    every_entry = [(e.before, e.after, e.entity_key) for e in session.scalars(select(AuditEntry))]
    assert "739251" not in json.dumps(every_entry, default=str)
    assert "739251" not in caplog.text


def test_a_pin_can_be_set_for_a_new_contact_and_pins_are_random(browser, world, session):
    browser.login("admin")
    res = browser.post(
        f"/admin/districts/{world.onprem.id}/contacts/new",
        {
            "district": world.onprem.name,
            "name": "Kim Lee",
            "contact_id": "204600",
            "phones": ["+16515550123"],
            "active": "1",
        },
    )
    assert res.status_code == 302
    kim = _contact(session, "204600")
    res = browser.post(f"/admin/contacts/{kim.id}/pin")
    pin = re.search(r'<output id="new-pin">([0-9]+)</output>', res.get_data(as_text=True)).group(1)
    session.expire_all()
    assert verify_pin(PIN_PEPPER, session.get(Contact, kim.id), pin)
    assert _entries(session, "contact", "204600")[-1].after == {"pin": "set"}

    pins = [districts_module.new_pin() for _ in range(200)]
    assert all(valid_pin(p) and len(p) == 6 for p in pins) and len(set(pins)) > 190
    assert not {"000000", "111111", "123456", "654321"} & set(pins)


def test_renames_are_audited_first(browser, world, session):
    browser.login("admin")
    res = browser.post(
        f"/admin/districts/{world.onprem.id}/edit", {"name": "Prairie Ridge Unified", "state": "KS", "active": "1"}
    )
    assert res.status_code == 302
    session.expire_all()
    assert session.get(District, world.onprem.id).name == "Prairie Ridge Unified"
    (entry,) = _entries(session, "district", "Prairie Ridge USD")
    assert entry.actor == "admin:admin" and entry.after == {"name": "Prairie Ridge Unified"}
    res = browser.post(f"/admin/districts/{world.onprem.id}/edit", {"name": world.hosted.name, "state": "KS"})
    assert res.status_code == 400 and "another district is already called" in res.get_data(as_text=True)

    # The PIN hash is bound to the contact ID: a new contact ID clears it (the admin is told).
    res = browser.post(f"/admin/contacts/{world.omar.id}/edit", _contact_form(world.omar, contact_id="204512"))
    assert res.status_code == 302
    session.expire_all()
    omar = session.get(Contact, world.omar.id)
    assert omar.contact_id == "204512" and omar.pin_hash is None and not verify_pin(PIN_PEPPER, omar, "1357")
    (entry,) = _entries(session, "contact", "204511")
    assert entry.before == {"contact_id": "204511", "pin": "set"}
    assert entry.after == {"contact_id": "204512", "pin": "not set"}
    page = browser.get(f"/admin/districts/{world.onprem.id}").get_data(as_text=True)
    assert "the old PIN no longer works" in page
