"""Console and API accounts, and the audit log of who changed what."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from casestore.models.base import Base, _enum
from casestore.types import AdminRole, UTCDateTime, utcnow


class AdminUser(Base):
    __tablename__ = "admin_users"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(80), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[AdminRole] = mapped_column(_enum(AdminRole, "admin_role"), default=AdminRole.VIEWER)
    api_token_hash: Mapped[str | None] = mapped_column(String(128), unique=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # Part of every console session's id: bumped on sign-out and on a password change, so every
    # session cookie issued before then stops working (`auth.admins.end_sessions`).
    session_version: Mapped[int] = mapped_column(Integer, default=0, server_default="0")


class AuditEntry(Base):
    """Who changed what, when, with the before and after values."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    actor: Mapped[str] = mapped_column(String(120))  # "admin:alice", "cli:load", "ivr:CA…"
    action: Mapped[str] = mapped_column(String(40))  # create, update, delete, reopen, load
    entity: Mapped[str] = mapped_column(String(40))
    entity_key: Mapped[str] = mapped_column(String(120))
    before: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    after: Mapped[dict[str, Any] | None] = mapped_column(JSON)
