"""The OpenAPI document's schemas for the routing tables, from the load file's pydantic row models.

`component_schemas` runs `models_json_schema` over every row model (requests in validation mode,
responses in serialization mode) with `RowSchemas`, which turns the `BeforeValidator`s of
`casestore.interchange.fields` back into JSON Schema (`_validator_schema`); every `$defs` entry is
hoisted into `components.schemas`. A response item is the row's schema in serialization mode plus
its `id`, without the write-only `pin`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pydantic.json_schema import GenerateJsonSchema, JsonSchemaMode, JsonSchemaValue, models_json_schema

from api.tables import TABLES, Table
from casestore.interchange import fields
from casestore.interchange.rows import HolidaysDoc, HoursDoc
from casestore.types import HOLIDAY_RULES

REF = "#/components/schemas/{model}"
_TIME = r"([01]?[0-9]|2[0-3]):[0-5][0-9](:[0-5][0-9])?"


def ref(name: str) -> dict[str, str]:
    return {"$ref": REF.format(model=name)}


# --------------------------------------------------------------------------------------------
# Schemas from the row models
# --------------------------------------------------------------------------------------------


def _closure(fn: Callable[..., Any]) -> dict[str, Any]:
    names = getattr(getattr(fn, "__code__", None), "co_freevars", ())
    cells = getattr(fn, "__closure__", None) or ()
    return {name: cell.cell_contents for name, cell in zip(names, cells, strict=True)}


def _validator_schema(fn: Callable[..., Any], mode: JsonSchemaMode) -> JsonSchemaValue | None:
    """The JSON Schema of what a field validator of `casestore.interchange.fields` accepts
    (mode "validation") or what the API sends back (mode "serialization"); None: unknown."""
    if getattr(fn, "__module__", None) != fields.__name__:
        return None
    out = mode == "serialization"
    for schema in (_made_schema(fn), _identity_schema(fn, out), _value_schema(fn, out)):
        if schema is not None:
            return schema
    return None


def _made_schema(fn: Callable[..., Any]) -> JsonSchemaValue | None:
    """The validators `fields` makes per field (`_text`, `strict_int`): their bounds are in the closure."""
    name = getattr(fn, "__qualname__", "")
    free = _closure(fn)
    if name == "_text.<locals>.check" and {"max_len", "allow_empty"} <= set(free):
        schema: JsonSchemaValue = {"type": "string", "maxLength": free["max_len"]}
        if not free["allow_empty"]:
            schema["minLength"] = 1
        return schema
    if name == "strict_int.<locals>.check" and {"low", "high"} <= set(free):
        return {"type": "integer", "minimum": free["low"], "maximum": free["high"]}
    return None


def _identity_schema(fn: Callable[..., Any], out: bool) -> JsonSchemaValue | None:
    """Who and how to reach them: contact ID, PIN, phone number, advisor reach, e-mail, state."""
    if fn is fields._contact_id:
        text = {"type": "string", "pattern": "^[1-9][0-9]{3,9}$"}
        if out:
            return text
        return {
            "anyOf": [text, {"type": "integer", "minimum": 1000, "maximum": 9_999_999_999}],
            "description": "4 to 10 digits, no leading zero (text, or a number)",
        }
    if fn is fields._pin:
        return {
            "type": "string",
            "pattern": "^[0-9]{4,8}$",
            "writeOnly": True,
            "description": "4 to 8 digits; stored hashed, never returned; left out: the PIN stays",
        }
    if fn is fields._phone:
        if out:
            return {
                "type": "string",
                "pattern": r"^(\+[1-9][0-9]{6,14}|\*\*\*[0-9]{4})$",
                "description": "E.164; masked to its last four digits (***0134) for a role without "
                "the phones permission (viewers)",
            }
        return {
            "type": "string",
            "minLength": 1,
            "examples": ["+16125550134", "(612) 555-0134"],
            "description": "a phone number in any common notation (national numbers in the "
            "configured default region); stored as E.164",
        }
    if fn is fields._reach:
        return {
            "type": "string",
            "minLength": 1,
            "maxLength": 255,
            "examples": ["+16125550101", "client:lena", "sip:lena@pbx.example.com"],
            "description": "how to ring the advisor: a phone number (stored as E.164), "
            "client:NAME (Twilio Client) or a sip:/sips: URI; one holding a phone "
            "number is masked (***0101) for a role without the phones permission",
        }
    if fn is fields._email:
        return {"type": "string", "format": "email", "maxLength": 254}
    if fn is fields._state:
        return {
            "type": "string",
            "pattern": "^[A-Z]{2}$" if out else "^[A-Za-z]{2}$",
            "description": "two-letter state code",
        }
    return None


def _value_schema(fn: Callable[..., Any], out: bool) -> JsonSchemaValue | None:
    """Plain values: booleans, instants, dates, times of day, opening ranges, time zones, holiday keys."""
    if fn is fields._bool:
        return {"type": "boolean"}
    if fn is fields._aware_datetime:
        return {
            "type": "string",
            "format": "date-time",
            "description": "ISO-8601 with an offset; returned in UTC" if not out else "UTC",
        }
    if fn is fields._date:
        return {"type": "string", "format": "date"}
    if fn is fields._time:
        return {"type": "string", "pattern": f"^{_TIME}$", "description": "a local time of day, HH:MM"}
    if fn is fields._hours_range:
        return {
            "type": "string",
            "pattern": f"^{_TIME}-{_TIME}$",
            "examples": ["07:00-18:00"],
            "description": "opens-closes, local time; closes after it opens",
        }
    if fn is fields._timezone:
        return {
            "type": "string",
            "minLength": 1,
            "maxLength": 64,
            "examples": ["America/Chicago"],
            "description": "an IANA time zone name",
        }
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
        "title": table.title,
        "type": "object",
        "additionalProperties": False,
        "properties": properties,
        "required": list(properties),
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
        ref_template=REF,
        schema_generator=RowSchemas,
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
