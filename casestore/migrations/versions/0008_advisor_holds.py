"""advisor holds: the database's copy of who each advisor is ringing or talking with

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-28
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import casestore.types

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "advisor_holds",
        sa.Column("advisor_id", sa.Integer(), nullable=False),
        sa.Column("call_sid", sa.String(length=64), nullable=False),
        sa.Column("since", casestore.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("free_at", casestore.types.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["advisor_id"], ["advisors.id"], name=op.f("fk_advisor_holds_advisor_id_advisors"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("advisor_id", name=op.f("pk_advisor_holds")),
    )
    with op.batch_alter_table("advisor_holds", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_advisor_holds_call_sid"), ["call_sid"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("advisor_holds", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_advisor_holds_call_sid"))

    op.drop_table("advisor_holds")
