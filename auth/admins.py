"""Admin accounts: passwords under a slow KDF, per-user API tokens, roles, console sessions.

* Passwords: scrypt through werkzeug (`generate_password_hash(method="scrypt")`: N=2^15, r=8, p=1,
  salted), never stored or logged in clear. `verify_password` is constant-time.
* API tokens: 32 random bytes shown once; only their SHA-256 is stored (a token carries enough
  entropy that a slow hash adds nothing), so a lookup is one indexed query.
* Roles: admin (edits everything), supervisor (presence, banners, incidents, test calls, contacts'
  full phone numbers; reads everything), viewer (reads, with phone numbers masked).
  `allowed(role, permission)` is the one place that says who may do what.
* Console sessions: the session names the account by id and `session_version`; signing out and a
  password change bump the version, so a session cookie saved before then is refused (on every
  device: signing out signs that account out everywhere).
* Sign-in throttling: `auth.signin_throttle`.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

from sqlalchemy import select
from sqlalchemy.orm import Session
from werkzeug.security import check_password_hash, generate_password_hash

from casestore.models import AdminUser
from casestore.types import AdminRole

MIN_PASSWORD_LENGTH = 12
# A hash to check against when the username does not exist, so timing does not tell.
_DUMMY_HASH = generate_password_hash("not-a-real-password", method="scrypt")

# What each role may do. Reading is open to every role.
PERMISSIONS: dict[str, frozenset[str]] = {
    AdminRole.VIEWER.value: frozenset({"read"}),
    AdminRole.SUPERVISOR.value: frozenset({"read", "presence", "banners", "incidents", "test_call", "phones"}),
    AdminRole.ADMIN.value: frozenset(
        {"read", "presence", "banners", "incidents", "test_call", "phones", "edit", "users"}
    ),
}


class PasswordTooWeak(ValueError):
    pass


def hash_password(password: str) -> str:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise PasswordTooWeak(f"a password needs at least {MIN_PASSWORD_LENGTH} characters")
    return generate_password_hash(password, method="scrypt")


def verify_password(stored_hash: str | None, password: str) -> bool:
    return check_password_hash(stored_hash or _DUMMY_HASH, password) and stored_hash is not None


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def new_api_token(user: AdminUser) -> str:
    """A fresh token for `user` (replacing any earlier one); returns it: it is shown only once."""
    token = "slt_" + secrets.token_urlsafe(32)
    user.api_token_hash = token_digest(token)
    return token


def user_for_token(session: Session, token: str) -> AdminUser | None:
    if not token or not token.startswith("slt_"):
        return None
    user = session.scalars(select(AdminUser).where(AdminUser.api_token_hash == token_digest(token))).first()
    if user is None or not user.active or not hmac.compare_digest(user.api_token_hash or "", token_digest(token)):
        return None
    return user


def authenticate(session: Session, username: str, password: str) -> AdminUser | None:
    user = session.scalars(select(AdminUser).where(AdminUser.username == username.strip().lower())).first()
    ok = verify_password(user.password_hash if user else None, password)
    if not ok or user is None or not user.active:
        return None
    return user


def allowed(role: AdminRole | str | None, permission: str) -> bool:
    value = role.value if isinstance(role, AdminRole) else (role or "")
    return permission in PERMISSIONS.get(value, frozenset())


def set_password(user: AdminUser, password: str) -> None:
    """A new password (PasswordTooWeak when too short); every console session of `user` ends."""
    user.password_hash = hash_password(password)
    end_sessions(user)


def end_sessions(user: AdminUser) -> None:
    """Every console session issued to `user` so far stops working (sign-out, password change)."""
    user.session_version = (user.session_version or 0) + 1


def session_id(user: AdminUser) -> str:
    """What a console session stores to name its account: the id and the session version."""
    return f"{user.id}:{user.session_version or 0}"


def user_for_session(session: Session, sid: str) -> AdminUser | None:
    """The active account a console session names, unless its session version is stale."""
    user_id, _, version = sid.partition(":")
    if not (user_id.isascii() and user_id.isdigit() and version.isascii() and version.isdigit()):
        return None
    user = session.get(AdminUser, int(user_id))
    if user is None or not user.active or (user.session_version or 0) != int(version):
        return None
    return user
