"""The shared pieces of the OpenAPI document's paths: the error schemas, the standard responses
and paging parameters (`components`), and the small builders every path definition is written
with: schemas of one type (`_integer`, `_string`, `_object`, `_array`, ...), parameters
(`_path_param`, `_query_enum`), a JSON response or body (`_ok`, `_body`) and an operation with its
standard error responses (`_op`).

Every builder returns a new dict (nothing in the document is shared by accident).
"""

from __future__ import annotations

from typing import Any

from pydantic.json_schema import JsonSchemaValue

from api.openapi_rows import ref
from api.plumbing import DEFAULT_LIMIT, MAX_LIMIT, MAX_OFFSET

JSON = "application/json"


# --------------------------------------------------------------------------------------------
# Schemas
# --------------------------------------------------------------------------------------------


def _integer(**keywords: Any) -> dict[str, Any]:
    return {"type": "integer", **keywords}


def _integer_or_null() -> dict[str, Any]:
    return {"type": ["integer", "null"]}


def _number_or_null() -> dict[str, Any]:
    return {"type": ["number", "null"]}


def _string(**keywords: Any) -> dict[str, Any]:
    return {"type": "string", **keywords}


def _string_or_null(**keywords: Any) -> dict[str, Any]:
    return {"type": ["string", "null"], **keywords}


def _boolean() -> dict[str, Any]:
    return {"type": "boolean"}


def _time() -> dict[str, Any]:
    """A date-time string."""
    return _string(format="date-time")


def _time_or_null() -> dict[str, Any]:
    return _string_or_null(format="date-time")


def _array(items: JsonSchemaValue, **keywords: Any) -> dict[str, Any]:
    return {"type": "array", **keywords, "items": items}


def _object(properties: dict[str, Any], *required: str) -> dict[str, Any]:
    """An object with these properties, the `required` ones named (if any)."""
    if required:
        return {"type": "object", "required": list(required), "properties": properties}
    return {"type": "object", "properties": properties}


def _map_of(values: JsonSchemaValue, **keywords: Any) -> dict[str, Any]:
    """An object whose keys are free and whose values are all `values`."""
    return {"type": "object", "additionalProperties": values, **keywords}


# --------------------------------------------------------------------------------------------
# Components: errors, responses, parameters
# --------------------------------------------------------------------------------------------


def _error_schemas() -> dict[str, JsonSchemaValue]:
    problem_field = _string(
        examples=["state", "phones[1]", "steps[0].engineers[1]"],
        description="a path inside the row or document; `body` for all of it",
    )
    return {
        "Error": _object({"error": _string(), "detail": _string()}, "error"),
        "FieldError": _object(
            {
                "error": {"const": "invalid"},
                "field": _string(description="the field in the body or query that is wrong"),
                "detail": _string(),
            },
            "error",
            "field",
            "detail",
        ),
        "ValidationError": _object(
            {
                "error": {"const": "invalid"},
                "field": _string(description="the first problem's field"),
                "detail": _string(description="the first problem's reason"),
                "problems": _array(
                    _object({"field": problem_field, "detail": _string()}, "field", "detail"), minItems=1
                ),
            },
            "error",
            "field",
            "detail",
            "problems",
        ),
    }


def _responses() -> dict[str, Any]:
    def error(description: str, schema: str = "Error") -> dict[str, Any]:
        return _ok(description, ref(schema))

    unauthorized = error(
        'No token (`error` "unauthorized"), or one that is not valid (`error` "invalid_token": mistyped or replaced)'
    )
    unauthorized["headers"] = {"WWW-Authenticate": {"schema": _string()}}
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
        "limit": _query(
            "limit", _integer(minimum=1, maximum=MAX_LIMIT, default=DEFAULT_LIMIT), description="rows per page"
        ),
        "offset": _query("offset", _integer(minimum=0, maximum=MAX_OFFSET, default=0), description="rows to skip"),
    }


# --------------------------------------------------------------------------------------------
# Parameters, bodies, responses, operations
# --------------------------------------------------------------------------------------------


def _path_param(name: str, schema: JsonSchemaValue, description: str | None = None) -> dict[str, Any]:
    """A required path parameter."""
    param: dict[str, Any] = {"name": name, "in": "path", "required": True}
    if description is not None:
        param["description"] = description
    param["schema"] = schema
    return param


def _query(name: str, schema: JsonSchemaValue, description: str | None = None) -> dict[str, Any]:
    """An optional query parameter."""
    param: dict[str, Any] = {"name": name, "in": "query", "required": False}
    if description is not None:
        param["description"] = description
    param["schema"] = schema
    return param


def _query_enum(name: str, values: list[str], default: str) -> dict[str, Any]:
    """An optional query parameter that takes one of `values`."""
    return _query(name, _string(enum=values, default=default))


def _paging() -> list[dict[str, str]]:
    """The `limit` and `offset` query parameters (`components.parameters`)."""
    return [{"$ref": "#/components/parameters/limit"}, {"$ref": "#/components/parameters/offset"}]


def _rref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/responses/{name}"}


def _ok(description: str, schema: JsonSchemaValue) -> dict[str, Any]:
    """A JSON response."""
    return {"description": description, "content": {JSON: {"schema": schema}}}


def _body(schema: JsonSchemaValue) -> dict[str, Any]:
    """A required JSON request body."""
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
    """An operation: its `ok` responses, then the standard error responses of `errors` (names in
    `components.responses`), 401 always and 403 for an operation that `writes`."""
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
