"""Outbound telephony: placing calls, redirecting or hanging up live calls, sending SMS.

This module owns the one small interface the rest of the service uses to *ask* the carrier to do
something (everything Twilio asks of us arrives as a webhook instead), and the domain errors its
implementations raise:

    Telephony            the Protocol: place_call / update_call / send_sms
    TwilioTelephony      the real thing, through the official `twilio` client; `base_url` points
                         every REST domain it uses (api.twilio.com: Calls, Messages) elsewhere,
                         which is how tests drive it against `twilio_doubles/fake_twilio.py`
    RecordingTelephony   an in-memory stand-in for unit tests of callers (deterministic sids)

    TelephonyError       base: `.code` (Twilio error code or None), `.status` (HTTP or None),
                         `.retryable`; subclasses InvalidNumber, CallNotInProgress, RateLimited,
                         AuthenticationFailed, ProviderUnavailable

Twilio failures map to these errors by Twilio error code first, then by HTTP status
(`error_from_twilio`); `requests` connection errors and timeouts are ProviderUnavailable.
Phone numbers are never logged or put into error messages in full (`casestore.phones.mask`).
"""

from __future__ import annotations

import itertools
import logging
import re
import threading
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import requests
from twilio.base.exceptions import TwilioException
from twilio.http.http_client import TwilioHttpClient
from twilio.rest import Client

from casestore.phones import mask

log = logging.getLogger("supportline.telephony")

# Twilio error codes meaning "this number will never work as given": retrying cannot help.
INVALID_NUMBER_CODES = frozenset(
    {
        21211,  # invalid 'To' phone number
        21212,  # invalid 'From' phone number (caller id)
        21214,  # 'To' phone number cannot be reached
        21217,  # phone number does not appear to be valid
        21401,  # invalid phone number
        21421,  # PhoneNumber is invalid
        21614,  # 'To' number is not a valid mobile number (SMS)
    }
)
CALL_NOT_IN_PROGRESS = 21220
AUTHENTICATION_FAILED = 20003
NOT_FOUND = 20404
TOO_MANY_REQUESTS = 20429

UPDATE_STATUSES = frozenset({"completed", "canceled"})
# E.164 as Twilio accepts it: '+', then 8 to 15 digits, the first not zero.
_E164 = re.compile(r"^\+[1-9]\d{7,14}$")
# Anything in a provider message that looks like a phone number (Twilio echoes numbers back).
_NUMBERISH = re.compile(r"\+?\d[\d\s().-]{5,}\d")


class TelephonyError(Exception):
    """The carrier refused or could not perform a request.

    `code` is Twilio's error code when there is one, `status` the HTTP status when there was a
    response, `retryable` whether the same request may succeed later. The message never carries
    a full phone number.
    """

    retryable: bool = False

    def __init__(
        self, message: str, *, code: int | None = None, status: int | None = None, retryable: bool | None = None
    ) -> None:
        super().__init__(message)
        self.code = code
        self.status = status
        if retryable is not None:
            self.retryable = retryable


class InvalidNumber(TelephonyError):
    """The number is malformed, unreachable or not usable for this channel. Not retryable."""

    retryable = False


class CallNotInProgress(TelephonyError):
    """The call has already ended (Twilio 21220), so it cannot be redirected. Not retryable."""

    retryable = False


class RateLimited(TelephonyError):
    """Too many requests (Twilio 20429, HTTP 429). Retry later, with backoff."""

    retryable = True


class AuthenticationFailed(TelephonyError):
    """The account sid / auth token were refused (Twilio 20003, HTTP 401). Not retryable."""

    retryable = False


class ProviderUnavailable(TelephonyError):
    """Twilio answered 5xx, or could not be reached in time. Retryable."""

    retryable = True


@runtime_checkable
class Telephony(Protocol):
    """What the service may ask the carrier to do. Numbers are E.164; URLs are absolute."""

    def place_call(
        self,
        to: str,
        from_: str,
        url: str,
        *,
        status_callback: str | None = None,
        timeout: int = 20,
        machine_detection: bool = False,
    ) -> str:
        """Dial `to` from `from_`; when answered, Twilio fetches TwiML from `url`. Returns the CallSid."""
        ...

    def update_call(
        self, call_sid: str, *, url: str | None = None, twiml: str | None = None, status: str | None = None
    ) -> None:
        """Redirect a live call to new TwiML (`url` or inline `twiml`), or end it
        (`status="completed"`; `"canceled"` for a call not yet answered)."""
        ...

    def send_sms(self, to: str, from_: str, body: str, *, status_callback: str | None = None) -> str:
        """Send a text message. Returns the MessageSid."""
        ...

    def call_status(self, call_sid: str) -> str | None:
        """The call's status as the carrier knows it now (queued, ringing, in-progress, completed,
        busy, failed, no-answer, canceled); None for a call it does not know."""
        ...


def _scrub(text: str) -> str:
    """`text` with anything that looks like a phone number masked."""
    return _NUMBERISH.sub(lambda m: mask(m.group(0)), text or "")


def error_from_twilio(exc: Exception) -> TelephonyError:
    """The domain error for a `TwilioRestException` / `TwilioServiceException` (uses `.code`,
    `.status`, and the provider's message with phone numbers masked)."""
    status = getattr(exc, "status", None)
    code = getattr(exc, "code", None)
    try:
        code = int(code) if code is not None else None
    except (TypeError, ValueError):
        code = None
    if code is not None and code == status:
        code = None  # the client uses the HTTP status as `code` when the body was not Twilio JSON
    detail = _scrub(str(getattr(exc, "msg", None) or getattr(exc, "detail", None) or ""))
    where = f"Twilio {code}, HTTP {status}" if code is not None else f"HTTP {status}"
    message = f"{detail} ({where})" if detail else f"Twilio request failed ({where})"
    kind: type[TelephonyError]
    if code in INVALID_NUMBER_CODES:
        kind = InvalidNumber
    elif code == CALL_NOT_IN_PROGRESS:
        kind = CallNotInProgress
    elif code == TOO_MANY_REQUESTS or status == 429:
        kind = RateLimited
    elif code == AUTHENTICATION_FAILED or status == 401:
        kind = AuthenticationFailed
    elif isinstance(status, int) and status >= 500:
        kind = ProviderUnavailable
    else:
        kind = TelephonyError  # other 4xx: the request itself is wrong; not retryable
    return kind(message, code=code, status=status)


def error_from_transport(exc: requests.RequestException) -> TelephonyError:
    """The domain error for a `requests` failure: connection errors and timeouts are retryable."""
    if isinstance(exc, (requests.ConnectionError, requests.Timeout)):
        return ProviderUnavailable(f"Twilio unreachable: {type(exc).__name__}")
    return TelephonyError(f"request to Twilio failed: {type(exc).__name__}")


class TwilioTelephony:
    """`Telephony` through the official client (`twilio.rest.Client` over `TwilioHttpClient`).

    `base_url` (e.g. "http://127.0.0.1:8765") replaces "https://api.twilio.com" for the Calls
    and Messages resources. Call `close()` (or use as a context manager) to release the pooled
    HTTP connections.
    """

    def __init__(self, account_sid: str, auth_token: str, *, base_url: str | None = None, timeout: float = 5.0) -> None:
        if not account_sid or not auth_token:
            raise ValueError("account_sid and auth_token are required")
        self._http = TwilioHttpClient(timeout=timeout)
        self.client = Client(account_sid, auth_token, http_client=self._http)
        self.base_url = base_url.rstrip("/") if base_url else None
        if self.base_url:
            # Region/edge settings (TWILIO_REGION / TWILIO_EDGE) rewrite hostnames; a local
            # base URL must be used as given.
            self.client.region = None
            self.client.edge = None
            # `Domain.base_url` is what `Domain.absolute_url` prefixes to every request path.
            self.client.api.base_url = self.base_url
        self._account = self.client.api.v2010.accounts(account_sid)

    # -- the interface -----------------------------------------------------------------------

    def place_call(
        self,
        to: str,
        from_: str,
        url: str,
        *,
        status_callback: str | None = None,
        timeout: int = 20,
        machine_detection: bool = False,
    ) -> str:
        kwargs: dict = {"to": to, "from_": from_, "url": url, "timeout": int(timeout)}
        if status_callback:
            kwargs["status_callback"] = status_callback
        if machine_detection:
            kwargs["machine_detection"] = "Enable"
        call = self._do("place call", to, lambda: self._account.calls.create(**kwargs))
        log.info("placed call %s to %s", call.sid, mask(to))
        return call.sid

    def update_call(
        self, call_sid: str, *, url: str | None = None, twiml: str | None = None, status: str | None = None
    ) -> None:
        kwargs = _update_kwargs(url, twiml, status)
        self._do("update call", None, lambda: self._account.calls(call_sid).update(**kwargs))
        log.info("updated call %s (%s)", call_sid, ", ".join(sorted(kwargs)))

    def send_sms(self, to: str, from_: str, body: str, *, status_callback: str | None = None) -> str:
        kwargs: dict = {"to": to, "from_": from_, "body": body}
        if status_callback:
            kwargs["status_callback"] = status_callback
        message = self._do("send SMS", to, lambda: self._account.messages.create(**kwargs))
        log.info("sent SMS %s to %s", message.sid, mask(to))
        return message.sid

    def call_status(self, call_sid: str) -> str | None:
        try:
            call = self._do("fetch call", None, lambda: self._account.calls(call_sid).fetch())
        except TelephonyError as exc:
            if exc.code == NOT_FOUND or exc.status == 404:
                return None
            raise
        return str(call.status) if call.status is not None else None

    # -- plumbing ----------------------------------------------------------------------------

    def _do(self, what: str, to: str | None, request):
        target = f" to {mask(to)}" if to is not None else ""
        try:
            return request()
        except TwilioException as exc:
            error = error_from_twilio(exc)
        except requests.RequestException as exc:
            error = error_from_transport(exc)
        log.warning(
            "%s%s failed: %s (code=%s status=%s retryable=%s)",
            what,
            target,
            type(error).__name__,
            error.code,
            error.status,
            error.retryable,
        )
        # `from None`: the provider's exception repeats the full number; keep it out of tracebacks.
        raise error from None

    def close(self) -> None:
        if self._http.session is not None:
            self._http.session.close()

    def __enter__(self) -> TwilioTelephony:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()


def _update_kwargs(url: str | None, twiml: str | None, status: str | None) -> dict:
    if url is not None and twiml is not None:
        raise ValueError("give url or twiml, not both")
    if url is None and twiml is None and status is None:
        raise ValueError("nothing to update: give url, twiml or status")
    if status is not None and status not in UPDATE_STATUSES:
        raise ValueError(f"status must be one of {sorted(UPDATE_STATUSES)}, not {status!r}")
    kwargs: dict = {}
    if url is not None:
        kwargs["url"] = url
    if twiml is not None:
        kwargs["twiml"] = str(twiml)
    if status is not None:
        kwargs["status"] = status
    return kwargs


# -- in-memory implementation for tests of callers ----------------------------------------------


@dataclass(frozen=True)
class PlacedCall:
    sid: str
    to: str
    from_: str
    url: str
    status_callback: str | None
    timeout: int
    machine_detection: bool


@dataclass(frozen=True)
class CallUpdate:
    call_sid: str
    url: str | None
    twiml: str | None
    status: str | None


@dataclass(frozen=True)
class SentSms:
    sid: str
    to: str
    from_: str
    body: str
    status_callback: str | None


class RecordingTelephony:
    """`Telephony` in memory: records every request, hands out sids CA000…001, SM000…001, ...

    It behaves like the carrier where callers care: a `to` that is not E.164 raises
    InvalidNumber; updating an unknown call raises TelephonyError (20404); updating a call
    that ended (`status="completed"`, or `end_call(sid)`) raises CallNotInProgress.
    `fail_next(error)` makes the next request raise `error` instead (queued, one per request).
    """

    def __init__(self) -> None:
        self.calls: list[PlacedCall] = []
        self.updates: list[CallUpdate] = []
        self.messages: list[SentSms] = []
        self.ended: set[str] = set()
        self._inbound: set[str] = set()
        self._failures: list[TelephonyError] = []
        self._call_ids = itertools.count(1)
        self._sms_ids = itertools.count(1)
        self._lock = threading.Lock()

    def fail_next(self, error: TelephonyError) -> None:
        with self._lock:
            self._failures.append(error)

    def end_call(self, call_sid: str) -> None:
        with self._lock:
            self.ended.add(call_sid)

    def inbound(self, *call_sids: str) -> None:
        """Calls that reached us (webhooks), which the carrier would let us update."""
        with self._lock:
            self._inbound.update(call_sids)

    def redirects_for(self, call_sid: str) -> list[str]:
        """URLs this call was redirected to, oldest first."""
        with self._lock:
            return [u.url for u in self.updates if u.call_sid == call_sid and u.url]

    def place_call(
        self,
        to: str,
        from_: str,
        url: str,
        *,
        status_callback: str | None = None,
        timeout: int = 20,
        machine_detection: bool = False,
    ) -> str:
        with self._lock:
            self._check(to)
            sid = f"CA{next(self._call_ids):032d}"
            self.calls.append(PlacedCall(sid, to, from_, url, status_callback, int(timeout), machine_detection))
            return sid

    def update_call(
        self, call_sid: str, *, url: str | None = None, twiml: str | None = None, status: str | None = None
    ) -> None:
        _update_kwargs(url, twiml, status)
        with self._lock:
            self._check(None)
            if call_sid not in self._inbound and call_sid not in {c.sid for c in self.calls}:
                raise TelephonyError(f"call {call_sid} not found", code=NOT_FOUND, status=404)
            if call_sid in self.ended:
                raise CallNotInProgress(f"call {call_sid} is not in progress", code=CALL_NOT_IN_PROGRESS, status=400)
            self.updates.append(CallUpdate(call_sid, url, None if twiml is None else str(twiml), status))
            if status is not None:
                self.ended.add(call_sid)

    def send_sms(self, to: str, from_: str, body: str, *, status_callback: str | None = None) -> str:
        with self._lock:
            self._check(to)
            sid = f"SM{next(self._sms_ids):032d}"
            self.messages.append(SentSms(sid, to, from_, body, status_callback))
            return sid

    def call_status(self, call_sid: str) -> str | None:
        with self._lock:
            self._check(None)
            if call_sid in self.ended:
                return "completed"
            if call_sid in self._inbound or call_sid in {c.sid for c in self.calls}:
                return "in-progress"
            return None

    def _check(self, to: str | None) -> None:
        if self._failures:
            raise self._failures.pop(0)
        if to is not None and not _E164.match(to or ""):
            raise InvalidNumber(f"invalid 'To' number {mask(to)}", code=21211, status=400)
