"""OCPP-J framing (the RPC layer shared by 1.6 and 2.0.1): parse frames, build replies, and
validate payloads against the `ocpp` package's own JSON schemas.

Why not the `ocpp` package's ChargePoint on the server side: it validates every message twice
with interpreted jsonschema and routes through dataclass conversions; a monitoring endpoint that
must carry 10,000 stations on two cores needs the same checks at a fraction of the cost. The
schemas are the package's files, compiled once with fastjsonschema.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from importlib import resources
from typing import Any

import fastjsonschema
import orjson

CALL, CALLRESULT, CALLERROR = 2, 3, 4


class RpcError(Exception):
    """Answered to the station as a CALLERROR with an OCPP-J error code."""

    def __init__(self, code: str, description: str, details: dict[str, Any] | None = None):
        super().__init__(f"{code}: {description}")
        self.code = code
        self.description = description
        self.details = details or {}


class CallFailed(Exception):
    """A CALL we sent was answered with a CALLERROR, or the session ended before an answer."""


class FrameError(Exception):
    """A frame that cannot be handled; `unique_id` is set when a CALLERROR can still be sent."""

    def __init__(self, reason: str, error: RpcError, unique_id: str | None) -> None:
        super().__init__(str(error))
        self.reason = reason
        self.error = error
        self.unique_id = unique_id


@dataclass(frozen=True, slots=True)
class Call:
    unique_id: str
    action: str
    payload: dict[str, Any]


@dataclass(frozen=True, slots=True)
class CallResult:
    unique_id: str
    payload: dict[str, Any]


@dataclass(frozen=True, slots=True)
class CallError:
    unique_id: str
    code: str
    description: str
    details: Any


Frame = Call | CallResult | CallError

# 2.0.1 (the version spelling "FormatViolation") has dedicated codes for broken RPC frames:
# (a CALL whose structure cannot be read, an unknown message type number).
_FRAMEWORK_ERRORS = {"FormatViolation": ("RpcFrameworkError", "MessageTypeNotSupported")}


def parse_frame(text: str | bytes, formation_violation: str = "FormationViolation") -> Frame:
    """One websocket text message -> a frame, or FrameError saying why not.

    `formation_violation` is the spelling of the version in use (1.6: FormationViolation,
    2.0.1: FormatViolation)."""
    try:
        message = _loads(text)
    except (ValueError, UnicodeDecodeError, RecursionError):
        raise FrameError(
            "invalid_json", RpcError(formation_violation, "frame is not valid JSON"), None
        ) from None
    if not isinstance(message, list) or not message:
        raise FrameError(
            "not_an_array",
            RpcError(formation_violation, "frame is not a JSON array"),
            None,
        )
    unique_id = message[1] if len(message) > 1 and isinstance(message[1], str) else None
    if unique_id is not None and not 0 < len(unique_id) <= 36:
        raise FrameError(
            "bad_unique_id",
            RpcError(formation_violation, "message id must be 1 to 36 characters"),
            None,
        )
    kind = message[0]
    if kind == CALL:
        if len(message) != 4 or unique_id is None or not isinstance(message[2], str):
            raise FrameError(
                "bad_call",
                RpcError(
                    _FRAMEWORK_ERRORS.get(formation_violation, (formation_violation, ""))[0],
                    "a CALL is [2, messageId, action, payload]",
                ),
                unique_id,
            )
        if not isinstance(message[3], dict):
            raise FrameError(
                "bad_payload",
                RpcError(formation_violation, "the CALL payload must be a JSON object"),
                unique_id,
            )
        return Call(unique_id, message[2], message[3])
    if kind == CALLRESULT and len(message) == 3 and unique_id is not None:
        payload = message[2]
        return CallResult(unique_id, payload if isinstance(payload, dict) else {})
    if kind == CALLERROR and len(message) >= 4 and unique_id is not None:
        details = message[4] if len(message) > 4 else {}
        return CallError(unique_id, str(message[2]), str(message[3]), details)
    raise FrameError(
        "bad_message_type",
        RpcError(
            _FRAMEWORK_ERRORS.get(formation_violation, ("", "ProtocolError"))[1],
            f"unknown or malformed message type {repr(kind)[:40]}",
        ),
        unique_id,
    )


#: Below this many brackets a frame cannot nest deep enough for the standard parser's recursion
#: limit, so orjson (which has no such limit) reads it the same way.
_ORJSON_MAX_BRACKETS = 400
#: orjson reads integers beyond 64 bits as floats; the standard parser keeps them exact.
_LONG_NUMBER = re.compile(r"\d{19}")


def _loads(text: str | bytes) -> Any:
    """orjson where it reads the frame exactly as the standard parser would (a third of its
    time per frame); the standard parser for the rest: deep nesting (refused as invalid JSON by
    its recursion limit), integers beyond 64 bits, and what orjson refuses but stations do send:
    lone surrogate escapes (the label bounding turns them into `?`), NaN."""
    if (
        isinstance(text, str)
        and text.count("[") + text.count("{") < _ORJSON_MAX_BRACKETS
        and _LONG_NUMBER.search(text) is None
    ):
        try:
            return orjson.loads(text)
        except orjson.JSONDecodeError:
            pass
    return json.loads(text)


def _dumps(frame: list[Any]) -> str:
    try:
        return orjson.dumps(frame).decode()
    except TypeError:  # a lone surrogate (an echoed station value) or a non-JSON type
        return json.dumps(frame, separators=(",", ":"))


def call_result(unique_id: str, payload: dict[str, Any]) -> str:
    return _dumps([CALLRESULT, unique_id, payload])


def call_error(unique_id: str, error: RpcError) -> str:
    return _dumps([CALLERROR, unique_id, error.code, error.description[:255], error.details])


def call(unique_id: str, action: str, payload: dict[str, Any]) -> str:
    return _dumps([CALL, unique_id, action, payload])


Validator = Callable[[Any], Any]

_LOCAL_REF = "#/definitions/"


def resolved(schema: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    """`node` itself, or the definition its `$ref` names. The 2.x schemas keep every enum in
    `definitions` behind a `$ref`, so a relaxation has to edit the definition: popping `enum`
    from the referring property would change nothing."""
    ref = node.get("$ref")
    if ref is None:
        return node
    if not ref.startswith(_LOCAL_REF):
        raise ValueError(f"only local $refs are resolved, not {ref!r}")
    return schema["definitions"][ref.removeprefix(_LOCAL_REF)]


class Schemas:
    """Compiled request validators for one OCPP version, built lazily from the `ocpp` package's
    schema files. `relax` lets a protocol loosen what monitoring must not reject."""

    def __init__(
        self,
        package_dir: str,
        suffix: str = "",
        relax: dict[str, Callable[[dict[str, Any]], None]] | None = None,
        type_error: str = "TypeConstraintViolation",
        format_error: str = "FormationViolation",
        occurrence_error: str = "OccurenceConstraintViolation",
    ) -> None:
        self._dir = resources.files("ocpp").joinpath(package_dir, "schemas")
        self._suffix = suffix
        self._relax = relax or {}
        self._validators: dict[str, Validator] = {}
        self._type_error = type_error
        self._format_error = format_error
        self._occurrence_error = occurrence_error

    def _compile(self, action: str) -> Validator:
        schema = json.loads(
            self._dir.joinpath(f"{action}{self._suffix}.json").read_text(encoding="utf-8-sig")
        )
        schema.pop("$id", None)
        if action in self._relax:
            self._relax[action](schema)
        # The spec's "date-time" strings are checked by the handlers that read them.
        return fastjsonschema.compile(schema, formats={"date-time": lambda _value: True})

    def validate(self, action: str, payload: dict[str, Any]) -> None:
        validator = self._validators.get(action)
        if validator is None:
            validator = self._validators[action] = self._compile(action)
        try:
            validator(payload)
        except fastjsonschema.JsonSchemaValueException as exc:
            raise RpcError(self._error_code(exc), exc.message[:200]) from None

    def _error_code(self, exc: fastjsonschema.JsonSchemaValueException) -> str:
        rule = exc.rule or ""
        if rule == "type":
            return self._type_error
        if rule == "required":
            return self._occurrence_error
        if rule in ("maxLength", "enum", "minimum", "maximum", "format"):
            return "PropertyConstraintViolation"
        return self._format_error
