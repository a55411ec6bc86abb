"""Admin console: a contact's language on the line (issue #15 item 7), shown and edited on the
contact form, saved through the audited load-file writer like the other contact fields."""

from __future__ import annotations

from sqlalchemy import select

from casestore.models import AuditEntry, Contact
from tests.adminkit import accounts, browser  # noqa: F401  (fixtures)
from tests.console.test_districts import _contact_form


def _dana(session) -> Contact:
    session.expire_all()
    return session.scalars(select(Contact).where(Contact.contact_id == "104233")).one()


def test_the_form_shows_and_saves_the_language(browser, world, session):
    browser.login("admin")
    page = browser.get(f"/admin/contacts/{world.dana.id}/edit").get_data(as_text=True)
    assert '<option value="en" selected>English</option>' in page
    assert '<option value="es" lang="es">Español</option>' in page
    res = browser.post(f"/admin/contacts/{world.dana.id}/edit", _contact_form(world.dana, language="es"))
    assert res.status_code == 302
    assert _dana(session).language == "es"
    entry = session.scalars(
        select(AuditEntry).where(AuditEntry.entity == "contact", AuditEntry.entity_key == "104233")
    ).one()
    assert entry.actor == "admin:admin" and entry.before == {"language": "en"} and entry.after == {"language": "es"}
    page = browser.get(f"/admin/contacts/{world.dana.id}/edit").get_data(as_text=True)
    assert '<option value="es" lang="es" selected>Español</option>' in page


def test_saving_other_fields_keeps_the_callers_choice(browser, world, session):
    world.dana.language = "es"  # chosen on the line
    session.commit()
    browser.login("admin")
    form = _contact_form(world.dana, name="Dana W. Whitfield")  # a client that sends no language
    assert "language" not in form
    assert browser.post(f"/admin/contacts/{world.dana.id}/edit", form).status_code == 302
    assert _dana(session).language == "es" and _dana(session).name == "Dana W. Whitfield"
    assert browser.post(f"/admin/contacts/{world.dana.id}/edit", dict(form, language="es")).status_code == 302
    (entry,) = session.scalars(
        select(AuditEntry).where(AuditEntry.entity == "contact", AuditEntry.entity_key == "104233")
    ).all()
    assert entry.after == {"name": "Dana W. Whitfield"}  # the second save changed nothing


def test_an_unknown_language_is_refused_next_to_the_field(browser, world, session):
    browser.login("admin")
    res = browser.post(f"/admin/contacts/{world.dana.id}/edit", _contact_form(world.dana, language="fr"))
    page = res.get_data(as_text=True)
    assert res.status_code == 400 and "language: unknown language" in page
    assert _dana(session).language is None


def test_a_new_contact_is_english_unless_chosen(browser, world, session):
    browser.login("admin")
    page = browser.get(f"/admin/districts/{world.hosted.id}/contacts/new").get_data(as_text=True)
    assert '<option value="en" selected>English</option>' in page
    form = {"district": world.hosted.name, "name": "Ana Ruiz", "contact_id": "104400", "phones": [], "active": "1"}
    assert (
        browser.post(f"/admin/districts/{world.hosted.id}/contacts/new", dict(form, language="es")).status_code == 302
    )
    session.expire_all()
    ana = session.scalars(select(Contact).where(Contact.contact_id == "104400")).one()
    assert ana.language == "es"
