"""Districts and their Authorized Contacts: every role reads; admins create and edit districts and
contacts, deactivate contacts and reset PINs.

Every write goes through the load-file writer (`write`: validation, references, audit as
`admin:<username>`). The load format keys districts by name and contacts by contact ID, so a
rename of either is its own audited change first (as for advisors). A contact's PIN hash is bound
to its contact ID (`auth.pins.hash_pin`), so changing the contact ID clears the PIN: the old PIN
could never verify again, and the contact needs a new one (Reset PIN).

A PIN reset is generated here (`secrets`), hashed with the configured pepper by the writer, and
shown once in the body of the POST response (never in a flash message, which lives in the
session cookie, never in a URL, never logged; the audit entry says only that the PIN changed).
"""

from __future__ import annotations

import itertools
import secrets
from functools import partial
from typing import Any

from flask import abort, flash, make_response, redirect, render_template, request, url_for
from flask_login import current_user
from pydantic import TypeAdapter, ValidationError
from sqlalchemy import func, select
from sqlalchemy.orm import selectinload

from auth.pins import hash_pin
from casestore import audit
from casestore.interchange.fields import ContactIdT, Name200
from casestore.interchange.writer import contact_snap, district_snap
from casestore.models import Case, Contact, District, Team
from casestore.types import NEW_PIN_DIGITS, CaseStatus, Priority
from console import actor, bp, note_problems, require, shown_phone, write
from webhooks.services import current_services

MAX_PHONES = 10
PIN_LENGTH = NEW_PIN_DIGITS  # generated PINs (the keypad takes 4-8 digits)

_NAME = TypeAdapter(Name200)
_CONTACT_ID = TypeAdapter(ContactIdT)


def _valid(adapter: TypeAdapter, value: str) -> bool:
    """A key checked with the load format's own field type before a rename stores it (an invalid
    one is not renamed to; the writer then reports it with the form's other problems)."""
    try:
        adapter.validate_python(value)
    except ValidationError:
        return False
    return True


def _noted(problems: list[str]) -> list[str]:
    """The form's problems, listed at its top and each shown beside its field (`note_problems`)."""
    note_problems(problems)
    return problems


def _no_store(response):
    response.headers["Cache-Control"] = "no-store"
    response.headers["Pragma"] = "no-cache"
    return response


# ------------------------------------------------------------------------------------ reading


@bp.get("/districts")
@require("read")
def districts():
    svc = current_services()
    with svc.sessions() as session:
        counts = dict(
            session.execute(
                select(Contact.district_id, func.count(Contact.id))
                .where(Contact.active.is_(True))
                .group_by(Contact.district_id)
            ).all()
        )
        rows = session.scalars(
            select(District).options(selectinload(District.team)).order_by(District.active.desc(), District.name)
        ).all()
        items = [
            {"row": d, "team": d.team.name if d.team else "", "active_contacts": counts.get(d.id, 0)} for d in rows
        ]
        return render_template("admin/districts.html", items=items)


def _open_cases(session, district: District) -> list[Case]:
    cases = session.scalars(
        select(Case)
        .options(selectinload(Case.owner), selectinload(Case.contact))
        .where(Case.district_id == district.id, Case.status != CaseStatus.CLOSED)
    ).all()
    return sorted(cases, key=lambda c: (Priority(c.priority).rank, c.created_at, c.number))


@bp.get("/districts/<int:district_id>")
@require("read")
def district(district_id: int):
    svc = current_services()
    with svc.sessions() as session:
        d = session.get(District, district_id, options=[selectinload(District.team)])
        if d is None:
            abort(404)
        contacts = session.scalars(
            select(Contact)
            .options(selectinload(Contact.phones))
            .where(Contact.district_id == d.id)
            .order_by(Contact.active.desc(), Contact.name, Contact.contact_id)
        ).all()
        items = [{"row": c, "phones": [shown_phone(p.e164) for p in c.phones]} for c in contacts]
        return render_template(
            "admin/district.html",
            district=d,
            contacts=items,
            cases=_open_cases(session, d),
            phones_masked=not current_user.can("phones"),
        )


# ------------------------------------------------------------------------------------ districts


def _district_form(form) -> dict[str, Any]:
    return {
        "name": form.get("name", "").strip(),
        "state": form.get("state", "").strip(),
        "hosted": bool(form.get("hosted")),
        "team": form.get("team") or None,
        "active": bool(form.get("active")),
    }


@bp.route("/districts/new", methods=["GET", "POST"])
@bp.route("/districts/<int:district_id>/edit", methods=["GET", "POST"])
@require("edit")
def district_edit(district_id: int | None = None):
    svc = current_services()
    with svc.sessions() as session:
        d = session.get(District, district_id) if district_id else None
        if district_id and d is None:
            abort(404)
        teams = [t.name for t in session.scalars(select(Team).order_by(Team.route_order, Team.name))]
        if request.method == "POST":
            row = _district_form(request.form)
            problems = None
            if _valid(_NAME, row["name"]):
                problems = _rename_district(session, d, row["name"]) if d else _new_district_name(session, row["name"])
            problems = problems or write(session, {"districts": [row]})
            if problems:
                session.rollback()
                return render_template(
                    "admin/district_form.html", district=d, row=row, teams=teams, problems=_noted(problems)
                ), 400
            session.commit()
            saved = session.scalars(select(District).where(District.name == row["name"])).one()
            flash(f"Saved {row['name']}.", "success")
            return redirect(url_for("admin.district", district_id=saved.id))
        row = district_snap(d) if d else {"name": "", "state": "", "hosted": False, "team": None, "active": True}
        return render_template("admin/district_form.html", district=d, row=row, teams=teams, problems=[])


def _new_district_name(session, name: str) -> list[str] | None:
    # The writer upserts by name: a "new" district with a taken name would edit that district.
    if session.scalars(select(District.id).where(District.name == name)).first() is not None:
        return [f"name: a district called {name!r} already exists"]
    return None


def _rename_district(session, d: District, new_name: str) -> list[str] | None:
    if new_name == d.name:
        return None
    if session.scalars(select(District.id).where(District.name == new_name)).first() is not None:
        return [f"name: another district is already called {new_name!r}"]
    audit.record(
        session,
        at=current_services().now(),
        actor=actor(),
        action="update",
        entity="district",
        key=d.name,
        before={"name": d.name},
        after={"name": new_name},
    )
    d.name = new_name
    session.flush()
    return None


# ------------------------------------------------------------------------------------ contacts


def _contact_form(form) -> dict[str, Any]:
    return {
        "contact_id": form.get("contact_id", "").strip(),
        "district": form.get("district", "").strip(),
        "name": form.get("name", "").strip(),
        "email": form.get("email", "").strip() or None,
        "phones": [p.strip() for p in form.getlist("phones")][:MAX_PHONES],
        "language": form.get("language", "").strip() or None,  # left out: the contact keeps theirs
        "active": bool(form.get("active")),
    }


def _phone_action(row: dict[str, Any], action: str) -> bool:
    """Add or remove a phone input (buttons of the form that re-render it without saving)."""
    if action == "add":
        if len(row["phones"]) < MAX_PHONES:
            row["phones"].append("")
        return True
    if action.startswith("remove:") and action[7:].isdigit():
        index = int(action[7:])
        if index < len(row["phones"]):
            del row["phones"][index]
        return True
    return False


def _render_contact_form(contact, home, row, districts, problems, status=200):
    phones = row["phones"] or [""]
    return render_template(
        "admin/contact_form.html",
        contact=contact,
        home=home,
        row={**row, "phones": phones},
        districts=districts,
        problems=_noted(problems),
        max_phones=MAX_PHONES,
    ), status


@bp.route("/districts/<int:district_id>/contacts/new", methods=["GET", "POST"])
@bp.route("/contacts/<int:contact_pk>/edit", methods=["GET", "POST"])
@require("edit")
def contact_edit(district_id: int | None = None, contact_pk: int | None = None):
    svc = current_services()
    with svc.sessions() as session:
        contact = None
        if contact_pk is not None:
            contact = session.get(Contact, contact_pk, options=[selectinload(Contact.phones)])
            if contact is None:
                abort(404)
            home = contact.district
        else:
            found = session.get(District, district_id)
            if found is None:
                abort(404)
            home = found
        districts = session.scalars(select(District).order_by(District.active.desc(), District.name)).all()
        if request.method == "GET":
            row = (
                contact_snap(contact)
                if contact
                else {
                    "contact_id": "",
                    "district": home.name,
                    "name": "",
                    "email": None,
                    "phones": [],
                    "language": "en",
                    "active": True,
                }
            )
            return _render_contact_form(contact, home, row, districts, [])
        row = _contact_form(request.form)
        if _phone_action(row, request.form.get("phone_action", "")):
            return _render_contact_form(contact, home, row, districts, [])
        sent = [i for i, p in enumerate(row["phones"]) if p]  # the input of each number sent (no blanks)
        doc_row = {**row, "phones": [row["phones"][i] for i in sent]}
        problems, pin_cleared = None, False
        if _valid(_CONTACT_ID, row["contact_id"]):
            if contact is not None:
                problems, pin_cleared = _change_contact_id(session, contact, row["contact_id"])
            else:
                problems = _new_contact_id(session, row["contact_id"])
        problems = problems or write(session, {"contacts": [doc_row]})
        if problems:
            session.rollback()
            return _render_contact_form(contact, home, row, districts, _input_positions(problems, sent), 400)
        session.commit()
        saved = session.scalars(select(Contact).where(Contact.contact_id == row["contact_id"])).one()
        if pin_cleared:
            flash(
                f"Saved {row['name']}. The PIN is bound to the contact ID, so the old PIN no longer works: "
                "set a new one with Reset PIN.",
                "error",
            )
        elif saved.pin_hash is None:
            flash(f"Saved {row['name']}. No PIN yet: use Set PIN so they can verify on the line.", "success")
        else:
            flash(f"Saved {row['name']}.", "success")
        return redirect(url_for("admin.district", district_id=saved.district_id))


def _input_positions(problems: list[str], positions: list[int]) -> list[str]:
    """`phones[1]: ...` counts the numbers sent (blank inputs dropped); say which input it is."""
    out = []
    for problem in problems:
        head, sep, rest = problem.partition(": ")
        if head.startswith("phones[") and head.endswith("]") and head[7:-1].isdigit():
            index = int(head[7:-1])
            if index < len(positions):
                head = f"phones[{positions[index]}]"
        out.append(head + sep + rest)
    return out


def _new_contact_id(session, contact_id: str) -> list[str] | None:
    # The writer upserts by contact ID: a "new" contact with a taken ID would edit that contact.
    other = session.scalars(select(Contact).where(Contact.contact_id == contact_id)).first()
    if other is not None:
        return [f"contact_id: {contact_id} is already the contact ID of {other.name} ({other.district.name})"]
    return None


def _change_contact_id(session, contact: Contact, new_id: str) -> tuple[list[str] | None, bool]:
    """Rename the key first (audited); the PIN hash is bound to the ID, so it is cleared."""
    if new_id == contact.contact_id:
        return None, False
    other = session.scalars(select(Contact).where(Contact.contact_id == new_id)).first()
    if other is not None:
        return [f"contact_id: {new_id} is already the contact ID of {other.name} ({other.district.name})"], False
    had_pin = contact.pin_hash is not None
    audit.record(
        session,
        at=current_services().now(),
        actor=actor(),
        action="update",
        entity="contact",
        key=contact.contact_id,
        before={"contact_id": contact.contact_id, "pin": "set" if had_pin else "not set"},
        after={"contact_id": new_id, "pin": "not set"},
    )
    contact.contact_id = new_id
    contact.pin_hash = None
    session.flush()
    return None, had_pin


def _contact_or_404(session, contact_pk: int) -> Contact:
    contact = session.get(Contact, contact_pk, options=[selectinload(Contact.phones), selectinload(Contact.district)])
    if contact is None:
        abort(404)
    return contact


@bp.post("/contacts/<int:contact_pk>/deactivate")
@require("edit")
def contact_deactivate(contact_pk: int):
    svc = current_services()
    with svc.sessions() as session:
        contact = _contact_or_404(session, contact_pk)
        problems = write(session, {"contacts": [{**contact_snap(contact), "active": False}]})
        if problems:
            session.rollback()
            for problem in problems:
                flash(problem, "error")
        else:
            session.commit()
            flash(f"Deactivated {contact.name}: they can no longer verify on the support line.", "success")
        return redirect(url_for("admin.district", district_id=contact.district_id))


def new_pin(length: int = PIN_LENGTH) -> str:
    """A random keypad PIN from `secrets`, never one digit repeated or a straight run (123456)."""
    while True:
        pin = "".join(str(secrets.randbelow(10)) for _ in range(length))
        steps = {(int(b) - int(a)) % 10 for a, b in itertools.pairwise(pin)}
        if steps not in ({0}, {1}, {9}):
            return pin


@bp.post("/contacts/<int:contact_pk>/pin")
@require("edit")
def contact_pin_reset(contact_pk: int):
    svc = current_services()
    pepper = svc.settings.pin_pepper
    hasher = partial(hash_pin, pepper) if pepper else None
    with svc.sessions() as session:
        contact = _contact_or_404(session, contact_pk)
        pin = new_pin()
        while hasher is not None and hasher(contact.contact_id, pin) == contact.pin_hash:
            pin = new_pin()  # a reset always changes the PIN (and so is always audited)
        problems = write(session, {"contacts": [{**contact_snap(contact), "pin": pin}]}, hash_pin=hasher)
        if problems:
            session.rollback()
            for problem in problems:
                flash(problem, "error")
            return redirect(url_for("admin.district", district_id=contact.district_id))
        session.commit()
        # The PIN goes only into this response's body: no flash (session cookie), no URL, no log.
        response = make_response(
            render_template("admin/contact_pin.html", contact=contact, district=contact.district, pin=pin)
        )
        return _no_store(response)
