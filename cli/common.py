"""What every `supportline` command shares: who is acting, for the audit log (`actor`), and the
command group that turns a database without its schema into one line saying what to run."""

from __future__ import annotations

import getpass
import os

import click
from sqlalchemy.exc import OperationalError, ProgrammingError

NO_SCHEMA = "the database has no supportline tables yet: run `supportline db upgrade` first"


def actor(kind: str | None = None) -> str:
    """`cli:<user>` (or `cli:<kind>:<user>`): `$USER`, else the operating system's user name."""
    user = os.environ.get("USER") or _os_user()
    return f"cli:{kind}:{user}" if kind else f"cli:{user}"


def _os_user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no login name and no passwd entry (a bare container)
        return "unknown"


def schema_missing(exc: BaseException) -> bool:
    """Whether a database error says a table does not exist (SQLite, PostgreSQL)."""
    if not isinstance(exc, (OperationalError, ProgrammingError)):
        return False
    orig = exc.orig
    return getattr(orig, "sqlstate", None) == "42P01" or "no such table" in str(orig)


class Group(click.Group):
    """A click group whose commands stop with `NO_SCHEMA` instead of a traceback on a fresh database."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except (OperationalError, ProgrammingError) as exc:
            if schema_missing(exc):
                raise click.ClickException(NO_SCHEMA) from None
            raise
