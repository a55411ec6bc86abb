"""The OpenAPI document's paths of the endpoints of `api.views`, described by hand from their code,
one builder per area: the line (`api.openapi_line`), incidents (`api.openapi_incidents`), cases and
the call log (`api.openapi_records`), and here
the small ones, case status and this document itself. The routing-table paths are generated per
table in `api.openapi_tables`; the pieces every path is written with are in `api.openapi_parts`.
"""

from __future__ import annotations

from typing import Any

from api.openapi_incidents import _incident_paths
from api.openapi_line import _line_paths
from api.openapi_parts import _body, _integer, _object, _ok, _op, _path_param, _string, _string_or_null, _time_or_null
from api.openapi_records import _record_paths


def _existing_paths() -> dict[str, Any]:
    """The endpoints of `api.views`, described by hand from their code."""
    return {**_line_paths(), **_incident_paths(), **_case_paths(), **_record_paths(), **_meta_paths()}


def _case_paths() -> dict[str, Any]:
    """Cases: setting a case's status."""
    case = _object(
        {"case": _integer(), "status": _string(), "release_name": _string_or_null(), "response_due_at": _time_or_null()}
    )
    status_set = _object(
        {
            "status": _string(enum=["pending_verification", "available_in_release", "in_progress", "closed"]),
            "release_name": _string(minLength=1, maxLength=120),
        },
        "status",
    )
    return {
        "/api/cases/{number}/status": {
            "parameters": [_path_param("number", _integer(minimum=0, maximum=2**31 - 1))],
            "post": _op(
                "case_status",
                "cases",
                "Set a case's status: pending_verification starts the 3 x 10 follow-up (admin)",
                {"200": _ok("The case", case)},
                errors=("BadField", "NotFound"),
                writes=True,
                requestBody=_body(status_set),
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
