"""degraded mode

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-28
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import casestore.types

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "auth_failures",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("subject", sa.String(length=64), nullable=False),
        sa.Column("at", casestore.types.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_auth_failures")),
    )
    with op.batch_alter_table("auth_failures", schema=None) as batch_op:
        batch_op.create_index("ix_auth_failures_subject_at", ["subject", "at"], unique=False)

    op.create_table(
        "call_states",
        sa.Column("key", sa.String(length=120), nullable=False),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.Column("updated_at", casestore.types.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_call_states")),
    )
    with op.batch_alter_table("call_states", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_call_states_updated_at"), ["updated_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("call_states", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_call_states_updated_at"))

    op.drop_table("call_states")
    with op.batch_alter_table("auth_failures", schema=None) as batch_op:
        batch_op.drop_index("ix_auth_failures_subject_at")

    op.drop_table("auth_failures")
