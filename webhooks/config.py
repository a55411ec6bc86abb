"""Service configuration: defaults, then environment variables, then a test mapping.

`load_settings()` is the only place that reads the environment. `Settings.problems()` lists what
makes a configuration unsafe outside development mode; `create_app` refuses to start on any of them.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from auth.callers import DEFAULT_LINE_CEILING

# Values that must never reach production: shipped defaults and placeholders.
DEV_SECRET_KEY = "dev-secret-key-not-for-production"
DEV_PIN_PEPPER = "dev-pin-pepper-not-for-production"
DEV_AUTH_TOKEN = "dev-auth-token-not-for-production"
_UNSAFE_VALUES = {"", "dev", "changeme", "secret", DEV_SECRET_KEY, DEV_PIN_PEPPER, DEV_AUTH_TOKEN}

EMBEDDED_REDIS = "embedded"


def default_instance_path() -> Path:
    return Path(os.environ.get("SUPPORTLINE_INSTANCE", Path.cwd() / "instance"))


@dataclass(frozen=True)
class Settings:
    """Every setting the service reads; the README's configuration table mirrors this class."""

    database_url: str = ""
    redis_url: str = EMBEDDED_REDIS
    twilio_account_sid: str = ""
    twilio_auth_tokens: tuple[str, ...] = ()
    public_base_url: str = ""
    secret_key: str = ""
    pin_pepper: str = ""
    support_timezone: str = "America/Chicago"
    overflow_number: str = ""
    # Twilio's fallback URL offers hosted districts' contacts "press 8" for this on-call line (E.164)
    # while the service is failing; "" = no offer.
    fallback_outage_line: str = ""
    # The local file of hosted contacts' numbers (keyed hashes) that offer reads; "" = instance/fallback_contacts.json.
    fallback_contacts_file: str = ""
    hold_music_url: str = ""
    default_region: str = "US"
    # Seconds a worker may reuse the routing tables (hours, holidays, advisors, rotations,
    # banners) before reloading them; an admin change reaches every worker within this time.
    routing_cache_seconds: float = 5.0
    # After each call an advisor wraps up for this long, then is available again.
    wrap_up_seconds: float = 60.0
    # A caller whose case owner is busy waits this long for the owner, then takes anyone fitting.
    owner_wait_seconds: float = 60.0
    # The handle time (talk + wrap-up) the expected wait assumes before the desk has any history or
    # live departures from the line to go by (`routing.waitestimate`).
    expected_handle_seconds: float = 300.0
    # Missed calls in a row (no answer, busy, declined) that set an advisor away; 0 = never.
    autopause_misses: int = 2
    # The longest plausible talk: an advisor held on a call with no webhook for longer is freed by
    # the dispatcher's reconcile (the call's end was lost).
    longest_call_seconds: float = 4 * 3600.0
    # Wrong PINs of all callers in 10 minutes at which the line turns strict for an hour (one try
    # per number, contact ID and call, a pause before the PIN prompt, an alert); 0 = no ceiling.
    pin_failure_ceiling: int = DEFAULT_LINE_CEILING
    # Where the Twilio REST client sends requests ("" = api.twilio.com); for a test double only.
    twilio_api_base: str = ""
    # The number outage pages (calls and SMS) come from: your Twilio number, E.164.
    twilio_caller_id: str = ""
    development: bool = False
    # Development only: the service's clock starts at this instant (ISO 8601 with offset) and
    # runs on from there, so a demo or benchmark can run "on a Tuesday morning" any day.
    clock_start: str = ""
    # ... read at this real instant (Unix seconds) rather than at the process's start, so that
    # several processes (gunicorn workers, the dispatcher, the worker) share one clock.
    clock_anchor: float | None = None
    validate_signatures: bool = True
    # Reverse proxies in front of the service that append the client to X-Forwarded-For (and set
    # X-Forwarded-Proto): the client address (sign-in throttling) and https (HSTS) are taken
    # from that many hops. 0 = no proxy: the socket's peer, and the headers are ignored.
    trusted_proxies: int = 0
    instance_path: Path = field(default_factory=default_instance_path)

    @property
    def twilio_auth_token(self) -> str:
        """The token used to sign outbound requests (the first of the rotation list)."""
        return self.twilio_auth_tokens[0] if self.twilio_auth_tokens else ""

    @property
    def redis_embedded(self) -> bool:
        return self.redis_url == EMBEDDED_REDIS

    def problems(self) -> list[str]:
        """Reasons this configuration is unsafe for production (empty when it is fine)."""
        found = []
        if not self.twilio_auth_tokens or any(t in _UNSAFE_VALUES for t in self.twilio_auth_tokens):
            found.append("TWILIO_AUTH_TOKEN is missing or a default value")
        if self.secret_key in _UNSAFE_VALUES or len(self.secret_key) < 16:
            found.append("SECRET_KEY is missing, a default value, or shorter than 16 characters")
        if self.pin_pepper in _UNSAFE_VALUES or len(self.pin_pepper) < 16:
            found.append("PIN_PEPPER is missing, a default value, or shorter than 16 characters")
        if not self.validate_signatures:
            found.append("Twilio signature validation is switched off")
        if not self.public_base_url.startswith(("https://", "http://")):
            found.append(
                "PUBLIC_BASE_URL (the http(s):// address Twilio calls) is missing: "
                "signatures would be checked against the request's own Host header"
            )
        if self.clock_start:
            found.append("SUPPORTLINE_CLOCK_START is for development only")
        if self.fallback_outage_line:
            from casestore.phones import InvalidPhoneNumber, to_e164

            try:
                to_e164(self.fallback_outage_line, self.default_region)
            except InvalidPhoneNumber:
                found.append("FALLBACK_OUTAGE_LINE is not a valid phone number")
        if self.trusted_proxies < 0:
            found.append("TRUSTED_PROXIES must not be negative")
        if self.wrap_up_seconds < 0 or self.owner_wait_seconds < 0:
            found.append("WRAP_UP_SECONDS and OWNER_WAIT_SECONDS must not be negative")
        if self.expected_handle_seconds <= 0:
            found.append("EXPECTED_HANDLE_SECONDS must be positive")
        if self.longest_call_seconds <= 0:
            found.append("LONGEST_CALL_SECONDS must be positive")
        if self.pin_failure_ceiling < 0:
            found.append("PIN_FAILURE_CEILING must not be negative (0 turns the ceiling off)")
        return found


def _split_tokens(raw: str) -> tuple[str, ...]:
    return tuple(t.strip() for t in raw.split(",") if t.strip())


def _truthy(raw: str) -> bool:
    return raw.strip().lower() in {"1", "true", "yes", "on"}


_ENV: dict[str, tuple[str, Any]] = {
    # env var -> (Settings field, parser)
    "DATABASE_URL": ("database_url", str),
    "REDIS_URL": ("redis_url", str),
    "TWILIO_ACCOUNT_SID": ("twilio_account_sid", str),
    "TWILIO_AUTH_TOKEN": ("twilio_auth_tokens", _split_tokens),
    "PUBLIC_BASE_URL": ("public_base_url", lambda v: v.rstrip("/")),
    "SECRET_KEY": ("secret_key", str),
    "PIN_PEPPER": ("pin_pepper", str),
    "SUPPORT_TIMEZONE": ("support_timezone", str),
    "OVERFLOW_NUMBER": ("overflow_number", str),
    "FALLBACK_OUTAGE_LINE": ("fallback_outage_line", str),
    "FALLBACK_CONTACTS_FILE": ("fallback_contacts_file", str),
    "HOLD_MUSIC_URL": ("hold_music_url", str),
    "DEFAULT_REGION": ("default_region", str),
    "ROUTING_CACHE_SECONDS": ("routing_cache_seconds", float),
    "WRAP_UP_SECONDS": ("wrap_up_seconds", float),
    "OWNER_WAIT_SECONDS": ("owner_wait_seconds", float),
    "EXPECTED_HANDLE_SECONDS": ("expected_handle_seconds", float),
    "AUTOPAUSE_MISSES": ("autopause_misses", int),
    "LONGEST_CALL_SECONDS": ("longest_call_seconds", float),
    "PIN_FAILURE_CEILING": ("pin_failure_ceiling", int),
    "TWILIO_API_BASE": ("twilio_api_base", lambda v: v.rstrip("/")),
    "TWILIO_CALLER_ID": ("twilio_caller_id", str),
    "TRUSTED_PROXIES": ("trusted_proxies", int),
    "SUPPORTLINE_DEV": ("development", _truthy),
    "SUPPORTLINE_INSTANCE": ("instance_path", Path),
    "SUPPORTLINE_CLOCK_START": ("clock_start", str),
    "SUPPORTLINE_CLOCK_ANCHOR": ("clock_anchor", float),
}


def load_settings(overrides: Mapping[str, Any] | None = None, environ: Mapping[str, str] | None = None) -> Settings:
    """Build settings from defaults, the environment and `overrides` (field names), in that order.

    In development mode, missing secrets get clearly-marked development values so the demo runs.
    """
    environ = os.environ if environ is None else environ
    values: dict[str, Any] = {}
    for var, (name, parse) in _ENV.items():
        raw = environ.get(var)
        if raw is not None and raw != "":
            values[name] = parse(raw)
    known = {f.name for f in fields(Settings)}
    for key, value in (overrides or {}).items():
        if key not in known:
            raise KeyError(f"unknown setting {key!r}")
        values[key] = value
    if isinstance(values.get("twilio_auth_tokens"), str):
        values["twilio_auth_tokens"] = _split_tokens(values["twilio_auth_tokens"])
    settings = Settings(**values)
    if not settings.database_url:
        db_file = Path(settings.instance_path) / "supportline.sqlite3"
        settings = replace(settings, database_url=f"sqlite:///{db_file}")
    if settings.development:
        settings = replace(
            settings,
            secret_key=settings.secret_key or DEV_SECRET_KEY,
            pin_pepper=settings.pin_pepper or DEV_PIN_PEPPER,
            twilio_auth_tokens=settings.twilio_auth_tokens or (DEV_AUTH_TOKEN,),
        )
    return settings


class ConfigurationError(RuntimeError):
    """Raised when the service must not start with the configuration it was given."""
