"""routing_version: a change counter for the routing tables workers cache in memory

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-28
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "routing_version",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_routing_version")),
    )
    op.execute("INSERT INTO routing_version (id, version) VALUES (1, 0)")


def downgrade() -> None:
    op.drop_table("routing_version")
