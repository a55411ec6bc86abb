"""casestore/interchange: a contact's `language` (issue #15 item 7) in the load format. It loads
and exports, an admin's change is audited like the other contact fields, and a file that leaves
it out (or null) keeps the language the contact chose on the line."""

from __future__ import annotations

from functools import partial

import pytest
from sqlalchemy import select

from auth.pins import hash_pin
from casestore.interchange import LoadError, dump, export_document, load_text
from casestore.models import AuditEntry, Contact
from tests.casestore.test_interchange import NOW, PIN_PEPPER, VALID, replace_once

DANA = """    pin: "4821"
    active: true"""


def load(session, text: str):
    return load_text(session, text, source="test.yaml", hash_pin=partial(hash_pin, PIN_PEPPER), actor="test", now=NOW)


def dana(session) -> Contact:
    session.expire_all()
    return session.scalars(select(Contact).where(Contact.contact_id == "104233")).one()


def with_language(value: str) -> str:
    return replace_once(VALID, DANA, f'    pin: "4821"\n    language: {value}\n    active: true')


def test_language_loads_exports_and_round_trips(session):
    load(session, with_language("es"))
    assert dana(session).language == "es"
    doc = export_document(session)
    languages = {c["contact_id"]: c["language"] for c in doc["contacts"]}
    assert languages == {"104233": "es", "5521": "en"}
    for fmt in ("yaml", "json"):
        report = load(session, dump(doc, fmt))
        assert report.changes == 0


def test_a_change_is_audited_and_leaving_it_out_keeps_the_callers_choice(session):
    load(session, VALID)
    assert dana(session).language is None
    # The caller chose Spanish on the line (a plain column update, no audit entry).
    dana(session).language = "es"
    session.flush()
    report = load(session, VALID)  # no `language` key: kept
    assert report.changes == 0 and dana(session).language == "es"
    report = load(session, with_language("null"))
    assert report.changes == 0 and dana(session).language == "es"
    load(session, with_language("en"))
    assert dana(session).language == "en"
    entry = session.scalars(
        select(AuditEntry)
        .where(AuditEntry.entity == "contact", AuditEntry.entity_key == "104233")
        .order_by(AuditEntry.id.desc())
    ).first()
    assert entry.action == "update" and entry.before == {"language": "es"} and entry.after == {"language": "en"}


def test_english_and_never_chosen_are_the_same(session):
    load(session, VALID)
    report = load(session, with_language("en"))
    assert report.changes == 0 and dana(session).language is None


@pytest.mark.parametrize("value", ["fr", "ES", "1", "[es]", "Spanish"])
def test_an_unknown_language_is_a_problem_with_its_line(session, value):
    with pytest.raises(LoadError) as caught:
        load(session, with_language(value))
    (problem,) = caught.value.problems
    assert problem.path == "contacts[0].language" and "language" in problem.message
    assert problem.line is not None
