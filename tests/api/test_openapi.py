"""The OpenAPI document (`api.openapi`): well formed, complete (every /api route of the app),
true (real requests and responses match its schemas), and a schema-driven fuzz of every operation
that must never produce a server error.

openapi-spec-validator and jsonschema are not installed (and no dependency is added for this), so
`check_document` checks the structure the OpenAPI 3.1 specification asks for, and `errors_of` is a
small JSON Schema validator for the keywords the document uses.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, date, datetime
from typing import Any
from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.api.test_tables import ROUND_TRIPS, url

METHODS = {"get", "put", "post", "delete", "patch", "options", "head", "trace"}


@pytest.fixture(scope="module")
def doc() -> dict[str, Any]:
    from api.openapi import document

    return document()


def resolve(doc: dict, node: Any) -> Any:
    while isinstance(node, dict) and "$ref" in node:
        target = node["$ref"]
        assert target.startswith("#/"), target
        found: Any = doc
        for part in target[2:].split("/"):
            part = part.replace("~1", "/").replace("~0", "~")
            assert isinstance(found, dict) and part in found, f"unresolved $ref {target}"
            found = found[part]
        node = found
    return node


# --------------------------------------------------------------------------------------------
# A small JSON Schema (2020-12) validator: the keywords the document uses
# --------------------------------------------------------------------------------------------

_TYPES = {
    "string": lambda v: isinstance(v, str),
    "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
    "number": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
    "boolean": lambda v: isinstance(v, bool),
    "null": lambda v: v is None,
    "array": lambda v: isinstance(v, list),
    "object": lambda v: isinstance(v, dict),
}


def _format_ok(fmt: str, value: str) -> bool:
    try:
        if fmt == "date":
            return bool(re.fullmatch(r"\d{4}-\d{2}-\d{2}", value)) and bool(date.fromisoformat(value))
        if fmt == "date-time":
            return datetime.fromisoformat(value.replace("Z", "+00:00")).tzinfo is not None
        if fmt == "email":
            return "@" in value
    except ValueError:
        return False
    return True


def errors_of(doc: dict, schema: Any, value: Any, where: str = "") -> list[str]:
    schema = resolve(doc, schema)
    if schema is True or schema == {}:
        return []
    if schema is False:
        return [f"{where}: not allowed"]
    out: list[str] = []
    for sub in schema.get("allOf", []):
        out += errors_of(doc, sub, value, where)
    if "anyOf" in schema and not any(not errors_of(doc, s, value, where) for s in schema["anyOf"]):
        out.append(f"{where}: matches none of anyOf")
    if "const" in schema and value != schema["const"]:
        out.append(f"{where}: not {schema['const']!r}")
    if "enum" in schema and value not in schema["enum"]:
        out.append(f"{where}: {value!r} not in enum")
    if "type" in schema:
        types = schema["type"] if isinstance(schema["type"], list) else [schema["type"]]
        if not any(_TYPES[t](value) for t in types):
            return out + [f"{where}: {value!r} is not {types}"]
    if isinstance(value, str):
        if len(value) < schema.get("minLength", 0) or len(value) > schema.get("maxLength", 10**9):
            out.append(f"{where}: length {len(value)}")
        if "pattern" in schema and not re.search(schema["pattern"], value):
            out.append(f"{where}: {value!r} does not match {schema['pattern']}")
        if "format" in schema and not _format_ok(schema["format"], value):
            out.append(f"{where}: {value!r} is not a {schema['format']}")
    if (
        isinstance(value, (int, float))
        and not isinstance(value, bool)
        and not schema.get("minimum", float("-inf")) <= value <= schema.get("maximum", float("inf"))
    ):
        out.append(f"{where}: {value} out of range")
    if isinstance(value, list):
        if len(value) < schema.get("minItems", 0) or len(value) > schema.get("maxItems", 10**9):
            out.append(f"{where}: {len(value)} items")
        for i, item in enumerate(value):
            if "items" in schema:
                out += errors_of(doc, schema["items"], item, f"{where}[{i}]")
    if isinstance(value, dict):
        props = schema.get("properties", {})
        for name in schema.get("required", []):
            if name not in value:
                out.append(f"{where}.{name}: required")
        for name, item in value.items():
            if name in props:
                out += errors_of(doc, props[name], item, f"{where}.{name}")
            elif schema.get("additionalProperties") is False:
                out.append(f"{where}.{name}: not allowed")
            elif isinstance(schema.get("additionalProperties"), dict):
                out += errors_of(doc, schema["additionalProperties"], item, f"{where}.{name}")
    return out


# --------------------------------------------------------------------------------------------
# The document is well formed
# --------------------------------------------------------------------------------------------


def _walk_schema(doc: dict, schema: Any, where: str, problems: list[str]) -> None:
    if isinstance(schema, bool):
        return
    if not isinstance(schema, dict):
        problems.append(f"{where}: a schema must be an object")
        return
    if "$defs" in schema:
        problems.append(f"{where}: $defs left inside (should be hoisted into components)")
    if "$ref" in schema:
        if not schema["$ref"].startswith("#/components/schemas/"):
            problems.append(f"{where}: $ref {schema['$ref']} is not a component schema")
        else:
            try:
                resolve(doc, {"$ref": schema["$ref"]})
            except AssertionError as exc:
                problems.append(f"{where}: {exc}")
    types = schema.get("type")
    for t in types if isinstance(types, list) else [types] if types else []:
        if t not in _TYPES:
            problems.append(f"{where}: unknown type {t!r}")
    if "pattern" in schema:
        try:
            re.compile(schema["pattern"])
        except re.error as exc:
            problems.append(f"{where}: bad pattern ({exc})")
    if "enum" in schema and not (isinstance(schema["enum"], list) and schema["enum"]):
        problems.append(f"{where}: empty enum")
    for low, high in (("minimum", "maximum"), ("minLength", "maxLength"), ("minItems", "maxItems")):
        if low in schema and high in schema and schema[low] > schema[high]:
            problems.append(f"{where}: {low} > {high}")
    props = schema.get("properties", {})
    if schema.get("additionalProperties") is False:
        for name in schema.get("required", []):
            if name not in props:
                problems.append(f"{where}: required {name!r} is not a property")
    for name, sub in props.items():
        _walk_schema(doc, sub, f"{where}.properties.{name}", problems)
    for key in ("items", "additionalProperties"):
        if isinstance(schema.get(key), dict):
            _walk_schema(doc, schema[key], f"{where}.{key}", problems)
    for key in ("anyOf", "allOf", "oneOf", "prefixItems"):
        for i, sub in enumerate(schema.get(key, [])):
            _walk_schema(doc, sub, f"{where}.{key}[{i}]", problems)


def check_document(doc: dict) -> list[str]:
    """The OpenAPI 3.1 rules a validator would check, as far as this document uses them."""
    problems: list[str] = []
    if not re.fullmatch(r"3\.1\.\d+", str(doc.get("openapi"))):
        problems.append("openapi must be 3.1.x")
    info = doc.get("info", {})
    if not (isinstance(info.get("title"), str) and isinstance(info.get("version"), str)):
        problems.append("info needs a title and a version")
    components = doc.get("components", {})
    for kind in ("schemas", "responses", "parameters", "securitySchemes"):
        for name in components.get(kind, {}):
            if not re.fullmatch(r"[a-zA-Z0-9._-]+", name):
                problems.append(f"components.{kind}: bad name {name!r}")
    schemes = components.get("securitySchemes", {})
    for name, scheme in schemes.items():
        if scheme.get("type") == "http" and not scheme.get("scheme"):
            problems.append(f"securityScheme {name}: http needs scheme")

    def check_security(requirements: Any, where: str) -> None:
        for requirement in requirements:
            for name in requirement:
                if name not in schemes:
                    problems.append(f"{where}: unknown security scheme {name!r}")

    check_security(doc.get("security", []), "security")
    for name, schema in components.get("schemas", {}).items():
        _walk_schema(doc, schema, f"components.schemas.{name}", problems)
    operation_ids: set[str] = set()
    for path, item in doc.get("paths", {}).items():
        if not path.startswith("/"):
            problems.append(f"{path}: paths start with /")
        templated = set(re.findall(r"\{([^}]+)\}", path))
        shared = [resolve(doc, p) for p in item.get("parameters", [])]
        for key in item:
            if key not in METHODS | {"summary", "description", "servers", "parameters", "$ref"}:
                problems.append(f"{path}: unknown key {key!r}")
        for method in METHODS & set(item):
            op, where = item[method], f"{method.upper()} {path}"
            if op.get("operationId") in operation_ids:
                problems.append(f"{where}: duplicate operationId")
            operation_ids.add(op.get("operationId"))
            params = shared + [resolve(doc, p) for p in op.get("parameters", [])]
            for p in params:
                if p.get("in") not in ("query", "header", "path", "cookie") or not p.get("name"):
                    problems.append(f"{where}: bad parameter {p}")
                if ("schema" in p) == ("content" in p):
                    problems.append(f"{where}: parameter {p.get('name')} needs schema or content")
                if p.get("in") == "path" and (p.get("required") is not True or p["name"] not in templated):
                    problems.append(f"{where}: path parameter {p['name']} must be required and in the path")
                if "schema" in p:
                    _walk_schema(doc, p["schema"], f"{where} parameter {p.get('name')}", problems)
            missing = templated - {p["name"] for p in params if p.get("in") == "path"}
            if missing:
                problems.append(f"{where}: path parameters {missing} are not declared")
            responses = op.get("responses")
            if not responses:
                problems.append(f"{where}: no responses")
            for code, response in (responses or {}).items():
                if not re.fullmatch(r"[1-5](\d\d|XX)|default", code):
                    problems.append(f"{where}: bad status {code}")
                response = resolve(doc, response)
                if not isinstance(response.get("description"), str):
                    problems.append(f"{where} {code}: a response needs a description")
                for media in response.get("content", {}).values():
                    _walk_schema(doc, media.get("schema", {}), f"{where} {code}", problems)
            if "requestBody" in op:
                body = resolve(doc, op["requestBody"])
                if not body.get("content"):
                    problems.append(f"{where}: requestBody needs content")
                for media in body.get("content", {}).values():
                    _walk_schema(doc, media.get("schema", {}), f"{where} body", problems)
            check_security(op.get("security", []), where)
    if "#/$defs/" in json.dumps(doc):
        problems.append("a $ref into $defs is left")
    return problems


def test_the_document_is_well_formed_openapi_3_1(doc):
    try:  # the real validator, where someone has it installed
        from openapi_spec_validator import validate as validate_spec  # type: ignore[import-not-found]
    except ImportError:
        validate_spec = None
    if validate_spec is not None:
        validate_spec(doc)
    assert check_document(doc) == []
    json.dumps(doc, allow_nan=False)  # plain JSON
    assert doc["components"]["securitySchemes"]["bearer"] == {
        "type": "http",
        "scheme": "bearer",
        "description": "a per-user API token, slt_...",
    }
    assert doc["security"] == [{"bearer": []}]


def test_the_structural_check_catches_mistakes(doc):
    broken = json.loads(json.dumps(doc))
    broken["openapi"] = "3.0.0"
    broken["paths"]["/api/teams/{name}"]["parameters"] = []
    broken["paths"]["/api/teams"]["get"]["responses"]["200"]["content"]["application/json"]["schema"]["properties"][
        "items"
    ]["items"] = {"$ref": "#/components/schemas/Nope"}
    broken["components"]["schemas"]["DistrictRow"]["properties"]["state"]["pattern"] = "(["
    found = "\n".join(check_document(broken))
    for needle in ("3.1.x", "{'name'} are not declared", "unresolved $ref #/components/schemas/Nope", "bad pattern"):
        assert needle in found


def _flask_paths(app) -> dict[str, set[str]]:
    routes: dict[str, set[str]] = {}
    for rule in app.url_map.iter_rules():
        if rule.rule == "/api" or rule.rule.startswith("/api/"):
            path = re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", r"{\1}", rule.rule)
            routes.setdefault(path, set()).update(m.lower() for m in rule.methods - {"HEAD", "OPTIONS"})
    return routes


def test_every_api_route_is_in_the_document_with_its_methods(app, doc):
    routes = _flask_paths(app)
    documented = {path: METHODS & set(item) for path, item in doc["paths"].items()}
    assert routes == documented
    assert {
        "/api/teams",
        "/api/contacts/{contact_id}",
        "/api/hours",
        "/api/queue",
        "/api/openapi.json",
        "/api/incidents/{incident_id}/banner",
    } <= set(routes)


def test_the_document_is_served_without_a_token(client, doc):
    resp = client.get("/api/openapi.json")
    assert resp.status_code == 200 and resp.is_json and resp.get_json() == doc
    assert resp.get_json()["paths"]["/api/openapi.json"]["get"]["security"] == []
    assert client.get("/api/teams").status_code == 401  # the rest still needs a token


def test_schemas_come_from_the_row_models(doc):
    schemas = doc["components"]["schemas"]
    district = schemas["DistrictRow"]
    assert district["additionalProperties"] is False and set(district["required"]) == {"name", "state"}
    assert district["properties"]["name"]["maxLength"] == 200 and district["properties"]["state"]["pattern"]
    route_order = schemas["TeamRow"]["properties"]["route_order"]
    assert (route_order["type"], route_order["minimum"], route_order["maximum"]) == ("integer", 0, 1_000_000)
    assert schemas["TeamRow"]["properties"]["kind"]["$ref"] == "#/components/schemas/TeamKind"
    assert schemas["ContactRow"]["properties"]["pin"]["writeOnly"] is True
    assert "pin" not in schemas["Contact"]["properties"] and schemas["Contact"]["properties"]["id"]["readOnly"]
    hours_day = resolve(doc, schemas["HoursDoc"]["properties"]["mon"])["anyOf"][0]
    assert hours_day["type"] == "array" and hours_day["items"]["type"] == "string"
    rotation = schemas["RotationRow"]["properties"]
    assert rotation["overrides"]["items"]["$ref"] == "#/components/schemas/OverrideRow"
    assert rotation["handoff_time"]["pattern"] and "format" not in rotation["handoff_time"]


# --------------------------------------------------------------------------------------------
# The document is true: real requests and responses match it
# --------------------------------------------------------------------------------------------


def _operation(doc: dict, path: str, method: str) -> dict:
    return doc["paths"][path][method]


def _response_schema(doc: dict, op: dict, status: int) -> Any:
    response = resolve(doc, op["responses"][str(status)])
    return response["content"]["application/json"]["schema"]


def _request_schema(doc: dict, op: dict) -> Any:
    return resolve(doc, op["requestBody"])["content"]["application/json"]["schema"]


@pytest.mark.parametrize("section, key, body, expected, change", ROUND_TRIPS, ids=[r[0] for r in ROUND_TRIPS])
def test_requests_and_responses_match_the_document(client, api_auth, world, doc, section, key, body, expected, change):
    admin, viewer = api_auth("admin"), api_auth("viewer")
    key_field = "contact_id" if section == "contacts" else "name"
    item_path, list_path = f"/api/{section}/{{{key_field}}}", f"/api/{section}"
    put = _operation(doc, item_path, "put")
    assert errors_of(doc, _request_schema(doc, put), {key_field: key, **body}) == []
    created = client.put(url(section, key), json=body, headers=admin)
    assert errors_of(doc, _response_schema(doc, put, created.status_code), created.get_json()) == []
    listed = client.get(list_path + "?limit=2", headers=viewer)
    assert errors_of(doc, _response_schema(doc, _operation(doc, list_path, "get"), 200), listed.get_json()) == []
    got = client.get(url(section, key), headers=viewer)
    assert errors_of(doc, _response_schema(doc, _operation(doc, item_path, "get"), 200), got.get_json()) == []
    missing = "/api/contacts/1111" if section == "contacts" else url(section, "zz-none")
    for (op_path, method), resp in (
        ((item_path, "put"), client.put(url(section, key), json=body, headers=viewer)),
        ((item_path, "put"), client.put(url(section, key), json={"no such field": 1}, headers=admin)),
        ((item_path, "get"), client.get(missing, headers=viewer)),
        ((list_path, "get"), client.get(list_path)),
    ):
        op = _operation(doc, op_path, method)
        assert str(resp.status_code) in op["responses"], (op_path, method, resp.status_code)
        assert errors_of(doc, _response_schema(doc, op, resp.status_code), resp.get_json()) == []


def test_bad_rows_do_not_match_the_request_schemas(doc):
    schemas = doc["components"]["schemas"]
    assert errors_of(doc, schemas["DistrictRow"], {"name": "X", "state": "Minnesota"})
    assert errors_of(doc, schemas["ContactRow"], {"contact_id": "0123", "district": "D", "name": "N"})
    assert errors_of(doc, schemas["ContactRow"], {"contact_id": 1234, "district": "D", "name": "N", "pin": "12"})
    assert errors_of(doc, schemas["TeamRow"], {"name": "T", "route_order": -1})
    assert errors_of(doc, schemas["HoursDoc"], {"mon": ["7 to 6"]})
    assert not errors_of(doc, schemas["HoursDoc"], {"mon": ["07:00-18:00"], "tue": None})


def test_hours_holidays_and_existing_endpoints_match_the_document(client, api_auth, world, doc):
    admin = api_auth("admin")
    for path, body in (
        ("/api/hours", {"mon": ["07:00-18:00"]}),
        ("/api/holidays", {"observe": ["thanksgiving"], "closures": [{"date": "2026-12-24", "name": "Eve"}]}),
    ):
        put = _operation(doc, path, "put")
        assert errors_of(doc, _request_schema(doc, put), body) == []
        resp = client.put(path, json=body, headers=admin)
        assert resp.status_code == 200 and errors_of(doc, _response_schema(doc, put, 200), resp.get_json()) == []
        assert (
            errors_of(
                doc,
                _response_schema(doc, _operation(doc, path, "get"), 200),
                client.get(path, headers=admin).get_json(),
            )
            == []
        )
    for path in ("/api/queue", "/api/advisors/presence", "/api/tasks", "/api/incidents"):
        resp = client.get(path, headers=admin)
        assert errors_of(doc, _response_schema(doc, _operation(doc, path, "get"), 200), resp.get_json()) == [], path
    op = _operation(doc, "/api/advisors/{advisor_id}/presence", "post")
    resp = client.post(
        f"/api/advisors/{world.lena.id}/presence", json={"state": "away", "reason": "lunch"}, headers=admin
    )
    assert errors_of(doc, _response_schema(doc, op, 200), resp.get_json()) == []
    resp = client.post(f"/api/advisors/{world.lena.id}/presence", json={"state": "nope"}, headers=admin)
    assert resp.status_code == 400 and errors_of(doc, _response_schema(doc, op, 400), resp.get_json()) == []


# --------------------------------------------------------------------------------------------
# Fuzz: arbitrary paths, queries and bodies for every operation; never a server error
# --------------------------------------------------------------------------------------------

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=12,
)
KNOWN = [
    "Campus Support",
    "Lakeview Public Schools",
    "Prairie Ridge USD",
    "Priya Raman",
    "Lena Ortiz",
    "Sam Ortiz",
    "Lee Chen",
    "Hosting primary",
    "104233",
    "+16125550134",
    "client:x",
    "presence",
    "07:00-18:00",
    "mon",
    "primary",
    "2026-12-24",
    "2026-11-20T09:00:00-06:00",
    "America/Chicago",
    "",
    " ",
    "\x00",
    "a/b",
    "%",
    "..",
]


def _mostly(valid: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """`valid` four times in five, otherwise any JSON value."""
    return st.integers(0, 4).flatmap(lambda n: json_values if n == 0 else valid)


def from_schema(doc: dict, schema: Any, depth: int = 0) -> st.SearchStrategy[Any]:
    """Values shaped by `schema` (mostly valid; strings also from names that exist), for the fuzz."""
    schema = resolve(doc, schema)
    if depth > 6 or not isinstance(schema, dict):
        return json_values
    if "allOf" in schema:
        return from_schema(doc, schema["allOf"][0], depth + 1)
    if "anyOf" in schema:
        return st.one_of([from_schema(doc, s, depth + 1) for s in schema["anyOf"]])
    if "const" in schema:
        return st.just(schema["const"])
    if "enum" in schema:
        return st.sampled_from(schema["enum"])
    kind = schema.get("type")
    if isinstance(kind, list):
        return st.one_of([from_schema(doc, {**schema, "type": k}, depth + 1) for k in kind])
    if kind == "string":
        if "pattern" in schema:
            return st.from_regex(schema["pattern"], fullmatch=True) | st.sampled_from(KNOWN)
        if schema.get("format") == "date":
            return st.dates().map(date.isoformat)
        if schema.get("format") == "date-time":
            return st.datetimes(timezones=st.just(UTC)).map(datetime.isoformat)
        if schema.get("format") == "email":
            return st.emails() | st.text(max_size=30)
        return st.text(max_size=schema.get("maxLength", 30)) | st.sampled_from(KNOWN)
    if kind == "integer":
        return st.integers(schema.get("minimum"), schema.get("maximum")) | st.integers()
    if kind == "number":
        return st.floats()
    if kind == "boolean":
        return st.booleans()
    if kind == "null":
        return st.none()
    if kind == "array":
        return st.lists(from_schema(doc, schema.get("items", {}), depth + 1), max_size=3)
    if kind == "object" or "properties" in schema:
        props = schema.get("properties", {})
        values = {name: _mostly(from_schema(doc, sub, depth + 1)) for name, sub in props.items()}
        required = [n for n in schema.get("required", []) if n in values]
        return st.fixed_dictionaries(
            {n: values[n] for n in required}, optional={n: v for n, v in values.items() if n not in required}
        )
    return json_values


@pytest.fixture
def admin(api_auth):
    return api_auth("admin")


def _operations(doc: dict) -> list[tuple[str, str]]:
    return [(path, method) for path, item in doc["paths"].items() for method in sorted(METHODS & set(item))]


def _all_operations() -> list[tuple[str, str]]:
    from api.openapi import document

    return _operations(document())


def _body_field(doc: dict, op: dict, name: str) -> Any:
    """The schema of field `name` of the operation's request body (a row), if it has one."""
    if "requestBody" not in op:
        return None
    schema = resolve(doc, _request_schema(doc, op))
    schema = resolve(doc, schema.get("allOf", [schema])[0])
    return schema.get("properties", {}).get(name)


@pytest.mark.parametrize("path, method", _all_operations(), ids=lambda v: v)
@settings(
    max_examples=30,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.filter_too_much,
        HealthCheck.data_too_large,
    ],
)
@given(data=st.data())
def test_no_input_gives_a_server_error(client, admin, world, doc, path, method, data):
    op = doc["paths"][path][method]
    params = [resolve(doc, p) for p in doc["paths"][path].get("parameters", []) + op.get("parameters", [])]
    target = path
    drawn: dict[str, Any] = {}
    query: dict[str, str] = {}
    for p in params:
        if p["in"] == "path":
            if p["schema"].get("type") == "integer":  # see the xfail below for ids past the column's range
                raw = str(data.draw(st.integers(0, 2**31 - 1), label=p["name"]))
            else:
                keys = st.text(max_size=40) | st.sampled_from(KNOWN)
                field = _body_field(doc, op, p["name"])
                if field is not None:  # a valid key (a contact ID, a name), too
                    keys |= from_schema(doc, field).filter(lambda v: isinstance(v, str))
                text = drawn[p["name"]] = data.draw(keys, label=p["name"])
                raw = quote(text, safe=data.draw(st.sampled_from(["", "/"]), label="safe"))
            target = target.replace("{" + p["name"] + "}", raw)
        elif p["in"] == "query" and data.draw(st.booleans(), label=f"send {p['name']}"):
            value = data.draw(from_schema(doc, p["schema"]) | st.text(max_size=12), label=p["name"])
            query[p["name"]] = value if isinstance(value, str) else json.dumps(value)
    headers = dict(admin)
    body: bytes | None = None
    if "requestBody" in op or data.draw(st.booleans(), label="body anyway"):
        shaped = from_schema(doc, _request_schema(doc, op)) if "requestBody" in op else json_values
        kind = data.draw(st.sampled_from(["shaped", "shaped", "shaped", "json", "bytes"]), label="body kind")
        if kind == "bytes":
            body = data.draw(st.binary(max_size=60), label="body")
        else:
            value = data.draw(shaped if kind == "shaped" else json_values, label="body")
            key = next((p["name"] for p in params if p["in"] == "path"), None)
            if isinstance(value, dict) and key in value:  # mostly the URL's key, so rows get past that check
                choice = data.draw(st.sampled_from(["url", "url", "drop", "keep"]), label="body key")
                if choice == "drop":
                    del value[key]
                elif choice == "url":
                    value[key] = drawn.get(key, value[key])
            body = json.dumps(value).encode()
        headers["Content-Type"] = "application/json"
    resp = client.open(target, method=method.upper(), query_string=query, data=body, headers=headers)
    assert resp.status_code < 500, (method, target, query, body, resp.get_data(as_text=True)[:500])
    if resp.status_code == 400 and resp.is_json:
        assert resp.get_json()["error"] == "invalid" and isinstance(resp.get_json()["field"], str)


def test_existing_endpoints_take_ids_past_the_integer_range_as_404(client, api_auth, world):
    auth = api_auth("admin")
    for method, path, body in (
        ("GET", "/api/incidents/2147483648", None),
        ("GET", "/api/incidents/99999999999999999999", None),
        ("POST", "/api/incidents/99999999999999999999/banner", {"message": "Down"}),
        ("POST", "/api/incidents/99999999999999999999/districts", {"district": "x"}),
        ("POST", "/api/advisors/99999999999999999999/presence", {"state": "away"}),
    ):
        assert client.open(path, method=method, json=body, headers=auth).status_code == 404, path
