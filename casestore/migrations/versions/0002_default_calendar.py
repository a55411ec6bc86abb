"""default calendar: the support document's hours and nine observed holidays

Live support Monday-Friday 06:00-18:00 (local to SUPPORT_TIMEZONE) and the nine holidays the
support document lists. Both are data: admins and load files change them without a deploy.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-28
"""

from __future__ import annotations

from datetime import time

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

RULES = [
    ("new_years_day", "New Year's Day"),
    ("memorial_day", "Memorial Day"),
    ("juneteenth", "Juneteenth"),
    ("independence_day", "Independence Day"),
    ("labor_day", "Labor Day"),
    ("thanksgiving", "Thanksgiving"),
    ("day_after_thanksgiving", "the day after Thanksgiving"),
    ("christmas_eve", "Christmas Eve"),
    ("christmas_day", "Christmas Day"),
]


def upgrade() -> None:
    hours = sa.table(
        "business_hours", sa.column("weekday", sa.String), sa.column("opens", sa.Time), sa.column("closes", sa.Time)
    )
    op.bulk_insert(
        hours, [{"weekday": d, "opens": time(6), "closes": time(18)} for d in ("mon", "tue", "wed", "thu", "fri")]
    )
    rules = sa.table(
        "holiday_rules", sa.column("key", sa.String), sa.column("name", sa.String), sa.column("active", sa.Boolean)
    )
    op.bulk_insert(rules, [{"key": k, "name": n, "active": True} for k, n in RULES])


def downgrade() -> None:
    op.execute("DELETE FROM holiday_rules")
    op.execute("DELETE FROM business_hours")
