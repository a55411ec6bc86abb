"""ivr/prompts.py: the catalogue's spoken helpers."""

from __future__ import annotations

import pytest

from ivr.prompts import retry_minutes_spoken


@pytest.mark.parametrize(
    ("seconds", "spoken"),
    [
        (900, "15 minutes"),
        (899.5, "15 minutes"),
        (601, "11 minutes"),
        (60, "1 minute"),
        (1, "1 minute"),
        (0.2, "1 minute"),
    ],
)
def test_retry_minutes_round_up(seconds: float, spoken: str) -> None:
    assert retry_minutes_spoken(seconds) == spoken
