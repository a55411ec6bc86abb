"""The OpenAPI 3.1 document of the JSON API (`GET /api/openapi.json`, served without a token).

* Routing tables (`api.tables`): the request and response schemas come from the load
  file's pydantic row models (`model_json_schema` through `models_json_schema`, every `$defs`
  entry hoisted into `components.schemas`). The row models check values with `BeforeValidator`s,
  which pydantic cannot see through, so `RowSchemas` turns the validators of
  `casestore.interchange.fields` back into JSON Schema (lengths, patterns, ranges, formats); any
  validator it does not know keeps pydantic's own schema. A response item is the row's schema in
  serialization mode plus its `id`, without the write-only `pin`.
* The other endpoints of `api.views` are described by hand below (`_existing_paths`).

`tests/api/test_openapi.py` checks that every `/api` route of the app is in the document with the
same methods, and that the document is well formed: a new route needs a description here.
"""

from __future__ import annotations

import copy
from functools import lru_cache
from importlib import metadata
from typing import Any, Callable

from pydantic.json_schema import GenerateJsonSchema, JsonSchemaMode, JsonSchemaValue, models_json_schema

from casestore.interchange import fields
from casestore.interchange.rows import HolidaysDoc, HoursDoc
from casestore.types import HOLIDAY_RULES
from ivr.staffing import CHOOSABLE
from api.tables import DEFAULT_LIMIT, MAX_LIMIT, MAX_OFFSET, TABLES, Table

REF = "#/components/schemas/{model}"
_TIME = r"([01]?[0-9]|2[0-3]):[0-5][0-9](:[0-5][0-9])?"
JSON = "application/json"


def ref(name: str) -> dict[str, str]:
    return {"$ref": REF.format(model=name)}


# --------------------------------------------------------------------------------------------
# Schemas from the row models
# --------------------------------------------------------------------------------------------


def _closure(fn: Callable[..., Any]) -> dict[str, Any]:
    names = getattr(getattr(fn, "__code__", None), "co_freevars", ())
    cells = getattr(fn, "__closure__", None) or ()
    return {name: cell.cell_contents for name, cell in zip(names, cells)}


def _validator_schema(fn: Callable[..., Any], mode: JsonSchemaMode) -> JsonSchemaValue | None:
    """The JSON Schema of what a field validator of `casestore.interchange.fields` accepts
    (mode "validation") or what the API sends back (mode "serialization"); None: unknown."""
    if getattr(fn, "__module__", None) != fields.__name__:
        return None
    out = mode == "serialization"
    name = getattr(fn, "__qualname__", "")
    free = _closure(fn)
    if name == "_text.<locals>.check" and {"max_len", "allow_empty"} <= set(free):
        schema: JsonSchemaValue = {"type": "string", "maxLength": free["max_len"]}
        if not free["allow_empty"]:
            schema["minLength"] = 1
        return schema
    if name == "strict_int.<locals>.check" and {"low", "high"} <= set(free):
        return {"type": "integer", "minimum": free["low"], "maximum": free["high"]}
    if fn is fields._contact_id:
        text = {"type": "string", "pattern": "^[1-9][0-9]{3,9}$"}
        if out:
            return text
        return {"anyOf": [text, {"type": "integer", "minimum": 1000, "maximum": 9_999_999_999}],
                "description": "4 to 10 digits, no leading zero (text, or a number)"}
    if fn is fields._pin:
        return {"type": "string", "pattern": "^[0-9]{4,8}$", "writeOnly": True,
                "description": "4 to 8 digits; stored hashed, never returned; left out: the PIN stays"}
    if fn is fields._phone:
        if out:
            return {"type": "string", "pattern": r"^(\+[1-9][0-9]{6,14}|\*\*\*[0-9]{4})$",
                    "description": "E.164; masked to its last four digits (***0134) for a role without "
                                   "the phones permission (viewers)"}
        return {"type": "string", "minLength": 1, "examples": ["+16125550134", "(612) 555-0134"],
                "description": "a phone number in any common notation (national numbers in the "
                               "configured default region); stored as E.164"}
    if fn is fields._reach:
        return {"type": "string", "minLength": 1, "maxLength": 255,
                "examples": ["+16125550101", "client:lena", "sip:lena@pbx.example.com"],
                "description": "how to ring the advisor: a phone number (stored as E.164), "
                               "client:NAME (Twilio Client) or a sip:/sips: URI; one holding a phone "
                               "number is masked (***0101) for a role without the phones permission"}
    if fn is fields._email:
        return {"type": "string", "format": "email", "maxLength": 254}
    if fn is fields._state:
        return {"type": "string", "pattern": "^[A-Z]{2}$" if out else "^[A-Za-z]{2}$",
                "description": "two-letter state code"}
    if fn is fields._bool:
        return {"type": "boolean"}
    if fn is fields._aware_datetime:
        return {"type": "string", "format": "date-time",
                "description": "ISO-8601 with an offset; returned in UTC" if not out else "UTC"}
    if fn is fields._date:
        return {"type": "string", "format": "date"}
    if fn is fields._time:
        return {"type": "string", "pattern": f"^{_TIME}$", "description": "a local time of day, HH:MM"}
    if fn is fields._hours_range:
        return {"type": "string", "pattern": f"^{_TIME}-{_TIME}$", "examples": ["07:00-18:00"],
                "description": "opens-closes, local time; closes after it opens"}
    if fn is fields._timezone:
        return {"type": "string", "minLength": 1, "maxLength": 64, "examples": ["America/Chicago"],
                "description": "an IANA time zone name"}
    if fn is fields._holiday_key:
        return {"type": "string", "enum": list(HOLIDAY_RULES)}
    return None


class RowSchemas(GenerateJsonSchema):
    """pydantic's generator, reading the field validators of the row models (see the module doc)."""

    def function_before_schema(self, schema: Any) -> JsonSchemaValue:
        found = _validator_schema(schema["function"]["function"], self.mode)
        return found if found is not None else super().function_before_schema(schema)


def _rewrite_refs(node: Any, renames: dict[str, str]) -> Any:
    if isinstance(node, dict):
        out = {k: _rewrite_refs(v, renames) for k, v in node.items()}
        target = out.get("$ref")
        if isinstance(target, str) and target.startswith("#/components/schemas/"):
            name = target.rsplit("/", 1)[1]
            out["$ref"] = REF.format(model=renames.get(name, name))
        return out
    if isinstance(node, list):
        return [_rewrite_refs(v, renames) for v in node]
    return node


def _item_schema(table: Table, row_schema: JsonSchemaValue) -> JsonSchemaValue:
    """What GET returns: the row (serialization mode) plus `id`, every key present, no PIN."""
    properties = {"id": {"type": "integer", "readOnly": True, "description": "the database id"}}
    for name, prop in row_schema["properties"].items():
        if name == "pin":
            continue
        prop = {k: v for k, v in prop.items() if k != "default"}
        properties[name] = prop
    return {
        "title": table.title, "type": "object", "additionalProperties": False,
        "properties": properties, "required": list(properties),
    }


def _put_schema(row_schema_ref: str, table: Table) -> JsonSchemaValue:
    return {
        "allOf": [ref(row_schema_ref)],
        "description": f"One row of the load file's `{table.section}` section. `{table.key}` may be left "
                       f"out (the URL's is used); when given it must match the URL. Fields left out take "
                       f"their defaults. An `id` (as GET returns it) is tolerated when it is this row's.",
    }


def component_schemas() -> tuple[dict[str, JsonSchemaValue], dict[str, str], dict[str, str]]:
    """(components.schemas, section -> request schema name, section -> item schema name)."""
    requests: list[Any] = [t.row for t in TABLES.values()] + [HoursDoc, HolidaysDoc]
    keyed, top = models_json_schema(
        [(m, "validation") for m in requests] + [(t.row, "serialization") for t in TABLES.values()],
        ref_template=REF, schema_generator=RowSchemas,
    )
    defs: dict[str, JsonSchemaValue] = dict(top.get("$defs", {}))
    # pydantic names a model "X-Input"/"X-Output" when its two modes differ: requests keep "X".
    renames = {}
    for name in list(defs):
        if name.endswith("-Input") and name.removesuffix("-Input") not in defs:
            renames[name] = name.removesuffix("-Input")
        elif name.endswith("-Output") and name.removesuffix("-Output") + "Output" not in defs:
            renames[name] = name.removesuffix("-Output") + "Output"
    defs = {renames.get(k, k): _rewrite_refs(v, renames) for k, v in defs.items()}
    for schema in defs.values():  # tools read writeOnly on the property, not inside its anyOf
        for prop in schema.get("properties", {}).values():
            if any(isinstance(sub, dict) and sub.get("writeOnly") for sub in prop.get("anyOf", [])):
                prop["writeOnly"] = True

    def name_of(model: Any, mode: JsonSchemaMode) -> str:
        target = keyed[(model, mode)]["$ref"].rsplit("/", 1)[1]
        return renames.get(target, target)

    schemas: dict[str, JsonSchemaValue] = {}
    request_names: dict[str, str] = {}
    item_names: dict[str, str] = {}
    used_for_requests = {name_of(m, "validation") for m in requests}
    for table in TABLES.values():
        request_names[table.section] = name_of(table.row, "validation")
        output = name_of(table.row, "serialization")
        schemas[table.title] = _item_schema(table, defs[output])
        if output not in used_for_requests:
            del defs[output]  # only the item (an inlined copy) uses it
        item_names[table.section] = table.title
    request_names["hours"] = name_of(HoursDoc, "validation")
    request_names["holidays"] = name_of(HolidaysDoc, "validation")
    for name, schema in defs.items():
        if name in schemas:
            raise RuntimeError(f"two schemas are called {name!r}")
        schemas[name] = schema
    return schemas, request_names, item_names


# --------------------------------------------------------------------------------------------
# Shared pieces: errors, parameters
# --------------------------------------------------------------------------------------------


def _error_schemas() -> dict[str, JsonSchemaValue]:
    return {
        "Error": {
            "type": "object", "required": ["error"],
            "properties": {"error": {"type": "string"}, "detail": {"type": "string"}},
        },
        "FieldError": {
            "type": "object", "required": ["error", "field", "detail"],
            "properties": {
                "error": {"const": "invalid"},
                "field": {"type": "string", "description": "the field in the body or query that is wrong"},
                "detail": {"type": "string"},
            },
        },
        "ValidationError": {
            "type": "object", "required": ["error", "field", "detail", "problems"],
            "properties": {
                "error": {"const": "invalid"},
                "field": {"type": "string", "description": "the first problem's field"},
                "detail": {"type": "string", "description": "the first problem's reason"},
                "problems": {
                    "type": "array", "minItems": 1,
                    "items": {
                        "type": "object", "required": ["field", "detail"],
                        "properties": {
                            "field": {"type": "string", "examples": ["state", "phones[1]", "steps[0].engineers[1]"],
                                      "description": "a path inside the row or document; `body` for all of it"},
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
        "Invalid": error("The row or document cannot be stored (nothing was written); every problem is "
                         "listed", "ValidationError"),
        "Conflict": error("A simultaneous change to the same row won; try again"),
    }


def _parameters() -> dict[str, Any]:
    return {
        "limit": {"name": "limit", "in": "query", "required": False, "description": "rows per page",
                  "schema": {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT, "default": DEFAULT_LIMIT}},
        "offset": {"name": "offset", "in": "query", "required": False, "description": "rows to skip",
                   "schema": {"type": "integer", "minimum": 0, "maximum": MAX_OFFSET, "default": 0}},
    }


def _rref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/responses/{name}"}


def _ok(description: str, schema: JsonSchemaValue) -> dict[str, Any]:
    return {"description": description, "content": {JSON: {"schema": schema}}}


def _body(schema: JsonSchemaValue) -> dict[str, Any]:
    return {"required": True, "content": {JSON: {"schema": schema}}}


def _op(op_id: str, tag: str, summary: str, ok: dict[str, Any], *, errors: tuple[str, ...] = (),
        writes: bool = False, **extra: Any) -> dict[str, Any]:
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
            "name": table.key, "in": "path", "required": True,
            "description": f"the {table.key.replace('_', ' ')} (percent-encoded; it may contain '/')",
            "schema": {"type": "string", "minLength": 1},
        }
        page = {
            "type": "object", "required": ["items", "total", "limit", "offset"],
            "properties": {
                "items": {"type": "array", "items": item}, "total": {"type": "integer", "minimum": 0},
                "limit": {"type": "integer"}, "offset": {"type": "integer"},
            },
        }
        tag = "routing tables"
        paths[f"/api/{table.section}"] = {
            "get": _op(f"{table.section}_list", tag, f"List {table.section.replace('_', ' ')}, by {table.key}",
                       {"200": _ok("One page", page)}, errors=("BadField",),
                       parameters=[{"$ref": "#/components/parameters/limit"},
                                   {"$ref": "#/components/parameters/offset"}]),
        }
        operations = {
            "get": _op(f"{table.section}_get", tag, f"One {table.title}", {"200": _ok("The row", item)},
                       errors=("NotFound",)),
            "put": _op(f"{table.section}_put", tag, f"Create or replace one {table.title} (admin)",
                       {"200": _ok("Replaced (or already so)", item), "201": _ok("Created", item)},
                       errors=("Invalid", "Conflict"), writes=True,
                       requestBody=_body(_put_schema(request_names[table.section], table))),
        }
        if table.deactivates:
            operations["delete"] = _op(
                f"{table.section}_delete", tag, f"Deactivate one {table.title} (admin): active becomes false",
                {"200": _ok("The deactivated row", item)}, errors=("NotFound", "Invalid", "Conflict"), writes=True,
            )
        paths[f"/api/{table.section}/{{{table.key}}}"] = {"parameters": [key_param], **operations}

    hours, holidays = ref(request_names["hours"]), ref(request_names["holidays"])
    paths["/api/hours"] = {
        "get": _op("hours_get", "routing tables", "Opening hours, per weekday (days left out are closed)",
                   {"200": _ok("The hours document", hours)}),
        "put": _op("hours_put", "routing tables", "Replace the week's opening hours (admin)",
                   {"200": _ok("The hours now", hours)}, errors=("Invalid", "Conflict"), writes=True,
                   requestBody=_body(hours)),
    }
    paths["/api/holidays"] = {
        "get": _op("holidays_get", "routing tables", "Observed holiday rules and one-off closures",
                   {"200": _ok("The holidays document", holidays)}),
        "put": _op("holidays_put", "routing tables",
                   "Replace the observed rules and/or the closures (admin); a key left out is kept as is",
                   {"200": _ok("The holidays now", holidays)}, errors=("Invalid", "Conflict"), writes=True,
                   requestBody=_body(holidays)),
    }
    return paths


def _existing_paths() -> dict[str, Any]:
    """The endpoints of `api.views`, described by hand from their code."""
    nullable_str = {"type": ["string", "null"]}
    nullable_time = {"type": ["string", "null"], "format": "date-time"}
    figures = {
        "type": "object",
        "properties": {
            "offered": {"type": "integer"}, "answered": {"type": "integer"}, "abandoned": {"type": "integer"},
            "left_message_or_callback": {"type": "integer"},
            "asa_seconds": {"type": ["number", "null"]}, "service_level": {"type": ["number", "null"]},
            "abandonment_rate": {"type": ["number", "null"]},
        },
    }
    queue = {
        "type": "object",
        "required": ["now", "waiting", "longest_wait_seconds", "line", "advisors", "advisors_away",
                     "open_callback_tasks", "today", "by_skill"],
        "properties": {
            "now": {"type": "string", "format": "date-time"},
            "waiting": {"type": "integer"}, "longest_wait_seconds": {"type": "integer"},
            "line": {"type": "array", "items": {"type": "object", "properties": {
                "position": {"type": "integer"}, "call": {"type": "string"}, "priority": {"type": "string"},
                "skill": {"type": "string"}, "waiting_seconds": {"type": "integer"},
                "waiting_for_owner": {"type": "boolean"}}}},
            "advisors": {"type": "object", "additionalProperties": {"type": "integer"},
                         "description": "how many advisors are in each presence state"},
            "advisors_away": {"type": "array", "items": {"type": "object", "properties": {
                "advisor": {"type": "integer"}, "name": {"type": "string"}, "reason": nullable_str}}},
            "open_callback_tasks": {"type": "integer"},
            "today": figures,
            "by_skill": {"type": "object", "additionalProperties": figures},
        },
    }
    presence = {"type": "object", "properties": {
        "advisor": {"type": "integer"}, "name": {"type": "string"}, "state": {"type": "string"},
        "calls_today": {"type": "integer"}, "missed_in_a_row": {"type": "integer"}, "away_reason": nullable_str}}
    presence_set = {"type": "object", "required": ["state"], "properties": {
        "state": {"type": "string", "enum": list(CHOOSABLE)},
        "reason": {"type": ["string", "null"], "maxLength": 120}}}
    presence_now = {"type": "object", "properties": {
        "advisor": {"type": "integer"}, "state": {"type": "string"}, "away_reason": nullable_str}}
    task = {"type": "object", "properties": {
        "id": {"type": "integer"}, "kind": {"type": "string", "enum": ["callback", "message"]},
        "case": {"type": ["integer", "null"]}, "district": {"type": ["integer", "null"]},
        "contact": {"type": ["integer", "null"]}, "callback_to": nullable_str,
        "callback_e164": {"type": ["string", "null"],
                          "description": "in full for a role with the phones permission, else masked (***0134)"},
        "recording_url": nullable_str, "skill": nullable_str, "priority_rank": {"type": "integer"},
        "queued_at": {"type": "string", "format": "date-time"},
        "created_at": {"type": "string", "format": "date-time"}}}
    incident = {"type": "object", "properties": {
        "id": {"type": "integer"}, "state": {"type": "string"}, "case": {"type": "integer"},
        "district": {"type": "string"}, "linked_districts": {"type": "array", "items": {"type": "string"}},
        "triggered_at": {"type": "string", "format": "date-time"},
        "acknowledged_at": nullable_time, "acknowledged_by": nullable_str,
        "resolved_at": nullable_time, "resolved_by": nullable_str}}
    incident_detail = {"allOf": [incident, {"type": "object", "properties": {
        "timeline": {"type": "array", "items": {"type": "object", "properties": {
            "at": {"type": "string", "format": "date-time"}, "kind": {"type": "string"},
            "detail": nullable_str}}},
        "pages": {"type": "array", "items": {"type": "object", "properties": {
            "id": {"type": "integer"}, "engineer": nullable_str, "channel": {"type": "string"},
            "round": {"type": "integer"}, "step": {"type": "integer"}, "status": {"type": "string"},
            "answered_by": nullable_str, "result": nullable_str,
            "at": {"type": "string", "format": "date-time"}}}}}}]}
    advisor_id = {"name": "advisor_id", "in": "path", "required": True, "schema": {"type": "integer"}}
    incident_id = {"name": "incident_id", "in": "path", "required": True, "schema": {"type": "integer"}}
    return {
        "/api/queue": {"get": _op("queue", "line", "The line now and today's figures",
                                  {"200": _ok("Queue figures", queue)})},
        "/api/advisors/presence": {"get": _op("presence_list", "line", "Every active advisor's live presence",
                                              {"200": _ok("Presence", {"type": "array", "items": presence})})},
        "/api/advisors/{advisor_id}/presence": {
            "parameters": [advisor_id],
            "post": _op("presence_set", "line", "Set an advisor's presence (supervisor)",
                        {"200": _ok("The presence now", presence_now)}, errors=("BadField", "NotFound"),
                        writes=True, requestBody=_body(presence_set)),
        },
        "/api/tasks": {"get": _op(
            "tasks", "line", "Callback and message tasks, in queue order (at most 500)",
            {"200": _ok("Tasks", {"type": "array", "items": task})}, errors=("BadField",),
            parameters=[{"name": "status", "in": "query", "required": False,
                         "schema": {"type": "string", "enum": ["open", "done", "cancelled"], "default": "open"}}])},
        "/api/incidents": {"get": _op(
            "incident_list", "incidents", "Outage incidents, newest first (at most 200)",
            {"200": _ok("Incidents", {"type": "array", "items": incident})}, errors=("BadField",),
            parameters=[{"name": "state", "in": "query", "required": False,
                         "schema": {"type": "string", "enum": ["open", "all"], "default": "open"}}])},
        "/api/incidents/{incident_id}": {
            "parameters": [incident_id],
            "get": _op("incident_detail", "incidents", "One incident with its timeline and pages",
                       {"200": _ok("The incident", incident_detail)}, errors=("NotFound",)),
        },
        "/api/incidents/{incident_id}/districts": {
            "parameters": [incident_id],
            "post": _op("incident_link", "incidents", "Link another district to the incident (supervisor)",
                        {"200": _ok("The incident", incident)}, errors=("BadField", "NotFound"), writes=True,
                        requestBody=_body({"type": "object", "required": ["district"], "properties": {
                            "district": {"type": "string", "minLength": 1, "description": "a district's name"}}})),
        },
        "/api/incidents/{incident_id}/banner": {
            "parameters": [incident_id],
            "post": _op("incident_banner", "incidents",
                        "Set a status banner for every district of the incident (supervisor)",
                        {"200": _ok("The banner", {"type": "object", "properties": {
                            "incident": {"type": "integer"},
                            "districts": {"type": "array", "items": {"type": "string"}},
                            "expires_minutes": {"type": "integer"}}})},
                        errors=("BadField", "NotFound"), writes=True,
                        requestBody=_body({"type": "object", "required": ["message"], "properties": {
                            "message": {"type": "string", "minLength": 3, "maxLength": 500},
                            "expires_minutes": {"type": "integer", "minimum": 1, "maximum": 10080, "default": 120}}})),
        },
        "/api/cases/{number}/status": {
            "parameters": [{"name": "number", "in": "path", "required": True,
                            "schema": {"type": "integer", "minimum": 0, "maximum": 2**31 - 1}}],
            "post": _op("case_status", "cases",
                        "Set a case's status: pending_verification starts the 3 x 10 follow-up (admin)",
                        {"200": _ok("The case", {"type": "object", "properties": {
                            "case": {"type": "integer"}, "status": {"type": "string"},
                            "release_name": {"type": ["string", "null"]},
                            "response_due_at": {"type": ["string", "null"], "format": "date-time"}}})},
                        errors=("BadField", "NotFound"), writes=True,
                        requestBody=_body({"type": "object", "required": ["status"], "properties": {
                            "status": {"type": "string", "enum": ["pending_verification", "available_in_release",
                                                                  "in_progress", "closed"]},
                            "release_name": {"type": "string", "minLength": 1, "maxLength": 120}}})),
        },
        "/api/openapi.json": {"get": {
            "operationId": "openapi", "tags": ["meta"], "summary": "This document (no token needed)",
            "security": [], "responses": {"200": _ok("The OpenAPI document", {"type": "object"})},
        }},
    }


def _version() -> str:
    try:
        return metadata.version("supportline")
    except metadata.PackageNotFoundError:
        return "0"


@lru_cache(maxsize=1)
def _document() -> dict[str, Any]:
    schemas, request_names, item_names = component_schemas()
    schemas.update(_error_schemas())
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "supportline API",
            "version": _version(),
            "description": "The support line's JSON API: the waiting line, presence, tasks, incidents, and the "
                           "routing tables in the load-file format. Every request but this document's needs "
                           "`Authorization: Bearer <token>` (`supportline admin token USER`); viewers read, "
                           "supervisors also set presence, banners and incidents, admins also edit the tables.",
        },
        "jsonSchemaDialect": "https://spec.openapis.org/oas/3.1/dialect/base",
        "security": [{"bearer": []}],
        "tags": [{"name": "line"}, {"name": "incidents"}, {"name": "routing tables"}, {"name": "meta"}],
        "paths": {**_existing_paths(), **_table_paths(request_names, item_names)},
        "components": {
            "schemas": schemas,
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer",
                                           "description": "a per-user API token, slt_..."}},
            "parameters": _parameters(),
            "responses": _responses(),
        },
    }


def document() -> dict[str, Any]:
    """The OpenAPI document (a fresh copy: callers may change it)."""
    return copy.deepcopy(_document())
