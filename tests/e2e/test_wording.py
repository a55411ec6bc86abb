"""What callers hear, end to end through the signed webhooks: the wording fixes of issue #15
items 4 and 5 (the closed message from the calendar, no sentence said twice, the lockout's
retry time, silence and long entries at the menu, another advisor after a miss)."""

from __future__ import annotations

from datetime import UTC, datetime

from tests.factories import World


def _count(t, fragment: str) -> int:
    return sum(fragment.lower() in text.lower() for text in t.heard)


def test_closed_after_hours_says_the_hours_and_the_next_opening(sim, world: World, clock):
    clock.set(datetime(2026, 12, 3, 1, 0, tzinfo=UTC))  # Wednesday 2026-12-02 19:00 CST
    t = sim.call(World.OMAR_PHONE, keys=["1357#"])
    assert t.said("Live support is available Monday through Friday, from 6 a.m. to 6 p.m. Central")
    assert t.said("We open again tomorrow at 6 a.m. Central.")


def test_closed_on_thanksgiving_names_it_and_skips_the_day_after(sim, world: World, clock):
    clock.set(datetime(2026, 11, 26, 16, 0, tzinfo=UTC))  # Thanksgiving, 10:00 CST
    t = sim.call(World.OMAR_PHONE, keys=["1357#"])
    assert t.said("Live support is closed today for Thanksgiving.")
    assert t.said("We open again on Monday, November 30, at 6 a.m. Central.")


def test_third_unknown_case_says_connecting_once(sim, world: World):
    t = sim.call(World.DANA_PHONE, keys=["4821#", "99999#", "99998#", "99997#", "0", "3"], dial=["accept"])
    assert _count(t, "could not find that case number") == 3
    assert _count(t, "Connecting you to the next available advisor") == 1
    assert t.connected_to is not None


def test_the_next_advisor_after_a_miss_is_another_advisor_not_the_same_sentence(sim, world: World):
    t = sim.call(World.DANA_PHONE, keys=["4821#", "0", "0", "3"], dial=["no-answer", "no-answer", "accept"])
    assert len(t.dialled) == 3 and t.connected_to == t.dialled[-1]
    assert _count(t, "Connecting you to the next available advisor") == 1
    assert _count(t, "That advisor is not available") == 2
    assert _count(t, "Trying another advisor.") == 2


def test_backup_engineer_is_announced_as_the_backup(sim, world: World):
    t = sim.call(World.DANA_PHONE, keys=["4821#", "8"], dial=["no-answer", "accept"])
    assert t.dialled == ["+16125550177", "+16125550178"]
    assert _count(t, "Connecting you to the on call engineer") == 1
    assert t.said("Trying the backup engineer.")


def test_lockout_says_when_to_try_again(sim, world: World, clock):
    t = sim.call(World.DANA_PHONE, keys=["1111#", "2222#", "3333#"])
    assert t.said("You can try again in 15 minutes.")
    assert not t.said("Dana") and not t.said("Lakeview")
    clock.advance(minutes=5)
    again = sim.call(World.DANA_PHONE, keys=["4821#"])
    assert again.said("You can try again in 10 minutes.")


def test_three_silences_at_the_menu_reach_an_advisor(sim, world: World):
    t = sim.call(World.DANA_PHONE, keys=["4821#", "", "", ""], dial=["accept"])
    assert _count(t, "did not receive") == 3
    assert t.said("Connecting you to the next available advisor")
    assert t.connected_to == "+16125550101"


def test_three_silences_after_closing_hear_the_closed_message(sim, world: World, clock):
    clock.set(datetime(2026, 11, 17, 23, 59, tzinfo=UTC))  # 17:59 CST; closes at 18:00
    entries = ["1357#", "", "", ""]

    def caller(heard: list[str]) -> str | None:
        if len(entries) == 1:  # the third silence lasts past six o'clock
            clock.advance(minutes=2)
        return entries.pop(0) if entries else None

    t = sim.call(World.OMAR_PHONE, ask_keys=caller)
    assert _count(t, "did not receive") == 3
    assert t.said("closed right now") and t.said("We open again tomorrow at 6 a.m. Central.")
    assert t.connected_to is None


def test_long_digit_entry_is_not_a_case_number(sim, world: World):
    t = sim.call(World.DANA_PHONE, keys=["4821#", "1" * 39 + "#", "*"])
    assert t.said("That is not a case number.")
    assert not t.said("not one of the options")


def test_long_entries_count_as_case_number_tries(sim, world: World):
    t = sim.call(World.DANA_PHONE, keys=["4821#", "1" * 39 + "#", "99999#", "1" * 12 + "#", "0", "3"], dial=["accept"])
    assert _count(t, "not a case number") == 2 and _count(t, "could not find that case number") == 1
    assert _count(t, "Connecting you to the next available advisor") == 1
    assert t.connected_to == "+16125550101"
