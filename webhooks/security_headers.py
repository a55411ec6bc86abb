"""Security headers on every response (flask-talisman): the console, the API and the webhooks.

* Content-Security-Policy: scripts, styles, images, fonts and fetches from this origin only; no
  inline script, no inline style or style attribute (pages use console/static/*.js and *.css),
  no plugins, no `<base>` or form posts elsewhere, and `frame-ancestors 'none'`.
* X-Frame-Options: DENY (older browsers); X-Content-Type-Options: nosniff;
  Referrer-Policy: same-origin.
* Strict-Transport-Security only when the request came over https (`request.is_secure`, which
  reads X-Forwarded-Proto through `TRUSTED_PROXIES` hops); nothing is redirected to https here,
  that is the proxy's job.

The TwiML answers carry the headers too: Twilio ignores them and they cost nothing.
"""

from __future__ import annotations

from flask import Flask
from flask_talisman import Talisman

CSP = {
    "default-src": "'self'",
    "script-src": "'self'",
    "style-src": "'self'",
    "img-src": "'self' data:",
    "object-src": "'none'",
    "base-uri": "'self'",
    "form-action": "'self'",
    "frame-ancestors": "'none'",
}
HSTS_SECONDS = 365 * 24 * 3600


def init_app(app: Flask) -> None:
    Talisman(
        app,
        force_https=False,
        strict_transport_security=True,
        strict_transport_security_max_age=HSTS_SECONDS,
        strict_transport_security_include_subdomains=False,
        content_security_policy=CSP,
        frame_options="DENY",
        referrer_policy="same-origin",
        # Talisman would overwrite the cookie flags create_app set: keep them as they are.
        session_cookie_secure=app.config["SESSION_COOKIE_SECURE"],
        session_cookie_http_only=app.config["SESSION_COOKIE_HTTPONLY"],
        session_cookie_samesite=app.config["SESSION_COOKIE_SAMESITE"],
    )
