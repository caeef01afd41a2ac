"""OCPP-J framing (the RPC layer shared by 1.6, 2.0.1 and 2.1): parse frames, build replies, and
validate payloads against the `ocpp` package's own JSON schemas.

Why not the `ocpp` package's ChargePoint on the server side: it validates every message twice
with interpreted jsonschema and routes through dataclass conversions; a monitoring endpoint that
must carry 10,000 stations on two cores needs the same checks at a fraction of the cost. The
schemas are the package's files, compiled once with fastjsonschema.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
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


@dataclass(frozen=True, slots=True)
class Send:
    """2.1 SEND (message type 6): an unconfirmed message, never answered."""

    unique_id: str
    action: str
    payload: dict[str, Any]


@dataclass(frozen=True, slots=True)
class CallResultError:
    """2.1 CALLRESULTERROR (message type 5): the peer could not process our CALLRESULT."""

    unique_id: str
    code: str
    description: str


Frame = Call | CallResult | CallError | Send | CallResultError

SEND, CALLRESULTERROR = 6, 5


@dataclass(frozen=True, slots=True)
class Dialect:
    """How one version's OCPP-J spells and answers frames that break the RPC rules."""

    #: the payload is not what the action needs (1.6 FormationViolation, 2.x FormatViolation)
    format_violation: str
    #: a CALL whose structure cannot be read (1.6 has no code of its own for it)
    bad_call: str
    #: an unknown message type number
    bad_message_type: str
    #: the message id a CALLERROR carries when the CALL's own id cannot be read. 2.x OCPP-J
    #: (section 4.2.3) says "-1"; 1.6 OCPP-J only says the CallError carries the call's own id
    #: and names no substitute, so such a frame is not answered (None).
    unreadable_id: str | None
    #: 2.1 adds CALLRESULTERROR (5) and SEND (6)
    send_and_result_error: bool = False


#: OCPP-J 2.x "RPC Framework Error Codes": the codes a CALLERROR or CALLRESULTERROR may carry.
RPC_ERROR_CODES_2X = frozenset(
    {
        "FormatViolation",
        "GenericError",
        "InternalError",
        "MessageTypeNotSupported",
        "NotImplemented",
        "NotSupported",
        "OccurrenceConstraintViolation",
        "PropertyConstraintViolation",
        "ProtocolError",
        "RpcFrameworkError",
        "SecurityError",
        "TypeConstraintViolation",
    }
)

OCPP_J_16 = Dialect("FormationViolation", "FormationViolation", "ProtocolError", None)
OCPP_J_201 = Dialect("FormatViolation", "RpcFrameworkError", "MessageTypeNotSupported", "-1")
OCPP_J_21 = Dialect("FormatViolation", "RpcFrameworkError", "MessageTypeNotSupported", "-1", True)

_MAX_ID = 36


def _message_id(value: Any) -> str | None:
    return value if isinstance(value, str) and 0 < len(value) <= _MAX_ID else None


def parse_frame(text: str | bytes, dialect: Dialect = OCPP_J_16) -> Frame:
    """One websocket text message -> a frame, or FrameError saying why not (and, in its
    `unique_id`, the message id to answer with, or None when no answer is due)."""
    try:
        message = _loads(text)
    except (ValueError, UnicodeDecodeError, RecursionError):
        raise FrameError(
            "invalid_json",
            RpcError(dialect.format_violation, "frame is not valid JSON"),
            dialect.unreadable_id,
        ) from None
    if not isinstance(message, list) or not message:
        raise FrameError(
            "not_an_array",
            RpcError(dialect.bad_call, "frame is not a JSON array"),
            dialect.unreadable_id,
        )
    kind = message[0]
    raw_id = message[1] if len(message) > 1 else None
    unique_id = _message_id(raw_id)
    is_response = kind in (CALLRESULT, CALLERROR) or (
        dialect.send_and_result_error and kind in (CALLRESULTERROR, SEND)
    )
    if unique_id is None:
        # A response (or a SEND) is never answered; anything else, when the version says how.
        raise FrameError(
            "bad_unique_id",
            RpcError(
                dialect.bad_call,
                f"message id must be a string of 1 to 36 characters, not {repr(raw_id)[:40]}",
            ),
            None if is_response else dialect.unreadable_id,
        )
    if kind in (CALL, SEND) and (kind == CALL or dialect.send_and_result_error):
        if len(message) != 4 or not isinstance(message[2], str):
            raise FrameError(
                "bad_call",
                RpcError(dialect.bad_call, "a CALL is [2, messageId, action, payload]"),
                unique_id if kind == CALL else None,
            )
        if not isinstance(message[3], dict):
            raise FrameError(
                "bad_payload",
                RpcError(dialect.format_violation, "the payload must be a JSON object"),
                unique_id if kind == CALL else None,
            )
        if kind == SEND:
            return Send(unique_id, message[2], message[3])
        return Call(unique_id, message[2], message[3])
    if kind == CALLRESULT and len(message) == 3:
        payload = message[2]
        return CallResult(unique_id, payload if isinstance(payload, dict) else {})
    if kind == CALLERROR and len(message) >= 4:
        details = message[4] if len(message) > 4 else {}
        return CallError(unique_id, str(message[2]), str(message[3]), details)
    if kind == CALLRESULTERROR and dialect.send_and_result_error and len(message) >= 4:
        return CallResultError(unique_id, str(message[2]), str(message[3]))
    raise FrameError(
        "bad_message_type",
        RpcError(
            dialect.bad_message_type,
            f"unknown or malformed message type {repr(kind)[:40]}",
        ),
        None if is_response else unique_id,
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
        relax: Mapping[str, Callable[[dict[str, Any]], None]] | None = None,
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
