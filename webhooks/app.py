"""`create_app()`: settings (defaults, environment, test mapping), safety checks, services, blueprints."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from flask import Flask, request
from werkzeug.middleware.proxy_fix import ProxyFix

from webhooks.config import ConfigurationError, Settings, load_settings
from webhooks.services import Services

log = logging.getLogger("supportline")
# The console's files, also served at /static/ as they were when they lived in webhooks/static/.
_CONSOLE_STATIC = str(Path(__file__).resolve().parent.parent / "console" / "static")


def create_app(test_config: Mapping[str, Any] | None = None, **services: Any) -> Flask:
    """Build the service.

    `test_config` overrides settings by field name (see `webhooks.config.Settings`); keyword
    arguments hand in ready-made `engine`, `sessions`, `redis_client` or `clock` (tests, simulator).
    Outside development mode an unsafe configuration raises ConfigurationError with one-line reasons.
    """
    settings = load_settings(test_config)
    problems = [] if settings.development else settings.problems()
    if problems:
        raise ConfigurationError("refusing to start: " + "; ".join(problems))

    from webhooks import cleaning, logs, security_headers

    logs.configure(settings.development)
    app = Flask(__name__, instance_path=str(settings.instance_path.resolve()), static_folder=_CONSOLE_STATIC)
    app.config.update(
        SECRET_KEY=settings.secret_key,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=not settings.development,
        MAX_CONTENT_LENGTH=256 * 1024,
    )
    app.extensions["supportline"] = Services.build(settings, **services)
    logs.init_app(app)  # first: every later hook and view runs with the request id set
    cleaning.install(app)  # console and API query and form values, before any view reads them
    security_headers.init_app(app)
    _register_blueprints(app)
    if settings.trusted_proxies:
        # The client's address and scheme from the last TRUSTED_PROXIES hops of X-Forwarded-*.
        # (Replacing app.wsgi_app is Flask's documented way to add WSGI middleware.)
        app.wsgi_app = ProxyFix(  # type: ignore[method-assign]
            app.wsgi_app, x_for=settings.trusted_proxies, x_proto=settings.trusted_proxies
        )
    _warm_up(app.extensions["supportline"])
    return app


def _warm_up(svc: Services) -> None:
    """Pay the libraries' lazy start-up costs (phone metadata, holiday tables, TwiML, signature
    code) before the first caller does, so a fresh worker's first calls are as fast as the rest."""
    from twilio.request_validator import RequestValidator
    from twilio.twiml.voice_response import VoiceResponse

    from casestore.phones import caller_e164
    from routing.calendar import ALL_RULES, observed_holidays

    caller_e164("(612) 555-0134", svc.settings.default_region)
    year = svc.now().year
    for y in (year - 1, year, year + 1):
        observed_holidays(y, ALL_RULES)
    resp = VoiceResponse()
    resp.gather(input="dtmf", action="/voice/menu").say("ready")
    str(resp)
    RequestValidator("warm-up").compute_signature("https://example.invalid/voice/incoming", {"CallSid": "CA"})


def worker_started(svc: Services, connections: int) -> None:
    """In each web worker process, once forked (gunicorn's post_worker_init, from gunicorn.conf.py
    and from `supportline serve`/`demo`): warm up its connections and routing tables, and start in
    the background the fallback URL's hosted-contacts file and the replay of call-log records this
    host spooled before a restart."""
    from webhooks.fallback import refresh_in_background
    from webhooks.voice import replay_spool_in_background

    svc.warm(connections=connections)
    refresh_in_background(svc)
    replay_spool_in_background(svc)


def _register_blueprints(app: Flask) -> None:
    from api import bp as api_bp
    from webhooks import metrics
    from webhooks.health import bp as health_bp
    from webhooks.oncall import bp as oncall_bp
    from webhooks.voice import bp as voice_bp

    app.register_blueprint(api_bp)
    app.register_blueprint(oncall_bp)
    app.register_blueprint(health_bp)
    app.register_blueprint(voice_bp)
    metrics.init_app(app)  # GET /metrics, and the latency, counters and log line of every webhook
    import console

    console.init_app(app)
    app.register_error_handler(404, _not_found)
    app.register_error_handler(405, _not_found)


def _not_found(exc):
    """A path or method that does not exist: JSON under /api, a console page under /admin, else
    Flask's own page (routing fails before any blueprint's handler could answer)."""
    import console
    from api import views as api_views

    if api_views.is_api_path(request.path):
        return api_views.json_error(exc)
    if console.is_console_path(request.path):
        return console.not_found_page(exc)
    return exc


__all__ = ["ConfigurationError", "Settings", "create_app"]
