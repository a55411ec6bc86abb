"""Phone numbers by role: in full for roles with the `phones` permission (supervisors, admins),
masked to `***NNNN` for every other role, in the JSON API and on every console page."""

from __future__ import annotations

from datetime import timedelta

import pytest

from casestore.models import CallbackTask
from tests.adminkit import accounts, browser  # noqa: F401  (fixtures)
from tests.factories import World

FULL = {World.DANA_PHONE, "+16125550101", "+16125550102", "+16125550177", "+16125550178"}


def _numbers(value) -> set[str]:
    """Every full E.164 number of the world found anywhere in a JSON value."""
    text = repr(value)
    return {n for n in FULL | {World.OMAR_PHONE, World.SHARED_PHONE} if n in text}


@pytest.fixture
def task(session, world, clock):
    row = CallbackTask(
        kind="callback",
        status="open",
        case_id=world.open_case.id,
        district_id=world.hosted.id,
        contact_id=world.dana.id,
        call_sid="CAmask",
        callback_e164=World.DANA_PHONE,
        skill="grade_book",
        priority_rank=1,
        queued_at=clock() - timedelta(minutes=5),
    )
    session.add(row)
    session.commit()
    return row


def test_a_viewer_token_gets_masked_numbers_everywhere_in_the_api(client, api_auth, world, task):
    viewer = api_auth("viewer")
    contacts = client.get("/api/contacts?limit=200", headers=viewer).get_json()["items"]
    dana = next(c for c in contacts if c["contact_id"] == world.dana.contact_id)
    assert dana["phones"] == ["***0134"]
    assert client.get(f"/api/contacts/{world.dana.contact_id}", headers=viewer).get_json()["phones"] == ["***0134"]
    engineers = client.get("/api/engineers", headers=viewer).get_json()["items"]
    assert {e["name"]: e["phone"] for e in engineers} == {"Sam Ortiz": "***0177", "Lee Chen": "***0178"}
    advisors = {a["name"]: a["reach"] for a in client.get("/api/advisors", headers=viewer).get_json()["items"]}
    assert advisors == {"Priya Raman": "***0101", "Marcus Bell": "***0102", "Lena Ortiz": "client:lena"}
    tasks = client.get("/api/tasks", headers=viewer).get_json()
    assert [(t["callback_to"], t["callback_e164"]) for t in tasks] == [("***0134", "***0134")]
    for path in (
        "/api/contacts?limit=200",
        "/api/engineers",
        "/api/advisors",
        "/api/tasks",
        "/api/advisors/presence",
        "/api/queue",
        "/api/incidents?state=all",
    ):
        assert _numbers(client.get(path, headers=viewer).get_json()) == set(), path


@pytest.mark.parametrize("role", ["supervisor", "admin"])
def test_roles_with_the_phones_permission_get_full_numbers(client, api_auth, world, task, role):
    token = api_auth(role)
    assert client.get(f"/api/contacts/{world.dana.contact_id}", headers=token).get_json()["phones"] == [
        World.DANA_PHONE
    ]
    assert {e["phone"] for e in client.get("/api/engineers", headers=token).get_json()["items"]} == {
        "+16125550177",
        "+16125550178",
    }
    assert client.get("/api/advisors/Priya%20Raman", headers=token).get_json()["reach"] == "+16125550101"
    assert client.get("/api/tasks", headers=token).get_json()[0]["callback_e164"] == World.DANA_PHONE


@pytest.mark.parametrize("role, masked", [("viewer", True), ("supervisor", False), ("admin", False)])
def test_console_pages_show_numbers_by_role(browser, world, role, masked):
    browser.login(role)
    pages = {
        "district": browser.get(f"/admin/districts/{world.hosted.id}"),
        "advisors": browser.get("/admin/advisors"),
        "oncall": browser.get("/admin/oncall"),
    }
    for name, res in pages.items():
        assert res.status_code == 200, name
    text = {name: res.get_data(as_text=True) for name, res in pages.items()}
    shown = {
        "district": World.DANA_PHONE in text["district"],
        "advisors": "+16125550101" in text["advisors"],
        "oncall": "+16125550177" in text["oncall"],
    }
    assert shown == dict.fromkeys(shown, not masked)
    if masked:
        assert "***0134" in text["district"] and "***0101" in text["advisors"] and "***0177" in text["oncall"]
        assert "client:lena" in text["advisors"]  # not a phone number: shown as it is
