"""case lifecycle

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-28
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import casestore.types

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "follow_ups",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("round", sa.Integer(), nullable=False),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("due_at", casestore.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("call_sid", sa.String(length=64), nullable=True),
        sa.Column("sms_sid", sa.String(length=64), nullable=True),
        sa.Column("result", sa.String(length=24), nullable=True),
        sa.Column("updated_at", casestore.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["case_id"], ["cases.id"], name=op.f("fk_follow_ups_case_id_cases"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_follow_ups")),
        sa.UniqueConstraint("case_id", "round", "attempt", name=op.f("uq_follow_ups_case_id")),
    )
    with op.batch_alter_table("follow_ups", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_follow_ups_call_sid"), ["call_sid"], unique=False)
        batch_op.create_index(batch_op.f("ix_follow_ups_case_id"), ["case_id"], unique=False)

    op.create_table(
        "surveys",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("contact_id", sa.Integer(), nullable=False),
        sa.Column("channel", sa.String(length=8), nullable=False),
        sa.Column("sid", sa.String(length=64), nullable=True),
        sa.Column("product_area", sa.String(length=32), nullable=True),
        sa.Column("sent_at", casestore.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("answered_at", casestore.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("courtesy", sa.Integer(), nullable=True),
        sa.Column("knowledge", sa.Integer(), nullable=True),
        sa.Column("timeliness", sa.Integer(), nullable=True),
        sa.Column("quality", sa.Integer(), nullable=True),
        sa.Column("overall", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"], name=op.f("fk_surveys_case_id_cases"), ondelete="CASCADE"),
        sa.ForeignKeyConstraint(
            ["contact_id"], ["contacts.id"], name=op.f("fk_surveys_contact_id_contacts"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_surveys")),
    )
    with op.batch_alter_table("surveys", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_surveys_case_id"), ["case_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_surveys_contact_id"), ["contact_id"], unique=False)

    with op.batch_alter_table("contacts", schema=None) as batch_op:
        batch_op.add_column(sa.Column("survey_opt_out", sa.Boolean(), nullable=False, server_default=sa.false()))
        batch_op.add_column(sa.Column("last_survey_at", casestore.types.UTCDateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("contacts", schema=None) as batch_op:
        batch_op.drop_column("last_survey_at")
        batch_op.drop_column("survey_opt_out")

    with op.batch_alter_table("surveys", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_surveys_contact_id"))
        batch_op.drop_index(batch_op.f("ix_surveys_case_id"))

    op.drop_table("surveys")
    with op.batch_alter_table("follow_ups", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_follow_ups_case_id"))
        batch_op.drop_index(batch_op.f("ix_follow_ups_call_sid"))

    op.drop_table("follow_ups")
