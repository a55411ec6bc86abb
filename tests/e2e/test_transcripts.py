"""What callers hear, pinned: dry-run calls of `supportline call` on the demo data, compared word
for word with the transcripts kept in tests/transcripts/.

A restructuring of the call flow must leave every one of them byte-identical. A change that is
meant to change what callers hear rewrites them on purpose: run
`SUPPORTLINE_UPDATE_TRANSCRIPTS=1 ./dev test tests/e2e/test_transcripts.py` and read the diff.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from click.testing import CliRunner

from cli.main import main

HERE = Path(__file__).resolve().parent
DEMO = HERE.parents[1] / "casestore" / "demo" / "demo.yaml"
KEPT = HERE / "transcripts"
UPDATE = os.environ.get("SUPPORTLINE_UPDATE_TRANSCRIPTS") == "1"

# name -> the `supportline call` arguments (local times in America/Chicago; demo data)
CALLS: dict[str, list[str]] = {
    # the README's example: the case owner misses the ring, the next advisor takes it
    "readme_owner_then_next": [
        "--from",
        "(612) 555-0134",
        "--at",
        "2026-11-24 10:00",
        "--keys",
        "241025#",
        "--dial",
        "no-answer,accept",
    ],
    # a wrong PIN, three times: locked out
    "wrong_pin": ["--from", "(612) 555-0134", "--at", "2026-11-24 10:00", "--wrong-pin", "--keys", ",,"],
    # 0: a new issue: its area (3 attendance) and urgency (2 time-sensitive), then the next available advisor
    "press_0": ["--from", "(612) 555-0134", "--at", "2026-11-24 10:00", "--keys", "0,3,2", "--dial", "accept"],
    # an unknown case number three times, then the new-issue questions (0 not sure, 3 otherwise), an advisor
    "unknown_case_three_times": [
        "--from",
        "(612) 555-0134",
        "--at",
        "2026-11-24 10:00",
        "--keys",
        "99999#,99998#,99997#,0,3",
        "--dial",
        "accept",
    ],
    # a number the line does not know: contact ID, then the (simulated) PIN
    "unknown_number_contact_id": [
        "--from",
        "+1 415 555 0100",
        "--at",
        "2026-11-24 10:00",
        "--keys",
        "104233#,0,0,3",
        "--dial",
        "accept",
    ],
    # a withheld number
    "anonymous": ["--from", "Anonymous", "--at", "2026-11-24 10:00", "--keys", "583324#,0,0,3", "--dial", "accept"],
    # option 8 at night for a hosted district: the on-call engineer
    "outage_at_night": ["--from", "(612) 555-0134", "--at", "2026-11-24 22:30", "--keys", "8", "--dial", "accept"],
    # option 8 on Thanksgiving: on-call hosting support is there on holidays
    "outage_on_thanksgiving": [
        "--from",
        "(612) 555-0134",
        "--at",
        "2026-11-26 10:00",
        "--keys",
        "8",
        "--dial",
        "no-answer,accept",
    ],
    # a non-hosted district's contact on Thanksgiving: closed, no option 8
    "thanksgiving_not_hosted": ["--from", "(319) 555-0179", "--at", "2026-11-26 10:00"],
    # a weekday evening, not hosted: the hours and the next opening, from the calendar
    "after_hours": ["--from", "(319) 555-0179", "--at", "2026-12-02 19:00"],
    # a weekday evening, not hosted: a message for an advisor on the caller's case (issue #15 item 3)
    "after_hours_message": ["--from", "(319) 555-0179", "--at", "2026-12-02 19:00", "--keys", "1,240832#"],
    # the same evening: a callback when the desk opens, for a new issue
    "after_hours_callback": ["--from", "(319) 555-0179", "--at", "2026-12-02 19:00", "--keys", "2,#"],
    # the evening before Christmas Eve: two holidays skipped, the date said
    "before_christmas": ["--from", "(319) 555-0179", "--at", "2026-12-23 19:00"],
    # Saturday morning, hosted: closed, option 8 offered
    "saturday_hosted": ["--from", "(612) 555-0134", "--at", "2026-11-28 09:00", "--keys", ""],
    # the first minute after the spring DST change (Monday 2026-03-09, 06:00 CDT): open
    "dst_monday_open": ["--from", "(612) 555-0134", "--at", "2026-03-09 06:00", "--keys", "0,0,3", "--dial", "accept"],
    # a minute before opening on that Monday: closed
    "dst_monday_before_open": ["--from", "(319) 555-0179", "--at", "2026-03-09 05:59"],
    # a closed case of the district, in its reopen window or not
    "closed_case": ["--from", "(612) 555-0134", "--at", "2026-11-24 10:00", "--keys", "240100#,1", "--dial", "accept"],
    # 39 digits at the menu: a case number typed wrong, not a menu key
    "long_entry_at_menu": ["--from", "(612) 555-0134", "--at", "2026-11-24 10:00", "--keys", "1" * 39 + "#"],
    # silence at the menu
    "no_input_at_menu": ["--from", "(612) 555-0134", "--at", "2026-11-24 10:00", "--keys", ",,,"],
    # speech (issue #15 item 1): a spoken case number, read back and confirmed
    "spoken_case_number": [
        "--from",
        "(612) 555-0134",
        "--at",
        "2026-11-24 10:00",
        "--keys",
        "say:two four one oh two five,say:yes",
        "--dial",
        "accept",
    ],
    # a number the line does not know: the contact ID said and read back, then "agent", the area and urgency said
    "spoken_contact_id": [
        "--from",
        "+1 415 555 0100",
        "--at",
        "2026-11-24 10:00",
        "--keys",
        "say:one oh four two three three,say:yes,say:agent,say:grade book,say:not urgent",
        "--dial",
        "accept",
    ],
    # nobody answers: the caller leaves a message
    "nobody_answers": [
        "--from",
        "(612) 555-0134",
        "--at",
        "2026-11-24 10:00",
        "--keys",
        "0,0,3",
        "--dial",
        "no-answer,no-answer,no-answer,no-answer",
    ],
}


@pytest.fixture(scope="module")
def demo_instance(tmp_path_factory):
    folder = tmp_path_factory.mktemp("demo")
    env = {"DATABASE_URL": f"sqlite:///{folder / 'demo.sqlite3'}", "SUPPORTLINE_INSTANCE": str(folder), "REDIS_URL": ""}
    runner = CliRunner()
    for args in (["--dev", "db", "upgrade"], ["--dev", "load", str(DEMO)]):
        result = runner.invoke(main, args, env=env)
        assert result.exit_code == 0, result.output
    return env


@pytest.mark.parametrize("name", sorted(CALLS))
def test_what_the_caller_hears_is_unchanged(demo_instance, name):
    result = CliRunner().invoke(main, ["--dev", "call", *CALLS[name]], env=demo_instance)
    assert result.exit_code == 0, result.output
    kept = KEPT / f"{name}.txt"
    if UPDATE or not kept.exists():
        KEPT.mkdir(exist_ok=True)
        kept.write_text(result.stdout, encoding="utf-8")
        if not UPDATE:
            pytest.fail(f"{kept.name} was missing and has been written: read it, then commit it")
    assert result.stdout == kept.read_text(encoding="utf-8")
