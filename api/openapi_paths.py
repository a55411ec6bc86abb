"""The OpenAPI document's paths: the routing-table endpoints of `api.tables` (generated per table)
and the other endpoints of `api.views` (described by hand, one builder per area), with the shared
pieces every operation uses (error schemas, responses, paging parameters, `_op`).
"""

from __future__ import annotations

from typing import Any

from pydantic.json_schema import JsonSchemaValue

from api.openapi_rows import _put_schema, ref
from api.plumbing import DEFAULT_LIMIT, MAX_LIMIT, MAX_OFFSET
from api.tables import TABLES
from ivr.staffing import CHOOSABLE

JSON = "application/json"


# --------------------------------------------------------------------------------------------
# Shared pieces: errors, parameters
# --------------------------------------------------------------------------------------------


def _error_schemas() -> dict[str, JsonSchemaValue]:
    return {
        "Error": {
            "type": "object",
            "required": ["error"],
            "properties": {"error": {"type": "string"}, "detail": {"type": "string"}},
        },
        "FieldError": {
            "type": "object",
            "required": ["error", "field", "detail"],
            "properties": {
                "error": {"const": "invalid"},
                "field": {"type": "string", "description": "the field in the body or query that is wrong"},
                "detail": {"type": "string"},
            },
        },
        "ValidationError": {
            "type": "object",
            "required": ["error", "field", "detail", "problems"],
            "properties": {
                "error": {"const": "invalid"},
                "field": {"type": "string", "description": "the first problem's field"},
                "detail": {"type": "string", "description": "the first problem's reason"},
                "problems": {
                    "type": "array",
                    "minItems": 1,
                    "items": {
                        "type": "object",
                        "required": ["field", "detail"],
                        "properties": {
                            "field": {
                                "type": "string",
                                "examples": ["state", "phones[1]", "steps[0].engineers[1]"],
                                "description": "a path inside the row or document; `body` for all of it",
                            },
                            "detail": {"type": "string"},
                        },
                    },
                },
            },
        },
    }


def _responses() -> dict[str, Any]:
    def error(description: str, schema: str = "Error") -> dict[str, Any]:
        return {"description": description, "content": {JSON: {"schema": ref(schema)}}}

    unauthorized = error("No token, or a token that is not valid")
    unauthorized["headers"] = {"WWW-Authenticate": {"schema": {"type": "string"}}}
    return {
        "Unauthorized": unauthorized,
        "Forbidden": error("The token's role may not do this"),
        "NotFound": error("No such row"),
        "BadField": error("A field of the body or query is wrong", "FieldError"),
        "Invalid": error(
            "The row or document cannot be stored (nothing was written); every problem is listed", "ValidationError"
        ),
        "Conflict": error("A simultaneous change to the same row won; try again"),
    }


def _parameters() -> dict[str, Any]:
    return {
        "limit": {
            "name": "limit",
            "in": "query",
            "required": False,
            "description": "rows per page",
            "schema": {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT, "default": DEFAULT_LIMIT},
        },
        "offset": {
            "name": "offset",
            "in": "query",
            "required": False,
            "description": "rows to skip",
            "schema": {"type": "integer", "minimum": 0, "maximum": MAX_OFFSET, "default": 0},
        },
    }


def _rref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/responses/{name}"}


def _ok(description: str, schema: JsonSchemaValue) -> dict[str, Any]:
    return {"description": description, "content": {JSON: {"schema": schema}}}


def _body(schema: JsonSchemaValue) -> dict[str, Any]:
    return {"required": True, "content": {JSON: {"schema": schema}}}


def _op(
    op_id: str,
    tag: str,
    summary: str,
    ok: dict[str, Any],
    *,
    errors: tuple[str, ...] = (),
    writes: bool = False,
    **extra: Any,
) -> dict[str, Any]:
    responses: dict[str, Any] = {}
    responses.update(ok)
    for code, name in (("400", "BadField"), ("404", "NotFound"), ("409", "Conflict")):
        if name in errors:
            responses[code] = _rref(name)
    if "Invalid" in errors:
        responses["400"] = _rref("Invalid")
    responses["401"] = _rref("Unauthorized")
    if writes:
        responses["403"] = _rref("Forbidden")
    return {"operationId": op_id, "tags": [tag], "summary": summary, **extra, "responses": responses}


# --------------------------------------------------------------------------------------------
# Paths
# --------------------------------------------------------------------------------------------


def _table_paths(request_names: dict[str, str], item_names: dict[str, str]) -> dict[str, Any]:
    paths: dict[str, Any] = {}
    for table in TABLES.values():
        item = ref(item_names[table.section])
        key_param = {
            "name": table.key,
            "in": "path",
            "required": True,
            "description": f"the {table.key.replace('_', ' ')} (percent-encoded; it may contain '/')",
            "schema": {"type": "string", "minLength": 1},
        }
        page = {
            "type": "object",
            "required": ["items", "total", "limit", "offset"],
            "properties": {
                "items": {"type": "array", "items": item},
                "total": {"type": "integer", "minimum": 0},
                "limit": {"type": "integer"},
                "offset": {"type": "integer"},
            },
        }
        tag = "routing tables"
        paths[f"/api/{table.section}"] = {
            "get": _op(
                f"{table.section}_list",
                tag,
                f"List {table.section.replace('_', ' ')}, by {table.key}",
                {"200": _ok("One page", page)},
                errors=("BadField",),
                parameters=[{"$ref": "#/components/parameters/limit"}, {"$ref": "#/components/parameters/offset"}],
            )
        }
        operations = {
            "get": _op(
                f"{table.section}_get", tag, f"One {table.title}", {"200": _ok("The row", item)}, errors=("NotFound",)
            ),
            "put": _op(
                f"{table.section}_put",
                tag,
                f"Create or replace one {table.title} (admin)",
                {"200": _ok("Replaced (or already so)", item), "201": _ok("Created", item)},
                errors=("Invalid", "Conflict"),
                writes=True,
                requestBody=_body(_put_schema(request_names[table.section], table)),
            ),
        }
        if table.deactivates:
            operations["delete"] = _op(
                f"{table.section}_delete",
                tag,
                f"Deactivate one {table.title} (admin): active becomes false",
                {"200": _ok("The deactivated row", item)},
                errors=("NotFound", "Invalid", "Conflict"),
                writes=True,
            )
        paths[f"/api/{table.section}/{{{table.key}}}"] = {"parameters": [key_param], **operations}

    hours, holidays = ref(request_names["hours"]), ref(request_names["holidays"])
    paths["/api/hours"] = {
        "get": _op(
            "hours_get",
            "routing tables",
            "Opening hours, per weekday (days left out are closed)",
            {"200": _ok("The hours document", hours)},
        ),
        "put": _op(
            "hours_put",
            "routing tables",
            "Replace the week's opening hours (admin)",
            {"200": _ok("The hours now", hours)},
            errors=("Invalid", "Conflict"),
            writes=True,
            requestBody=_body(hours),
        ),
    }
    paths["/api/holidays"] = {
        "get": _op(
            "holidays_get",
            "routing tables",
            "Observed holiday rules and one-off closures",
            {"200": _ok("The holidays document", holidays)},
        ),
        "put": _op(
            "holidays_put",
            "routing tables",
            "Replace the observed rules and/or the closures (admin); a key left out is kept as is",
            {"200": _ok("The holidays now", holidays)},
            errors=("Invalid", "Conflict"),
            writes=True,
            requestBody=_body(holidays),
        ),
    }
    return paths


def _existing_paths() -> dict[str, Any]:
    """The endpoints of `api.views`, described by hand from their code."""
    return {**_line_paths(), **_incident_paths(), **_case_paths(), **_meta_paths()}


def _queue_schema() -> JsonSchemaValue:
    """GET /api/queue: the line now, the advisors, and today's figures (overall and by skill)."""
    nullable_str = {"type": ["string", "null"]}
    figures = {
        "type": "object",
        "properties": {
            "offered": {"type": "integer"},
            "answered": {"type": "integer"},
            "abandoned": {"type": "integer"},
            "left_message_or_callback": {"type": "integer"},
            "asa_seconds": {"type": ["number", "null"]},
            "service_level": {"type": ["number", "null"]},
            "abandonment_rate": {"type": ["number", "null"]},
        },
    }
    queue = {
        "type": "object",
        "required": [
            "now",
            "waiting",
            "longest_wait_seconds",
            "line",
            "advisors",
            "advisors_away",
            "open_callback_tasks",
            "today",
            "by_skill",
        ],
        "properties": {
            "now": {"type": "string", "format": "date-time"},
            "waiting": {"type": "integer"},
            "longest_wait_seconds": {"type": "integer"},
            "line": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {
                        "position": {"type": "integer"},
                        "call": {"type": "string"},
                        "priority": {"type": "string"},
                        "skill": {"type": "string"},
                        "waiting_seconds": {"type": "integer"},
                        "waiting_for_owner": {"type": "boolean"},
                    },
                },
            },
            "advisors": {
                "type": "object",
                "additionalProperties": {"type": "integer"},
                "description": "how many advisors are in each presence state",
            },
            "advisors_away": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {"advisor": {"type": "integer"}, "name": {"type": "string"}, "reason": nullable_str},
                },
            },
            "open_callback_tasks": {"type": "integer"},
            "today": figures,
            "by_skill": {"type": "object", "additionalProperties": figures},
        },
    }
    return queue


def _line_paths() -> dict[str, Any]:
    """The waiting line: queue figures, advisors' presence, callback and message tasks."""
    nullable_str = {"type": ["string", "null"]}
    queue = _queue_schema()
    presence = {
        "type": "object",
        "properties": {
            "advisor": {"type": "integer"},
            "name": {"type": "string"},
            "state": {"type": "string"},
            "calls_today": {"type": "integer"},
            "missed_in_a_row": {"type": "integer"},
            "away_reason": nullable_str,
        },
    }
    presence_set = {
        "type": "object",
        "required": ["state"],
        "properties": {
            "state": {"type": "string", "enum": list(CHOOSABLE)},
            "reason": {"type": ["string", "null"], "maxLength": 120},
        },
    }
    presence_now = {
        "type": "object",
        "properties": {"advisor": {"type": "integer"}, "state": {"type": "string"}, "away_reason": nullable_str},
    }
    task = {
        "type": "object",
        "properties": {
            "id": {"type": "integer"},
            "kind": {"type": "string", "enum": ["callback", "message"]},
            "case": {"type": ["integer", "null"]},
            "district": {"type": ["integer", "null"]},
            "contact": {"type": ["integer", "null"]},
            "callback_to": nullable_str,
            "callback_e164": {
                "type": ["string", "null"],
                "description": "in full for a role with the phones permission, else masked (***0134)",
            },
            "recording_url": nullable_str,
            "skill": nullable_str,
            "priority_rank": {"type": "integer"},
            "queued_at": {"type": "string", "format": "date-time"},
            "created_at": {"type": "string", "format": "date-time"},
        },
    }
    advisor_id = {"name": "advisor_id", "in": "path", "required": True, "schema": {"type": "integer"}}
    return {
        "/api/queue": {
            "get": _op("queue", "line", "The line now and today's figures", {"200": _ok("Queue figures", queue)})
        },
        "/api/advisors/presence": {
            "get": _op(
                "presence_list",
                "line",
                "Every active advisor's live presence",
                {"200": _ok("Presence", {"type": "array", "items": presence})},
            )
        },
        "/api/advisors/{advisor_id}/presence": {
            "parameters": [advisor_id],
            "post": _op(
                "presence_set",
                "line",
                "Set an advisor's presence (supervisor)",
                {"200": _ok("The presence now", presence_now)},
                errors=("BadField", "NotFound"),
                writes=True,
                requestBody=_body(presence_set),
            ),
        },
        "/api/tasks": {
            "get": _op(
                "tasks",
                "line",
                "Callback and message tasks, in queue order (at most 500)",
                {"200": _ok("Tasks", {"type": "array", "items": task})},
                errors=("BadField",),
                parameters=[
                    {
                        "name": "status",
                        "in": "query",
                        "required": False,
                        "schema": {"type": "string", "enum": ["open", "done", "cancelled"], "default": "open"},
                    }
                ],
            )
        },
    }


def _incident_paths() -> dict[str, Any]:
    """Outage incidents: the list, one with its timeline and pages, linking districts, banners."""
    nullable_str = {"type": ["string", "null"]}
    nullable_time = {"type": ["string", "null"], "format": "date-time"}
    incident = {
        "type": "object",
        "properties": {
            "id": {"type": "integer"},
            "state": {"type": "string"},
            "case": {"type": "integer"},
            "district": {"type": "string"},
            "linked_districts": {"type": "array", "items": {"type": "string"}},
            "triggered_at": {"type": "string", "format": "date-time"},
            "acknowledged_at": nullable_time,
            "acknowledged_by": nullable_str,
            "resolved_at": nullable_time,
            "resolved_by": nullable_str,
        },
    }
    incident_detail = {
        "allOf": [
            incident,
            {
                "type": "object",
                "properties": {
                    "timeline": {
                        "type": "array",
                        "items": {
                            "type": "object",
                            "properties": {
                                "at": {"type": "string", "format": "date-time"},
                                "kind": {"type": "string"},
                                "detail": nullable_str,
                            },
                        },
                    },
                    "pages": {
                        "type": "array",
                        "items": {
                            "type": "object",
                            "properties": {
                                "id": {"type": "integer"},
                                "engineer": nullable_str,
                                "channel": {"type": "string"},
                                "round": {"type": "integer"},
                                "step": {"type": "integer"},
                                "status": {"type": "string"},
                                "answered_by": nullable_str,
                                "result": nullable_str,
                                "at": {"type": "string", "format": "date-time"},
                            },
                        },
                    },
                },
            },
        ]
    }
    incident_id = {"name": "incident_id", "in": "path", "required": True, "schema": {"type": "integer"}}
    return {
        "/api/incidents": {
            "get": _op(
                "incident_list",
                "incidents",
                "Outage incidents, newest first (at most 200)",
                {"200": _ok("Incidents", {"type": "array", "items": incident})},
                errors=("BadField",),
                parameters=[
                    {
                        "name": "state",
                        "in": "query",
                        "required": False,
                        "schema": {"type": "string", "enum": ["open", "all"], "default": "open"},
                    }
                ],
            )
        },
        "/api/incidents/{incident_id}": {
            "parameters": [incident_id],
            "get": _op(
                "incident_detail",
                "incidents",
                "One incident with its timeline and pages",
                {"200": _ok("The incident", incident_detail)},
                errors=("NotFound",),
            ),
        },
        "/api/incidents/{incident_id}/districts": {
            "parameters": [incident_id],
            "post": _op(
                "incident_link",
                "incidents",
                "Link another district to the incident (supervisor)",
                {"200": _ok("The incident", incident)},
                errors=("BadField", "NotFound"),
                writes=True,
                requestBody=_body(
                    {
                        "type": "object",
                        "required": ["district"],
                        "properties": {
                            "district": {"type": "string", "minLength": 1, "description": "a district's name"}
                        },
                    }
                ),
            ),
        },
        "/api/incidents/{incident_id}/banner": {
            "parameters": [incident_id],
            "post": _op(
                "incident_banner",
                "incidents",
                "Set a status banner for every district of the incident (supervisor)",
                {
                    "200": _ok(
                        "The banner",
                        {
                            "type": "object",
                            "properties": {
                                "incident": {"type": "integer"},
                                "districts": {"type": "array", "items": {"type": "string"}},
                                "expires_minutes": {"type": "integer"},
                            },
                        },
                    )
                },
                errors=("BadField", "NotFound"),
                writes=True,
                requestBody=_body(
                    {
                        "type": "object",
                        "required": ["message"],
                        "properties": {
                            "message": {"type": "string", "minLength": 3, "maxLength": 500},
                            "expires_minutes": {"type": "integer", "minimum": 1, "maximum": 10080, "default": 120},
                        },
                    }
                ),
            ),
        },
    }


def _case_paths() -> dict[str, Any]:
    """Cases: setting a case's status."""
    return {
        "/api/cases/{number}/status": {
            "parameters": [
                {
                    "name": "number",
                    "in": "path",
                    "required": True,
                    "schema": {"type": "integer", "minimum": 0, "maximum": 2**31 - 1},
                }
            ],
            "post": _op(
                "case_status",
                "cases",
                "Set a case's status: pending_verification starts the 3 x 10 follow-up (admin)",
                {
                    "200": _ok(
                        "The case",
                        {
                            "type": "object",
                            "properties": {
                                "case": {"type": "integer"},
                                "status": {"type": "string"},
                                "release_name": {"type": ["string", "null"]},
                                "response_due_at": {"type": ["string", "null"], "format": "date-time"},
                            },
                        },
                    )
                },
                errors=("BadField", "NotFound"),
                writes=True,
                requestBody=_body(
                    {
                        "type": "object",
                        "required": ["status"],
                        "properties": {
                            "status": {
                                "type": "string",
                                "enum": ["pending_verification", "available_in_release", "in_progress", "closed"],
                            },
                            "release_name": {"type": "string", "minLength": 1, "maxLength": 120},
                        },
                    }
                ),
            ),
        }
    }


def _meta_paths() -> dict[str, Any]:
    """This document itself."""
    return {
        "/api/openapi.json": {
            "get": {
                "operationId": "openapi",
                "tags": ["meta"],
                "summary": "This document (no token needed)",
                "security": [],
                "responses": {"200": _ok("The OpenAPI document", {"type": "object"})},
            }
        }
    }
