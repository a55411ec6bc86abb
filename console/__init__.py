"""The admin console: server-rendered pages under `/admin` for admins, supervisors and viewers.

This package is the HTTP edge of administration, like `webhooks.voice` is for calls: login and
roles (`auth.admins`), CSRF protection on every form (Flask-WTF), and pages that read through the
case store and write through the same validated, audited path as the load file
(`casestore.interchange.load_document`), so a page can never store what a load file could not.

Every module in this package registers its views on `bp` and is imported by `init_app`, so a new
page is a new module. Shared helpers live here: `require(permission)`, `actor()`, `write()`, `shown_phone()`.
"""

from __future__ import annotations

import importlib
import pkgutil
import re
from collections.abc import Callable
from functools import wraps
from typing import Any

import redis
from flask import Blueprint, Flask, abort, flash, g, redirect, render_template, request, url_for
from flask_login import LoginManager, current_user, login_required
from flask_wtf.csrf import CSRFProtect
from markupsafe import Markup

from auth.admins import allowed, session_id, user_for_session
from auth.disclosure import phone_for
from casestore.interchange import LoadError, load_document
from casestore.models import AdminUser
from webhooks import live
from webhooks.services import current_services

bp = Blueprint(
    "admin",
    __name__,
    url_prefix="/admin",
    template_folder="templates",
    static_folder="static",
    static_url_path="/static",
)
csrf = CSRFProtect()
login_manager = LoginManager()
login_manager.login_view = "admin.login"
login_manager.login_message = "Please sign in."
login_manager.session_protection = "strong"


@login_manager.user_loader
def _load_user(sid: str):
    """The session's account, or None (signed out) when it is gone, inactive, or its session
    version has moved on since (signed out elsewhere, password changed)."""
    svc = current_services()
    with svc.sessions() as session:
        user = user_for_session(session, sid)
        if user is None:
            return None
        session.expunge(user)
        return SessionUser(user)


class SessionUser:
    """The signed-in account, detached from any database session."""

    def __init__(self, row: AdminUser) -> None:
        self.id = row.id
        self.sid = session_id(row)
        self.username = row.username
        self.role = row.role.value
        self.is_active = row.active
        self.is_authenticated = True
        self.is_anonymous = False

    def get_id(self) -> str:
        return self.sid

    def can(self, permission: str) -> bool:
        return allowed(self.role, permission)


def require(permission: str) -> Callable:
    """Signed in, and the role allows `permission` (403 otherwise)."""

    def deco(view: Callable) -> Callable:
        @wraps(view)
        @login_required
        def wrapped(*args: Any, **kwargs: Any):
            if not current_user.can(permission):
                abort(403)
            return view(*args, **kwargs)

        return wrapped

    return deco


def shown_phone(value: str | None) -> str | None:
    """A phone number as the signed-in user may see it (`auth.disclosure`); `phone(...)` in templates."""
    return phone_for(current_user.role if current_user.is_authenticated else None, value)


def actor() -> str:
    return f"admin:{current_user.username}"


def write(session, doc: dict, *, hash_pin=None) -> list[str] | None:
    """Validate and write `doc` (load-file format) as the signed-in user; None when it worked,
    else the problems, each as "field: reason" (nothing was written)."""
    svc = current_services()
    try:
        load_document(
            session,
            {"version": 1, **doc},
            source="admin",
            hash_pin=hash_pin,
            region=svc.settings.default_region,
            actor=actor(),
            now=svc.now(),
        )
    except LoadError as exc:
        return [f"{p.path.split('.', 1)[-1] if '.' in p.path else p.path}: {p.message}" for p in exc.problems]
    return None


def flash_problems(problems: list[str]) -> None:
    """A form's problems ("field: reason"): all of them at the top of the page, and each beside
    its field (`note_problems`)."""
    note_problems(problems)
    for problem in problems:
        flash(problem, "error")


def note_problems(problems: list[str]) -> None:
    """Keep a form's problems for this request, so the page shows each beside its field."""
    g.form_problems = [*g.get("form_problems", []), *problems]


def _field_errors() -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for problem in g.get("form_problems", []):
        field, sep, reason = problem.partition(": ")
        if sep:
            out.setdefault(field.strip(), []).append(reason)
    return out


def _error_id(name: str) -> str:
    return "error-" + re.sub(r"[^A-Za-z0-9_-]+", "-", name).strip("-")


def field_error(name: str) -> Markup:
    """The reasons a submitted form's field `name` was refused, to show beside it (or nothing)."""
    reasons = _field_errors().get(name, [])
    if not reasons:
        return Markup("")
    text = "; ".join(reasons)
    return Markup('<span class="field-error" id="{}">{}</span>').format(_error_id(name), text)


def invalid(name: str) -> Markup:
    """The attributes that mark field `name` invalid and point at its reason (or nothing)."""
    if name not in _field_errors():
        return Markup("")
    return Markup(' aria-invalid="true" aria-describedby="{}"').format(_error_id(name))


def init_app(app: Flask) -> None:
    """Register the console: login manager, CSRF (on every form; Twilio and token-API routes are
    exempt: they prove themselves by signature or bearer token), and every page module."""
    login_manager.init_app(app)
    csrf.init_app(app)
    for name in ("voice", "oncall", "api", "health"):
        if name in app.blueprints:
            csrf.exempt(app.blueprints[name])
    for module in pkgutil.iter_modules(__path__):
        importlib.import_module(f"{__name__}.{module.name}")
    app.register_blueprint(bp)
    # The service's own address lands on the console: the board, or the login page first.
    app.add_url_rule("/", "root", lambda: redirect(url_for("admin.board")), methods=["GET"])

    @app.context_processor
    def _roles():
        return {
            "can": (lambda p: current_user.is_authenticated and current_user.can(p)),
            "phone": shown_phone,
            "live_note": live.UNAVAILABLE,
            "field_error": field_error,
            "invalid": invalid,
        }


def is_console_path(path: str) -> bool:
    return path == "/admin" or path.startswith("/admin/")


def not_found_page(exc):
    """A 404 or 405 inside the console, as a console page (`webhooks.app` calls this)."""
    return render_template("admin/not_found.html", code=exc.code, path=request.path), exc.code


def wants_json() -> bool:
    return request.accept_mimetypes.best == "application/json"


@bp.errorhandler(live.LiveUnavailable)
@bp.errorhandler(redis.RedisError)
def _live_unavailable(exc: Exception):
    """Redis unreachable where a page needs it: a 503 saying live figures are unavailable, never a 500."""
    if request.path.endswith(".json") or wants_json():
        return live.unavailable_json(exc)
    return live.unavailable_page(exc)
