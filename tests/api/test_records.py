"""`api/records.py`: cases with their communication log and the call log, read only, paginated,
filtered, masked, and answering as the OpenAPI document says (issue #16 item 12)."""

from __future__ import annotations

from tests.api.test_openapi import _operation, _response_schema, doc, errors_of  # noqa: F401  (doc: a fixture)
from tests.factories import World


def _matches(doc, path: str, status: int, body) -> None:
    assert errors_of(doc, _response_schema(doc, _operation(doc, path, "get"), status), body) == [], path


def test_cases_are_listed_newest_first_paginated_and_filtered(client, api_auth, world, doc):
    viewer = api_auth("viewer")
    page = client.get("/api/cases?limit=2", headers=viewer)
    assert page.status_code == 200
    body = page.get_json()
    _matches(doc, "/api/cases", 200, body)
    assert body["limit"] == 2 and body["offset"] == 0 and len(body["items"]) == 2 and body["total"] >= 2
    created = [item["created_at"] for item in body["items"]]
    assert created == sorted(created, reverse=True)
    second = client.get("/api/cases?limit=2&offset=2", headers=viewer).get_json()
    assert {i["number"] for i in second["items"]}.isdisjoint({i["number"] for i in body["items"]})
    mine = client.get(f"/api/cases?district={world.hosted.name}&status=in_progress", headers=viewer).get_json()
    assert mine["items"] and all(
        i["district"] == world.hosted.name and i["status"] == "in_progress" for i in mine["items"]
    )


def test_a_filter_that_names_nothing_is_a_400_naming_it(client, api_auth, world, doc):
    viewer = api_auth("viewer")
    for query, field in (("district=Nowhere", "district"), ("status=done", "status"), ("limit=0", "limit")):
        res = client.get(f"/api/cases?{query}", headers=viewer)
        assert res.status_code == 400 and res.get_json()["field"] == field, query
    for query, field in (("since=2026-13-01", "since"), ("case=²", "case"), ("case=12a", "case")):
        res = client.get(f"/api/calls?{query}", headers=viewer)
        assert res.status_code == 400 and res.get_json()["field"] == field, query


def test_one_case_with_its_communication_log(client, api_auth, sim, world, doc):
    sim.call(World.DANA_PHONE, keys=["4821#", "240117#"], dial=["accept"])
    viewer = api_auth("viewer")
    res = client.get("/api/cases/240117", headers=viewer)
    assert res.status_code == 200
    body = res.get_json()
    _matches(doc, "/api/cases/{number}", 200, body)
    assert body["number"] == 240117 and body["owner"] == "Priya Raman"
    assert any(e["kind"] == "call" and e["direction"] == "inbound" for e in body["events"])
    assert client.get("/api/cases/999999", headers=viewer).status_code == 404


def test_the_call_log_masks_numbers_and_links_cases(client, api_auth, sim, world, doc):
    t = sim.call(World.DANA_PHONE, keys=["4821#", "240117#"], dial=["accept"])
    assert t.connected_to
    viewer = api_auth("viewer")
    body = client.get("/api/calls", headers=viewer).get_json()
    _matches(doc, "/api/calls", 200, body)
    (call,) = body["items"]
    assert call["from"].startswith("***") and World.DANA_PHONE not in str(body)
    assert call["case"] == 240117 and call["outcome"] == "connected" and call["priority"]
    assert client.get("/api/calls?case=240117", headers=viewer).get_json()["total"] == 1
    assert client.get("/api/calls?case=250001", headers=viewer).get_json()["total"] == 0
    assert client.get("/api/calls?outcome=abandoned", headers=viewer).get_json()["total"] == 0
    one = client.get(f"/api/calls/{call['call_sid']}", headers=viewer)
    assert one.status_code == 200
    _matches(doc, "/api/calls/{call_sid}", 200, one.get_json())
    assert one.get_json()["events"] and one.get_json()["tasks"] == []
    assert [(r["who"], r["status"], r["accepted"]) for r in one.get_json()["rings"]] == [
        ("Priya Raman", "completed", True)
    ]
    assert client.get("/api/calls/CAnope", headers=viewer).status_code == 404
    assert client.get("/api/calls/" + "C" * 200, headers=viewer).status_code == 404


def test_the_records_need_a_token(client, world):
    for path in ("/api/cases", "/api/cases/240117", "/api/calls", "/api/calls/CA1"):
        assert client.get(path).status_code == 401
