"""The routing tables over the JSON API: one row at a time, in the load-file format.

Registered on the API blueprint (`api.views.bp`, so the same bearer tokens and roles apply);
`api/__init__.py` imports this module after `api.views`. Reads need "read" (every role), writes "edit"
(admins). Every write goes through `casestore.interchange.load_document`, exactly as a load file or
the admin console does: the same validation, the same references, an audit entry per change with
the actor `api:<username>`.

For each list section of the load file (SECTION: teams, districts, contacts, advisors, engineers,
rotations, escalation_policies; KEY: the natural key, `contact_id` for contacts, `name` otherwise):

  GET    /api/SECTION?limit=50&offset=0   {"items": [...], "total": N, "limit": L, "offset": O},
                                          sorted by natural key; limit 1-200
  GET    /api/SECTION/KEY                 one row: the load-file row (as exported) plus its `id`
  PUT    /api/SECTION/KEY                 create (201) or replace (200) the row: the body is one
                                          load-file row; its key may be left out (the URL's is
                                          used) but when given must match the URL. Fields left out
                                          take the load file's defaults. An `id` is accepted only
                                          if it is the stored row's (so a GET can be PUT back).
                                          Contacts take `pin` (hashed with the PIN pepper; never
                                          returned); without one the stored PIN is kept.
  DELETE /api/SECTION/KEY                 sections with `active` (districts, contacts, advisors,
                                          engineers): deactivate (active: false) and return the row

  GET/PUT /api/hours                      the `hours` document: {"mon": ["07:00-18:00"], ...};
                                          a PUT replaces the week (a day left out is closed)
  GET/PUT /api/holidays                   the `holidays` document: {"observe": [...], "closures":
                                          [...]}; a PUT replaces what it gives: `observe` is the
                                          full list of observed rules, `closures` the full list of
                                          closures (closures not listed are deleted, audited);
                                          a key left out leaves that part as it is

  GET    /api/openapi.json                the OpenAPI 3.1 document of the whole API (no token)

Errors: a row the load path rejects gets 400 {"error": "invalid", "field": "<first field>",
"detail": "...", "problems": [{"field": "state", "detail": "..."}, ...]} with fields as paths
inside the row ("state", "phones[1]", "steps[0].engineers[2]"; "body" for the row as a whole);
malformed JSON gets the same with field "body"; an unknown key 404; a write that collides with a
simultaneous one 409. KEY may hold any character a name may: percent-encode it ("/" too).
`GET /api/advisors/presence` stays the presence list, so an advisor named "presence" can be
written and deactivated here but read only through the list.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from flask import abort, g, jsonify
from pydantic import BaseModel
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, selectinload

from api.plumbing import _conflict, _fail, _find, _item, _json_body, _load, _load_error, _norm_key, _page_args, plain
from api.views import bp, permit
from casestore import audit
from casestore.interchange import LoadError
from casestore.interchange.rows import (
    AdvisorRow,
    ContactRow,
    DistrictRow,
    EngineerRow,
    EscalationPolicyRow,
    HolidaysDoc,
    RotationRow,
    TeamRow,
)
from casestore.interchange.writer import (
    advisor_snap,
    contact_snap,
    district_snap,
    engineer_snap,
    escalation_policy_snap,
    fmt_range,
    rotation_snap,
    team_snap,
)
from casestore.models import (
    Advisor,
    BusinessHours,
    Closure,
    Contact,
    District,
    Engineer,
    EscalationPolicy,
    EscalationStep,
    HolidayRule,
    Rotation,
    RotationMember,
    RotationOverride,
    Team,
)
from casestore.types import HOLIDAY_RULES, Weekday
from webhooks.services import current_services


@dataclass(frozen=True)
class Table:
    """One list section of the load file as an API resource."""

    section: str  # "districts": the load-file section and the URL segment
    title: str  # "District": the OpenAPI name of one item
    model: Any  # the ORM class
    row: type[BaseModel]  # the load-file row model that validates a write
    key: str  # the row's natural-key field, also the URL parameter
    snap: Callable[[Any], dict[str, Any]]  # the stored row in load-file shape (what export writes)
    options: tuple[Any, ...] = ()  # loader options for `snap`
    phones: tuple[str, ...] = ()  # the fields holding phone numbers (a text or a list of them)

    @property
    def column(self) -> Any:
        return getattr(self.model, self.key)

    @property
    def order(self) -> tuple[Any, ...]:
        if self.key == "contact_id":  # as export sorts them: shorter IDs first
            return (func.length(self.column), self.column)
        return (self.column,)

    @property
    def deactivates(self) -> bool:
        return "active" in self.row.model_fields


TABLES: dict[str, Table] = {
    t.section: t
    for t in (
        Table("teams", "Team", Team, TeamRow, "name", team_snap),
        Table("districts", "District", District, DistrictRow, "name", district_snap, (selectinload(District.team),)),
        Table(
            "contacts",
            "Contact",
            Contact,
            ContactRow,
            "contact_id",
            contact_snap,
            (selectinload(Contact.phones), selectinload(Contact.district)),
            phones=("phones",),
        ),
        Table(
            "advisors",
            "Advisor",
            Advisor,
            AdvisorRow,
            "name",
            advisor_snap,
            (selectinload(Advisor.team), selectinload(Advisor.skill_rows)),
            phones=("reach",),
        ),
        Table("engineers", "Engineer", Engineer, EngineerRow, "name", engineer_snap, phones=("phone",)),
        Table(
            "rotations",
            "Rotation",
            Rotation,
            RotationRow,
            "name",
            rotation_snap,
            (
                selectinload(Rotation.members).selectinload(RotationMember.engineer),
                selectinload(Rotation.overrides).selectinload(RotationOverride.engineer),
            ),
        ),
        Table(
            "escalation_policies",
            "EscalationPolicy",
            EscalationPolicy,
            EscalationPolicyRow,
            "name",
            escalation_policy_snap,
            (
                selectinload(EscalationPolicy.manager),
                selectinload(EscalationPolicy.steps).selectinload(EscalationStep.engineers),
            ),
        ),
    )
}


# --------------------------------------------------------------------------------------------
# Row sections
# --------------------------------------------------------------------------------------------


def list_rows(table: Table):
    permit("read")
    limit, offset = _page_args()
    svc = current_services()
    with svc.sessions() as session:
        total = session.scalar(select(func.count()).select_from(table.model)) or 0
        rows = session.scalars(
            select(table.model).options(*table.options).order_by(*table.order).limit(limit).offset(offset)
        ).all()
        items = [_item(table, r) for r in rows]
    return jsonify(items=items, total=total, limit=limit, offset=offset)


def get_row(table: Table, key: str):
    permit("read")
    svc = current_services()
    with svc.sessions() as session:
        obj = _find(session, table, key)
        if obj is None:
            abort(404)
        return jsonify(_item(table, obj))


def put_row(table: Table, key: str):
    permit("edit")
    body = _json_body()
    if not isinstance(body, dict):
        _fail("body", f"a JSON object: one row of {table.section}")
    row = dict(body)
    given = row.get(table.key)
    if given is None:
        row[table.key] = key
    elif _norm_key(given) is not None and _norm_key(given) != key.strip():
        _fail(table.key, f"the body's {table.key} must match the one in the URL (or be left out)")
    svc = current_services()
    with svc.sessions() as session:
        existing = _find(session, table, key)
        claimed = row.pop("id", None)
        if claimed is not None and (existing is None or isinstance(claimed, bool) or claimed != existing.id):
            _fail("id", "read-only: leave it out, or send the id this row has")
        try:
            report = _load(session, {table.section: [row]})
            obj = _find(session, table, key)
            if obj is None:  # cannot happen: the load stored the row under this key
                abort(404)
            item = _item(table, obj)
            session.commit()
        except LoadError as exc:
            session.rollback()
            raise _load_error(exc, f"{table.section}[0]") from None
        except IntegrityError:
            session.rollback()
            return _conflict()
    created = report.counts.get(table.section, {}).get("created", 0) > 0
    return jsonify(item), 201 if created else 200


def delete_row(table: Table, key: str):
    permit("edit")
    svc = current_services()
    with svc.sessions() as session:
        obj = _find(session, table, key)
        if obj is None:
            abort(404)
        row = {**plain(table.snap(obj)), "active": False}
        try:
            _load(session, {table.section: [row]})
            item = _item(table, obj)
            session.commit()
        except LoadError as exc:  # a stored row the load path no longer accepts: say why
            session.rollback()
            raise _load_error(exc, f"{table.section}[0]") from None
        except IntegrityError:
            session.rollback()
            return _conflict()
    return jsonify(item)


def _register(table: Table) -> None:
    """The list, item, write and (with `active`) deactivate routes of one section."""

    def rows():
        return list_rows(table)

    def one(**kw: str):
        return get_row(table, kw[table.key])

    def put(**kw: str):
        return put_row(table, kw[table.key])

    def deactivate(**kw: str):
        return delete_row(table, kw[table.key])

    item_rule = f"/{table.section}/<path:{table.key}>"
    bp.add_url_rule(f"/{table.section}", f"{table.section}_list", rows, methods=["GET"])
    bp.add_url_rule(item_rule, f"{table.section}_get", one, methods=["GET"])
    bp.add_url_rule(item_rule, f"{table.section}_put", put, methods=["PUT"])
    if table.deactivates:
        bp.add_url_rule(item_rule, f"{table.section}_delete", deactivate, methods=["DELETE"])


for _table in TABLES.values():
    _register(_table)


# --------------------------------------------------------------------------------------------
# Hours and holidays: whole documents
# --------------------------------------------------------------------------------------------


def _hours_doc(session: Session) -> dict[str, list[str]]:
    by_day: dict[Weekday, list[BusinessHours]] = {}
    for bh in session.scalars(select(BusinessHours)):
        by_day.setdefault(Weekday(bh.weekday), []).append(bh)
    return {
        day.value: [fmt_range(b.opens, b.closes) for b in sorted(by_day[day], key=lambda b: b.opens)]
        for day in Weekday
        if day in by_day
    }


def _holidays_doc(session: Session) -> dict[str, Any]:
    order = {key: i for i, key in enumerate(HOLIDAY_RULES)}
    rules = session.scalars(select(HolidayRule).where(HolidayRule.active.is_(True))).all()
    closures = session.scalars(select(Closure).order_by(Closure.day)).all()
    return {
        "observe": sorted((r.key for r in rules), key=lambda k: (order.get(k, len(order)), k)),
        "closures": [{"date": c.day.isoformat(), "name": c.name} for c in closures],
    }


@bp.get("/hours")
def hours_get():
    permit("read")
    svc = current_services()
    with svc.sessions() as session:
        return jsonify(_hours_doc(session))


@bp.put("/hours")
def hours_put():
    permit("edit")
    body = _json_body()
    if not isinstance(body, dict):
        _fail("body", 'a JSON object: the opening ranges of each day, e.g. {"mon": ["07:00-18:00"]}')
    svc = current_services()
    with svc.sessions() as session:
        try:
            _load(session, {"hours": body})
            doc = _hours_doc(session)
            session.commit()
        except LoadError as exc:
            session.rollback()
            raise _load_error(exc, "hours") from None
        except IntegrityError:
            session.rollback()
            return _conflict()
    return jsonify(doc)


@bp.get("/holidays")
def holidays_get():
    permit("read")
    svc = current_services()
    with svc.sessions() as session:
        return jsonify(_holidays_doc(session))


@bp.put("/holidays")
def holidays_put():
    permit("edit")
    body = _json_body()
    if not isinstance(body, dict):
        _fail("body", 'a JSON object: {"observe": [...], "closures": [{"date": ..., "name": ...}]}')
    svc = current_services()
    with svc.sessions() as session:
        try:
            _load(session, {"holidays": body})
            # The load path adds and renames closures; a PUT's list is the whole list.
            if body.get("closures") is not None:
                validated = HolidaysDoc.model_validate(body, context={"region": svc.settings.default_region})
                keep = {c.date for c in validated.closures or []}
                stale_query = select(Closure).where(Closure.day.not_in(keep)) if keep else select(Closure)
                for stale in session.scalars(stale_query).all():
                    audit.record(
                        session,
                        at=svc.now(),
                        actor=g.api_actor,
                        action="delete",
                        entity="closure",
                        key=stale.day.isoformat(),
                        before={"date": stale.day, "name": stale.name},
                    )
                    session.delete(stale)
                session.flush()
            doc = _holidays_doc(session)
            session.commit()
        except LoadError as exc:
            session.rollback()
            raise _load_error(exc, "holidays") from None
        except IntegrityError:
            session.rollback()
            return _conflict()
    return jsonify(doc)


# --------------------------------------------------------------------------------------------
# The OpenAPI document: registered on the app itself (not the blueprint) so that the
# blueprint's token check does not apply; it describes the API, it does not expose data.
# --------------------------------------------------------------------------------------------


def openapi_json():
    from api.openapi import document

    return jsonify(document())


bp.record_once(lambda state: state.app.add_url_rule("/api/openapi.json", "api_openapi", openapi_json, methods=["GET"]))
