"""What a caller hears when the service itself is in trouble, with neither the database nor Redis.

Two ways in, one answer:
- Twilio's **Fallback URL**, `POST /voice/fallback`: Twilio calls it when the Voice URL failed
  (an error status, a timeout, TwiML it could not parse). `fallback_response`.
- A webhook that **faulted** (database or Redis down, a bug): `webhooks.voice.fallback_twiml`,
  which calls `fault_twiml`.

The answer apologises and puts the caller through to `OVERFLOW_NUMBER`. When the on-call outage
line is configured (`FALLBACK_OUTAGE_LINE`, E.164) and the caller's number belongs to an active
contact of an active **hosted** district, it first offers "if your hosted site is down, press 8",
and 8 dials that line (a hosted site's outage must reach an engineer even while the phone service
is failing). A line that does not answer falls back to the overflow number.

Which numbers are hosted contacts comes from a small local file, not the database (which may be
the very thing that is down): `instance/fallback_contacts.json`, or `FALLBACK_CONTACTS_FILE`.
`refresh` rewrites it from the database: the worker's timer loop every 5 minutes
(`workers.worker`), and each web process once at start (`refresh_in_background`), or
`python -m webhooks.fallback` from a timer on a web host that runs no worker. The file is written
atomically (temporary file, fsync, rename), so a reader sees the old file or the new one, never
half of one. It holds no number in clear: each is an HMAC-SHA256 keyed with a key derived from
`PIN_PEPPER` (else `SECRET_KEY`), with the key's fingerprint, so a file written under another key
is ignored rather than misread. A keyed hash of a phone number is only as private as the key: the
number space is small, so whoever has the pepper can test numbers against the file, and nobody
else can.

The setting `FALLBACK_OUTAGE_LINE` and the path `FALLBACK_CONTACTS_FILE` are read from
`webhooks.config.Settings` (fields `fallback_outage_line`, `fallback_contacts_file`) when it has
them, else from the environment directly.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import logging
import os
import tempfile
import threading
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from twilio.twiml.voice_response import VoiceResponse

from casestore.phones import InvalidPhoneNumber, caller_e164, mask, to_e164
from ivr.flow import VOICE
from ivr.prompts import say

log = logging.getLogger("supportline.fallback")

CACHE_FILENAME = "fallback_contacts.json"
FORMAT = "supportline-fallback-contacts/1"
REFRESH_SECONDS = 300.0
OUTAGE_LINE_ENV = "FALLBACK_OUTAGE_LINE"
CACHE_FILE_ENV = "FALLBACK_CONTACTS_FILE"
OFFER_KEY = "8"
OFFER_SECONDS = 5  # how long the caller has to press 8 before the overflow transfer
DIAL_SECONDS = 30
# Steps whose faults get no apology: nobody is listening (status) or the listener is an advisor.
_SILENT_STEPS = {"status", "whisper-accept"}


# --------------------------------------------------------------------------- configuration


@dataclass(frozen=True)
class FallbackConfig:
    overflow_number: str
    outage_line: str  # E.164, or "" when the offer is off
    cache_path: Path
    key: bytes  # derived HMAC key for the numbers; b"" when no secret is configured
    region: str = "US"

    @property
    def offers_outage_line(self) -> bool:
        return bool(self.outage_line and self.key)


_logged: set[tuple] = set()


def _log_once(level: int, key: tuple, msg: str, *args: Any) -> None:
    """During an outage every call comes through here: say each problem once, not once a call."""
    if key not in _logged:
        if len(_logged) > 1000:
            _logged.clear()
        _logged.add(key)
        log.log(level, msg, *args)


def _setting(settings: Any, field: str, env: str, environ: Mapping[str, str]) -> str:
    value = getattr(settings, field, None)
    if value is None:  # this Settings has no such field: read the variable itself
        value = environ.get(env, "")
    return str(value or "").strip()


def derive_key(settings: Any) -> bytes:
    """The HMAC key for the cache's numbers: derived from PIN_PEPPER (else SECRET_KEY), so the
    stored hashes can never be confused with PIN hashes made with the pepper itself."""
    secret = getattr(settings, "pin_pepper", "") or getattr(settings, "secret_key", "")
    if not secret:
        return b""
    return hmac.new(secret.encode(), b"supportline fallback contacts v1", hashlib.sha256).digest()


def config(settings: Any, environ: Mapping[str, str] | None = None) -> FallbackConfig:
    environ = os.environ if environ is None else environ
    region = getattr(settings, "default_region", "US") or "US"
    line = _setting(settings, "fallback_outage_line", OUTAGE_LINE_ENV, environ)
    if line:
        try:
            line = to_e164(line, region)
        except InvalidPhoneNumber:
            _log_once(
                logging.ERROR,
                ("bad line", line),
                "%s is not a valid phone number; the outage offer is off",
                OUTAGE_LINE_ENV,
            )
            line = ""
    raw_path = _setting(settings, "fallback_contacts_file", CACHE_FILE_ENV, environ)
    path = Path(raw_path) if raw_path else Path(getattr(settings, "instance_path", "instance")) / CACHE_FILENAME
    return FallbackConfig(
        overflow_number=getattr(settings, "overflow_number", "") or "",
        outage_line=line,
        cache_path=path,
        key=derive_key(settings),
        region=region,
    )


# --------------------------------------------------------------------------- the cache file


def number_hash(key: bytes, e164: str) -> str:
    return hmac.new(key, e164.encode(), hashlib.sha256).hexdigest()


def key_id(key: bytes) -> str:
    """A fingerprint of the key (not the key): tells a reader whether the file was written with its key."""
    return hmac.new(key, b"key id", hashlib.sha256).hexdigest()[:16]


def write_cache(path: Path, key: bytes, numbers: Iterable[str], now: datetime | None = None) -> int:
    """Write the hashed numbers to `path` atomically. Returns how many numbers it holds."""
    if not key:
        raise ValueError("no key: set PIN_PEPPER or SECRET_KEY")
    hashes = sorted({number_hash(key, n) for n in numbers if n})
    doc = {
        "format": FORMAT,
        "written_at": (now or datetime.now(UTC)).isoformat(timespec="seconds"),
        "key_id": key_id(key),
        "hosted_contacts": hashes,
    }
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:  # mkstemp: mode 0600
            json.dump(doc, fh, indent=0)
            fh.write("\n")
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    try:  # make the rename itself durable (best effort; not every platform can open a folder)
        dir_fd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
    except OSError:
        pass
    return len(hashes)


@dataclass(frozen=True)
class CacheView:
    stamp: tuple[int, int, int]  # (inode, size, mtime_ns): a changed file is read again
    key_id: str
    hashes: frozenset[str]
    written_at: str
    problem: str = ""


_views: dict[str, CacheView] = {}
_views_lock = threading.Lock()


def read_cache(path: Path) -> CacheView | None:
    """The file's content, parsed once per change of the file; None when there is no file."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    stamp = (st.st_ino, st.st_size, st.st_mtime_ns)
    cached = _views.get(str(path))
    if cached is not None and cached.stamp == stamp:
        return cached
    try:
        with open(path, encoding="utf-8") as fh:
            doc = json.load(fh)
        if not isinstance(doc, dict) or doc.get("format") != FORMAT:
            raise ValueError("unknown format")
        hashes = doc.get("hosted_contacts")
        if not isinstance(hashes, list) or not all(isinstance(h, str) for h in hashes):
            raise ValueError("hosted_contacts is not a list of strings")
        view = CacheView(stamp, str(doc.get("key_id", "")), frozenset(hashes), str(doc.get("written_at", "")))
    except (OSError, ValueError) as exc:
        _log_once(
            logging.ERROR, ("unreadable", str(path), stamp), "fallback contacts file %s is unreadable: %s", path, exc
        )
        view = CacheView(stamp, "", frozenset(), "", problem=f"unreadable: {type(exc).__name__}")
    with _views_lock:
        _views[str(path)] = view
    return view


def is_hosted_contact(cfg: FallbackConfig, from_raw: str | None) -> bool:
    """Is this caller's number a hosted district's contact, by the local file? Never raises."""
    try:
        if not cfg.offers_outage_line:
            return False
        e164 = caller_e164(from_raw, cfg.region)
        if e164 is None:
            return False
        view = read_cache(cfg.cache_path)
        if view is None or view.problem:
            return False
        if view.key_id != key_id(cfg.key):
            _log_once(
                logging.WARNING,
                ("key", str(cfg.cache_path), view.stamp),
                "fallback contacts file %s was written with another key; ignored",
                cfg.cache_path,
            )
            return False
        return number_hash(cfg.key, e164) in view.hashes
    except Exception:
        log.exception("fallback contacts lookup failed; no outage offer")
        return False


def describe_cache(cfg: FallbackConfig, now: float | None = None) -> str:
    """One line on the file for /readyz: how many numbers and how old, or what is wrong."""
    view = read_cache(cfg.cache_path)
    if view is None:
        return "missing"
    if view.problem:
        return view.problem
    if view.key_id != key_id(cfg.key):
        return "written with another key (ignored)"
    age = max(0, int((now if now is not None else time.time()) - view.stamp[2] / 1e9))
    return f"{len(view.hashes)} numbers, {age} s old"


# --------------------------------------------------------------------------- refreshing it


def hosted_contact_numbers(session) -> list[str]:
    from sqlalchemy import select

    from casestore.models import Contact, ContactPhone, District

    query = (
        select(ContactPhone.e164)
        .join(Contact, ContactPhone.contact_id == Contact.id)
        .join(District, Contact.district_id == District.id)
        .where(District.hosted.is_(True), District.active.is_(True), Contact.active.is_(True))
        .distinct()
    )
    return list(session.scalars(query))


def refresh(sessions, settings: Any, *, if_older_than: float | None = None) -> int | None:
    """Rewrite the cache file from the database. Returns the count written, or None when there was
    nothing to do: the outage offer is off, or (`if_older_than`) the file is fresh enough already."""
    cfg = config(settings)
    if not cfg.offers_outage_line:
        return None
    if if_older_than is not None:
        view = read_cache(cfg.cache_path)
        if (
            view is not None
            and not view.problem
            and view.key_id == key_id(cfg.key)
            and time.time() - view.stamp[2] / 1e9 < if_older_than
        ):
            return None
    with sessions() as session:
        numbers = hosted_contact_numbers(session)
    count = write_cache(cfg.cache_path, cfg.key, numbers)
    log.info("fallback contacts file %s: %d hosted contact number(s)", cfg.cache_path, count)
    return count


def refresh_in_background(svc, *, if_older_than: float | None = 60.0) -> threading.Thread:
    """Refresh once in a daemon thread (a web process at start: never delays serving, and a
    failure is only logged). Processes starting together share one refresh: a file younger than
    `if_older_than` seconds is left alone."""

    def run() -> None:
        try:
            refresh(svc.sessions, svc.settings, if_older_than=if_older_than)
        except Exception:
            log.exception("could not refresh the fallback contacts file (will keep the old one)")

    thread = threading.Thread(target=run, name="fallback-contacts", daemon=True)
    thread.start()
    return thread


# --------------------------------------------------------------------------- TwiML


def _say(target, key: str) -> None:
    target.say(say(key, lang="en"), voice=VOICE)


def _transfer(resp: VoiceResponse, cfg: FallbackConfig) -> str:
    """To the overflow number if there is one; then a way out."""
    if cfg.overflow_number:
        _say(resp, "fault_transfer")
        resp.dial(cfg.overflow_number, timeout=DIAL_SECONDS)
    _say(resp, "fault_call_back")
    resp.hangup()
    return str(resp)


def apology_twiml(cfg: FallbackConfig, from_raw: str | None) -> str:
    """The apology, the outage offer for a hosted district's contact, then the transfer."""
    resp = VoiceResponse()
    _say(resp, "fault_apology")
    if is_hosted_contact(cfg, from_raw):
        gather = resp.gather(
            input="dtmf", num_digits=1, timeout=OFFER_SECONDS, action="/voice/fallback?stage=offer", method="POST"
        )
        _say(gather, "fault_outage_offer")
        # No key within OFFER_SECONDS: Twilio goes on to the transfer below.
    return _transfer(resp, cfg)


def fallback_response(settings: Any, form: Mapping[str, str], args: Mapping[str, str]) -> str:
    """`POST /voice/fallback` (signed; checked by the blueprint). Reads only settings, the request
    and the local cache file."""
    cfg = config(settings)
    from_raw = (form.get("From") or "")[:64]
    stage = args.get("stage", "")
    resp = VoiceResponse()
    if stage == "offer":  # the outage offer's Gather came back with a key
        if (form.get("Digits") or "").strip() == OFFER_KEY and is_hosted_contact(cfg, from_raw):
            log.warning("fallback: hosted contact %s put through to the outage line", mask(from_raw))
            _say(resp, "outage_connecting")
            resp.dial(cfg.outage_line, timeout=DIAL_SECONDS, action="/voice/fallback?stage=outage", method="POST")
            return str(resp)
        return _transfer(resp, cfg)
    if stage == "outage":  # the Dial to the outage line ended
        if (form.get("DialCallStatus") or "") == "completed":
            _say(resp, "call_ended")
            resp.hangup()
            return str(resp)
        return _transfer(resp, cfg)  # nobody took it: a person at the overflow number
    return apology_twiml(cfg, from_raw)


def fault_twiml(overflow_number: str, step: str = "", *, settings: Any = None, from_raw: str | None = None) -> str:
    """A webhook faulted: the same apology (and, given `settings` and the caller, the same outage
    offer), except on legs where nobody or only an advisor is listening."""
    resp = VoiceResponse()
    if step in _SILENT_STEPS:
        return str(resp)
    if step == "whisper":
        resp.hangup()
        return str(resp)
    plain = FallbackConfig(overflow_number=overflow_number, outage_line="", cache_path=Path(CACHE_FILENAME), key=b"")
    cfg = plain
    if settings is not None:
        try:
            cfg = replace(config(settings), overflow_number=overflow_number)
        except Exception:
            log.exception("fallback configuration unreadable; plain apology")
    return apology_twiml(cfg, from_raw)


# --------------------------------------------------------------------------- command line


def main(argv: list[str] | None = None) -> int:
    """`python -m webhooks.fallback`: refresh the file once (for a timer on a web host without a
    worker). Uses the service's configuration from the environment."""
    import argparse

    from casestore.db import make_engine, make_session_factory
    from webhooks.config import load_settings

    parser = argparse.ArgumentParser(prog="python -m webhooks.fallback", description=main.__doc__)
    parser.add_argument("--dev", action="store_true", help="development mode (demo secrets allowed)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    settings = load_settings({"development": True} if args.dev else None)
    if not args.dev and settings.problems():
        print("refusing to run: " + "; ".join(settings.problems()))
        return 2
    engine = make_engine(settings.database_url)
    try:
        count = refresh(make_session_factory(engine), settings)
    finally:
        engine.dispose()
    if count is None:
        print(f"{OUTAGE_LINE_ENV} is not set: nothing to write")
    else:
        print(f"{config(settings).cache_path}: {count} hosted contact number(s)")
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
