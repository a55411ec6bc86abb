"""What an account sees of a phone number: the one masking decision for the console, the JSON API
and what they export.

A role with the `phones` permission (`auth.admins.PERMISSIONS`: supervisors, admins) sees numbers
in full; every other role sees `***NNNN` (`casestore.phones.mask`). A value holding a phone number
(seven digits or more: an E.164 number, a SIP URI with a number in it) is masked; one without
(`client:lena`) is shown as it is.
"""

from __future__ import annotations

from auth.admins import allowed
from casestore.phones import mask
from casestore.types import AdminRole

MIN_DIGITS = 7  # fewer digits are no phone number (and `mask` says so too)


def sees_phones(role: AdminRole | str | None) -> bool:
    return allowed(role, "phones")


def phone_for(role: AdminRole | str | None, value: str | None) -> str | None:
    """`value` as `role` may see it."""
    if not value or sees_phones(role) or sum(ch.isdigit() for ch in value) < MIN_DIGITS:
        return value
    return mask(value)
