"""on-call incidents: escalation policies, incidents, pages, timeline

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-28
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import casestore.types

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "escalation_policies",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("repeats", sa.Integer(), nullable=False),
        sa.Column("manager_id", sa.Integer(), nullable=True),
        sa.Column("is_default", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["manager_id"],
            ["engineers.id"],
            name=op.f("fk_escalation_policies_manager_id_engineers"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_escalation_policies")),
        sa.UniqueConstraint("name", name=op.f("uq_escalation_policies_name")),
    )
    op.create_table(
        "escalation_steps",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("policy_id", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("delay_minutes", sa.Integer(), nullable=False),
        sa.Column("layers", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ["policy_id"],
            ["escalation_policies.id"],
            name=op.f("fk_escalation_steps_policy_id_escalation_policies"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_escalation_steps")),
        sa.UniqueConstraint("policy_id", "position", name=op.f("uq_escalation_steps_policy_id")),
    )
    op.create_table(
        "escalation_step_engineers",
        sa.Column("step_id", sa.Integer(), nullable=False),
        sa.Column("engineer_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["engineer_id"],
            ["engineers.id"],
            name=op.f("fk_escalation_step_engineers_engineer_id_engineers"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["step_id"],
            ["escalation_steps.id"],
            name=op.f("fk_escalation_step_engineers_step_id_escalation_steps"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("step_id", "engineer_id", name=op.f("pk_escalation_step_engineers")),
    )
    op.create_table(
        "incidents",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("district_id", sa.Integer(), nullable=False),
        sa.Column("policy_id", sa.Integer(), nullable=True),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("triggered_at", casestore.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("acknowledged_at", casestore.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("acknowledged_by_id", sa.Integer(), nullable=True),
        sa.Column("resolved_at", casestore.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("resolved_by_id", sa.Integer(), nullable=True),
        sa.Column("recording_url", sa.String(length=500), nullable=True),
        sa.ForeignKeyConstraint(
            ["acknowledged_by_id"],
            ["engineers.id"],
            name=op.f("fk_incidents_acknowledged_by_id_engineers"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"], name=op.f("fk_incidents_case_id_cases"), ondelete="CASCADE"),
        sa.ForeignKeyConstraint(
            ["district_id"], ["districts.id"], name=op.f("fk_incidents_district_id_districts"), ondelete="RESTRICT"
        ),
        sa.ForeignKeyConstraint(
            ["policy_id"],
            ["escalation_policies.id"],
            name=op.f("fk_incidents_policy_id_escalation_policies"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["resolved_by_id"],
            ["engineers.id"],
            name=op.f("fk_incidents_resolved_by_id_engineers"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_incidents")),
        sa.UniqueConstraint("case_id", name=op.f("uq_incidents_case_id")),
    )
    with op.batch_alter_table("incidents", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_incidents_district_id"), ["district_id"], unique=False)

    op.create_table(
        "incident_districts",
        sa.Column("incident_id", sa.Integer(), nullable=False),
        sa.Column("district_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["district_id"],
            ["districts.id"],
            name=op.f("fk_incident_districts_district_id_districts"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["incident_id"],
            ["incidents.id"],
            name=op.f("fk_incident_districts_incident_id_incidents"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("incident_id", "district_id", name=op.f("pk_incident_districts")),
    )
    op.create_table(
        "incident_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("incident_id", sa.Integer(), nullable=False),
        sa.Column("at", casestore.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("engineer_id", sa.Integer(), nullable=True),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["engineer_id"],
            ["engineers.id"],
            name=op.f("fk_incident_events_engineer_id_engineers"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["incident_id"], ["incidents.id"], name=op.f("fk_incident_events_incident_id_incidents"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_incident_events")),
    )
    with op.batch_alter_table("incident_events", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_incident_events_incident_id"), ["incident_id"], unique=False)

    op.create_table(
        "pages",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("incident_id", sa.Integer(), nullable=False),
        sa.Column("engineer_id", sa.Integer(), nullable=True),
        sa.Column("channel", sa.String(length=8), nullable=False),
        sa.Column("round", sa.Integer(), nullable=False),
        sa.Column("step", sa.Integer(), nullable=False),
        sa.Column("sid", sa.String(length=64), nullable=True),
        sa.Column("status", sa.String(length=24), nullable=False),
        sa.Column("answered_by", sa.String(length=24), nullable=True),
        sa.Column("result", sa.String(length=16), nullable=True),
        sa.Column("created_at", casestore.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", casestore.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["engineer_id"], ["engineers.id"], name=op.f("fk_pages_engineer_id_engineers"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["incident_id"], ["incidents.id"], name=op.f("fk_pages_incident_id_incidents"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_pages")),
    )
    with op.batch_alter_table("pages", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_pages_incident_id"), ["incident_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_pages_sid"), ["sid"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("pages", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_pages_sid"))
        batch_op.drop_index(batch_op.f("ix_pages_incident_id"))

    op.drop_table("pages")
    with op.batch_alter_table("incident_events", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_incident_events_incident_id"))

    op.drop_table("incident_events")
    op.drop_table("incident_districts")
    with op.batch_alter_table("incidents", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_incidents_district_id"))

    op.drop_table("incidents")
    op.drop_table("escalation_step_engineers")
    op.drop_table("escalation_steps")
    op.drop_table("escalation_policies")
