"""The OpenAPI document's paths of the waiting line (`api.views`, described by hand from their
code): the queue and today's figures, advisors' presence, callback and message tasks.
"""

from __future__ import annotations

from typing import Any

from pydantic.json_schema import JsonSchemaValue

from api.openapi_parts import (
    _array,
    _body,
    _boolean,
    _integer,
    _integer_or_null,
    _map_of,
    _number_or_null,
    _object,
    _ok,
    _op,
    _path_param,
    _query_enum,
    _string,
    _string_or_null,
    _time,
)
from casestore.types import Priority
from ivr.staffing import CHOOSABLE

TAG = "line"


def _line_paths() -> dict[str, Any]:
    """The waiting line: queue figures, advisors' presence, callback and message tasks."""
    return {
        "/api/queue": {
            "get": _op("queue", TAG, "The line now and today's figures", {"200": _ok("Queue figures", _queue_schema())})
        },
        "/api/advisors/presence": {
            "get": _op(
                "presence_list",
                TAG,
                "Every active advisor's live presence",
                {"200": _ok("Presence", _array(_presence_schema()))},
            )
        },
        "/api/advisors/{advisor_id}/presence": {
            "parameters": [_path_param("advisor_id", _integer())],
            "post": _op(
                "presence_set",
                TAG,
                "Set an advisor's presence (supervisor)",
                {"200": _ok("The presence now", _presence_now_schema())},
                errors=("BadField", "NotFound"),
                writes=True,
                requestBody=_body(_presence_set_schema()),
            ),
        },
        "/api/tasks": {
            "get": _op(
                "tasks",
                TAG,
                "Callback and message tasks, in queue order (at most 500); those left after hours carry not_before",
                {"200": _ok("Tasks", _array(_task_schema()))},
                errors=("BadField",),
                parameters=[_query_enum("status", ["open", "done", "cancelled"], "open")],
            )
        },
    }


def _figures_schema() -> JsonSchemaValue:
    """A day's call figures (overall, or for one skill)."""
    return _object(
        {
            "offered": _integer(),
            "answered": _integer(),
            "abandoned": _integer(),
            "left_message_or_callback": _integer(),
            "asa_seconds": _number_or_null(),
            "service_level": _number_or_null(),
            "abandonment_rate": _number_or_null(),
        }
    )


def _queue_schema() -> JsonSchemaValue:
    """GET /api/queue: the line now, the advisors, and today's figures (overall and by skill)."""
    figures = _figures_schema()
    in_line = _object(
        {
            "position": _integer(),
            "call": _string(),
            "priority": _string(),
            "skill": _string(),
            "waiting_seconds": _integer(),
            "waiting_for_owner": _boolean(),
        }
    )
    away = _object({"advisor": _integer(), "name": _string(), "reason": _string_or_null()})
    properties = {
        "now": _time(),
        "waiting": _integer(),
        "longest_wait_seconds": _integer(),
        "line": _array(in_line),
        "advisors": _map_of(_integer(), description="how many advisors are in each presence state"),
        "advisors_away": _array(away),
        "open_callback_tasks": _integer(),
        "open_callback_tasks_before_opening": _integer(
            description="of open_callback_tasks, those left after hours whose not_before (the next opening) is "
            "still ahead: not work to be done yet"
        ),
        "today": figures,
        "by_skill": _map_of(figures),
    }
    return _object(properties, *properties)  # every one is required


def _presence_schema() -> JsonSchemaValue:
    """One advisor's live presence (GET /api/advisors/presence)."""
    return _object(
        {
            "advisor": _integer(),
            "name": _string(),
            "state": _string(),
            "calls_today": _integer(),
            "missed_in_a_row": _integer(),
            "away_reason": _string_or_null(),
        }
    )


def _presence_set_schema() -> JsonSchemaValue:
    """The body of POST /api/advisors/{advisor_id}/presence."""
    return _object({"state": _string(enum=list(CHOOSABLE)), "reason": _string_or_null(maxLength=120)}, "state")


def _presence_now_schema() -> JsonSchemaValue:
    """The answer of POST /api/advisors/{advisor_id}/presence."""
    return _object({"advisor": _integer(), "state": _string(), "away_reason": _string_or_null()})


def _task_schema() -> JsonSchemaValue:
    """A callback or message task (GET /api/tasks)."""
    return _object(
        {
            "id": _integer(),
            "kind": _string(enum=["callback", "message"]),
            "case": _integer_or_null(),
            "district": _integer_or_null(),
            "contact": _integer_or_null(),
            "callback_to": _string_or_null(),
            "callback_e164": _string_or_null(
                description="in full for a role with the phones permission, else masked (***0134)"
            ),
            "recording_url": _string_or_null(),
            "skill": _string_or_null(),
            "priority_rank": _integer(),
            "priority": _string(enum=[p.value for p in Priority], description="the priority the rank stands for"),
            "queued_at": _time(),
            "not_before": _string_or_null(
                format="date-time",
                description="left after hours: not to be worked before the desk's next opening (null: at once); "
                "the list's order stays priority, then queued_at (when the caller called), so at the opening "
                "the night's tasks come before the morning's of the same priority",
            ),
            "created_at": _time(),
        }
    )
