"""The declarative base every model derives from: the constraint naming convention and the enum column type.

Every enum column stores the enum *values* as varchar plus a check constraint, the same on SQLite and PostgreSQL.
"""

from __future__ import annotations

from sqlalchemy import Enum, MetaData
from sqlalchemy.orm import DeclarativeBase

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def _enum(cls: type, name: str) -> Enum:
    # Store the enum *values* ("in_progress"), as varchar + check constraint on every backend.
    return Enum(
        cls,
        name=name,
        native_enum=False,
        create_constraint=True,
        length=32,
        values_callable=lambda e: [m.value for m in e],
        validate_strings=True,
    )


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
