"""PIN hashing: HMAC-SHA256 keyed with the configured pepper, bound to the contact ID.

A 4-8 digit PIN has at most 10^8 values, so no hash alone protects it; the pepper (kept in
configuration, never in the database) does. New PINs have at least `NEW_PIN_DIGITS` (6) digits,
a hundred times the guesses of 4; 4- and 5-digit PINs still verify. Binding the contact ID means
equal PINs of two contacts have different hashes. A slow KDF would add tens of milliseconds to
every call for no protection.
"""

from __future__ import annotations

import hashlib
import hmac
import re

SCHEME = "hmac-sha256"
PIN_RE = re.compile(r"^[0-9]{4,8}$")


def valid_pin(pin: str) -> bool:
    return bool(PIN_RE.fullmatch(pin or ""))


def hash_pin(pepper: str, contact_id: str, pin: str) -> str:
    if not pepper:
        raise ValueError("a PIN pepper is required")
    if not valid_pin(pin):
        raise ValueError("a PIN is 4 to 8 digits")
    digest = hmac.new(pepper.encode(), f"{contact_id}\x00{pin}".encode(), hashlib.sha256).hexdigest()
    return f"{SCHEME}${digest}"


def check_pin(pepper: str, contact_id: str, pin: str, stored: str | None) -> bool:
    """Constant-time comparison; False for a missing hash or a malformed PIN."""
    if not stored or not valid_pin(pin):
        return False
    return hmac.compare_digest(hash_pin(pepper, contact_id, pin), stored)
