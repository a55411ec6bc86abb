"""ivr.speech_hints: the hints of a speech Gather, within Twilio's limits (issue #15 item 1)."""

from __future__ import annotations

from typing import get_args

import pytest

from ivr.speech_hints import HINT_MAX_CHARS, HINT_MAX_ENTRIES, HintKind, hints_for, join_hints


@pytest.mark.parametrize("kind", get_args(HintKind))
@pytest.mark.parametrize("language", ["en-US", "es-MX"])
def test_hints_are_within_twilios_limits(kind, language):
    hints = hints_for(kind, language)  # type: ignore[arg-type]
    entries = hints.split(", ")
    assert 0 < len(entries) <= HINT_MAX_ENTRIES
    assert all(0 < len(e) <= HINT_MAX_CHARS and "," not in e and e == " ".join(e.split()) for e in entries)


def test_hints_content_and_limits():
    assert "case number" in hints_for("case_number").split(", ")
    assert "cero" in hints_for("case_number", "es-US").split(", ")
    assert "outage" in hints_for("menu").split(", ")
    assert {"case number", "advisor", "$OOV_CLASS_DIGIT_SEQUENCE"} <= set(hints_for("menu").split(", "))
    assert "call back" in hints_for("queue_choice").split(", ") and "reopen" in hints_for("reopen").split(", ")
    assert "keep it open" in hints_for("followup").split(", ")
    with pytest.raises(KeyError):
        hints_for("pin")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="at most 500"):
        join_hints(["one"] * (HINT_MAX_ENTRIES + 1))
    with pytest.raises(ValueError, match="100 characters"):
        join_hints(["x" * (HINT_MAX_CHARS + 1)])
    with pytest.raises(ValueError, match="no commas"):
        join_hints(["one, two"])
    assert join_hints(["a  b", "c"]) == "a b, c"
