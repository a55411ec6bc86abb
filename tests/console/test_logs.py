"""The admin console's logs: call log search, the case page, the audit log, the daily charts."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from flask import render_template

from casestore import audit
from casestore.models import AuditEntry, CallbackTask, CallLog, Case, CaseEvent, Incident, IncidentEvent
from casestore.types import CaseStatus, Priority, ProductArea
from console.charts import charts_svg, daily_figures
from console.logs import audit_diff, mask_text
from tests.adminkit import accounts, browser  # noqa: F401  (fixtures)
from tests.factories import World

CHICAGO = ZoneInfo("America/Chicago")
UTC = UTC

# Every full number in the world fixture: contacts, advisors, engineers.
WORLD_NUMBERS = [
    World.DANA_PHONE,
    World.OMAR_PHONE,
    World.SHARED_PHONE,
    "+16125550101",
    "+16125550102",
    "+16125550177",
    "+16125550178",
]


def _local(*args) -> datetime:
    return datetime(*args, tzinfo=CHICAGO)


def _call(
    session, sid: str, started: datetime, *, outcome: str = "connected", wait: int = 0, queued: bool = True, **kw
) -> CallLog:
    row = CallLog(
        call_sid=sid,
        from_masked="***0134",
        started_at=started,
        outcome=outcome,
        queued_at=started + timedelta(seconds=20) if queued else None,
        wait_seconds=wait,
        talk_seconds=kw.pop("talk", 120 if outcome == "connected" else 0),
        duration_seconds=kw.pop("duration", 200),
        path=kw.pop("path", ["greeting", "pin", "verified"]),
        ended_at=started + timedelta(minutes=4),
        status="completed",
        **kw,
    )
    session.add(row)
    return row


def _sids(page: str) -> list[str]:
    return re.findall(r'<td title="(CA[^"]+)">', page)


def _full_numbers_in(page: str) -> list[str]:
    found = []
    for e164 in WORLD_NUMBERS:
        national = e164[2:]
        for form in (
            e164,
            national,
            f"({national[:3]}) {national[3:6]}-{national[6:]}",
            f"{national[:3]}-{national[3:6]}-{national[6:]}",
        ):
            if form in page:
                found.append(form)
    return found


# --------------------------------------------------------------------------- roles


@pytest.mark.parametrize("role", ["admin", "supervisor", "viewer"])
def test_every_role_reads_the_logs_and_charts(browser, role):
    browser.login(role)
    for path in ("/admin/calls", "/admin/cases/240117", "/admin/audit", "/admin/charts", "/admin/charts.json"):
        res = browser.get(path)
        assert res.status_code == 200, (path, res.status_code)
    test_call = browser.get("/admin/test-call").status_code
    assert test_call == (403 if role == "viewer" else 200)


def test_the_logs_need_a_sign_in(browser):
    for path in ("/admin/calls", "/admin/cases/240117", "/admin/audit", "/admin/charts"):
        res = browser.get(path)
        assert res.status_code == 302 and "/admin/login" in res.headers["Location"]


# --------------------------------------------------------------------------- call log


def test_call_log_pages_newest_first_without_repeats(browser, world, session):
    # 120 calls, three at each instant, so the order needs its tie-break to be stable.
    base = datetime(2026, 11, 10, 15, 0, tzinfo=UTC)
    for i in range(120):
        _call(
            session,
            f"CA{i:04d}",
            base + timedelta(minutes=i // 3),
            district_id=world.hosted.id,
            case_id=world.open_case.id,
            advisor_id=world.priya.id,
        )
    session.commit()
    browser.login("viewer")
    pages = [browser.get(f"/admin/calls?page={n}").get_data(as_text=True) for n in (1, 2, 3)]
    sids = [_sids(p) for p in pages]
    assert [len(s) for s in sids] == [50, 50, 20]
    everything = sids[0] + sids[1] + sids[2]
    assert len(set(everything)) == 120
    assert everything == sorted(everything, reverse=True)  # newest first (ids rise with time here)
    assert "1–50 of 120" in pages[0] and "page 1 of 3" in pages[0]
    assert 'href="/admin/calls?page=2"' in pages[0]
    # Past the end shows the last page; rubbish shows the first.
    assert _sids(browser.get("/admin/calls?page=99").get_data(as_text=True)) == sids[2]
    assert _sids(browser.get("/admin/calls?page=x").get_data(as_text=True)) == sids[0]
    row = pages[0]
    assert "Priya Raman" in row and "Lakeview Public Schools" in row and 'href="/admin/cases/240117"' in row
    assert "greeting → pin → verified" in row and "***0134" in row and "3:20" in row  # duration 200 s


def test_call_log_filters(browser, world, session):
    # 23:30 on Monday 16 November in Chicago is already Tuesday in UTC.
    _call(
        session,
        "CAlate",
        _local(2026, 11, 16, 23, 30),
        outcome="abandoned",
        wait=45,
        district_id=world.hosted.id,
        case_id=world.open_case.id,
        skill="grade_book",
    )
    _call(
        session,
        "CAmorning",
        _local(2026, 11, 17, 8, 5),
        district_id=world.onprem.id,
        case_id=world.other_case.id,
        skill="attendance",
        advisor_id=world.lena.id,
    )
    _call(
        session,
        "CAgeneral",
        _local(2026, 11, 17, 8, 10),
        outcome="message_recorded",
        district_id=world.hosted.id,
        skill=None,
    )
    _call(session, "CAearly", _local(2026, 11, 16, 0, 5), outcome="closed", queued=False, district_id=world.onprem.id)
    session.commit()
    browser.login("viewer")

    def sids(query: str) -> set[str]:
        res = browser.get("/admin/calls?" + query)
        assert res.status_code == 200, res.get_data(as_text=True)
        return set(_sids(res.get_data(as_text=True)))

    assert sids("") == {"CAlate", "CAmorning", "CAgeneral", "CAearly"}
    assert sids("from=2026-11-16&to=2026-11-16") == {"CAlate", "CAearly"}
    assert sids("from=2026-11-17") == {"CAmorning", "CAgeneral"}
    assert sids("to=2026-11-15") == set()
    assert sids("outcome=abandoned") == {"CAlate"}
    assert sids(f"district={world.onprem.id}") == {"CAmorning", "CAearly"}
    assert sids("case=250001") == {"CAmorning"}
    assert sids("skill=attendance") == {"CAmorning"}
    assert sids("skill=general") == {"CAgeneral", "CAearly"}
    assert sids(f"district={world.hosted.id}&from=2026-11-17") == {"CAgeneral"}
    page = browser.get("/admin/calls?outcome=abandoned").get_data(as_text=True)
    assert "0:45" in page  # the wait
    bad = browser.get("/admin/calls?from=yesterday&case=abc")
    assert bad.status_code == 400
    text = bad.get_data(as_text=True)
    assert "from: not a date" in text and "case: a case number is digits only" in text


def test_filters_are_kept_across_pages(browser, world, session):
    base = datetime(2026, 11, 12, 15, 0, tzinfo=UTC)
    for i in range(55):
        _call(session, f"CAab{i:03d}", base + timedelta(minutes=i), outcome="abandoned")
        _call(session, f"CAok{i:03d}", base + timedelta(minutes=i))
    session.commit()
    browser.login("viewer")
    page = browser.get("/admin/calls?outcome=abandoned").get_data(as_text=True)
    assert "1–50 of 55" in page
    assert 'href="/admin/calls?outcome=abandoned&amp;page=2"' in page
    second = _sids(browser.get("/admin/calls?outcome=abandoned&page=2").get_data(as_text=True))
    assert len(second) == 5 and all(s.startswith("CAab") for s in second)


# --------------------------------------------------------------------------- case page


def test_case_page_shows_details_log_and_tasks(browser, world, session):
    case = world.open_case
    case.release_name = "2026.11 Autumn"
    at = datetime(2026, 11, 16, 16, 0, tzinfo=UTC)
    session.add_all(
        [
            CaseEvent(
                case_id=case.id,
                at=at + timedelta(minutes=5),
                kind="call",
                direction="inbound",
                contact_id=world.dana.id,
                advisor_id=world.priya.id,
                outcome="connected",
                detail="Inbound call from the authorized contact.",
            ),
            CaseEvent(
                case_id=case.id, at=at, kind="note", detail="Dana asked us to call +16125550134 or (612) 555-0134."
            ),
            CaseEvent(
                case_id=case.id,
                at=at + timedelta(minutes=9),
                kind="task",
                direction="inbound",
                outcome="callback_requested",
                detail="Callback requested from the queue to ***0134",
            ),
            CallbackTask(
                kind="callback",
                status="open",
                case_id=case.id,
                district_id=world.hosted.id,
                contact_id=world.dana.id,
                call_sid="CAtask",
                callback_e164=World.DANA_PHONE,
                skill="grade_book",
                priority_rank=1,
                queued_at=at + timedelta(minutes=8),
                created_at=at + timedelta(minutes=9),
            ),
        ]
    )
    session.commit()
    browser.login("viewer")
    page = browser.get("/admin/cases/240117").get_data(as_text=True)
    for text in (
        "Case 240117",
        "Lakeview Public Schools",
        "Dana Whitfield (contact ID 104233)",
        "grade book",
        "high",
        "in progress",
        "Priya Raman",
        "2026.11 Autumn",
        "Report card GPA rounding",
        "2026-11-02 09:00",
    ):  # created 15:00 UTC = 09:00 in Chicago
        assert text in page, text
    # The communication log in time order, numbers masked.
    log = page[page.index('id="events"') : page.index('id="tasks"')]
    assert log.index("Dana asked us") < log.index("Inbound call") < log.index("Callback requested")
    assert "Dana asked us to call ***0134 or ***0134." in log
    tasks = page[page.index('id="tasks"') :]
    assert "callback" in tasks and "open" in tasks and "***0134" in tasks
    assert _full_numbers_in(page) == []
    assert browser.get("/admin/cases/999999").status_code == 404


def test_outage_case_shows_its_incident_timeline(browser, world, session):
    outage = Case(
        number=260001,
        district=world.hosted,
        product_area=ProductArea.ATTENDANCE,
        priority=Priority.CRITICAL,
        status=CaseStatus.NEW,
        is_outage=True,
        summary="Outage reported by phone",
        created_at=datetime(2026, 11, 17, 13, 0, tzinfo=UTC),
    )
    session.add(outage)
    session.flush()
    incident = Incident(
        case_id=outage.id,
        district_id=world.hosted.id,
        state="acknowledged",
        triggered_at=datetime(2026, 11, 17, 13, 0, tzinfo=UTC),
        acknowledged_at=datetime(2026, 11, 17, 13, 4, tzinfo=UTC),
        acknowledged_by_id=world.sam.id,
    )
    incident.linked_districts = [world.onprem]
    session.add(incident)
    session.flush()
    session.add_all(
        [
            IncidentEvent(
                incident_id=incident.id,
                at=datetime(2026, 11, 17, 13, 0, tzinfo=UTC),
                kind="triggered",
                detail="Outage reported by phone for Lakeview Public Schools.",
            ),
            IncidentEvent(
                incident_id=incident.id,
                at=datetime(2026, 11, 17, 13, 1, tzinfo=UTC),
                kind="paged",
                engineer_id=world.sam.id,
                detail="Voice page to +16125550177",
            ),
            IncidentEvent(
                incident_id=incident.id,
                at=datetime(2026, 11, 17, 13, 4, tzinfo=UTC),
                kind="acknowledged",
                engineer_id=world.sam.id,
                detail="Acknowledged by keypress.",
            ),
        ]
    )
    session.commit()
    browser.login("viewer")
    page = browser.get("/admin/cases/260001").get_data(as_text=True)
    timeline = page[page.index('id="timeline"') :]
    assert timeline.index("triggered") < timeline.index("paged") < timeline.index("acknowledged")
    assert "Sam Ortiz" in page and "Prairie Ridge USD" in page and "acknowledged 2026-11-17 07:04" in page
    assert "Voice page to ***0177" in timeline and "+16125550177" not in page
    # An ordinary case has no incident section.
    assert 'id="timeline"' not in browser.get("/admin/cases/240117").get_data(as_text=True)


# --------------------------------------------------------------------------- audit log


def test_audit_log_newest_first_filters_and_diffs(browser, world, session):
    t0 = datetime(2026, 11, 16, 15, 0, tzinfo=UTC)
    audit.record(
        session,
        at=t0,
        actor="cli:load",
        action="create",
        entity="contact",
        key="104233",
        after={"name": "Dana Whitfield", "phones": [World.DANA_PHONE]},
    )
    audit.record(
        session,
        at=t0 + timedelta(hours=1),
        actor="admin:alice",
        action="update",
        entity="advisor",
        key="Marcus Bell",
        before={"skills": ["grade_book"], "reach": "+16125550102"},
        after={"skills": ["attendance", "grade_book"], "reach": "+16125550103"},
    )
    audit.record(
        session,
        at=t0 + timedelta(hours=2),
        actor="admin:bob",
        action="delete",
        entity="banner",
        key="7",
        before={"message": "Snow day"},
    )
    session.commit()
    browser.login("viewer")
    page = browser.get("/admin/audit").get_data(as_text=True)
    body = page[page.index('id="audit"') :]
    assert body.index("Snow day") < body.index("Marcus Bell") < body.index("104233")  # newest first
    assert "+ attendance" in body  # a list diff names what came and went
    assert "***0102" in body and "***0103" in body and "***0134" in body
    assert _full_numbers_in(page) == [] and "+16125550103" not in page
    assert 'class="changed"' in body and 'class="added"' in body and 'class="removed"' in body
    only_advisors = browser.get("/admin/audit?entity=advisor").get_data(as_text=True)
    assert "Marcus Bell" in only_advisors and "Snow day" not in only_advisors and "104233" not in only_advisors
    by_bob = browser.get("/admin/audit?actor=BOB").get_data(as_text=True)
    assert "Snow day" in by_bob and "Marcus Bell" not in by_bob
    assert "Nothing found" in browser.get("/admin/audit?actor=carol").get_data(as_text=True)


def test_audit_log_pages(browser, world, session):
    t0 = datetime(2026, 11, 1, 15, 0, tzinfo=UTC)
    for i in range(60):
        audit.record(
            session,
            at=t0 + timedelta(minutes=i),
            actor="admin:alice",
            action="create",
            entity="closure",
            key=f"day-{i:02d}",
            after={"name": f"Closure {i}"},
        )
    session.commit()
    browser.login("viewer")
    first = browser.get("/admin/audit?entity=closure").get_data(as_text=True)
    second = browser.get("/admin/audit?entity=closure&page=2").get_data(as_text=True)
    assert "day-59" in first and "day-10" in first and "day-09" not in first
    assert "day-09" in second and "day-00" in second and "day-10" not in second
    assert "51–60 of 60" in second


def test_a_real_admin_change_shows_in_the_audit_log(browser, world, session):
    browser.login("admin")
    form = {
        "name": "Marcus Bell",
        "reach": "+16125550102",
        "team": "Campus Support",
        "active": "1",
        "skill_grade_book": "1",
        "skill_attendance": "1",
    }
    assert browser.post(f"/admin/advisors/{world.marcus.id}/edit", form).status_code == 302
    page = browser.get("/admin/audit?actor=admin:admin").get_data(as_text=True)
    assert "Marcus Bell" in page and "+ attendance" in page
    assert session.query(AuditEntry).count() >= 1


def test_audit_diff_and_masking_helpers():
    rows = audit_diff({"a": 1, "b": [1, 2], "c": "x"}, {"a": 1, "b": [2, 3], "d": None})
    by_field = {r["field"]: r for r in rows}
    assert by_field["a"]["change"] == "same" and by_field["c"]["change"] == "removed"
    assert by_field["d"]["change"] == "added"
    assert by_field["b"]["came_went"] == {"added": ["3"], "removed": ["1"]}
    assert (
        mask_text("call +16125550134, 612-555-0134, (612) 555-0134 or 6125550134")
        == "call ***0134, ***0134, ***0134 or ***0134"
    )
    # Dates, times, case numbers and call SIDs are left alone.
    assert (
        mask_text("case 240117 on 2026-11-17 15:00, call CA0123456789abcdef0123")
        == "case 240117 on 2026-11-17 15:00, call CA0123456789abcdef0123"
    )


# --------------------------------------------------------------------------- no full numbers anywhere


def test_no_page_shows_a_full_phone_number(browser, world, session, sim):
    # Real calls through the IVR leave real rows: a call log, case events, a callback task.
    sim.call(World.DANA_PHONE, keys=["4821#", "240117#"], dial=["accept"])
    sim.call(World.OMAR_PHONE, keys=["1357#", "0"], dial=["busy"] * 10)
    session.add(
        CallbackTask(
            kind="callback",
            status="open",
            case_id=world.open_case.id,
            district_id=world.hosted.id,
            contact_id=world.dana.id,
            call_sid="CAcb",
            callback_e164=World.SHARED_PHONE,
            priority_rank=1,
            queued_at=datetime(2026, 11, 17, 14, 0, tzinfo=UTC),
        )
    )
    audit.record(
        session,
        at=datetime(2026, 11, 17, 14, 0, tzinfo=UTC),
        actor="cli:load",
        action="update",
        entity="contact",
        key="204511",
        before={"phones": [World.OMAR_PHONE]},
        after={"phones": [World.OMAR_PHONE, World.SHARED_PHONE]},
    )
    session.commit()
    assert session.query(CallLog).count() == 2
    browser.login("viewer")
    for path in ("/admin/calls", "/admin/cases/240117", "/admin/cases/250001", "/admin/audit", "/admin/charts"):
        page = browser.get(path).get_data(as_text=True)
        assert _full_numbers_in(page) == [], path
    assert "***0134" in browser.get("/admin/calls").get_data(as_text=True)


# --------------------------------------------------------------------------- charts


def _point(svg: str, day: str) -> str:
    match = re.search(rf'<circle class="point[^"]*" data-day="{day}" data-value="([^"]*)"', svg)
    assert match, day
    return match.group(1)


@pytest.fixture
def known_calls(session, world):
    """Calls on Monday 16 November 2026 (local) with figures worked out by hand, and its edges."""
    monday = [
        ("CAm1", _local(2026, 11, 16, 10, 0), "connected", 5, True),
        ("CAm2", _local(2026, 11, 16, 10, 5), "connected", 10, True),
        ("CAm3", _local(2026, 11, 16, 10, 10), "connected", 30, True),
        ("CAm4", _local(2026, 11, 16, 11, 0), "connected", 0, False),  # straight to the owner, never queued
        ("CAm5", _local(2026, 11, 16, 12, 0), "abandoned", 40, True),
        ("CAm6", _local(2026, 11, 16, 12, 30), "message_recorded", 70, True),  # counted apart
        ("CAm7", _local(2026, 11, 16, 13, 0), "hung_up", 0, False),  # never reached the line
        ("CAm8", _local(2026, 11, 16, 0, 30), "connected", 20, True),  # just after local midnight
        ("CAm9", _local(2026, 11, 16, 23, 30), "abandoned", 60, True),  # already Tuesday in UTC
        ("CAs1", _local(2026, 11, 15, 23, 59), "connected", 3, True),  # Sunday, Monday in UTC
    ]
    for sid, started, outcome, wait, queued in monday:
        _call(session, sid, started, outcome=outcome, wait=wait, queued=queued)
    session.commit()


def test_daily_figures_use_the_metrics_definitions(session, known_calls, clock):
    rows = daily_figures(session, clock(), "America/Chicago")
    assert len(rows) == 30 and rows[0]["day"] == date(2026, 10, 19) and rows[-1]["day"] == date(2026, 11, 17)
    monday = next(r for r in rows if r["day"] == date(2026, 11, 16))
    # answered: m1 m2 m3 m4 m8; abandoned: m5 m9; within 15 s: m1 m2 m4; queued (not a task): m1 m2 m3 m5 m8 m9
    assert monday["answered"] == 5 and monday["abandoned"] == 2 and monday["left_message_or_callback"] == 1
    assert monday["service_level"] == 0.429  # 3 / 7
    assert monday["asa_seconds"] == 13.0  # (5 + 10 + 30 + 0 + 20) / 5
    assert monday["abandonment_rate"] == 0.333  # 2 / 6
    sunday = next(r for r in rows if r["day"] == date(2026, 11, 15))
    assert (sunday["answered"], sunday["service_level"], sunday["asa_seconds"], sunday["abandonment_rate"]) == (
        1,
        1.0,
        3.0,
        0.0,
    )
    today = rows[-1]
    assert today["answered"] == 0 and today["service_level"] is None


def test_chart_svgs_have_a_point_per_day_and_the_figures(session, known_calls, clock):
    svgs = charts_svg(session, clock(), "America/Chicago")
    assert set(svgs) == {"service_level", "asa", "abandonment_rate"}
    expected_days = [(date(2026, 10, 19) + timedelta(days=i)).isoformat() for i in range(30)]
    for key, svg in svgs.items():
        assert svg.startswith("<svg") and svg.endswith("</svg>")
        assert re.findall(r'data-day="([\d-]+)"', svg) == expected_days, key
        assert "<script" not in svg and "http://" not in svg.replace('xmlns="http://www.w3.org/2000/svg"', "")
    assert _point(svgs["service_level"], "2026-11-16") == "42.9"
    assert _point(svgs["asa"], "2026-11-16") == "13"
    assert _point(svgs["abandonment_rate"], "2026-11-16") == "33.3"
    assert _point(svgs["service_level"], "2026-11-15") == "100"
    assert _point(svgs["asa"], "2026-11-15") == "3"
    assert _point(svgs["abandonment_rate"], "2026-11-15") == "0"
    assert _point(svgs["asa"], "2026-11-17") == ""  # no calls today: a hollow point
    assert 'class="point none"' in svgs["asa"]


def test_charts_page_and_the_partial_for_the_board(browser, known_calls, app):
    browser.login("viewer")
    page = browser.get("/admin/charts").get_data(as_text=True)
    assert page.count("<svg") == 3 and 'data-chart="asa"' in page
    assert "42.9%" in page and "13 s" in page and "33.3%" in page  # the figures table
    data = browser.get("/admin/charts.json").get_json()
    assert len(data["days"]) == 30 and data["days"][-2]["day"] == "2026-11-16"
    assert data["days"][-2]["asa_seconds"] == 13.0
    # The partial computes the charts itself when the including page does not pass them.
    with app.test_request_context("/admin/"):
        partial = render_template("admin/charts_partial.html")
    assert partial.count("<svg") == 3 and 'id="chart-service-level"' in partial
    assert _point(partial, "2026-11-16") == "42.9"
