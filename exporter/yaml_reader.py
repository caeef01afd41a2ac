"""The one reader for the YAML files people write: the configuration (with its catalog
overrides), simulator scenarios, and the packaged catalog.

Loading keeps where every key is (line numbers from the YAML nodes' marks) and refuses a key
written twice. Validation is pydantic's, into frozen dataclasses that derive from `Section`;
the first problem comes out as one `DocumentError` naming the file, the line, the key path and
what is wrong. Rules a field type cannot express (this key only with that one, a name used
twice) are checked after validation and reported through `Document.error` in the same shape.

Why pydantic: its errors carry a structured location (the key path, which is how a line is
found), it validates plain frozen dataclasses (so the types the service uses are the ones
validated, no second model), and the JSON Schema published for editors comes from the same
annotations (see docs/configuration.md).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, ClassVar, TypeVar

import yaml
from pydantic import (
    BeforeValidator,
    ConfigDict,
    GetCoreSchemaHandler,
    PlainValidator,
    Strict,
    TypeAdapter,
    ValidationError,
    ValidationInfo,
    WithJsonSchema,
)
from pydantic_core import ErrorDetails, core_schema

from exporter.durations import DURATION_PATTERN, parse_duration

T = TypeVar("T")
#: A key path as pydantic reports it: mapping keys and list indices from the top.
Loc = tuple[str | int, ...]

_MERGE_TAG = "tag:yaml.org,2002:merge"


class DocumentError(Exception):
    """A problem in a YAML document, located by file, line and key path."""

    def __init__(self, source: str, key: str, problem: str, line: int | None = None) -> None:
        self.source = source
        self.key = key
        self.problem = problem
        self.line = line
        where = source if line is None else f"{source}:{line}"
        super().__init__(f"{where}: {key}: {problem}" if key else f"{where}: {problem}")


def key_path(loc: Loc) -> str:
    """('inventory', 'sites', 1, 'name') -> 'inventory.sites[1].name'."""
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else f"{'.' if text else ''}{part}"
    return text or "(top level)"


@dataclass(frozen=True)
class Document:
    """A loaded YAML document and the line of every key in it."""

    source: str
    data: Any
    lines: Mapping[Loc, int] = field(default_factory=dict)
    error_type: type[DocumentError] = DocumentError

    @property
    def base_dir(self) -> Path | None:
        """Relative paths in the document are relative to its folder (as in Prometheus)."""
        if self.source.startswith("<"):
            return None
        return Path(self.source).resolve().parent

    def line(self, loc: Loc) -> int | None:
        """The line of the key at `loc`, else of the nearest enclosing key that has one."""
        for end in range(len(loc), 0, -1):
            prefix = loc[:end]
            found = self.lines.get(prefix)
            if found is None and isinstance(prefix[-1], int):
                found = self.lines.get((*prefix[:-1], str(prefix[-1])))
            if found is not None:
                return found
        return None

    def error(self, loc: Loc, problem: str) -> DocumentError:
        return self.error_type(self.source, key_path(loc), problem, self.line(loc))

    def read(self, kind: type[T]) -> T:
        """Validate the document as `kind`; DocumentError naming the first problem."""
        try:
            value: T = _adapter(kind).validate_python(
                self.data, context={"base_dir": self.base_dir}
            )
        except ValidationError as exc:
            first = _first(exc.errors())
            raise self.error(_clean(first["loc"]), _problem(first, kind)) from None
        return value


def load(path: str | Path, error_type: type[DocumentError] = DocumentError) -> Document:
    source = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise error_type(source, "", f"cannot read the file: {exc.strerror or exc}") from None
    return loads(text, source, error_type)


def loads(text: str, source: str, error_type: type[DocumentError] = DocumentError) -> Document:
    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
        lines: dict[Loc, int] = {}
        if node is not None:
            _index(node, (), lines, source, error_type)
        data = loader.construct_document(node) if node is not None else None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        problem = getattr(exc, "problem", None) or exc
        column = f"column {mark.column + 1}: " if mark else ""
        line = mark.line + 1 if mark else None
        raise error_type(source, "", f"{column}not valid YAML ({problem})", line) from None
    finally:
        loader.dispose()
    return Document(source, data, lines, error_type)


def _index(
    node: yaml.Node, loc: Loc, lines: dict[Loc, int], source: str, error: type[DocumentError]
) -> None:
    """Record each key's line, and refuse a key written twice in one mapping."""
    if isinstance(node, yaml.MappingNode):
        seen: dict[str, int] = {}
        for key_node, value_node in node.value:
            if key_node.tag == _MERGE_TAG:  # `<<: *defaults`: its keys belong to this mapping
                _index(value_node, loc, lines, source, error)
                continue
            key = str(key_node.value)
            line = key_node.start_mark.line + 1
            if key in seen:
                raise error(
                    source,
                    key_path((*loc, key)),
                    f"duplicate key (first at line {seen[key]})",
                    line,
                )
            seen[key] = line
            lines[(*loc, key)] = line
            _index(value_node, (*loc, key), lines, source, error)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            lines[(*loc, index)] = item.start_mark.line + 1
            _index(item, (*loc, index), lines, source, error)


# -- validation ------------------------------------------------------------------------------


class Section:
    """Base of a mapping in a document: unknown keys are errors, and a key left empty (`key:`
    or `null`) takes its default, like a key left out."""

    __pydantic_config__: ClassVar[ConfigDict] = ConfigDict(extra="forbid", frozen=True)

    @classmethod
    def __get_pydantic_core_schema__(
        cls, source: Any, handler: GetCoreSchemaHandler
    ) -> core_schema.CoreSchema:
        return core_schema.no_info_before_validator_function(_without_nulls, handler(source))


def _without_nulls(value: Any) -> Any:
    if value is None:
        return {}
    if isinstance(value, dict):
        return {key: item for key, item in value.items() if item is not None}
    return value


def _new_adapter(kind: Any) -> TypeAdapter[Any]:
    return TypeAdapter(kind)


# Building a validator costs milliseconds; a document type is read many times (tests, reloads).
_adapter: Callable[[Any], TypeAdapter[Any]] = functools.cache(_new_adapter)


def json_schema(kind: Any) -> dict[str, Any]:
    """The JSON Schema of a document type, as keys are written in the file."""
    return _without_titles(_adapter(kind).json_schema(by_alias=True))


def _without_titles(node: Any, names: bool = False) -> Any:
    # pydantic titles every property with its own name respelt ("Runbook Base Url"): noise in
    # an editor's hover, which shows the key already. `names`: node maps names to schemas.
    if isinstance(node, dict):
        return {
            key: _without_titles(value, names=not names and key in ("properties", "$defs"))
            for key, value in node.items()
            if names or key != "title"
        }
    if isinstance(node, list):
        return [_without_titles(item) for item in node]
    return node


def _first(errors: list[ErrorDetails]) -> ErrorDetails:
    # A misspelt key is the likelier cause of a missing one: report it first.
    unknown = [e for e in errors if e["type"] in ("extra_forbidden", "unexpected_keyword_argument")]
    return (unknown or errors)[0]


def _clean(loc: tuple[str | int, ...]) -> Loc:
    # pydantic names the branch of a validator or union in the location; a person does not.
    return tuple(part for part in loc if not (isinstance(part, str) and "[" in part))


def _known_keys(kind: Any, loc: Loc) -> list[str]:
    """The keys the mapping at `loc` allows, read off the JSON Schema of `kind`."""
    schema = json_schema(kind)
    defs = schema.get("$defs", {})

    def resolve(node: dict[str, Any]) -> list[dict[str, Any]]:
        if "$ref" in node:
            return resolve(defs[node["$ref"].rsplit("/", 1)[-1]])
        options = [node]
        for branch in node.get("anyOf", []):
            options += resolve(branch)
        return options

    nodes = resolve(schema)
    for part in loc:
        following: list[dict[str, Any]] = []
        for node in nodes:
            if isinstance(part, int) and "items" in node:
                following += resolve(node["items"])
            elif part in node.get("properties", {}):
                following += resolve(node["properties"][part])
            elif isinstance(node.get("additionalProperties"), dict):
                following += resolve(node["additionalProperties"])
        nodes = following
    return sorted({key for node in nodes for key in node.get("properties", {})})


_EXPECTED = {
    "int_type": "an integer",
    "int_parsing": "an integer",
    "int_from_float": "an integer",
    "float_type": "a number",
    "float_parsing": "a number",
    "string_type": "a string",
    "bool_type": "true or false",
    "bool_parsing": "true or false",
    "dict_type": "a mapping",
    "dataclass_type": "a mapping",
    "model_type": "a mapping",
    "list_type": "a list",
    "tuple_type": "a list",
}


def _problem(error: ErrorDetails, kind: Any) -> str:
    """pydantic's error -> the house phrasing: what was expected, and what was found."""
    what = error["type"]
    ctx = error.get("ctx") or {}
    got = error.get("input")
    if what in ("extra_forbidden", "unexpected_keyword_argument"):
        known = _known_keys(kind, _clean(error["loc"])[:-1])
        return f"unknown key (known keys: {', '.join(known)})"
    if what in ("missing", "missing_keyword_argument", "missing_argument"):
        return "required"
    if what == "value_error":
        return str(ctx.get("error", error["msg"]))
    if what == "literal_error":
        expected = str(ctx.get("expected", "")).replace("'", "").replace(" or ", ", ")
        return f"expected one of {expected}, got {got!r}"
    if what in _EXPECTED:
        return f"expected {_EXPECTED[what]}, got {got!r}"
    return f"{error['msg'][0].lower()}{error['msg'][1:]}, got {got!r}"


# -- field types shared by every document ----------------------------------------------------
# Each raises ValueError with the message a person reads, and says what it accepts in the
# JSON Schema.

_DURATION_SCHEMA = {
    "anyOf": [
        {"type": "string", "pattern": DURATION_PATTERN},
        {"type": "number", "minimum": 0},
    ],
    "description": "'250ms', '30s', '5m', '1h' or a number of seconds",
}


def _positive_duration(value: Any) -> float:
    seconds = parse_duration(value)
    if seconds <= 0:
        raise ValueError(f"must be greater than zero, got {value!r}")
    return seconds


def _duration_text(value: Any) -> str:
    parse_duration(value)
    return str(value)


def _positive_int(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"expected an integer, got {value!r}")
    if value <= 0:
        raise ValueError(f"must be greater than zero, got {value}")
    return value


def _count(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"expected a whole number >= 0, got {value!r}")
    return value


def _non_negative(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        raise ValueError(f"expected a number >= 0, got {value!r}")
    return float(value)


def _steps(value: Any) -> tuple[str, ...]:
    if not isinstance(value, list) or not value or not all(isinstance(s, str) for s in value):
        raise ValueError("expected a non-empty list of strings")
    return tuple(value)


def _no_bool(value: Any) -> Any:
    # YAML's `true` is Python's 1: never let it pass for a number.
    if isinstance(value, bool):
        raise ValueError(f"expected a number, got {value!r}")
    return value


def relative_to_document(value: Any, info: ValidationInfo) -> str:
    """A path from the document; a relative one is taken from the document's folder."""
    if not isinstance(value, str) or not value:
        raise ValueError(f"expected a path, got {value!r}")
    path = Path(value)
    base = (info.context or {}).get("base_dir")
    if not path.is_absolute() and base is not None:
        path = base / path
    return str(path)


#: A duration in seconds ('30s', '5m', or a number).
Duration = Annotated[float, PlainValidator(parse_duration), WithJsonSchema(_DURATION_SCHEMA)]
#: A duration that must be longer than zero.
PositiveDuration = Annotated[
    float,
    PlainValidator(_positive_duration),
    WithJsonSchema({**_DURATION_SCHEMA, "not": {"enum": [0, "0", "0s", "0ms", "0m", "0h"]}}),
]
#: A duration kept as written (it ends up in a Prometheus rule's `for:`).
DurationText = Annotated[str, PlainValidator(_duration_text), WithJsonSchema(_DURATION_SCHEMA)]
PositiveInt = Annotated[
    int, PlainValidator(_positive_int), WithJsonSchema({"type": "integer", "minimum": 1})
]
Count = Annotated[int, PlainValidator(_count), WithJsonSchema({"type": "integer", "minimum": 0})]
NonNegative = Annotated[
    float, PlainValidator(_non_negative), WithJsonSchema({"type": "number", "minimum": 0})
]
Text = Annotated[str, Strict()]
Flag = Annotated[bool, Strict()]
#: A non-empty list of strings (resolution steps).
Steps = Annotated[
    tuple[str, ...],
    PlainValidator(_steps),
    WithJsonSchema({"type": "array", "items": {"type": "string"}, "minItems": 1}),
]
#: A path; relative to the document's folder.
RelativePath = Annotated[
    str,
    PlainValidator(relative_to_document),
    WithJsonSchema({"type": "string", "minLength": 1}),
]
NoBool = BeforeValidator(_no_bool)
