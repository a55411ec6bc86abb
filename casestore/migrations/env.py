"""Alembic environment: runs on the connection handed in by `casestore.db.upgrade`, or on
`sqlalchemy.url` / DATABASE_URL when alembic is run from the command line."""

from __future__ import annotations

import os

from alembic import context
from sqlalchemy import create_engine

from casestore.models import Base

config = context.config
target_metadata = Base.metadata


def _run(connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


connection = config.attributes.get("connection")
if connection is not None and hasattr(connection, "dialect") and not hasattr(connection, "connect"):
    _run(connection)
else:
    url = config.get_main_option("sqlalchemy.url") or os.environ.get("DATABASE_URL")
    if connection is None and not url:
        raise SystemExit("alembic: set sqlalchemy.url or DATABASE_URL (or use `supportline db upgrade`)")
    engine = connection or create_engine(str(url))
    with engine.begin() as conn:
        _run(conn)
