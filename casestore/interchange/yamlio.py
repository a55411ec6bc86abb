"""YAML in and out: the safe loader without YAML 1.1 sexagesimal or octal numbers (`18:00` and
`012345` stay text), the path -> line map built from the YAML nodes, `parse_text` (YAML or JSON),
and `dump`, which writes an exported document as YAML or JSON that loads back.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from datetime import UTC, date, datetime, time
from typing import Any

import yaml

from casestore.interchange.fields import fmt_time
from casestore.interchange.problems import Problem, ProblemCollector, render_path

# --------------------------------------------------------------------------------------------
# Reading: a SafeLoader without sexagesimal (and octal) numbers, and a path -> line map
# --------------------------------------------------------------------------------------------


# libyaml's parser where PyYAML was built with it (10x faster on big files); same resolvers either way.
_SafeLoaderBase: type = getattr(yaml, "CSafeLoader", None) or yaml.SafeLoader
_SafeDumperBase: type = getattr(yaml, "CSafeDumper", None) or yaml.SafeDumper


class _Loader(_SafeLoaderBase):
    """SafeLoader minus YAML 1.1 sexagesimal ints/floats (`18:00` would be 1080) and octal ints
    (`012345` would be 5349): both stay text. Dates and timestamps are still parsed."""


_Loader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag not in ("tag:yaml.org,2002:int", "tag:yaml.org,2002:float")]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:int",
    re.compile(r"^(?:[-+]?0b[0-1_]+|[-+]?(?:0|[1-9][0-9_]*)|[-+]?0x[0-9a-fA-F_]+)$"),
    list("-+0123456789"),
)
_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(
        r"^(?:[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+][0-9]+)?"
        r"|\.[0-9][0-9_]*(?:[eE][-+][0-9]+)?"
        r"|[-+]?\.(?:inf|Inf|INF)"
        r"|\.(?:nan|NaN|NAN))$"
    ),
    list("-+0123456789."),
)


def _construct_timestamp(loader: Any, node: yaml.ScalarNode) -> Any:
    # `2026-02-30` matches the timestamp pattern but is no date: keep the text, so validation
    # reports it at its path instead of the whole file failing without one.
    try:
        return yaml.constructor.SafeConstructor.construct_yaml_timestamp(loader, node)
    except (ValueError, OverflowError):
        return loader.construct_scalar(node)


_Loader.add_constructor("tag:yaml.org,2002:timestamp", _construct_timestamp)

_MAX_LINE_NODES = 200_000  # alias-heavy documents: stop mapping lines rather than walk forever


def _line_map(root: yaml.Node, problems: ProblemCollector) -> dict[str, int]:
    """Every path in the node tree -> its 1-based line (a mapping entry: its key's line).
    Duplicate keys in one mapping (which YAML silently collapses) are reported as problems."""
    lines: dict[str, int] = {}
    budget = [_MAX_LINE_NODES]

    def walk(node: yaml.Node, loc: tuple[Any, ...], stack: frozenset[int]) -> None:
        if budget[0] <= 0 or id(node) in stack:
            return
        budget[0] -= 1
        stack = stack | {id(node)}
        if isinstance(node, yaml.MappingNode):
            seen: dict[str, int] = {}
            for key_node, value_node in node.value:
                if not isinstance(key_node, yaml.ScalarNode) or key_node.tag == "tag:yaml.org,2002:merge":
                    continue
                key = key_node.value
                key_loc = loc + (key,)
                line = key_node.start_mark.line + 1
                if key in seen:
                    problems.items.append(
                        Problem(render_path(key_loc), line, f"duplicate key {key!r} (first on line {seen[key]})")
                    )
                    continue
                seen[key] = line
                lines.setdefault(render_path(key_loc), line)
                walk(value_node, key_loc, stack)
        elif isinstance(node, yaml.SequenceNode):
            for index, item in enumerate(node.value):
                item_loc = loc + (index,)
                lines.setdefault(render_path(item_loc), item.start_mark.line + 1)
                walk(item, item_loc, stack)

    lines[""] = root.start_mark.line + 1
    walk(root, (), frozenset())
    return lines


def _mark_line(exc: BaseException) -> int | None:
    mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
    return mark.line + 1 if mark is not None else None


def parse_text(text: str) -> tuple[Any, dict[str, int], list[Problem]]:
    """Parse YAML or JSON (text starting with `{`): (data, path -> line map, problems)."""
    problems = ProblemCollector(None)
    stripped = text.lstrip("\ufeff \t\r\n")
    if stripped.startswith("{"):
        try:
            return json.loads(stripped), {}, []
        except json.JSONDecodeError as exc:
            return None, {}, [Problem("", exc.lineno, f"malformed JSON: {exc.msg}")]
        except (RecursionError, ValueError) as exc:
            return None, {}, [Problem("", None, f"malformed JSON: {exc}")]
    loader: _Loader | None = None
    try:
        loader = _Loader(text)
        node = loader.get_single_node()
        if node is None:
            return None, {}, []
        lines = _line_map(node, problems)
        data = loader.construct_document(node)
    except yaml.MarkedYAMLError as exc:
        reason = " ".join(str(x) for x in (exc.context, exc.problem) if x)
        return None, {}, [Problem("", _mark_line(exc), f"malformed YAML: {reason or exc}")]
    except yaml.reader.ReaderError as exc:  # a character YAML does not allow, e.g. a control character
        line = text[: exc.position].count("\n") + 1 if isinstance(exc.position, int) else None
        char = f"#x{exc.character:04x}" if isinstance(exc.character, int) else repr(exc.character)
        return None, {}, [Problem("", line, f"malformed YAML: {exc.reason} (character {char})")]
    except yaml.YAMLError as exc:
        return None, {}, [Problem("", None, f"malformed YAML: {exc}")]
    except RecursionError:
        return None, {}, [Problem("", None, "malformed YAML: nested too deeply")]
    except (ValueError, TypeError, OverflowError) as exc:
        # An explicit tag with a bad value, e.g. `!!int abc`.
        return None, {}, [Problem("", None, f"malformed YAML: {exc}")]
    finally:
        if loader is not None:
            loader.dispose()
    return data, lines, problems.sorted()


# --------------------------------------------------------------------------------------------
# Writing: YAML or JSON
# --------------------------------------------------------------------------------------------


def _iso(value: datetime) -> str:
    text = value.astimezone(UTC).isoformat()
    return text.removesuffix("+00:00") + "Z"


class _Dumper(_SafeDumperBase):
    pass


def _represent_datetime(dumper: Any, value: datetime) -> yaml.Node:
    if value.tzinfo is None:
        raise ValueError(f"naive datetime {value!r} cannot be exported")
    return dumper.represent_scalar("tag:yaml.org,2002:timestamp", _iso(value))


def _represent_time(dumper: Any, value: time) -> yaml.Node:
    return dumper.represent_str(fmt_time(value))


_Dumper.add_representer(datetime, _represent_datetime)
_Dumper.add_representer(time, _represent_time)


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime):
        return _iso(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, time):
        return fmt_time(value)
    raise TypeError(f"cannot write {type(value).__name__} as JSON")


def dump(doc: Mapping[str, Any], fmt: str = "yaml") -> str:
    """Write an exported document as YAML (default) or JSON: datetimes ISO-8601 in UTC ("Z"),
    dates ISO, times "HH:MM". Either output loads back with `load_text`."""
    if fmt == "json":
        return json.dumps(doc, indent=2, ensure_ascii=False, default=_json_default) + "\n"
    if fmt != "yaml":
        raise ValueError(f"unknown format {fmt!r} (yaml or json)")
    return yaml.dump(
        dict(doc), Dumper=_Dumper, sort_keys=False, allow_unicode=True, default_flow_style=False, width=100
    )
