"""Issue #13 item 4: no timing oracle at the PIN step. A wrong PIN after a contact ID that exists
takes as long to answer as one after a contact ID that does not (the same queries, one HMAC, the
same Redis round trips), so a caller cannot learn which contact IDs are real from the delay.

Measured through the real webhooks (signed requests through the Flask test client): 80 samples of
each kind, interleaved (so load on the machine falls on both alike), after a warm-up; failures and
locks are forgotten between samples so every sample takes the same path through the lockout.
"""

from __future__ import annotations

import statistics
import time
import uuid
import xml.etree.ElementTree as ET

from tests.factories import World

SAMPLES = 80
WARM_UP = 10
KNOWN, UNKNOWN = "104233", "999999"  # Dana's contact ID; nobody's
WRONG_PIN = "9137"


def _forget_failures(redis_client) -> None:
    for pattern in ("sl:fail:*", "sl:lock:*", "sl:try:*", "sl:strict:*"):
        keys = list(redis_client.scan_iter(pattern))
        if keys:
            redis_client.delete(*keys)


def _sample(sim, contact_id: str, i: int) -> tuple[float, str]:
    """One call from a number nobody has: contact ID, then a wrong PIN; (seconds for the PIN step, what it said)."""
    base = {
        "CallSid": "CA" + uuid.uuid4().hex,
        "AccountSid": "AC" + "0" * 32,
        "From": f"+1763555{i:04d}",
        "To": sim.to_number,
        "CallStatus": "in-progress",
    }
    root = ET.fromstring(sim.post("/voice/incoming", base))
    root = ET.fromstring(sim.post(root.find("Gather").get("action"), dict(base, Digits=contact_id)))
    pin_url = root.find("Gather").get("action")
    started = time.perf_counter()
    body = sim.post(pin_url, dict(base, Digits=WRONG_PIN))
    return time.perf_counter() - started, body


def test_a_wrong_pin_takes_as_long_for_a_known_contact_id_as_for_an_unknown_one(sim, world: World, redis_client):
    timings: dict[str, list[float]] = {KNOWN: [], UNKNOWN: []}
    answers: dict[str, set[str]] = {KNOWN: set(), UNKNOWN: set()}
    for i in range(WARM_UP + SAMPLES):
        order = (KNOWN, UNKNOWN) if i % 2 else (UNKNOWN, KNOWN)
        for n, contact_id in enumerate(order):
            _forget_failures(redis_client)
            seconds, body = _sample(sim, contact_id, 2 * i + n)
            if i >= WARM_UP:
                timings[contact_id].append(seconds)
                answers[contact_id].add(" ".join((e.text or "") for e in ET.fromstring(body).iter("Say")))
    known, unknown = (statistics.median(timings[k]) * 1000 for k in (KNOWN, UNKNOWN))
    # The same words either way...
    assert answers[KNOWN] == answers[UNKNOWN] and len(answers[KNOWN]) == 1
    # ... and the same time, within 20 %.
    assert abs(known - unknown) / min(known, unknown) < 0.20, f"median {known:.2f} ms known vs {unknown:.2f} ms unknown"
