"""Twilio request signatures: every Twilio webhook must carry a valid X-Twilio-Signature.

The URL is rebuilt from PUBLIC_BASE_URL (what Twilio called: the ngrok or load-balancer address)
plus the path and query string as received, and checked against every configured auth token, so a
token can be rotated with no downtime. No token configured means every request is refused. The
request's own URL (its Host header, which the sender chooses) is used only in development mode
without PUBLIC_BASE_URL; outside it, no PUBLIC_BASE_URL means every request is refused (and
`create_app` refuses to start).
"""

from __future__ import annotations

import logging

from flask import Request
from twilio.request_validator import RequestValidator

from webhooks.config import Settings

log = logging.getLogger("supportline.signature")


def public_url(request: Request, settings: Settings) -> str | None:
    """The URL as Twilio saw it, or None when it cannot be known (no PUBLIC_BASE_URL outside
    development mode). `request.full_path` ends in '?' with no query: that is not signed."""
    path = request.full_path
    if path.endswith("?"):
        path = path[:-1]
    if settings.public_base_url:
        return settings.public_base_url + path
    return request.url if settings.development else None


def signature_valid(request: Request, settings: Settings) -> bool:
    signature = request.headers.get("X-Twilio-Signature", "")
    if not signature or not settings.twilio_auth_tokens:
        return False
    uri = public_url(request, settings)
    if uri is None:
        log.error("signature refused: PUBLIC_BASE_URL is not set outside development mode")
        return False
    params = request.form
    return any(RequestValidator(token).validate(uri, params, signature) for token in settings.twilio_auth_tokens)
