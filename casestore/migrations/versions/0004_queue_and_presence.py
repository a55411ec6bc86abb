"""queue and presence: callback tasks, the call's routed skill, advisors' chosen presence

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-28
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import casestore.types

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "callback_tasks",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=True),
        sa.Column("district_id", sa.Integer(), nullable=True),
        sa.Column("contact_id", sa.Integer(), nullable=True),
        sa.Column("call_sid", sa.String(length=64), nullable=False),
        sa.Column("callback_e164", sa.String(length=32), nullable=True),
        sa.Column("recording_url", sa.String(length=500), nullable=True),
        sa.Column("skill", sa.String(length=32), nullable=True),
        sa.Column("priority_rank", sa.Integer(), nullable=False),
        sa.Column("queued_at", casestore.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("created_at", casestore.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("done_at", casestore.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("advisor_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["advisor_id"], ["advisors.id"], name=op.f("fk_callback_tasks_advisor_id_advisors"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["case_id"], ["cases.id"], name=op.f("fk_callback_tasks_case_id_cases"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["contact_id"], ["contacts.id"], name=op.f("fk_callback_tasks_contact_id_contacts"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["district_id"], ["districts.id"], name=op.f("fk_callback_tasks_district_id_districts"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_callback_tasks")),
        sa.UniqueConstraint("call_sid", name=op.f("uq_callback_tasks_call_sid")),
    )
    with op.batch_alter_table("callback_tasks") as batch:
        batch.create_index(batch.f("ix_callback_tasks_case_id"), ["case_id"], unique=False)
        batch.create_index("ix_callback_tasks_open_order", ["status", "priority_rank", "queued_at"], unique=False)
    with op.batch_alter_table("call_log") as batch:
        batch.add_column(sa.Column("skill", sa.String(length=32), nullable=True))
    with op.batch_alter_table("advisors") as batch:
        batch.add_column(sa.Column("signed_in_state", sa.String(length=16), nullable=False, server_default="offline"))
        batch.add_column(sa.Column("away_reason", sa.String(length=120), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("advisors") as batch:
        batch.drop_column("away_reason")
        batch.drop_column("signed_in_state")
    with op.batch_alter_table("call_log") as batch:
        batch.drop_column("skill")
    op.drop_table("callback_tasks")
