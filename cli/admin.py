"""`supportline admin ...`: admin accounts from the command line (the first one has to come from
somewhere). Passwords are asked for, never taken as arguments (they would land in shell history);
API tokens are printed once."""

from __future__ import annotations

import click
from sqlalchemy import select

from auth.admins import PasswordTooWeak, new_api_token, set_password
from casestore import audit
from casestore.db import make_engine, make_session_factory, session_scope
from casestore.models import AdminUser
from casestore.types import AdminRole
from cli.common import actor
from webhooks.services import system_clock


def _sessions(ctx: click.Context):
    return make_session_factory(make_engine(ctx.obj["settings"].database_url))


@click.group("admin")
def admin_group() -> None:
    """Admin accounts for the console and the API."""


@admin_group.command("create")
@click.argument("username")
@click.option("--role", type=click.Choice([r.value for r in AdminRole]), default="admin", show_default=True)
@click.password_option(help="Asked for when not given (at least 12 characters).")
@click.pass_context
def admin_create(ctx: click.Context, username: str, role: str, password: str) -> None:
    """Create an account (or reset its password and role)."""
    username = username.strip().lower()
    now = system_clock()
    try:
        with session_scope(_sessions(ctx)) as session:
            user = session.scalars(select(AdminUser).where(AdminUser.username == username)).first()
            before = {"role": user.role.value, "active": user.active} if user else None
            if user is None:
                user = AdminUser(username=username, role=AdminRole(role), active=True, created_at=now)
            user.role, user.active = AdminRole(role), True
            set_password(user, password)  # ends every console session the account had
            session.add(user)
            audit.record(
                session,
                at=now,
                actor=actor(),
                action="update" if before else "create",
                entity="admin_user",
                key=username,
                before=before,
                after={"role": role, "active": True, "password": "(set)"},
            )
    except PasswordTooWeak as exc:  # nothing was written
        raise click.ClickException(str(exc)) from None
    click.echo(f"{username}: {role}")


@admin_group.command("token")
@click.argument("username")
@click.pass_context
def admin_token(ctx: click.Context, username: str) -> None:
    """Issue a new API token for USERNAME (the old one stops working). Printed once."""
    now = system_clock()
    with session_scope(_sessions(ctx)) as session:
        user = session.scalars(select(AdminUser).where(AdminUser.username == username.strip().lower())).first()
        if user is None or not user.active:
            raise click.ClickException(f"no active account {username!r}")
        token = new_api_token(user)
        audit.record(
            session,
            at=now,
            actor=actor(),
            action="update",
            entity="admin_user",
            key=user.username,
            before={"api_token": "(old)"},
            after={"api_token": "(new)"},
        )
    click.echo(token)


@admin_group.command("list")
@click.pass_context
def admin_list(ctx: click.Context) -> None:
    """Every account, its role, and whether it has an API token."""
    with session_scope(_sessions(ctx)) as session:
        for user in session.scalars(select(AdminUser).order_by(AdminUser.username)):
            click.echo(
                f"{user.username:<24} {user.role.value:<10} {'active' if user.active else 'inactive'}"
                f"{'  (API token)' if user.api_token_hash else ''}"
            )
