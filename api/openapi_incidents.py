"""The OpenAPI document's paths of outage incidents (`api.views`, described by hand from their
code): the list, one incident with its timeline and pages, linking districts, status banners.
"""

from __future__ import annotations

from typing import Any

from pydantic.json_schema import JsonSchemaValue

from api.openapi_parts import (
    _array,
    _body,
    _integer,
    _object,
    _ok,
    _op,
    _path_param,
    _query_enum,
    _string,
    _string_or_null,
    _time,
    _time_or_null,
)

TAG = "incidents"


def _incident_paths() -> dict[str, Any]:
    """Outage incidents: the list, one with its timeline and pages, linking districts, banners."""
    incident = _incident_schema()
    incident_id = _path_param("incident_id", _integer())
    return {
        "/api/incidents": {
            "get": _op(
                "incident_list",
                TAG,
                "Outage incidents, newest first (at most 200)",
                {"200": _ok("Incidents", _array(incident))},
                errors=("BadField",),
                parameters=[_query_enum("state", ["open", "all"], "open")],
            )
        },
        "/api/incidents/{incident_id}": {
            "parameters": [incident_id],
            "get": _op(
                "incident_detail",
                TAG,
                "One incident with its timeline and pages",
                {"200": _ok("The incident", _incident_detail_schema(incident))},
                errors=("NotFound",),
            ),
        },
        "/api/incidents/{incident_id}/districts": {
            "parameters": [incident_id],
            "post": _op(
                "incident_link",
                TAG,
                "Link another district to the incident (supervisor)",
                {"200": _ok("The incident", incident)},
                errors=("BadField", "NotFound"),
                writes=True,
                requestBody=_body(
                    _object({"district": _string(minLength=1, description="a district's name")}, "district")
                ),
            ),
        },
        "/api/incidents/{incident_id}/banner": {
            "parameters": [incident_id],
            "post": _op(
                "incident_banner",
                TAG,
                "Set a status banner for every district of the incident (supervisor)",
                {"200": _ok("The banner", _banner_schema())},
                errors=("BadField", "NotFound"),
                writes=True,
                requestBody=_body(_banner_set_schema()),
            ),
        },
    }


def _incident_schema() -> JsonSchemaValue:
    """An incident as the list shows it."""
    return _object(
        {
            "id": _integer(),
            "state": _string(),
            "case": _integer(),
            "district": _string(),
            "linked_districts": _array(_string()),
            "triggered_at": _time(),
            "acknowledged_at": _time_or_null(),
            "acknowledged_by": _string_or_null(),
            "resolved_at": _time_or_null(),
            "resolved_by": _string_or_null(),
        }
    )


def _incident_detail_schema(incident: JsonSchemaValue) -> JsonSchemaValue:
    """`incident` with its timeline and its pages."""
    entry = _object({"at": _time(), "kind": _string(), "detail": _string_or_null()})
    page = _object(
        {
            "id": _integer(),
            "engineer": _string_or_null(),
            "channel": _string(),
            "round": _integer(),
            "step": _integer(),
            "status": _string(),
            "answered_by": _string_or_null(),
            "result": _string_or_null(),
            "at": _time(),
        }
    )
    return {"allOf": [incident, _object({"timeline": _array(entry), "pages": _array(page)})]}


def _banner_schema() -> JsonSchemaValue:
    """The answer of POST /api/incidents/{incident_id}/banner."""
    return _object({"incident": _integer(), "districts": _array(_string()), "expires_minutes": _integer()})


def _banner_set_schema() -> JsonSchemaValue:
    """The body of POST /api/incidents/{incident_id}/banner."""
    return _object(
        {
            "message": _string(minLength=3, maxLength=500),
            "expires_minutes": _integer(minimum=1, maximum=10080, default=120),
        },
        "message",
    )
