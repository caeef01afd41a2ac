"""OCPP-J framing without a socket: which frames parse, which CALLERROR a broken one gets (in
the 1.6 and the 2.0.1 spelling), how replies are written, and the schema error codes. The
integration layer (tests/integration/test_bad_input.py) checks the same answers on the wire."""

from __future__ import annotations

import json

import pytest

from exporter.protocol import v16, v201
from exporter.protocol.rpc import (
    Call,
    CallError,
    CallResult,
    FrameError,
    RpcError,
    call,
    call_error,
    call_result,
    parse_frame,
)

V16, V201 = "FormationViolation", "FormatViolation"


def test_the_three_message_types_parse() -> None:
    assert parse_frame('[2,"m1","Heartbeat",{}]') == Call("m1", "Heartbeat", {})
    assert parse_frame(b'[3,"m2",{"status":"Accepted"}]') == CallResult(
        "m2", {"status": "Accepted"}
    )
    assert parse_frame('[4,"m3","NotSupported","no",{"a":1}]') == CallError(
        "m3", "NotSupported", "no", {"a": 1}
    )
    # Details are optional in a CALLERROR; a CALLRESULT payload that is not an object is empty.
    assert parse_frame('[4,"m4","GenericError","x"]') == CallError("m4", "GenericError", "x", {})
    assert parse_frame('[3,"m5",null]') == CallResult("m5", {})


def test_a_message_id_of_36_characters_is_the_longest_accepted() -> None:
    longest = "x" * 36
    assert parse_frame(json.dumps([2, longest, "Heartbeat", {}])).unique_id == longest
    with pytest.raises(FrameError) as refused:
        parse_frame(json.dumps([2, longest + "x", "Heartbeat", {}]))
    assert (refused.value.reason, refused.value.unique_id) == ("bad_unique_id", None)
    with pytest.raises(FrameError):
        parse_frame('[2,"","Heartbeat",{}]')


# (frame, reason, 1.6 code, 2.0.1 code, message id a CALLERROR can be sent to)
BROKEN = [
    ("{not json", "invalid_json", V16, V201, None),
    ('"\\ud800', "invalid_json", V16, V201, None),
    ('{"a": 1}', "not_an_array", V16, V201, None),
    ("[]", "not_an_array", V16, V201, None),
    ('[2, 5, "Heartbeat", {}]', "bad_call", V16, "RpcFrameworkError", None),
    ('[2, "m1", "Heartbeat"]', "bad_call", V16, "RpcFrameworkError", "m1"),
    ('[2, "m2", 7, {}]', "bad_call", V16, "RpcFrameworkError", "m2"),
    ('[2, "m3", "Heartbeat", []]', "bad_payload", V16, V201, "m3"),
    ('[7, "m4", {}]', "bad_message_type", "ProtocolError", "MessageTypeNotSupported", "m4"),
    ('[3, "m5"]', "bad_message_type", "ProtocolError", "MessageTypeNotSupported", "m5"),
    (
        '[4, "m6", "GenericError"]',
        "bad_message_type",
        "ProtocolError",
        "MessageTypeNotSupported",
        "m6",
    ),
]


@pytest.mark.parametrize(("frame", "reason", "code16", "code201", "unique_id"), BROKEN)
def test_a_broken_frame_says_why_and_which_error_code_answers_it(
    frame: str, reason: str, code16: str, code201: str, unique_id: str | None
) -> None:
    for spelling, code in ((V16, code16), (V201, code201)):
        with pytest.raises(FrameError) as refused:
            parse_frame(frame, formation_violation=spelling)
        assert refused.value.reason == reason
        assert refused.value.error.code == code
        assert refused.value.unique_id == unique_id


def test_deep_nesting_is_a_bad_frame_not_a_crash() -> None:
    with pytest.raises(FrameError) as refused:
        parse_frame("[" * 100_000 + "]" * 100_000)
    assert refused.value.reason == "invalid_json"


def test_replies_are_compact_ocpp_j_arrays() -> None:
    assert call_result("m1", {"currentTime": "2026-01-01T00:00:00Z"}) == (
        '[3,"m1",{"currentTime":"2026-01-01T00:00:00Z"}]'
    )
    assert call("x1", "TriggerMessage", {"requestedMessage": "StatusNotification"}) == (
        '[2,"x1","TriggerMessage",{"requestedMessage":"StatusNotification"}]'
    )
    assert call_error("m2", RpcError("NotImplemented", "unknown action Fly")) == (
        '[4,"m2","NotImplemented","unknown action Fly",{}]'
    )


def test_a_callerror_description_is_cut_to_255_characters_and_keeps_its_details() -> None:
    frame = json.loads(call_error("m3", RpcError("GenericError", "d" * 1000, {"hint": "h"})))
    assert frame[:3] == [4, "m3", "GenericError"]
    assert frame[3] == "d" * 255
    assert frame[4] == {"hint": "h"}


STATUS = {"connectorId": 1, "errorCode": "NoError", "status": "Available"}


@pytest.mark.parametrize(
    ("action", "payload", "code"),
    [
        ("StatusNotification", {**STATUS, "connectorId": "one"}, "TypeConstraintViolation"),
        ("StatusNotification", {"connectorId": 1}, "OccurenceConstraintViolation"),
        (
            "BootNotification",
            {"chargePointVendor": "A", "chargePointModel": "B", "colour": "red"},
            "FormationViolation",
        ),
        (
            "BootNotification",
            {"chargePointVendor": "A" * 21, "chargePointModel": "B"},
            "PropertyConstraintViolation",
        ),
    ],
)
def test_16_schema_violations_get_the_16_codes(action, payload, code) -> None:
    with pytest.raises(RpcError) as refused:
        v16.SCHEMAS.validate(action, payload)
    assert refused.value.code == code


def test_16_records_codes_and_statuses_outside_the_enums_instead_of_refusing_them() -> None:
    v16.SCHEMAS.validate("StatusNotification", {**STATUS, "errorCode": "Gremlins"})
    v16.SCHEMAS.validate("StatusNotification", {**STATUS, "status": "Sleeping"})
    v16.SCHEMAS.validate("StatusNotification", {**STATUS, "info": "i" * 500})


BOOT_201 = {"chargingStation": {"model": "M", "vendorName": "V"}, "reason": "PowerUp"}


@pytest.mark.parametrize(
    ("payload", "code"),
    [
        ({"reason": "PowerUp"}, "OccurrenceConstraintViolation"),
        ({**BOOT_201, "reason": 5}, "TypeConstraintViolation"),
        ({**BOOT_201, "reason": "Bored"}, "PropertyConstraintViolation"),
        ({**BOOT_201, "colour": "red"}, "FormatViolation"),
    ],
)
def test_201_schema_violations_get_the_201_codes(payload, code) -> None:
    v201.SCHEMAS.validate("BootNotification", BOOT_201)
    with pytest.raises(RpcError) as refused:
        v201.SCHEMAS.validate("BootNotification", payload)
    assert refused.value.code == code
