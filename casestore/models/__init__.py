"""The case store's tables: districts, contacts, advisors, cases, logs, calendar, on-call, admins.

Typed SQLAlchemy 2 models. Every instant is a tz-aware UTC `UTCDateTime`; every lookup the call
flow makes (phone -> contact, contact ID -> contact, case number -> case, CallSid -> call) is indexed.
Schema changes go through Alembic (`casestore/migrations`), never `create_all` in production.

A package by area; this module re-exports every name, so `from casestore.models import X` keeps
working. Importing it defines every table on `Base.metadata` and registers the routing-version hook.
"""

from __future__ import annotations

from casestore.models.admin import AdminUser, AuditEntry
from casestore.models.advisors import Advisor, AdvisorHold, AdvisorSkill
from casestore.models.base import NAMING, Base, _enum
from casestore.models.calendar import BusinessHours, Closure, HolidayRule, StatusBanner
from casestore.models.calls import AuthFailure, CallLog, CallStateRow
from casestore.models.cases import CallbackTask, Case, CaseEvent, FollowUp, Survey
from casestore.models.directory import Contact, ContactPhone, District, Team
from casestore.models.incidents import Incident, IncidentDistrict, IncidentEvent, Page
from casestore.models.oncall import (
    Engineer,
    EscalationPolicy,
    EscalationStep,
    EscalationStepEngineer,
    Rotation,
    RotationMember,
    RotationOverride,
)
from casestore.models.routing_version import (
    _NOT_ROUTING,
    ROUTING_TABLES,
    RoutingVersion,
    _bump_routing_version,
    _routing_change,
)

__all__ = [
    "NAMING",
    "ROUTING_TABLES",
    "_NOT_ROUTING",
    "AdminUser",
    "Advisor",
    "AdvisorHold",
    "AdvisorSkill",
    "AuditEntry",
    "AuthFailure",
    "Base",
    "BusinessHours",
    "CallLog",
    "CallStateRow",
    "CallbackTask",
    "Case",
    "CaseEvent",
    "Closure",
    "Contact",
    "ContactPhone",
    "District",
    "Engineer",
    "EscalationPolicy",
    "EscalationStep",
    "EscalationStepEngineer",
    "FollowUp",
    "HolidayRule",
    "Incident",
    "IncidentDistrict",
    "IncidentEvent",
    "Page",
    "Rotation",
    "RotationMember",
    "RotationOverride",
    "RoutingVersion",
    "StatusBanner",
    "Survey",
    "Team",
    "_bump_routing_version",
    "_enum",
    "_routing_change",
]
