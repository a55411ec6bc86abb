"""The OpenAPI document's paths of the routing-table endpoints of `api.tables`: per table a list,
and get / put (and, for a table whose rows deactivate, delete) of one row by its key; then the
whole-document endpoints for the opening hours and the holidays.
"""

from __future__ import annotations

from typing import Any

from api.openapi_parts import _array, _body, _integer, _object, _ok, _op, _paging, _path_param, _string
from api.openapi_rows import _put_schema, ref
from api.tables import TABLES, Table

TAG = "routing tables"


def _table_paths(request_names: dict[str, str], item_names: dict[str, str]) -> dict[str, Any]:
    """Every table's paths, then hours and holidays; `request_names` and `item_names` name each
    section's request and response schemas in `components.schemas`."""
    paths: dict[str, Any] = {}
    for table in TABLES.values():
        item = ref(item_names[table.section])
        paths[f"/api/{table.section}"] = {"get": _list_op(table, item)}
        key_param = _path_param(
            table.key, _string(minLength=1), f"the {table.key.replace('_', ' ')} (percent-encoded; it may contain '/')"
        )
        paths[f"/api/{table.section}/{{{table.key}}}"] = {
            "parameters": [key_param],
            **_row_ops(table, item, request_names[table.section]),
        }
    hours, holidays = ref(request_names["hours"]), ref(request_names["holidays"])
    paths["/api/hours"] = _document_ops(
        "hours",
        hours,
        ("Opening hours, per weekday (days left out are closed)", "The hours document"),
        ("Replace the week's opening hours (admin)", "The hours now"),
    )
    paths["/api/holidays"] = _document_ops(
        "holidays",
        holidays,
        ("Observed holiday rules and one-off closures", "The holidays document"),
        ("Replace the observed rules and/or the closures (admin); a key left out is kept as is", "The holidays now"),
    )
    return paths


def _list_op(table: Table, item: dict[str, Any]) -> dict[str, Any]:
    """GET /api/<section>: one page of the table's rows, by key."""
    page = _object(
        {"items": _array(item), "total": _integer(minimum=0), "limit": _integer(), "offset": _integer()},
        "items",
        "total",
        "limit",
        "offset",
    )
    return _op(
        f"{table.section}_list",
        TAG,
        f"List {table.section.replace('_', ' ')}, by {table.key}",
        {"200": _ok("One page", page)},
        errors=("BadField",),
        parameters=_paging(),
    )


def _row_ops(table: Table, item: dict[str, Any], request_name: str) -> dict[str, Any]:
    """GET, PUT (and DELETE, if the table's rows deactivate) /api/<section>/{key}."""
    operations = {
        "get": _op(
            f"{table.section}_get", TAG, f"One {table.title}", {"200": _ok("The row", item)}, errors=("NotFound",)
        ),
        "put": _op(
            f"{table.section}_put",
            TAG,
            f"Create or replace one {table.title} (admin)",
            {"200": _ok("Replaced (or already so)", item), "201": _ok("Created", item)},
            errors=("Invalid", "Conflict"),
            writes=True,
            requestBody=_body(_put_schema(request_name, table)),
        ),
    }
    if table.deactivates:
        operations["delete"] = _op(
            f"{table.section}_delete",
            TAG,
            f"Deactivate one {table.title} (admin): active becomes false",
            {"200": _ok("The deactivated row", item)},
            errors=("NotFound", "Invalid", "Conflict"),
            writes=True,
        )
    return operations


def _document_ops(name: str, schema: dict[str, Any], get: tuple[str, str], put: tuple[str, str]) -> dict[str, Any]:
    """GET and PUT of a whole document (hours, holidays): (summary, response description) each."""
    return {
        "get": _op(f"{name}_get", TAG, get[0], {"200": _ok(get[1], schema)}),
        "put": _op(
            f"{name}_put",
            TAG,
            put[0],
            {"200": _ok(put[1], schema)},
            errors=("Invalid", "Conflict"),
            writes=True,
            requestBody=_body(schema),
        ),
    }
