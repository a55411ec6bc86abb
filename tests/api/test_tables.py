"""The routing tables over the JSON API (`api.tables`): CRUD round trips for every
section, roles, field errors, pagination, PINs, audit entries."""

from __future__ import annotations

import json
from urllib.parse import quote

import pytest
from sqlalchemy import func, select

from auth.pins import check_pin
from casestore.models import AuditEntry, Closure, Contact, District
from tests.conftest import PIN_PEPPER

ENTITY = {
    "teams": "team",
    "districts": "district",
    "contacts": "contact",
    "advisors": "advisor",
    "engineers": "engineer",
    "rotations": "rotation",
    "escalation_policies": "escalation_policy",
}
KEY = {"contacts": "contact_id"}

# section, key, the row to create, what the API must return for it, a change to make afterwards
ROUND_TRIPS = [
    (
        "teams",
        "Night Desk",
        {"kind": "partner", "route_order": 40},
        {"kind": "partner", "route_order": 40},
        {"route_order": 45},
    ),
    (
        "districts",
        "Maple Grove ISD",
        {"state": "mn", "team": "Campus Support"},
        {"state": "MN", "team": "Campus Support", "hosted": False, "active": True},
        {"hosted": True},
    ),
    (
        "contacts",
        "300001",
        {"district": "Lakeview Public Schools", "name": "Ana Silva", "phones": ["(612) 555-0190"], "pin": "2468"},
        {"district": "Lakeview Public Schools", "phones": ["+16125550190"], "email": None, "active": True},
        {"email": "ana@example.org"},
    ),
    (
        "advisors",
        "Noor Haddad",
        {"reach": "client:noor", "skills": ["attendance", "grade_book"], "team": "Campus Support"},
        {"reach": "client:noor", "skills": ["grade_book", "attendance"], "team": "Campus Support", "active": True},
        {"skills": ["scheduling"]},
    ),
    (
        "engineers",
        "Ana Ruiz",
        {"phone": "612-555-0179"},
        {"phone": "+16125550179", "sms": True, "active": True},
        {"sms": False},
    ),
    (
        "rotations",
        "Network primary",
        {
            "layer": "primary",
            "handoff": "weekly",
            "handoff_time": "09:00",
            "handoff_weekday": "mon",
            "start_date": "2026-01-05",
            "members": ["Sam Ortiz", "Lee Chen"],
            "overrides": [
                {
                    "engineer": "Lee Chen",
                    "starts_at": "2026-11-20T09:00:00-06:00",
                    "ends_at": "2026-11-21T09:00:00-06:00",
                }
            ],
        },
        {
            "layer": "primary",
            "timezone": "America/Chicago",
            "handoff_time": "09:00",
            "start_date": "2026-01-05",
            "members": ["Sam Ortiz", "Lee Chen"],
            "overrides": [
                {
                    "engineer": "Lee Chen",
                    "starts_at": "2026-11-20T15:00:00+00:00",
                    "ends_at": "2026-11-21T15:00:00+00:00",
                }
            ],
        },
        {"members": ["Lee Chen"], "overrides": []},
    ),
    (
        "escalation_policies",
        "Hosting outage",
        {
            "default": True,
            "repeats": 2,
            "manager": "Sam Ortiz",
            "steps": [
                {"layers": ["primary"]},
                {"layers": ["secondary"], "engineers": ["Lee Chen"], "delay_minutes": 10},
            ],
        },
        {
            "default": True,
            "repeats": 2,
            "manager": "Sam Ortiz",
            "steps": [
                {"layers": ["primary"], "engineers": [], "delay_minutes": 5},
                {"layers": ["secondary"], "engineers": ["Lee Chen"], "delay_minutes": 10},
            ],
        },
        {"repeats": 3},
    ),
]


def url(section: str, key: str) -> str:
    return f"/api/{section}/{quote(key, safe='')}"


def audit_count(session) -> int:
    return session.scalar(select(func.count()).select_from(AuditEntry))


@pytest.fixture
def admin(api_auth):
    return api_auth("admin")


@pytest.mark.parametrize("section, key, body, expected, change", ROUND_TRIPS, ids=[r[0] for r in ROUND_TRIPS])
def test_round_trip(client, admin, world, session, section, key, body, expected, change):
    key_field = KEY.get(section, "name")
    assert client.get(url(section, key), headers=admin).status_code == 404

    created = client.put(url(section, key), json=body, headers=admin)
    assert created.status_code == 201, created.get_json()
    item = created.get_json()
    assert item[key_field] == key and isinstance(item["id"], int) and "pin" not in item
    assert {k: item[k] for k in expected} == expected
    assert client.get(url(section, key), headers=admin).get_json() == item
    listed = client.get(f"/api/{section}?limit=200", headers=admin).get_json()
    assert item in listed["items"] and listed["total"] == len(listed["items"])

    entry = session.scalars(
        select(AuditEntry).where(AuditEntry.entity == ENTITY[section], AuditEntry.entity_key == key)
    ).one()
    assert entry.action == "create" and entry.actor == "api:admin-user"

    # What GET returns can be PUT back as it is (id and all): nothing changes, nothing is audited.
    before = audit_count(session)
    again = client.put(url(section, key), json=item, headers=admin)
    assert again.status_code == 200 and again.get_json() == item
    assert audit_count(session) == before

    # A replacement is the whole row: the change, and everything else as sent.
    replacement = {k: v for k, v in item.items() if k != "id"} | change
    replaced = client.put(url(section, key), json=replacement, headers=admin)
    assert replaced.status_code == 200, replaced.get_json()
    assert replaced.get_json() == item | change
    update = session.scalars(
        select(AuditEntry).where(
            AuditEntry.entity == ENTITY[section], AuditEntry.action == "update", AuditEntry.entity_key == key
        )
    ).one()
    assert update.actor == "api:admin-user" and set(update.after) == set(change)

    gone = client.delete(url(section, key), headers=admin)
    if "active" in item:
        assert gone.status_code == 200 and gone.get_json()["active"] is False
        assert client.get(url(section, key), headers=admin).get_json()["active"] is False
        assert client.delete(url(section, key), headers=admin).status_code == 200  # already inactive
        assert client.delete(url(section, "No Such Row"), headers=admin).status_code == 404
    else:
        assert gone.status_code == 405
        assert client.get(url(section, key), headers=admin).status_code == 200


def test_a_contacts_pin_is_hashed_kept_and_never_shown(client, admin, world, session):
    body = {"district": "Lakeview Public Schools", "name": "Ana Silva", "phones": ["+16125550190"], "pin": "2468"}
    assert client.put("/api/contacts/300001", json=body, headers=admin).status_code == 201
    contact = session.scalars(select(Contact).where(Contact.contact_id == "300001")).one()
    assert check_pin(PIN_PEPPER, "300001", "2468", contact.pin_hash)
    # Without a PIN the stored one stays; deactivating keeps it too.
    no_pin = {k: v for k, v in body.items() if k != "pin"} | {"name": "Ana M. Silva"}
    assert client.put("/api/contacts/300001", json=no_pin, headers=admin).status_code == 200
    assert client.delete("/api/contacts/300001", headers=admin).status_code == 200
    session.refresh(contact)
    assert check_pin(PIN_PEPPER, "300001", "2468", contact.pin_hash) and contact.name == "Ana M. Silva"
    # A new PIN replaces it; the audit log says so without the digits.
    assert client.put("/api/contacts/300001", json=no_pin | {"pin": "97531"}, headers=admin).status_code == 200
    session.refresh(contact)
    assert check_pin(PIN_PEPPER, "300001", "97531", contact.pin_hash)
    entries = session.scalars(select(AuditEntry).where(AuditEntry.entity == "contact")).all()
    logged = json.dumps([[e.before, e.after] for e in entries])
    assert "2468" not in logged and "97531" not in logged and '"changed"' in logged
    for path in ("/api/contacts/300001", "/api/contacts?limit=200"):
        text = client.get(path, headers=admin).get_data(as_text=True)
        assert "pin" not in text and contact.pin_hash not in text
    # A contact ID sent as a number is the same key.
    numeric = client.put("/api/contacts/300002", json=body | {"contact_id": 300002}, headers=admin)
    assert numeric.status_code == 201 and numeric.get_json()["contact_id"] == "300002"


def test_hours_are_one_document(client, admin, world, session):
    seeded = client.get("/api/hours", headers=admin).get_json()
    week = {"mon": ["07:00-12:00", "13:00-17:30"], "fri": ["07:00-15:00"]}
    put = client.put("/api/hours", json=week, headers=admin)
    assert put.status_code == 200 and put.get_json() == week
    assert client.get("/api/hours", headers=admin).get_json() == week
    entries = session.scalars(select(AuditEntry).where(AuditEntry.entity == "business_hours")).all()
    changed = {day for day in ("mon", "tue", "wed", "thu", "fri", "sat", "sun") if seeded.get(day) != week.get(day)}
    assert {e.entity_key for e in entries} == changed and {e.actor for e in entries} == {"api:admin-user"}
    # The week is replaced: Friday left out is closed.
    assert client.put("/api/hours", json={"mon": ["08:00-16:00"]}, headers=admin).get_json() == {"mon": ["08:00-16:00"]}
    overlap = client.put("/api/hours", json={"mon": ["07:00-12:00", "11:00-13:00"]}, headers=admin)
    assert overlap.status_code == 400 and overlap.get_json()["field"] == "mon[1]"
    bad = client.put("/api/hours", json={"mon": ["7-12"], "tue": ["18:00-06:00"]}, headers=admin)
    assert bad.status_code == 400 and {p["field"] for p in bad.get_json()["problems"]} == {"mon[0]", "tue[0]"}
    assert client.put("/api/hours", json={"funday": []}, headers=admin).get_json()["field"] == "funday"
    assert client.get("/api/hours", headers=admin).get_json() == {"mon": ["08:00-16:00"]}


def test_holidays_are_one_document(client, admin, world, session):
    doc = {
        "observe": ["thanksgiving", "christmas_day"],
        "closures": [{"date": "2026-12-24", "name": "Christmas Eve"}, {"date": "2026-12-31", "name": "Inventory"}],
    }
    put = client.put("/api/holidays", json=doc, headers=admin)
    assert put.status_code == 200 and put.get_json() == doc
    # Only the closures are given: the observed rules stay; the closures become exactly the list.
    renamed = client.put(
        "/api/holidays", json={"closures": [{"date": "2026-12-24", "name": "Christmas Eve (all day)"}]}, headers=admin
    )
    assert renamed.get_json() == {
        "observe": ["thanksgiving", "christmas_day"],
        "closures": [{"date": "2026-12-24", "name": "Christmas Eve (all day)"}],
    }
    deleted = session.scalars(
        select(AuditEntry).where(AuditEntry.entity == "closure", AuditEntry.action == "delete")
    ).one()
    assert (
        deleted.entity_key == "2026-12-31"
        and deleted.actor == "api:admin-user"
        and deleted.before["name"] == "Inventory"
    )
    cleared = client.put("/api/holidays", json={"observe": [], "closures": []}, headers=admin)
    assert cleared.get_json() == {"observe": [], "closures": []}
    assert session.scalar(select(func.count()).select_from(Closure)) == 0
    bad = client.put(
        "/api/holidays",
        json={"observe": ["festivus"], "closures": [{"date": "2026-02-30", "name": "x"}]},
        headers=admin,
    )
    assert bad.status_code == 400 and bad.get_json()["field"] == "observe[0]"
    assert {p["field"] for p in bad.get_json()["problems"]} == {"observe[0]", "closures[0].date"}


WRITES = [
    ("put", "/api/teams/Night Desk", {"kind": "campus"}),
    ("put", "/api/districts/Maple Grove ISD", {"state": "MN"}),
    ("delete", "/api/districts/Lakeview Public Schools", None),
    ("put", "/api/contacts/300001", {"district": "Lakeview Public Schools", "name": "Ana Silva"}),
    ("delete", "/api/contacts/104233", None),
    ("put", "/api/advisors/Noor Haddad", {"reach": "client:noor"}),
    ("delete", "/api/advisors/Lena Ortiz", None),
    ("put", "/api/engineers/Ana Ruiz", {"phone": "+16125550179"}),
    ("delete", "/api/engineers/Sam Ortiz", None),
    (
        "put",
        "/api/rotations/Hosting primary",
        {"layer": "primary", "handoff": "daily", "handoff_time": "09:00", "start_date": "2026-01-05"},
    ),
    ("put", "/api/escalation_policies/P", {"steps": [{"layers": ["primary"]}]}),
    ("put", "/api/hours", {"mon": ["07:00-18:00"]}),
    ("put", "/api/holidays", {"observe": []}),
]


@pytest.mark.parametrize("role", ["viewer", "supervisor"])
def test_only_admins_write_the_tables(client, api_auth, world, session, role):
    auth = api_auth(role)
    before = audit_count(session)
    for method, path, body in WRITES:
        resp = client.open(path, method=method.upper(), json=body, headers=auth)
        assert resp.status_code == 403, (method, path)
        assert resp.get_json()["error"] == "forbidden"
    assert audit_count(session) == before
    for section in ENTITY:
        assert client.get(f"/api/{section}", headers=auth).status_code == 200
    assert client.get("/api/districts/Lakeview Public Schools", headers=auth).get_json()["active"] is True
    assert client.get("/api/hours", headers=auth).status_code == 200


def test_a_token_is_needed(client, world):
    assert client.get("/api/teams").status_code == 401
    assert client.put("/api/teams/X", json={}, headers={"Authorization": "Bearer slt_nope"}).status_code == 401


def test_a_missing_and_a_wrong_token_are_told_apart(client, world):
    missing = client.get("/api/teams")
    assert missing.get_json()["error"] == "unauthorized"
    assert missing.headers["WWW-Authenticate"] == 'Bearer realm="supportline"'
    wrong = client.get("/api/teams", headers={"Authorization": "Bearer slt_nope"})
    assert wrong.status_code == 401
    assert wrong.get_json()["error"] == "invalid_token"
    assert 'error="invalid_token"' in wrong.headers["WWW-Authenticate"]


def test_every_api_path_answers_json(client, world):
    unknown = client.get("/api/no-such-thing")
    assert unknown.status_code == 404 and unknown.is_json
    assert unknown.get_json() == {"error": "not_found", "detail": "no such resource: /api/no-such-thing"}
    wrong_method = client.delete("/api/queue")
    assert wrong_method.status_code == 405 and wrong_method.is_json
    assert wrong_method.get_json()["error"] == "method_not_allowed"
    assert "GET" in wrong_method.headers["Allow"]
    assert client.get("/api").is_json
    # Outside /api, Flask's own pages.
    elsewhere = client.get("/no-such-page")
    assert elsewhere.status_code == 404 and not elsewhere.is_json


@pytest.mark.parametrize(
    "path, body, field",
    [
        ("/api/districts/Maple Grove ISD", {"state": "Minnesota"}, "state"),
        ("/api/advisors/Noor Haddad", {"reach": "nope"}, "reach"),
        (
            "/api/contacts/300001",
            {"district": "Lakeview Public Schools", "name": "A", "phones": ["+16125550190", "12"]},
            "phones[1]",
        ),
        ("/api/contacts/300001", {"district": "Nowhere", "name": "A"}, "district"),
        ("/api/contacts/12", {"district": "Lakeview Public Schools", "name": "A"}, "contact_id"),
        ("/api/districts/Maple Grove ISD", {"state": "MN", "colour": "red"}, "colour"),
        ("/api/districts/Maple Grove ISD", {"state": "MN", "team": "No Such Team"}, "team"),
        ("/api/teams/T", {"route_order": -1}, "route_order"),
        ("/api/engineers/E", {"phone": "+16125550179", "sms": "yes"}, "sms"),
        (
            "/api/rotations/R",
            {"layer": "primary", "handoff": "weekly", "handoff_time": "09:00", "start_date": "2026-01-05"},
            "handoff_weekday",
        ),
        ("/api/escalation_policies/P", {"steps": [{"engineers": ["Nobody"]}]}, "steps[0].engineers[0]"),
        ("/api/escalation_policies/P", {"steps": []}, "steps"),
        ("/api/escalation_policies/P", {"steps": [{}]}, "steps[0]"),
        ("/api/districts/" + "x" * 201, {"state": "MN"}, "name"),
        ("/api/districts/Maple Grove ISD", {"name": "Elm Grove ISD", "state": "MN"}, "name"),
        (
            "/api/contacts/300001",
            {"contact_id": "300002", "district": "Lakeview Public Schools", "name": "A"},
            "contact_id",
        ),
        ("/api/districts/Maple Grove ISD", {"state": "MN", "id": 1}, "id"),
        ("/api/districts/Maple Grove ISD", ["state", "MN"], "body"),
    ],
)
def test_a_bad_field_gets_a_400_naming_it(client, admin, world, session, path, body, field):
    before = audit_count(session)
    resp = client.put(path, json=body, headers=admin)
    assert resp.status_code == 400, resp.get_json()
    data = resp.get_json()
    assert data["error"] == "invalid" and data["field"] == field
    assert data["problems"][0] == {"field": field, "detail": data["detail"]} and data["detail"]
    assert audit_count(session) == before
    assert session.scalar(select(func.count()).select_from(District).where(District.name == "Maple Grove ISD")) == 0


def test_every_problem_of_a_row_is_listed(client, admin, world):
    resp = client.put(
        "/api/districts/Maple Grove ISD", json={"state": "Minnesota", "hosted": "yes", "x": 1}, headers=admin
    )
    assert resp.status_code == 400
    assert {p["field"] for p in resp.get_json()["problems"]} == {"state", "hosted", "x"}


@pytest.mark.parametrize(
    "data", [b"{not json", b"", b"   ", b"\xff\xfe\x00", b"[" * 50_000 + b"]" * 50_000, b"null", b"42"]
)
def test_a_body_that_is_not_a_json_object_is_a_400_on_body(client, admin, world, data):
    for path in ("/api/districts/Maple Grove ISD", "/api/hours", "/api/holidays"):
        resp = client.put(path, data=data, headers=admin | {"Content-Type": "application/json"})
        assert resp.status_code == 400 and resp.get_json()["field"] == "body", (path, data[:20])


def test_unknown_keys_are_404(client, admin, world):
    for path in (
        "/api/teams/Nope",
        "/api/contacts/999999",
        "/api/contacts/not-an-id",
        "/api/districts/a%00b",
        "/api/rotations/" + "r" * 500,
        "/api/escalation_policies/P",
    ):
        resp = client.get(path, headers=admin)
        assert resp.status_code == 404 and resp.get_json() == {"error": "not_found"}, path
    assert client.delete("/api/districts/Nope", headers=admin).status_code == 404


def test_pagination(client, admin, world):
    for name in ("Ana Ruiz", "Bo Park", "Cy Diaz", "Di Wong", "Ed Lowe"):
        assert client.put(f"/api/engineers/{name}", json={"phone": "+16125550179"}, headers=admin).status_code == 201
    everyone = client.get("/api/engineers", headers=admin).get_json()
    names = [e["name"] for e in everyone["items"]]
    assert everyone["total"] == 7 and names == sorted(names) and (everyone["limit"], everyone["offset"]) == (50, 0)
    page = client.get("/api/engineers?limit=3&offset=3", headers=admin).get_json()
    assert [e["name"] for e in page["items"]] == names[3:6] and page["total"] == 7
    assert (page["limit"], page["offset"]) == (3, 3)
    assert client.get("/api/engineers?limit=3&offset=6", headers=admin).get_json()["items"] == everyone["items"][6:]
    past = client.get("/api/engineers?offset=100", headers=admin).get_json()
    assert past["items"] == [] and past["total"] == 7
    for query, field in (
        ("limit=0", "limit"),
        ("limit=201", "limit"),
        ("limit=x", "limit"),
        ("offset=-1", "offset"),
        ("offset=99999999999999999999", "offset"),
        ("limit=%D9%A3", "limit"),
    ):
        resp = client.get(f"/api/engineers?{query}", headers=admin)
        assert resp.status_code == 400 and resp.get_json()["field"] == field, query
    # Contacts come in export order: shorter IDs first.
    assert (
        client.put(
            "/api/contacts/9999", json={"district": "Lakeview Public Schools", "name": "Short"}, headers=admin
        ).status_code
        == 201
    )
    ids = [c["contact_id"] for c in client.get("/api/contacts", headers=admin).get_json()["items"]]
    assert ids[0] == "9999" and ids[1:] == sorted(ids[1:])


def test_a_key_may_hold_any_character_a_name_may(client, admin, world):
    for name in ("North/South Region", "Ünïcode & Co. 100%", "a?b#c"):
        created = client.put(url("teams", name), json={}, headers=admin)
        assert created.status_code == 201 and created.get_json()["name"] == name
        assert client.get(url("teams", name), headers=admin).get_json()["name"] == name
