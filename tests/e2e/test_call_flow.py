"""End-to-end calls through the signed webhooks, following every TwiML action like Twilio."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from casestore.models import AuditEntry, CallLog, Case, CaseEvent
from casestore.types import CaseStatus
from tests.factories import World


def test_owner_answers(sim, world: World, session):
    t = sim.call(World.DANA_PHONE, keys=["4821#", "240117#"], dial=["accept"])
    assert t.said("Thank you, Dana")
    assert t.said("Case 2 4 0 1 1 7. Status: in progress")
    assert t.connected_to == "+16125550101"
    log = session.scalars(select(CallLog)).one()
    assert log.outcome == "connected" and log.contact_id == world.dana.id
    assert log.case_id == world.open_case.id and log.advisor_id == world.priya.id
    assert log.from_masked == "***0134"
    assert log.talk_seconds == 180 and log.ended_at is not None
    event = session.scalars(select(CaseEvent).where(CaseEvent.case_id == world.open_case.id)).one()
    assert event.outcome == "connected" and event.advisor_id == world.priya.id


def test_owner_misses_then_next_skilled_advisor(sim, world: World, session):
    t = sim.call(World.DANA_PHONE, keys=["4821#", "240117#"], dial=["no-answer", "accept"])
    assert t.dialled == ["+16125550101", "+16125550102"]
    assert t.said("case owner is not available")
    assert t.connected_to == "+16125550102"  # Marcus: grade book skill


def test_owner_declines_whisper(sim, world: World):
    t = sim.call(World.DANA_PHONE, keys=["4821#", "240117#"], dial=["decline", "accept"])
    assert t.connected_to == "+16125550102"


def test_nobody_available_holds_with_position(sim, world: World, session):
    t = sim.call(World.DANA_PHONE, keys=["4821#", "240117#"], dial=["busy"] * 20)
    assert t.said("You are number 1 in line")
    assert t.connected_to is None
    log = session.scalars(select(CallLog)).one()
    assert log.outcome == "abandoned" and log.queued_at is not None and log.wait_seconds > 0


def test_wrong_pin_three_times_locks_out(sim, world: World, session):
    t = sim.call(World.DANA_PHONE, keys=["1111#", "2222#", "3333#"])
    assert t.said("did not match")
    assert t.said("contact your district's technical team")
    assert not t.said("Lakeview") and not t.said("Dana")
    # A new call from the locked number is turned away at once.
    again = sim.call(World.DANA_PHONE, keys=["4821#"])
    assert again.said("contact your district's technical team")
    assert not again.said("Thank you, Dana")


def test_lockout_expires_after_fifteen_minutes(sim, world: World, clock):
    sim.call(World.DANA_PHONE, keys=["1111#", "2222#", "3333#"])
    clock.advance(minutes=16)
    t = sim.call(World.DANA_PHONE, keys=["4821#", "*"])
    assert t.said("Thank you, Dana")


def test_unknown_number_identifies_with_contact_id(sim, world: World):
    t = sim.call("+13125550199", keys=["104233#", "4821#", "240117#"], dial=["accept"])
    assert t.said("contact I D")
    assert t.said("Thank you, Dana")
    assert t.connected_to == "+16125550101"


def test_withheld_number_and_wrong_id_never_reveals_which_part(sim, world: World):
    t = sim.call("Anonymous", keys=["999999#", "4821#", "104233#", "0000#"])
    assert (
        t.heard.count(
            "That did not match our records. Please enter your contact I D followed by the pound key, or say it."
        )
        == 0
    )
    assert sum("did not match" in h for h in t.heard) == 2
    assert not t.said("Dana")


def test_shared_number_asks_for_contact_id(sim, world: World):
    t = sim.call(World.SHARED_PHONE, keys=["104301#", "1122#", "*"])
    assert t.said("contact I D") and t.said("Thank you, Ravi")


def test_case_of_another_district_is_not_found(sim, world: World):
    t = sim.call(World.DANA_PHONE, keys=["4821#", "250001#", "999999#"])
    assert sum("could not find that case" in h for h in t.heard) == 2
    assert not t.said("Prairie")


def test_closed_case_reopened(sim, world: World, session):
    t = sim.call(World.DANA_PHONE, keys=["4821#", "240200#", "1"], dial=["accept"])
    assert t.said("To reopen it")
    assert t.said("has been reopened")
    case = session.get(Case, world.recent_closed.id)
    session.refresh(case)
    assert case.status == CaseStatus.IN_PROGRESS and case.reopen_count == 1 and case.closed_at is None
    assert session.scalars(select(AuditEntry).where(AuditEntry.action == "reopen")).one().entity_key == "240200"
    assert t.connected_to == "client:lena" or t.connected_to == "lena"


def test_closed_case_too_old(sim, world: World):
    t = sim.call(World.DANA_PHONE, keys=["4821#", "240300#"])
    assert t.said("more than 60 days ago")
    assert t.connected_to is None


def test_option_8_hosted_pages_on_call_then_backup_then_records(sim, world: World, session):
    t = sim.call(World.DANA_PHONE, keys=["4821#", "8"], dial=["no-answer", "no-answer"])
    assert t.said("We have opened outage case")
    assert t.dialled == ["+16125550177", "+16125550178"]
    assert t.said("describe the outage")
    outage = session.scalars(select(Case).where(Case.is_outage.is_(True))).one()
    assert outage.priority.value == "critical" and outage.district_id == world.hosted.id
    kinds = [e.kind for e in outage.events]
    assert "recording" in kinds
    assert session.scalars(select(CallLog)).one().recording_url


def test_option_8_second_caller_joins_the_same_outage(sim, world: World, session, clock):
    sim.call(World.DANA_PHONE, keys=["4821#", "8"], dial=["accept"])
    clock.advance(minutes=30)
    t = sim.call(World.SHARED_PHONE, keys=["104300#", "2468#", "8"], dial=["accept"])
    assert t.said("already being handled")
    assert len(session.scalars(select(Case).where(Case.is_outage.is_(True))).all()) == 1


def test_option_8_from_non_hosted_returns_to_menu(sim, world: World):
    t = sim.call(World.OMAR_PHONE, keys=["1357#", "8"])
    assert t.said("hosted customers only")
    assert t.dialled == []


def test_option_8_on_christmas_day_at_night(sim, world: World, clock):
    clock.set(datetime(2026, 12, 25, 9, 0, tzinfo=UTC))  # 03:00 Chicago, Christmas Day
    t = sim.call(World.DANA_PHONE, keys=["4821#", "8"], dial=["accept"])
    assert t.said("closed today for Christmas Day")
    assert t.connected_to == "+16125550177"


def test_closed_on_saturday_non_hosted_hears_portal(sim, world: World, clock):
    clock.set(datetime(2026, 11, 21, 17, 0, tzinfo=UTC))  # Saturday 11:00 Chicago
    t = sim.call(World.OMAR_PHONE, keys=["1357#"])
    assert t.said("Monday through Friday") and t.said("Support Case Portal")
    assert not t.said("press 8")


def test_17_59_open_and_18_00_closed(sim, world: World, clock):
    clock.set(datetime(2026, 11, 17, 23, 59, tzinfo=UTC))  # 17:59 CST
    assert sim.call(World.OMAR_PHONE, keys=["1357#"]).said("Enter your case number")
    clock.set(datetime(2026, 11, 18, 0, 0, tzinfo=UTC))  # 18:00 CST
    assert sim.call(World.OMAR_PHONE, keys=["1357#"]).said("closed right now")


def test_menu_no_input_reprompts_twice_then_an_advisor(sim, world: World):
    # Issue #15 item 5d: the third silence is put through as 0 is (tests/e2e/test_wording.py).
    t = sim.call(World.DANA_PHONE, keys=["4821#", "", "", ""])
    assert sum("did not receive" in h for h in t.heard) == 3
    assert t.connected_to == "+16125550101"


def test_press_zero_reaches_an_advisor(sim, world: World):
    t = sim.call(World.DANA_PHONE, keys=["4821#", "0", "0", "3"], dial=["accept"])
    assert t.connected_to == "+16125550101"


def test_every_call_leaves_one_log_row(sim, world: World, session):
    sim.call(World.DANA_PHONE, keys=["4821#", "240117#"], dial=["accept"])
    sim.call("+13125550199", keys=["1#"])
    assert len(session.scalars(select(CallLog)).all()) == 2


# Hours gating through whole calls: (UTC instant, open?) with the local reading in the comment.
GATING = [
    (datetime(2026, 3, 8, 14, 0, tzinfo=UTC), False),  # Sun 09:00 CDT, spring-forward Sunday
    (datetime(2026, 3, 9, 10, 59, tzinfo=UTC), False),  # Mon 05:59 CDT, first day of CDT
    (datetime(2026, 3, 9, 11, 0, tzinfo=UTC), True),  # Mon 06:00 CDT (would be 05:00 CST)
    (datetime(2026, 11, 1, 15, 0, tzinfo=UTC), False),  # Sun 09:00 CST, fall-back Sunday
    (datetime(2026, 11, 2, 11, 30, tzinfo=UTC), False),  # Mon 05:30 CST (06:30 if still CDT)
    (datetime(2026, 11, 2, 12, 0, tzinfo=UTC), True),  # Mon 06:00 CST
    (datetime(2026, 11, 26, 16, 0, tzinfo=UTC), False),  # Thanksgiving Thu 10:00 CST
    (datetime(2026, 11, 27, 16, 0, tzinfo=UTC), False),  # the day after Thanksgiving
    (datetime(2026, 11, 18, 2, 0, tzinfo=UTC), False),  # Tue 20:00 CST, though Wed in UTC
]


@pytest.mark.parametrize("when,is_open", GATING)
def test_hours_gating_through_a_call(sim, world: World, clock, when, is_open):
    clock.set(when)
    t = sim.call(World.OMAR_PHONE, keys=["1357#"])
    assert t.said("Enter your case number") is is_open
    assert t.said("Support Case Portal") is (not is_open)


def test_holiday_names_the_holiday_and_offers_option_8_to_hosted(sim, world: World, clock):
    clock.set(datetime(2026, 11, 26, 16, 0, tzinfo=UTC))
    t = sim.call(World.DANA_PHONE, keys=["4821#", ""])
    assert t.said("closed today for Thanksgiving")
    assert t.said("press 8")
    assert not t.said("Enter your case number")


def test_admin_one_off_closure_applies_without_deploy(sim, world: World, session, clock):
    from datetime import date

    from casestore.models import Closure

    session.add(Closure(day=date(2026, 11, 17), name="the staff training day"))
    session.commit()
    t = sim.call(World.OMAR_PHONE, keys=["1357#"])
    assert t.said("closed today for the staff training day")


def test_global_banner_before_verification_district_banner_after(sim, world: World, session, clock):
    from casestore.models import StatusBanner

    session.add_all(
        [
            StatusBanner(message="We are investigating slow logins for some districts.", starts_at=clock.now),
            StatusBanner(
                message="Lakeview maintenance tonight at ten.", district_id=world.hosted.id, starts_at=clock.now
            ),
        ]
    )
    session.commit()
    stranger = sim.call("+13125550199", keys=[])
    assert stranger.said("slow logins") and not stranger.said("Lakeview")
    dana = sim.call(World.DANA_PHONE, keys=["4821#", "*"])
    assert dana.heard.index(next(h for h in dana.heard if "slow logins" in h)) < dana.heard.index(
        next(h for h in dana.heard if "Lakeview maintenance" in h)
    )


def test_star_repeats_menu_and_junk_is_not_recognised(sim, world: World):
    t = sim.call(World.DANA_PHONE, keys=["4821#", "*", "12#"])
    assert sum("Enter your case number" in h for h in t.heard) == 3
    assert t.said("not one of the options")


def test_inactive_district_contact_cannot_verify(sim, world: World, session):
    world.onprem.active = False
    session.commit()
    t = sim.call(World.OMAR_PHONE, keys=["204511#", "1357#", "204511#", "1357#"])
    assert t.said("contact I D") and not t.said("Thank you, Omar")


def test_line_asks_for_data_changes_in_writing(sim, world: World):
    t = sim.call(World.DANA_PHONE, keys=["4821#", "240117#"], dial=["accept"])
    assert t.said("submit the request in writing")


def test_available_in_release_reads_the_release(sim, world: World, session):
    world.open_case.status = CaseStatus.AVAILABLE_IN_RELEASE
    world.open_case.release_name = "Campus.2547"
    session.commit()
    t = sim.call(World.DANA_PHONE, keys=["4821#", "240117#"], dial=["accept"])
    assert t.said("available in release Campus.2547")


def test_contact_id_locks_across_numbers(sim, world: World):
    # Three wrong PINs for Dana's contact ID from three different numbers lock the ID itself.
    for number in ("+13125550101", "+13125550102", "+13125550103"):
        sim.call(number, keys=["104233#", "0000#"])
    t = sim.call(World.DANA_PHONE, keys=["4821#"])
    assert t.said("contact your district's technical team")
    assert not t.said("Thank you, Dana")


def test_hold_music_plays_between_announcements(
    settings_overrides, engine, session_factory, redis_client, clock, world: World
):
    from tests.conftest import AUTH_TOKEN, BASE_URL
    from twilio_doubles.simulator import CallSimulator
    from webhooks import create_app

    app = create_app(
        dict(settings_overrides, hold_music_url="https://example.test/hold.mp3"),
        engine=engine,
        sessions=session_factory,
        redis_client=redis_client,
        clock=clock,
    )
    sim = CallSimulator(app.test_client(), base_url=BASE_URL, auth_token=AUTH_TOKEN, hold_rounds=1)
    t = sim.call(World.DANA_PHONE, keys=["4821#", "240117#"], dial=["busy"] * 10)
    assert t.said("You are number 1 in line")
    assert any("(30 s of https://example.test/hold.mp3)" in line for line in t.lines)
