"""The OpenAPI document's paths of the read-only records (`api.records`, described by hand from
their code): cases, one case with its communication log, the call log, one call."""

from __future__ import annotations

from typing import Any

from api.openapi_parts import (
    _array,
    _boolean,
    _integer,
    _integer_or_null,
    _object,
    _ok,
    _op,
    _paging,
    _path_param,
    _query,
    _string,
    _string_or_null,
    _time,
    _time_or_null,
)
from casestore.types import CaseStatus, Priority, ProductArea

TAG = "records"


def _page_of(item: dict[str, Any]) -> dict[str, Any]:
    return _object(
        {"items": _array(item), "total": _integer(minimum=0), "limit": _integer(), "offset": _integer()},
        "items",
        "total",
        "limit",
        "offset",
    )


def _event() -> dict[str, Any]:
    return _object(
        {
            "at": _time(),
            "kind": _string(),
            "direction": _string_or_null(),
            "call_sid": _string_or_null(),
            "outcome": _string_or_null(),
            "detail": _string(),
        },
        "at",
        "kind",
    )


def _case() -> dict[str, Any]:
    return _object(
        {
            "number": _integer(),
            "district": _string(),
            "contact": _string_or_null(),
            "summary": _string(),
            "product_area": _string(enum=[a.value for a in ProductArea]),
            "priority": _string(enum=[p.value for p in Priority]),
            "status": _string(enum=[s.value for s in CaseStatus]),
            "owner": _string_or_null(),
            "is_outage": _boolean(),
            "release_name": _string_or_null(),
            "created_at": _time(),
            "updated_at": _time(),
            "response_due_at": _time_or_null(),
            "responded_at": _time_or_null(),
            "closed_at": _time_or_null(),
            "reopen_count": _integer(minimum=0),
        },
        "number",
        "district",
        "status",
        "priority",
    )


def _call() -> dict[str, Any]:
    return _object(
        {
            "call_sid": _string(),
            "from": _string(description="the caller's number, masked"),
            "contact": _integer_or_null(),
            "district": _integer_or_null(),
            "case": _integer_or_null(),
            "advisor": _integer_or_null(),
            "started_at": _time(),
            "ended_at": _time_or_null(),
            "outcome": _string(),
            "status": _string_or_null(),
            "skill": _string_or_null(),
            "priority": _string_or_null(),
            "path": _array(_string()),
            "queued_at": _time_or_null(),
            "wait_seconds": _integer(minimum=0),
            "talk_seconds": _integer(minimum=0),
            "duration_seconds": _integer(minimum=0),
            "recording_url": _string_or_null(),
        },
        "call_sid",
        "started_at",
        "outcome",
    )


def _record_paths() -> dict[str, Any]:
    """Cases and the call log, read only, newest first."""
    return {**_case_record_paths(), **_call_record_paths()}


def _case_record_paths() -> dict[str, Any]:
    case = _case()
    filters = [
        _query("district", _string(), "a district's name"),
        _query("status", _string(enum=[s.value for s in CaseStatus])),
        _query("priority", _string(enum=[p.value for p in Priority])),
        _query("product_area", _string(enum=[a.value for a in ProductArea])),
    ]
    detail = {**case, "properties": {**case["properties"], "events": _array(_event())}}
    return {
        "/api/cases": {
            "get": _op(
                "case_list",
                TAG,
                "Cases, newest first",
                {"200": _ok("A page of cases", _page_of(case))},
                errors=("BadField",),
                parameters=[*_paging(), *filters],
            )
        },
        "/api/cases/{number}": {
            "parameters": [_path_param("number", _integer(minimum=0, maximum=2**31 - 1))],
            "get": _op(
                "case_detail",
                TAG,
                "One case with its communication log, oldest first",
                {"200": _ok("The case", detail)},
                errors=("NotFound",),
            ),
        },
    }


def _call_record_paths() -> dict[str, Any]:
    call = _call()
    task = _object(
        {"kind": _string(), "status": _string(), "not_before": _time_or_null(), "queued_at": _time_or_null()}, "kind"
    )
    filters = [
        _query("since", _string(format="date"), "the first local day"),
        _query("until", _string(format="date"), "the last local day, included"),
        _query("district", _string(), "a district's name"),
        _query("outcome", _string(maxLength=64)),
        _query("case", _integer(minimum=0), "a case number"),
    ]
    ring = _object(
        {
            "who": _string_or_null(),
            "target": _string_or_null(),
            "route": _string_or_null(),
            "at": _string_or_null(),
            "status": _string_or_null(),
            "accepted": _boolean(),
            "seconds": _integer(minimum=0),
        },
        "accepted",
    )
    extra = {"rings": _array(ring), "tasks": _array(task), "events": _array(_event())}
    detail = {**call, "properties": {**call["properties"], **extra}}
    return {
        "/api/calls": {
            "get": _op(
                "call_list",
                TAG,
                "The call log, newest first",
                {"200": _ok("A page of calls", _page_of(call))},
                errors=("BadField",),
                parameters=[*_paging(), *filters],
            )
        },
        "/api/calls/{call_sid}": {
            "parameters": [_path_param("call_sid", _string(maxLength=64))],
            "get": _op(
                "call_detail",
                TAG,
                "One call: who was rung and how each ring ended, the tasks it left, the case events it wrote",
                {"200": _ok("The call", detail)},
                errors=("NotFound",),
            ),
        },
    }
