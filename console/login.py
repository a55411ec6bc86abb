"""Sign in and out. Sign-in attempts are throttled per account and client address (`auth.signin_throttle`)."""

from __future__ import annotations

import logging
import re

from flask import flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required, login_user, logout_user
from flask_wtf import FlaskForm
from wtforms import PasswordField, StringField
from wtforms.validators import DataRequired, Length

from auth.admins import authenticate, end_sessions
from auth.signin_throttle import SigninThrottle
from casestore.models import AdminUser
from console import SessionUser, bp
from webhooks.services import current_services

log = logging.getLogger("supportline.admin")


class LoginForm(FlaskForm):
    username = StringField("Username", validators=[DataRequired(), Length(max=80)])
    password = PasswordField("Password", validators=[DataRequired(), Length(max=200)])


_LOCAL_NEXT = re.compile(r"/admin(/[A-Za-z0-9._~!$&'()*+,;=:@%/-]*)?(\?[A-Za-z0-9._~!$&'()*+,;=:@%/?-]*)?")


def safe_next(target: str | None) -> str:
    """Where to go after signing in: `target` when it is a plain path on the console (printable
    ASCII URL characters only: no CR/LF, no scheme or host, no `//`, `\\` or `..`), else the board."""
    if target and _LOCAL_NEXT.fullmatch(target) and "//" not in target and ".." not in target:
        return target
    return url_for("admin.board")


@bp.route("/login", methods=["GET", "POST"])
def login():
    if current_user.is_authenticated:
        return redirect(url_for("admin.board"))
    form = LoginForm()
    if form.validate_on_submit():
        svc = current_services()
        username = form.username.data.strip().lower()
        throttle = SigninThrottle(svc.redis, breaker=svc.breakers.redis)
        with svc.sessions() as session:
            attempt = throttle.begin(session, svc.now(), username, request.remote_addr or "")
            session.commit()  # counted before the password is checked, for parallel attempts too
            if not attempt.allowed:
                flash("Too many failed sign-ins. Try again in 15 minutes.", "error")
                return render_template("admin/login.html", form=form), 429
            user = authenticate(session, username, form.password.data)
            if user is None:
                log.warning("failed admin sign-in")
                flash("Wrong username or password.", "error")
                return render_template("admin/login.html", form=form), 401
            throttle.succeeded(session, attempt)
            session.commit()
            signed_in = SessionUser(user)
        login_user(signed_in)
        return redirect(safe_next(request.args.get("next")))
    return render_template("admin/login.html", form=form)


@bp.post("/logout")
@login_required
def logout():
    """Sign out, and end every other session of this account too (a copied cookie included)."""
    svc = current_services()
    with svc.sessions() as session:
        user = session.get(AdminUser, current_user.id)
        if user is not None:
            end_sessions(user)
            session.commit()
    logout_user()
    flash("Signed out.", "info")
    return redirect(url_for("admin.login"))
