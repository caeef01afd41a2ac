"""OCPP-J framing without a socket: which frames parse, which CALLERROR a broken one gets (as
each version's OCPP-J says: 1.6, 2.0.1, 2.1), how replies are written, and the schema error
codes. The integration layer (tests/integration/test_bad_input.py, test_ocpp21.py) checks the
same answers on the wire."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from exporter.protocol import v16, v21, v201
from exporter.protocol.rpc import (
    OCPP_J_16,
    OCPP_J_21,
    OCPP_J_201,
    Call,
    CallError,
    CallResult,
    CallResultError,
    FrameError,
    RpcError,
    Send,
    call,
    call_error,
    call_result,
    parse_frame,
)

V16, V201 = "FormationViolation", "FormatViolation"
TWO_X = [OCPP_J_201, OCPP_J_21]


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


# (frame, reason, 1.6 code, 2.x code, message id the CALLERROR goes to in 1.6 and in 2.x).
# 2.x OCPP-J 4.2.3: when the message id cannot be read, the CALLERROR carries "-1"; 1.6 OCPP-J
# names no substitute for the call's own id, so there is no answer. A response is never
# answered with a CALLERROR (CALLERROR answers a CALL).
BROKEN = [
    ("{not json", "invalid_json", V16, V201, None, "-1"),
    ('"\\ud800', "invalid_json", V16, V201, None, "-1"),
    ('{"a": 1}', "not_an_array", V16, "RpcFrameworkError", None, "-1"),
    ("[]", "not_an_array", V16, "RpcFrameworkError", None, "-1"),
    ('[2, 5, "Heartbeat", {}]', "bad_unique_id", V16, "RpcFrameworkError", None, "-1"),
    ('[2, "m1", "Heartbeat"]', "bad_call", V16, "RpcFrameworkError", "m1", "m1"),
    ('[2, "m2", 7, {}]', "bad_call", V16, "RpcFrameworkError", "m2", "m2"),
    ('[2, "m3", "Heartbeat", []]', "bad_payload", V16, V201, "m3", "m3"),
    ('[7, "m4", {}]', "bad_message_type", "ProtocolError", "MessageTypeNotSupported", "m4", "m4"),
    ('[3, "m5"]', "bad_message_type", "ProtocolError", "MessageTypeNotSupported", None, None),
    (
        '[4, "m6", "GenericError"]',
        "bad_message_type",
        "ProtocolError",
        "MessageTypeNotSupported",
        None,
        None,
    ),
    ("[3, 5, {}]", "bad_unique_id", V16, "RpcFrameworkError", None, None),
]


@pytest.mark.parametrize(("frame", "reason", "code16", "code2x", "id16", "id2x"), BROKEN)
def test_a_broken_frame_says_why_and_which_error_code_answers_it(
    frame: str, reason: str, code16: str, code2x: str, id16: str | None, id2x: str | None
) -> None:
    for dialect, code, unique_id in (
        (OCPP_J_16, code16, id16),
        (OCPP_J_201, code2x, id2x),
        (OCPP_J_21, code2x, id2x),
    ):
        with pytest.raises(FrameError) as refused:
            parse_frame(frame, dialect)
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


def refusal(text: str, dialect) -> FrameError:
    with pytest.raises(FrameError) as caught:
        parse_frame(text, dialect)
    return caught.value


@pytest.mark.parametrize("dialect", TWO_X)
@pytest.mark.parametrize(
    "text",
    [
        json.dumps([2, 42, "Heartbeat", {}]),  # the id is not a string
        json.dumps([2, None, "Heartbeat", {}]),
        json.dumps([2, "", "Heartbeat", {}]),
        json.dumps([2, "x" * 37, "Heartbeat", {}]),  # longer than string[36]
        json.dumps([2]),
    ],
)
def test_2x_answers_a_call_whose_message_id_cannot_be_read_with_minus_one(dialect, text):
    error = refusal(text, dialect)
    assert (error.unique_id, error.error.code) == ("-1", "RpcFrameworkError")


@pytest.mark.parametrize("dialect", TWO_X)
def test_2x_answers_unreadable_json_and_non_arrays_with_minus_one(dialect):
    assert (refusal("[2, oops", dialect).unique_id, refusal("[2, oops", dialect).error.code) == (
        "-1",
        "FormatViolation",
    )
    error = refusal(json.dumps({"id": "x"}), dialect)
    assert (error.unique_id, error.error.code) == ("-1", "RpcFrameworkError")


@pytest.mark.parametrize("dialect", TWO_X)
@pytest.mark.parametrize("kind", [3, 4])
def test_a_response_with_an_unreadable_id_is_never_answered(dialect, kind):
    assert refusal(json.dumps([kind, 42, {}]), dialect).unique_id is None


@pytest.mark.parametrize(
    "text",
    [json.dumps([2, 42, "Heartbeat", {}]), "[2, oops", json.dumps({"id": "x"})],
)
def test_16_has_no_substitute_id_so_leaves_it_unanswered(text):
    assert refusal(text, OCPP_J_16).unique_id is None


def test_the_16_spellings_stay():
    assert refusal(json.dumps([2, "a", "Heartbeat"]), OCPP_J_16).error.code == "FormationViolation"
    assert refusal(json.dumps([7, "a", {}]), OCPP_J_16).error.code == "ProtocolError"
    assert refusal(json.dumps([7, "a", {}]), OCPP_J_201).error.code == "MessageTypeNotSupported"


def test_21_reads_send_and_callresulterror():
    assert parse_frame(json.dumps([6, "s1", "NotifyPeriodicEventStream", {}]), OCPP_J_21) == Send(
        "s1", "NotifyPeriodicEventStream", {}
    )
    assert parse_frame(
        json.dumps([5, "r1", "FormatViolation", "bad", {}]), OCPP_J_21
    ) == CallResultError("r1", "FormatViolation", "bad")
    # A broken SEND is never answered, not even with "-1".
    assert (
        refusal(json.dumps([6, 42, "NotifyPeriodicEventStream", {}]), OCPP_J_21).unique_id is None
    )
    assert (
        refusal(json.dumps([6, "s2", "NotifyPeriodicEventStream", []]), OCPP_J_21).unique_id is None
    )


@pytest.mark.parametrize("dialect", [OCPP_J_16, OCPP_J_201])
def test_before_21_send_is_an_unsupported_message_type(dialect):
    error = refusal(json.dumps([6, "s1", "NotifyPeriodicEventStream", {}]), dialect)
    assert error.unique_id == "s1"
    assert error.error.code == dialect.bad_message_type


@pytest.mark.parametrize("dialect", [OCPP_J_16, OCPP_J_201, OCPP_J_21])
def test_well_formed_frames_parse_alike(dialect):
    assert parse_frame('[2,"c","Heartbeat",{}]', dialect) == Call("c", "Heartbeat", {})
    assert parse_frame('[3,"c",{"a":1}]', dialect) == CallResult("c", {"a": 1})
    assert parse_frame('[4,"c","NotSupported","x",{}]', dialect) == CallError(
        "c", "NotSupported", "x", {}
    )


def test_21_schemas_are_relaxed_like_201():
    status = {"timestamp": "t", "connectorStatus": "Charging", "evseId": 1, "connectorId": 1}
    v21.SCHEMAS.validate("StatusNotification", status)
    event = {
        "eventId": 1,
        "timestamp": "t",
        "trigger": "Alerting",
        "actualValue": "x" * 3000,
        "techInfo": "y" * 600,
        "eventNotificationType": "HardWiredMonitor",
        "component": {"name": "RCD"},
        "variable": {"name": "Tripped"},
        "severity": 2,
    }
    v21.SCHEMAS.validate("NotifyEvent", {"generatedAt": "t", "seqNo": 0, "eventData": [event]})


def test_21_knows_its_sends_apart_from_its_calls():
    assert {"NotifyPeriodicEventStream"} == v21.SEND_ACTIONS
    assert "NotifyPeriodicEventStream" not in v21.KNOWN_ACTIONS
    assert {"BatterySwap", "NotifySettlement", "StatusNotification"} <= v21.KNOWN_ACTIONS


json_scalars = st.none() | st.booleans() | st.integers() | st.text(max_size=40)
json_values = st.recursive(
    json_scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=8,
)
message_ids = st.text(min_size=0, max_size=40) | st.integers() | st.none()
frames = st.one_of(
    st.tuples(st.integers(0, 8), message_ids, json_values, json_values).map(list),
    st.tuples(st.integers(0, 8), message_ids, json_values).map(list),
    st.lists(json_values, max_size=5),
    json_values,
)


def _answer_id(text: str, dialect) -> str | None:
    """None when no answer is due; else the message id the answer (CALLERROR) goes to."""
    try:
        parse_frame(text, dialect)
    except FrameError as error:
        return error.unique_id
    return None


@settings(max_examples=400, deadline=None)
@given(frame=frames)
def test_2x_answers_every_broken_frame_that_is_not_a_response(frame):
    """OCPP-J 2.x: a CALLERROR answers what may be a CALL, with the CALL's own id when it can be
    read and "-1" when it cannot; a response (3, 4, 2.1's 5) or a 2.1 SEND is never answered."""
    text = json.dumps(frame)
    kind = frame[0] if isinstance(frame, list) and frame else None
    raw_id = frame[1] if isinstance(frame, list) and len(frame) > 1 else None
    readable = isinstance(raw_id, str) and 0 < len(raw_id) <= 36
    for dialect in TWO_X:
        try:
            parsed = parse_frame(text, dialect)
        except FrameError as error:
            silent = kind in (3, 4) or (dialect is OCPP_J_21 and kind in (5, 6))
            if silent:
                assert error.unique_id is None, (dialect, frame)
            else:
                assert error.unique_id == (raw_id if readable else "-1"), (dialect, frame)
        else:
            assert readable and parsed.unique_id == raw_id


@settings(max_examples=400, deadline=None)
@given(frame=frames)
def test_16_answers_only_to_the_frames_own_readable_id(frame):
    raw_id = frame[1] if isinstance(frame, list) and len(frame) > 1 else None
    answer = _answer_id(json.dumps(frame), OCPP_J_16)
    assert answer is None or answer == raw_id
