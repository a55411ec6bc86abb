"""initial schema

Revision ID: 0001
Revises:
Create Date: 2026-11-28
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import casestore.types

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "admin_users",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("username", sa.String(length=80), nullable=False),
        sa.Column("password_hash", sa.String(length=255), nullable=False),
        sa.Column(
            "role",
            sa.Enum(
                "admin", "supervisor", "viewer", name="admin_role", native_enum=False, create_constraint=True, length=32
            ),
            nullable=False,
        ),
        sa.Column("api_token_hash", sa.String(length=128), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", casestore.types.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_admin_users")),
        sa.UniqueConstraint("api_token_hash", name=op.f("uq_admin_users_api_token_hash")),
        sa.UniqueConstraint("username", name=op.f("uq_admin_users_username")),
    )
    op.create_table(
        "audit_log",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("at", casestore.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(length=120), nullable=False),
        sa.Column("action", sa.String(length=40), nullable=False),
        sa.Column("entity", sa.String(length=40), nullable=False),
        sa.Column("entity_key", sa.String(length=120), nullable=False),
        sa.Column("before", sa.JSON(), nullable=True),
        sa.Column("after", sa.JSON(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_log")),
    )
    with op.batch_alter_table("audit_log", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_audit_log_at"), ["at"], unique=False)

    op.create_table(
        "business_hours",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column(
            "weekday",
            sa.Enum(
                "mon",
                "tue",
                "wed",
                "thu",
                "fri",
                "sat",
                "sun",
                name="weekday",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("opens", sa.Time(), nullable=False),
        sa.Column("closes", sa.Time(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_business_hours")),
        sa.UniqueConstraint("weekday", "opens", name=op.f("uq_business_hours_weekday")),
    )
    op.create_table(
        "closures",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_closures")),
        sa.UniqueConstraint("day", name=op.f("uq_closures_day")),
    )
    op.create_table(
        "engineers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("phone", sa.String(length=16), nullable=False),
        sa.Column("sms", sa.Boolean(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_engineers")),
        sa.UniqueConstraint("name", name=op.f("uq_engineers_name")),
    )
    op.create_table(
        "holiday_rules",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=40), nullable=False),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_holiday_rules")),
        sa.UniqueConstraint("key", name=op.f("uq_holiday_rules_key")),
    )
    op.create_table(
        "rotations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column(
            "layer",
            sa.Enum(
                "primary", "secondary", name="rotation_layer", native_enum=False, create_constraint=True, length=32
            ),
            nullable=False,
        ),
        sa.Column("timezone", sa.String(length=64), nullable=False),
        sa.Column(
            "handoff",
            sa.Enum("daily", "weekly", name="handoff_kind", native_enum=False, create_constraint=True, length=32),
            nullable=False,
        ),
        sa.Column("handoff_time", sa.Time(), nullable=False),
        sa.Column(
            "handoff_weekday",
            sa.Enum(
                "mon",
                "tue",
                "wed",
                "thu",
                "fri",
                "sat",
                "sun",
                name="weekday",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=True,
        ),
        sa.Column("start_date", sa.Date(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_rotations")),
        sa.UniqueConstraint("name", name=op.f("uq_rotations_name")),
    )
    op.create_table(
        "teams",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column(
            "kind",
            sa.Enum(
                "campus",
                "state_reporting",
                "partner",
                name="team_kind",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("route_order", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_teams")),
        sa.UniqueConstraint("name", name=op.f("uq_teams_name")),
    )
    op.create_table(
        "advisors",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("reach", sa.String(length=255), nullable=False),
        sa.Column("team_id", sa.Integer(), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", casestore.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["team_id"], ["teams.id"], name=op.f("fk_advisors_team_id_teams"), ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_advisors")),
        sa.UniqueConstraint("name", name=op.f("uq_advisors_name")),
    )
    op.create_table(
        "districts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("state", sa.String(length=2), nullable=False),
        sa.Column("hosted", sa.Boolean(), nullable=False),
        sa.Column("team_id", sa.Integer(), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", casestore.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["team_id"], ["teams.id"], name=op.f("fk_districts_team_id_teams"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_districts")),
        sa.UniqueConstraint("name", name=op.f("uq_districts_name")),
    )
    op.create_table(
        "rotation_members",
        sa.Column("rotation_id", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("engineer_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["engineer_id"],
            ["engineers.id"],
            name=op.f("fk_rotation_members_engineer_id_engineers"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["rotation_id"],
            ["rotations.id"],
            name=op.f("fk_rotation_members_rotation_id_rotations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("rotation_id", "position", name=op.f("pk_rotation_members")),
    )
    op.create_table(
        "rotation_overrides",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("rotation_id", sa.Integer(), nullable=False),
        sa.Column("engineer_id", sa.Integer(), nullable=False),
        sa.Column("starts_at", casestore.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("ends_at", casestore.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["engineer_id"],
            ["engineers.id"],
            name=op.f("fk_rotation_overrides_engineer_id_engineers"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["rotation_id"],
            ["rotations.id"],
            name=op.f("fk_rotation_overrides_rotation_id_rotations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_rotation_overrides")),
    )
    with op.batch_alter_table("rotation_overrides", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_rotation_overrides_rotation_id"), ["rotation_id"], unique=False)

    op.create_table(
        "advisor_skills",
        sa.Column("advisor_id", sa.Integer(), nullable=False),
        sa.Column(
            "skill",
            sa.Enum(
                "grade_book",
                "scheduling",
                "attendance",
                "online_registration",
                "point_of_sale",
                "state_reporting",
                name="product_area",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["advisor_id"], ["advisors.id"], name=op.f("fk_advisor_skills_advisor_id_advisors"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("advisor_id", "skill", name=op.f("pk_advisor_skills")),
    )
    op.create_table(
        "contacts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("contact_id", sa.String(length=12), nullable=False),
        sa.Column("district_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("email", sa.String(length=254), nullable=True),
        sa.Column("pin_hash", sa.String(length=128), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", casestore.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["district_id"], ["districts.id"], name=op.f("fk_contacts_district_id_districts"), ondelete="RESTRICT"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_contacts")),
        sa.UniqueConstraint("contact_id", name=op.f("uq_contacts_contact_id")),
    )
    with op.batch_alter_table("contacts", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_contacts_district_id"), ["district_id"], unique=False)

    op.create_table(
        "status_banners",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("district_id", sa.Integer(), nullable=True),
        sa.Column("message", sa.String(length=500), nullable=False),
        sa.Column("starts_at", casestore.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", casestore.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["district_id"], ["districts.id"], name=op.f("fk_status_banners_district_id_districts"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_status_banners")),
    )
    with op.batch_alter_table("status_banners", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_status_banners_district_id"), ["district_id"], unique=False)

    op.create_table(
        "cases",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("district_id", sa.Integer(), nullable=False),
        sa.Column("contact_id", sa.Integer(), nullable=True),
        sa.Column(
            "product_area",
            sa.Enum(
                "grade_book",
                "scheduling",
                "attendance",
                "online_registration",
                "point_of_sale",
                "state_reporting",
                name="product_area",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column(
            "priority",
            sa.Enum(
                "critical",
                "high",
                "medium",
                "low",
                name="priority",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column(
            "status",
            sa.Enum(
                "new",
                "in_progress",
                "pending_verification",
                "available_in_release",
                "closed",
                name="case_status",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("summary", sa.String(length=500), nullable=False),
        sa.Column("owner_id", sa.Integer(), nullable=True),
        sa.Column("is_outage", sa.Boolean(), nullable=False),
        sa.Column("release_name", sa.String(length=120), nullable=True),
        sa.Column("created_at", casestore.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", casestore.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("closed_at", casestore.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("reopen_count", sa.Integer(), nullable=False),
        sa.Column("response_due_at", casestore.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("responded_at", casestore.types.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["contact_id"], ["contacts.id"], name=op.f("fk_cases_contact_id_contacts"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["district_id"], ["districts.id"], name=op.f("fk_cases_district_id_districts"), ondelete="RESTRICT"
        ),
        sa.ForeignKeyConstraint(
            ["owner_id"], ["advisors.id"], name=op.f("fk_cases_owner_id_advisors"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_cases")),
        sa.UniqueConstraint("number", name=op.f("uq_cases_number")),
    )
    with op.batch_alter_table("cases", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_cases_district_id"), ["district_id"], unique=False)
        batch_op.create_index(
            "ix_cases_district_outage_created", ["district_id", "is_outage", "created_at"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_cases_owner_id"), ["owner_id"], unique=False)

    op.create_table(
        "contact_phones",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("contact_id", sa.Integer(), nullable=False),
        sa.Column("e164", sa.String(length=16), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["contact_id"], ["contacts.id"], name=op.f("fk_contact_phones_contact_id_contacts"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_contact_phones")),
        sa.UniqueConstraint("contact_id", "e164", name=op.f("uq_contact_phones_contact_id")),
    )
    with op.batch_alter_table("contact_phones", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_contact_phones_e164"), ["e164"], unique=False)

    op.create_table(
        "call_log",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("call_sid", sa.String(length=64), nullable=False),
        sa.Column("from_masked", sa.String(length=32), nullable=False),
        sa.Column("contact_id", sa.Integer(), nullable=True),
        sa.Column("district_id", sa.Integer(), nullable=True),
        sa.Column("case_id", sa.Integer(), nullable=True),
        sa.Column("advisor_id", sa.Integer(), nullable=True),
        sa.Column("started_at", casestore.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("ended_at", casestore.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("path", sa.JSON(), nullable=False),
        sa.Column("outcome", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=32), nullable=True),
        sa.Column("queued_at", casestore.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("wait_seconds", sa.Integer(), nullable=False),
        sa.Column("talk_seconds", sa.Integer(), nullable=False),
        sa.Column("duration_seconds", sa.Integer(), nullable=False),
        sa.Column("recording_url", sa.String(length=500), nullable=True),
        sa.ForeignKeyConstraint(
            ["advisor_id"], ["advisors.id"], name=op.f("fk_call_log_advisor_id_advisors"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"], name=op.f("fk_call_log_case_id_cases"), ondelete="SET NULL"),
        sa.ForeignKeyConstraint(
            ["contact_id"], ["contacts.id"], name=op.f("fk_call_log_contact_id_contacts"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["district_id"], ["districts.id"], name=op.f("fk_call_log_district_id_districts"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_call_log")),
        sa.UniqueConstraint("call_sid", name=op.f("uq_call_log_call_sid")),
    )
    with op.batch_alter_table("call_log", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_call_log_district_id"), ["district_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_call_log_started_at"), ["started_at"], unique=False)

    op.create_table(
        "case_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("at", casestore.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("direction", sa.String(length=8), nullable=True),
        sa.Column("call_sid", sa.String(length=64), nullable=True),
        sa.Column("contact_id", sa.Integer(), nullable=True),
        sa.Column("advisor_id", sa.Integer(), nullable=True),
        sa.Column("outcome", sa.String(length=64), nullable=True),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["advisor_id"], ["advisors.id"], name=op.f("fk_case_events_advisor_id_advisors"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["case_id"], ["cases.id"], name=op.f("fk_case_events_case_id_cases"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["contact_id"], ["contacts.id"], name=op.f("fk_case_events_contact_id_contacts"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_case_events")),
    )
    with op.batch_alter_table("case_events", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_case_events_call_sid"), ["call_sid"], unique=False)
        batch_op.create_index(batch_op.f("ix_case_events_case_id"), ["case_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("case_events", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_case_events_case_id"))
        batch_op.drop_index(batch_op.f("ix_case_events_call_sid"))

    op.drop_table("case_events")
    with op.batch_alter_table("call_log", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_call_log_started_at"))
        batch_op.drop_index(batch_op.f("ix_call_log_district_id"))

    op.drop_table("call_log")
    with op.batch_alter_table("contact_phones", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_contact_phones_e164"))

    op.drop_table("contact_phones")
    with op.batch_alter_table("cases", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_cases_owner_id"))
        batch_op.drop_index("ix_cases_district_outage_created")
        batch_op.drop_index(batch_op.f("ix_cases_district_id"))

    op.drop_table("cases")
    with op.batch_alter_table("status_banners", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_status_banners_district_id"))

    op.drop_table("status_banners")
    with op.batch_alter_table("contacts", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_contacts_district_id"))

    op.drop_table("contacts")
    op.drop_table("advisor_skills")
    with op.batch_alter_table("rotation_overrides", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_rotation_overrides_rotation_id"))

    op.drop_table("rotation_overrides")
    op.drop_table("rotation_members")
    op.drop_table("districts")
    op.drop_table("advisors")
    op.drop_table("teams")
    op.drop_table("rotations")
    op.drop_table("holiday_rules")
    op.drop_table("engineers")
    op.drop_table("closures")
    op.drop_table("business_hours")
    with op.batch_alter_table("audit_log", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_audit_log_at"))

    op.drop_table("audit_log")
    op.drop_table("admin_users")
