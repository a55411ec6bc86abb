"""Twilio's rules for a `<Gather>`, as its TwiML reference and its warnings state them: what Twilio
would reject or warn about (13327 speechTimeout, 13330 hints, 13335 speechTimeout "auto" with a
speechModel), checked on the attributes as our TwiML writes them. The call simulator checks every
Gather it meets, so each end-to-end test keeps the line's prompts valid for the real carrier.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

INPUTS = frozenset({"dtmf", "speech", "dtmf speech", "speech dtmf"})
KEYS = frozenset("0123456789#*")
HINT_MAX_CHARS = 100
HINT_MAX_ENTRIES = 500
SPEECH_ONLY = ("hints", "speechTimeout", "language", "speechModel", "enhanced", "profanityFilter")
_BCP47 = re.compile(r"[a-z]{2,3}(?:-[A-Za-z0-9]{2,8})+")
_POSITIVE = re.compile(r"[1-9][0-9]*")


def gather_problems(attrs: Mapping[str, str]) -> list[str]:
    """What breaks Twilio's rules in a Gather with these attributes (empty: none)."""
    problems: list[str] = []
    given = attrs.get("input", "dtmf")
    if given not in INPUTS:
        problems.append(f"input={given!r}: one of {sorted(INPUTS)}")
    for name in ("timeout", "numDigits"):
        if name in attrs and not _POSITIVE.fullmatch(attrs[name]):
            problems.append(f"{name}={attrs[name]!r}: a positive integer")
    finish = attrs.get("finishOnKey", "#")
    if len(finish) > 1 or (finish and finish not in KEYS):
        problems.append(f"finishOnKey={finish!r}: one of 0-9, #, * or empty")
    if attrs.get("method", "POST") not in ("GET", "POST"):
        problems.append(f"method={attrs['method']!r}: GET or POST")
    if attrs.get("actionOnEmptyResult", "false") not in ("true", "false"):
        problems.append(f"actionOnEmptyResult={attrs['actionOnEmptyResult']!r}: true or false")
    if "speech" in given.split():
        problems += _speech_problems(attrs)
    else:
        problems += [f"{name} on a Gather that does not listen for speech" for name in SPEECH_ONLY if name in attrs]
    return problems


def _speech_problems(attrs: Mapping[str, str]) -> list[str]:
    problems: list[str] = []
    language = attrs.get("language")
    if not language or not _BCP47.fullmatch(language):
        problems.append(f"language={language!r}: a BCP-47 tag such as en-US, needed when listening for speech")
    timeout = attrs.get("speechTimeout")
    if timeout is not None and timeout != "auto" and not _POSITIVE.fullmatch(timeout):
        problems.append(f"speechTimeout={timeout!r}: auto or a positive integer (13327)")
    if timeout == "auto" and "speechModel" in attrs:
        problems.append('speechTimeout="auto" with a speechModel (13335): a positive integer there')
    hints = attrs.get("hints")
    if hints is not None:
        entries = [entry.strip() for entry in hints.split(",")]
        if len(entries) > HINT_MAX_ENTRIES:
            problems.append(f"{len(entries)} hints: at most {HINT_MAX_ENTRIES} (13330)")
        problems += [
            f"hint {entry!r}: non-empty, at most {HINT_MAX_CHARS} characters (13330)"
            for entry in entries
            if not entry or len(entry) > HINT_MAX_CHARS
        ]
    return problems
