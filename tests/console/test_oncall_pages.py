"""The on-call page (rotations and overrides, engineers, escalation policies, the four-week calendar)
and the status banners page."""

from __future__ import annotations

import html
import re
from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from casestore.models import AuditEntry, Engineer, EscalationPolicy, Rotation, RotationOverride, StatusBanner
from tests.adminkit import Browser, accounts  # noqa: F401  (fixtures)
from tests.factories import World

ROLES = ("admin", "supervisor", "viewer")
UTC = UTC


@pytest.fixture
def signed_in(app, accounts, world):
    """`signed_in("viewer")`: a browser of its own, signed in with that role."""

    def make(role: str) -> Browser:
        b = Browser(app.test_client())
        assert b.login(role).status_code == 302
        return b

    return make


def shifts(page: str, layer: str) -> list[dict[str, str]]:
    """The four-week calendar of `layer`, one dict per shift."""
    rows = re.findall(
        r'<tr class="shift[^"]*" data-layer="' + layer + r'" data-engineer="([^"]*)" data-override="(\d)" '
        r'data-starts="([^"]+)" data-ends="([^"]+)">',
        page,
    )
    return [{"engineer": html.unescape(e), "override": o == "1", "starts": s, "ends": t} for e, o, s, t in rows]


def rotation_id(session, name: str) -> int:
    return session.scalars(select(Rotation.id).where(Rotation.name == name)).one()


def text_of(res) -> str:
    return html.unescape(res.get_data(as_text=True))


# --------------------------------------------------------------------------------------------
# On call
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("role", ROLES)
def test_every_role_reads_the_on_call_page(signed_in, role):
    res = signed_in(role).get("/admin/oncall")
    assert res.status_code == 200
    page = res.get_data(as_text=True)
    assert "Hosting primary" in page and "Hosting secondary" in page
    assert ("+16125550178" if role != "viewer" else "***0178") in page  # masked for a viewer
    primary = shifts(page, "primary")
    # Weekly Monday 09:00 handoffs, one member: Sam's current week, then four more.
    assert {s["engineer"] for s in primary} == {"Sam Ortiz"} and len(primary) == 5
    assert primary[0]["starts"] == "2026-11-16T15:00:00+00:00"  # Mon Nov 16 09:00 CST
    assert {s["engineer"] for s in shifts(page, "secondary")} == {"Lee Chen"}
    editable = "Add override" in page and "New engineer" in page and "New policy" in page
    assert editable == (role == "admin")


@pytest.mark.parametrize("role", ("viewer", "supervisor"))
def test_only_admins_change_rotations_engineers_and_policies(signed_in, session, world, role):
    b = signed_in(role)
    rid = rotation_id(session, "Hosting primary")
    session.add(
        RotationOverride(
            rotation_id=rid,
            engineer_id=world.lee.id,
            starts_at=datetime(2026, 11, 20, 15, tzinfo=UTC),
            ends_at=datetime(2026, 11, 21, 15, tzinfo=UTC),
        )
    )
    session.commit()
    override_id = session.scalars(select(RotationOverride.id)).one()
    override = {"engineer": "Lee Chen", "starts": "2026-11-22T09:00", "ends": "2026-11-23T09:00"}
    assert b.post(f"/admin/oncall/rotations/{rid}/overrides", override).status_code == 403
    assert b.post(f"/admin/oncall/rotations/{rid}/overrides/{override_id}/remove").status_code == 403
    assert b.get(f"/admin/oncall/rotations/{rid}/edit").status_code == 403
    assert b.post(f"/admin/oncall/rotations/{rid}/edit", {"name": "Hosting primary"}).status_code == 403
    assert b.post("/admin/oncall/rotations/new", {"name": "Night"}).status_code == 403
    assert b.get(f"/admin/oncall/engineers/{world.sam.id}/edit").status_code == 403
    assert (
        b.post(
            f"/admin/oncall/engineers/{world.sam.id}/edit",
            {"name": "Sam Ortiz", "phone": "+16125550199", "active": "1"},
        ).status_code
        == 403
    )
    assert b.post("/admin/oncall/engineers/new", {"name": "Ana Ruiz", "phone": "+16125550170"}).status_code == 403
    assert (
        b.post(
            "/admin/oncall/policies/new", {"name": "Outage", "step_slots": "1", "step_0_layers": "primary"}
        ).status_code
        == 403
    )
    session.expire_all()
    assert len(session.scalars(select(RotationOverride)).all()) == 1
    assert session.get(Engineer, world.sam.id).phone == "+16125550177"
    assert session.scalars(select(EscalationPolicy)).first() is None
    assert session.scalars(select(AuditEntry)).first() is None


def test_an_override_shows_in_the_four_week_calendar(signed_in, session):
    b = signed_in("admin")
    rid = rotation_id(session, "Hosting primary")
    # Local times in the rotation's zone (America/Chicago, CST = UTC-6).
    res = b.post(
        f"/admin/oncall/rotations/{rid}/overrides",
        {"engineer": "Lee Chen", "starts": "2026-11-20T18:00", "ends": "2026-11-22T08:00"},
    )
    assert res.status_code == 302
    session.expire_all()
    override = session.scalars(select(RotationOverride)).one()
    assert override.starts_at == datetime(2026, 11, 21, 0, tzinfo=UTC)
    assert override.ends_at == datetime(2026, 11, 22, 14, tzinfo=UTC)

    page = b.get("/admin/oncall").get_data(as_text=True)
    primary = shifts(page, "primary")
    assert [(s["engineer"], s["override"]) for s in primary[:3]] == [
        ("Sam Ortiz", False),
        ("Lee Chen", True),
        ("Sam Ortiz", False),
    ]
    assert primary[1]["starts"] == "2026-11-21T00:00:00+00:00" and primary[1]["ends"] == "2026-11-22T14:00:00+00:00"
    assert primary[0]["ends"] == primary[1]["starts"] and primary[1]["ends"] == primary[2]["starts"]
    assert "Fri Nov 20 18:00 CST" in page and "Sun Nov 22 08:00 CST" in page
    assert {s["engineer"] for s in shifts(page, "secondary")} == {"Lee Chen"}  # another layer: unchanged
    entry = session.scalars(select(AuditEntry).where(AuditEntry.entity == "rotation")).one()
    assert entry.actor == "admin:admin" and entry.entity_key == "Hosting primary"
    assert entry.after["overrides"][0]["engineer"] == "Lee Chen"

    # Removing it puts Sam back for the whole week.
    res = b.post(f"/admin/oncall/rotations/{rid}/overrides/{override.id}/remove")
    assert res.status_code == 302
    primary = shifts(b.get("/admin/oncall").get_data(as_text=True), "primary")
    assert {s["engineer"] for s in primary} == {"Sam Ortiz"} and not any(s["override"] for s in primary)
    session.expire_all()
    assert session.scalars(select(RotationOverride)).first() is None


def test_overrides_keep_each_other(signed_in, session):
    b = signed_in("admin")
    rid = rotation_id(session, "Hosting secondary")
    for starts, ends in (("2026-11-24T09:00", "2026-11-25T09:00"), ("2026-12-01T09:00", "2026-12-02T09:00")):
        assert (
            b.post(
                f"/admin/oncall/rotations/{rid}/overrides", {"engineer": "Sam Ortiz", "starts": starts, "ends": ends}
            ).status_code
            == 302
        )
    secondary = shifts(b.get("/admin/oncall").get_data(as_text=True), "secondary")
    assert [s["starts"] for s in secondary if s["override"]] == [
        "2026-11-24T15:00:00+00:00",
        "2026-12-01T15:00:00+00:00",
    ]
    session.expire_all()
    first = session.scalars(select(RotationOverride).order_by(RotationOverride.starts_at)).first()
    b.post(f"/admin/oncall/rotations/{rid}/overrides/{first.id}/remove")
    secondary = shifts(b.get("/admin/oncall").get_data(as_text=True), "secondary")
    assert [s["starts"] for s in secondary if s["override"]] == ["2026-12-01T15:00:00+00:00"]


@pytest.mark.parametrize(
    "form, reason",
    [
        (
            {"engineer": "Lee Chen", "starts": "2026-11-21T09:00", "ends": "2026-11-20T09:00"},
            "end: must be after the start",
        ),
        ({"engineer": "Lee Chen", "starts": "2026-11-01T09:00", "ends": "2026-11-02T09:00"}, "end: already past"),
        ({"engineer": "Lee Chen", "starts": "tomorrow", "ends": "2026-11-20T09:00"}, "start: not a date and time"),
        (
            {"engineer": "Nobody Here", "starts": "2026-11-20T09:00", "ends": "2026-11-21T09:00"},
            "override 1, engineer: 'Nobody Here' is not an engineer",
        ),
        ({"engineer": "", "starts": "2026-11-20T09:00", "ends": "2026-11-21T09:00"}, "engineer: required"),
    ],
)
def test_a_bad_override_is_refused(signed_in, session, form, reason):
    res = signed_in("admin").post(f"/admin/oncall/rotations/{rotation_id(session, 'Hosting primary')}/overrides", form)
    assert res.status_code == 400 and reason in text_of(res)
    session.expire_all()
    assert session.scalars(select(RotationOverride)).first() is None
    assert session.scalars(select(AuditEntry)).first() is None


def test_an_admin_edits_and_adds_engineers(signed_in, session, world):
    b = signed_in("admin")
    res = b.post(
        f"/admin/oncall/engineers/{world.sam.id}/edit",
        {"name": "Sam Ortiz-Vega", "phone": "(612) 555-0190", "active": "1"},
    )
    assert res.status_code == 302
    res = b.post(
        "/admin/oncall/engineers/new", {"name": "Ana Ruiz", "phone": "+16125550170", "sms": "1", "active": "1"}
    )
    assert res.status_code == 302
    session.expire_all()
    sam = session.get(Engineer, world.sam.id)
    assert (sam.name, sam.phone, sam.sms) == ("Sam Ortiz-Vega", "+16125550190", False)
    assert session.scalars(select(Engineer).where(Engineer.name == "Ana Ruiz")).one().sms is True
    # The rotation follows the engineer, not the old name.
    assert {s["engineer"] for s in shifts(b.get("/admin/oncall").get_data(as_text=True), "primary")} == {
        "Sam Ortiz-Vega"
    }
    actions = {(e.entity, e.action, e.entity_key) for e in session.scalars(select(AuditEntry))}
    assert ("engineer", "update", "Sam Ortiz") in actions and ("engineer", "create", "Ana Ruiz") in actions
    assert {e.actor for e in session.scalars(select(AuditEntry))} == {"admin:admin"}


def test_a_bad_engineer_is_refused(signed_in, session, world):
    b = signed_in("admin")
    res = b.post(
        f"/admin/oncall/engineers/{world.sam.id}/edit", {"name": "Lee Chen", "phone": "+16125550177", "active": "1"}
    )
    assert res.status_code == 400 and "another engineer is already called 'Lee Chen'" in text_of(res)
    res = b.post(
        f"/admin/oncall/engineers/{world.sam.id}/edit", {"name": "Sam Ortiz", "phone": "call me", "active": "1"}
    )
    assert res.status_code == 400 and "phone: not a valid phone number" in text_of(res)
    session.expire_all()
    assert session.get(Engineer, world.sam.id).phone == "+16125550177"
    assert session.scalars(select(AuditEntry)).first() is None


def test_an_inactive_engineer_is_skipped_in_the_calendar(signed_in, session, world):
    b = signed_in("admin")
    rid = rotation_id(session, "Hosting primary")
    form = {
        "name": "Hosting primary",
        "layer": "primary",
        "timezone": "America/Chicago",
        "handoff": "weekly",
        "handoff_weekday": "mon",
        "handoff_time": "09:00",
        "start_date": "2026-01-05",
        "member_slots": "3",
        "member_0": "Sam Ortiz",
        "member_1": "Lee Chen",
        "member_2": "",
    }
    assert b.post(f"/admin/oncall/rotations/{rid}/edit", form).status_code == 302
    primary = shifts(b.get("/admin/oncall").get_data(as_text=True), "primary")
    assert {s["engineer"] for s in primary} == {"Sam Ortiz", "Lee Chen"}
    b.post(f"/admin/oncall/engineers/{world.lee.id}/edit", {"name": "Lee Chen", "phone": "+16125550178"})  # inactive
    primary = shifts(b.get("/admin/oncall").get_data(as_text=True), "primary")
    assert {s["engineer"] for s in primary} == {"Sam Ortiz"}


def test_an_admin_edits_a_rotation_and_keeps_its_overrides(signed_in, session):
    b = signed_in("admin")
    rid = rotation_id(session, "Hosting primary")
    b.post(
        f"/admin/oncall/rotations/{rid}/overrides",
        {"engineer": "Lee Chen", "starts": "2026-12-01T09:00", "ends": "2026-12-02T09:00"},
    )
    page = b.get(f"/admin/oncall/rotations/{rid}/edit")
    assert page.status_code == 200 and 'value="Hosting primary"' in page.get_data(as_text=True)
    form = {
        "name": "Hosting primary (days)",
        "layer": "primary",
        "timezone": "America/New_York",
        "handoff": "daily",
        "handoff_weekday": "mon",  # ignored for a daily handoff
        "handoff_time": "08:00",
        "start_date": "2026-11-16",
        "member_slots": "3",
        "member_0": "Lee Chen",
        "member_1": "",
        "member_2": "Sam Ortiz",
    }
    assert b.post(f"/admin/oncall/rotations/{rid}/edit", form).status_code == 302
    session.expire_all()
    rot = session.get(Rotation, rid)
    assert (rot.name, rot.timezone, rot.handoff.value, rot.handoff_weekday) == (
        "Hosting primary (days)",
        "America/New_York",
        "daily",
        None,
    )
    assert [m.engineer.name for m in rot.members] == ["Lee Chen", "Sam Ortiz"]
    assert len(rot.overrides) == 1
    page = b.get("/admin/oncall").get_data(as_text=True)
    primary = shifts(page, "primary")
    # Daily 08:00 Eastern handoffs from Mon Nov 16 (Lee): Tue 17th is Sam's day, and the calendar
    # reads in the rotation's zone.
    assert primary[0]["engineer"] == "Sam Ortiz" and primary[0]["starts"] == "2026-11-17T13:00:00+00:00"
    assert "(America/New_York)" in page and "Tue Nov 17 08:00 EST" in page


def test_a_bad_rotation_is_refused(signed_in, session):
    b = signed_in("admin")
    form = {
        "name": "Night",
        "layer": "tertiary",
        "timezone": "Mars/Olympus",
        "handoff": "weekly",
        "handoff_time": "25:00",
        "start_date": "2026-11-16",
        "member_slots": "1",
        "member_0": "Sam Ortiz",
    }
    res = b.post("/admin/oncall/rotations/new", form)
    page = text_of(res)
    assert res.status_code == 400
    assert "layer: unknown rotation layer 'tertiary'" in page and "timezone: unknown time zone" in page
    assert "handoff_time: not a time of day" in page and 'value="Night"' in page  # the form keeps what was typed
    form.update(layer="secondary", timezone="America/Chicago", handoff_time="09:00")
    res = b.post("/admin/oncall/rotations/new", form)
    assert res.status_code == 400 and "handoff_weekday: a weekly handoff needs handoff_weekday" in text_of(res)
    session.expire_all()
    assert session.scalars(select(Rotation).where(Rotation.name == "Night")).first() is None


def test_an_admin_writes_escalation_policies_and_moves_the_default(signed_in, session):
    b = signed_in("admin")
    form = {
        "name": "Hosted outage",
        "default": "1",
        "repeats": "2",
        "manager": "Sam Ortiz",
        "step_slots": "3",
        "step_0_layers": "primary",
        "step_0_delay": "5",
        "step_1_layers": ["secondary"],
        "step_1_engineers": ["Sam Ortiz"],
        "step_1_delay": "10",
        "step_2_delay": "5",
    }  # blank third row: no step
    assert b.post("/admin/oncall/policies/new", form).status_code == 302
    session.expire_all()
    policy = session.scalars(select(EscalationPolicy)).one()
    assert (policy.is_default, policy.repeats, policy.manager.name) == (True, 2, "Sam Ortiz")
    assert [(s.layers, [e.name for e in s.engineers], s.delay_minutes) for s in policy.steps] == [
        ("primary", [], 5),
        ("secondary", ["Sam Ortiz"], 10),
    ]
    page = b.get("/admin/oncall").get_data(as_text=True)
    assert "Hosted outage" in page and "on-call secondary, Sam Ortiz" in page and "Runs 3 time(s)" in page

    # A second default takes the default over, in one audited write.
    form2 = {
        "name": "Weekend",
        "default": "1",
        "repeats": "0",
        "step_slots": "1",
        "step_0_engineers": "Lee Chen",
        "step_0_delay": "15",
    }
    assert b.post("/admin/oncall/policies/new", form2).status_code == 302
    session.expire_all()
    defaults = session.scalars(select(EscalationPolicy.name).where(EscalationPolicy.is_default.is_(True))).all()
    assert defaults == ["Weekend"]
    entries = session.scalars(
        select(AuditEntry).where(AuditEntry.entity == "escalation_policy").order_by(AuditEntry.id)
    ).all()
    assert [(e.action, e.entity_key, e.actor) for e in entries] == [
        ("create", "Hosted outage", "admin:admin"),
        ("create", "Weekend", "admin:admin"),
        ("update", "Hosted outage", "admin:admin"),
    ]

    # Editing: clearing a step removes it.
    pid = session.scalars(select(EscalationPolicy.id).where(EscalationPolicy.name == "Hosted outage")).one()
    assert b.get(f"/admin/oncall/policies/{pid}/edit").status_code == 200
    edit = {
        "name": "Hosted outage",
        "repeats": "1",
        "manager": "",
        "step_slots": "2",
        "step_0_layers": "primary",
        "step_0_delay": "5",
        "step_1_delay": "10",
    }
    assert b.post(f"/admin/oncall/policies/{pid}/edit", edit).status_code == 302
    session.expire_all()
    policy = session.get(EscalationPolicy, pid)
    assert len(policy.steps) == 1 and policy.manager is None and policy.repeats == 1


@pytest.mark.parametrize(
    "form, reason",
    [
        (
            {"name": "P", "repeats": "1", "step_slots": "1", "step_0_layers": "primary", "step_0_delay": "soon"},
            "step 1, delay_minutes: expected a whole number",
        ),
        (
            {"name": "P", "repeats": "9", "step_slots": "1", "step_0_layers": "primary", "step_0_delay": "5"},
            "repeats: must be between 0 and 5",
        ),
        (
            {"name": "P", "repeats": "1", "step_slots": "1", "step_0_delay": "5"},
            "steps: a policy needs at least one step",
        ),
    ],
)
def test_a_bad_policy_is_refused(signed_in, session, form, reason):
    res = signed_in("admin").post("/admin/oncall/policies/new", form)
    assert res.status_code == 400 and reason in text_of(res)
    session.expire_all()
    assert session.scalars(select(EscalationPolicy)).first() is None


# --------------------------------------------------------------------------------------------
# Status banners
# --------------------------------------------------------------------------------------------

SLOW = "We are investigating slow grade book pages for hosted districts."


@pytest.mark.parametrize("role", ROLES)
def test_every_role_reads_the_banners(signed_in, session, clock, role):
    session.add(StatusBanner(message=SLOW, starts_at=clock.now))
    session.commit()
    res = signed_in(role).get("/admin/banners")
    assert res.status_code == 200
    page = res.get_data(as_text=True)
    assert SLOW in page and 'data-state="live"' in page
    assert ("Save banner" in page) == (role != "viewer") and ("Expire now" in page) == (role != "viewer")


def test_a_viewer_cannot_write_banners(signed_in, session, clock):
    session.add(StatusBanner(message=SLOW, starts_at=clock.now))
    session.commit()
    banner_id = session.scalars(select(StatusBanner.id)).one()
    b = signed_in("viewer")
    assert b.post("/admin/banners", {"message": "Hello callers", "active": "1"}).status_code == 403
    assert b.get(f"/admin/banners/{banner_id}/edit").status_code == 403
    assert b.post(f"/admin/banners/{banner_id}/edit", {"message": "Changed", "active": "1"}).status_code == 403
    assert b.post(f"/admin/banners/{banner_id}/expire").status_code == 403
    session.expire_all()
    banner = session.get(StatusBanner, banner_id)
    assert (
        banner.message == SLOW and banner.expires_at is None and len(session.scalars(select(StatusBanner)).all()) == 1
    )


def test_a_supervisors_banner_is_heard_until_it_expires(signed_in, sim, session, clock):
    b = signed_in("supervisor")
    # The clock reads 09:00 CST; the banner runs to 10:00 local.
    res = b.post(
        "/admin/banners",
        {"district": "", "message": f"  {SLOW}  ", "starts": "", "expires": "2026-11-17T10:00", "active": "1"},
    )
    assert res.status_code == 302
    banner = session.scalars(select(StatusBanner)).one()
    assert banner.district_id is None and banner.message == SLOW
    assert banner.starts_at == clock.now and banner.expires_at == datetime(2026, 11, 17, 16, tzinfo=UTC)
    entry = session.scalars(select(AuditEntry).where(AuditEntry.entity == "status_banner")).one()
    assert (entry.actor, entry.action, entry.entity_key) == ("admin:supervisor", "create", str(banner.id))
    assert entry.after["message"] == SLOW and entry.after["expires_at"] == "2026-11-17T16:00:00+00:00"

    t = sim.call(World.DANA_PHONE, keys=["4821#"])
    assert t.said("slow grade book pages")
    clock.advance(hours=1, minutes=1)
    t = sim.call(World.DANA_PHONE, keys=["4821#"])
    assert not t.said("slow grade book pages") and t.said("Thank you, Dana")
    assert 'data-state="expired"' in b.get("/admin/banners").get_data(as_text=True)


def test_a_district_banner_is_heard_only_by_that_district(signed_in, sim, world):
    b = signed_in("admin")
    res = b.post(
        "/admin/banners",
        {"district": str(world.hosted.id), "message": "Lakeview maintenance tonight at ten.", "active": "1"},
    )
    assert res.status_code == 302
    assert sim.call(World.DANA_PHONE, keys=["4821#"]).said("Lakeview maintenance")
    assert not sim.call(World.OMAR_PHONE, keys=["1357#"]).said("Lakeview maintenance")
    assert "Lakeview Public Schools" in b.get("/admin/banners").get_data(as_text=True)


def test_expire_now_and_edit(signed_in, sim, session, clock):
    b = signed_in("supervisor")
    b.post("/admin/banners", {"message": SLOW, "active": "1"})
    banner_id = session.scalars(select(StatusBanner.id)).one()
    assert b.get(f"/admin/banners/{banner_id}/edit").status_code == 200
    res = b.post(
        f"/admin/banners/{banner_id}/edit",
        {"message": "Grade book pages are slow; a fix is rolling out.", "starts": "2026-11-17T09:00", "active": "1"},
    )
    assert res.status_code == 302
    assert sim.call(World.DANA_PHONE, keys=["4821#"]).said("a fix is rolling out")
    clock.advance(minutes=5)
    assert b.post(f"/admin/banners/{banner_id}/expire").status_code == 302
    session.expire_all()
    assert session.get(StatusBanner, banner_id).expires_at == clock.now
    assert not sim.call(World.DANA_PHONE, keys=["4821#"]).said("a fix is rolling out")
    entries = session.scalars(
        select(AuditEntry).where(AuditEntry.entity == "status_banner").order_by(AuditEntry.id)
    ).all()
    assert [e.action for e in entries] == ["create", "update", "update"]
    assert entries[1].before == {"message": SLOW} and entries[2].after == {"expires_at": clock.now.isoformat()}
    assert {e.actor for e in entries} == {"admin:supervisor"}


def test_a_scheduled_banner_waits_for_its_start(signed_in, sim, clock):
    b = signed_in("supervisor")
    b.post(
        "/admin/banners", {"message": "Tonight's upgrade starts at ten.", "starts": "2026-11-17T12:00", "active": "1"}
    )
    assert 'data-state="scheduled"' in b.get("/admin/banners").get_data(as_text=True)
    assert not sim.call(World.DANA_PHONE, keys=["4821#"]).said("upgrade")
    clock.advance(hours=3)
    assert sim.call(World.DANA_PHONE, keys=["4821#"]).said("upgrade")


@pytest.mark.parametrize(
    "form, reason",
    [
        ({"message": "hi"}, "message: 3 to 500 characters (this one has 2)"),
        ({"message": "x" * 501}, "message: 3 to 500 characters (this one has 501)"),
        (
            {"message": "Maintenance tonight.", "starts": "2026-11-17T12:00", "expires": "2026-11-17T11:00"},
            "expiry: must be after the start",
        ),
        ({"message": "Maintenance tonight.", "expires": "2026-11-17T08:00"}, "expiry: must be after the start"),
        ({"message": "Maintenance tonight.", "starts": "noon"}, "start: not a date and time"),
        ({"message": "Maintenance tonight.", "district": "99999"}, "district: no such district"),
    ],
)
def test_a_bad_banner_is_refused(signed_in, session, form, reason):
    res = signed_in("supervisor").post("/admin/banners", {"active": "1", **form})
    assert res.status_code == 400 and reason in text_of(res)
    session.expire_all()
    assert session.scalars(select(StatusBanner)).first() is None
    assert session.scalars(select(AuditEntry)).first() is None


def test_a_bad_edit_changes_nothing(signed_in, session):
    b = signed_in("supervisor")
    b.post("/admin/banners", {"message": SLOW, "active": "1"})
    banner_id = session.scalars(select(StatusBanner.id)).one()
    res = b.post(f"/admin/banners/{banner_id}/edit", {"message": "no", "active": "1"})
    assert res.status_code == 400 and "message: 3 to 500 characters" in text_of(res)
    session.expire_all()
    assert session.get(StatusBanner, banner_id).message == SLOW
    assert len(session.scalars(select(AuditEntry)).all()) == 1
