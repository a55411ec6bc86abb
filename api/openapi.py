"""The OpenAPI 3.1 document of the JSON API (`GET /api/openapi.json`, served without a token).

* Routing tables (`api.tables`): the request and response schemas come from the load
  file's pydantic row models (`model_json_schema` through `models_json_schema`, every `$defs`
  entry hoisted into `components.schemas`). The row models check values with `BeforeValidator`s,
  which pydantic cannot see through, so `RowSchemas` turns the validators of
  `casestore.interchange.fields` back into JSON Schema (lengths, patterns, ranges, formats); any
  validator it does not know keeps pydantic's own schema. A response item is the row's schema in
  serialization mode plus its `id`, without the write-only `pin`.
  The table paths are generated in `api.openapi_tables`.
* The other endpoints of `api.views` are described by hand in `api.openapi_paths` (`_existing_paths`,
  one module per area: `api.openapi_line`, `api.openapi_incidents`).

`tests/api/test_openapi.py` checks that every `/api` route of the app is in the document with the
same methods, and that the document is well formed: a new route needs a description here.

The schemas are built in `api.openapi_rows`, the paths in `api.openapi_tables` and
`api.openapi_paths` (with the shared pieces of `api.openapi_parts`: error schemas, standard
responses, paging parameters, `_op`); this module puts the document together.
"""

from __future__ import annotations

import copy
from functools import lru_cache
from importlib import metadata
from typing import Any

from api.openapi_parts import _error_schemas, _parameters, _responses
from api.openapi_paths import _existing_paths
from api.openapi_rows import component_schemas
from api.openapi_tables import _table_paths


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
        "tags": [
            {"name": "line"},
            {"name": "incidents"},
            {"name": "cases"},
            {"name": "records"},
            {"name": "routing tables"},
            {"name": "meta"},
        ],
        "paths": {**_existing_paths(), **_table_paths(request_names, item_names)},
        "components": {
            "schemas": schemas,
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer", "description": "a per-user API token, slt_..."}
            },
            "parameters": _parameters(),
            "responses": _responses(),
        },
    }


def document() -> dict[str, Any]:
    """The OpenAPI document (a fresh copy: callers may change it)."""
    return copy.deepcopy(_document())
