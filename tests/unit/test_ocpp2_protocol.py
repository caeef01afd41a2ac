"""OCPP 2.x protocol rules without sockets: schema relaxations, framing, event mapping."""

from __future__ import annotations

from pathlib import Path

import pytest

from exporter.protocol import v201, v201_events
from exporter.protocol.rpc import RpcError, Schemas, resolved


def status(connector_status: str) -> dict[str, object]:
    return {
        "timestamp": "2026-01-01T00:00:00Z",
        "connectorStatus": connector_status,
        "evseId": 1,
        "connectorId": 1,
    }


@pytest.mark.parametrize("schemas", [v201.SCHEMAS], ids=["2.0.1"])
def test_a_connector_status_outside_the_enum_passes_the_relaxed_schema(schemas):
    # Regression: connectorStatus is a $ref; relaxing the property left the enum in force.
    schemas.validate("StatusNotification", status("Charging"))
    schemas.validate("StatusNotification", status("Available"))
    # Only the enum is relaxed: the type still holds.
    with pytest.raises(RpcError) as refused:
        schemas.validate("StatusNotification", status(7))  # type: ignore[arg-type]
    assert refused.value.code == "TypeConstraintViolation"


def test_resolved_follows_local_refs_only():
    schema = {
        "definitions": {"E": {"enum": ["a"]}},
        "properties": {"p": {"$ref": "#/definitions/E"}},
    }
    assert resolved(schema, schema["properties"]["p"]) is schema["definitions"]["E"]
    assert resolved(schema, schema["definitions"]["E"]) is schema["definitions"]["E"]
    with pytest.raises(ValueError, match="local"):
        resolved(schema, {"$ref": "other.json#/x"})


# -- AvailabilityState: a connector status carried by a device-model event ----------------


def ev(component: str, variable: str, value: str = "true", **extra: object) -> dict[str, object]:
    return {
        "eventId": 1,
        "timestamp": "2026-01-01T00:00:00Z",
        "trigger": extra.pop("trigger", "Alerting"),
        "actualValue": value,
        "eventNotificationType": "HardWiredNotification",
        "component": {"name": component, "evse": {"id": 1, "connectorId": 1}},
        "variable": {"name": variable},
        **extra,
    }


@pytest.mark.parametrize("trigger", ["Delta", "Alerting", "Periodic"])
@pytest.mark.parametrize("component", ["Connector", "connector", "ChargingStation"])
def test_availability_state_is_a_status_report_whatever_the_trigger(component, trigger):
    outcome = v201_events.classify(ev(component, "availabilityState", "Occupied", trigger=trigger))
    assert (outcome.verdict, outcome.status) == ("status", "Occupied")


def test_an_evse_availability_state_is_not_a_connector_status():
    outcome = v201_events.classify(ev("EVSE", "AvailabilityState", "Faulted", trigger="Delta"))
    assert (outcome.verdict, outcome.reason) == ("ignore", "evse_availability_state")


def test_a_faulted_availability_state_is_not_itself_a_problem():
    # Faulted is a status (it pages through the Faulted-without-cause rule, like
    # StatusNotification), not a raised problem of the Connector component.
    assert v201_events.classify(ev("Connector", "AvailabilityState", "Faulted")).verdict == "status"


@pytest.mark.parametrize(
    ("label", "component"),
    [
        ("0", {"name": "ChargingStation"}),
        ("2", {"name": "Connector", "evse": {"id": 2, "connectorId": 1}}),
        ("2/3", {"name": "Connector", "evse": {"id": 2, "connectorId": 3}}),
    ],
)
def test_the_resync_asks_for_the_availability_state_behind_each_label(label, component):
    item = v201.availability_variable(label)
    assert item == {"component": component, "variable": {"name": "AvailabilityState"}}
    # The inverse of the label rule: what the station answers for it maps back to the label.
    evse = component.get("evse")
    if evse is not None:
        assert v201.connector_label(evse["id"], evse["connectorId"]) == label


def test_the_resync_request_passes_the_get_variables_schemas():
    asked = [v201.availability_variable(label) for label in ("0", "1", "1/2")]
    for package in ("v201", "v21"):
        Schemas(package, suffix="Request").validate("GetVariables", {"getVariableData": asked})


# -- 2.1 event severity -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("level", "severity"),
    [(0, "critical"), (3, "critical"), (4, "warning"), (6, "warning"), (7, "info"), (9, "info")],
)
@pytest.mark.parametrize("code", ["OtherError", "Unknown"])
def test_event_severity_rates_the_codes_that_do_not_say_how_bad(code, level, severity):
    assert v201_events.notification_severity(code, {"severity": level}) == severity


@pytest.mark.parametrize(
    "event",
    [{}, {"severity": 10}, {"severity": -1}, {"severity": True}, {"severity": "1"}],
)
def test_no_usable_event_severity_leaves_the_catalog_severity(event):
    assert v201_events.notification_severity("OtherError", event) == ""


def test_a_code_with_its_own_meaning_keeps_its_catalog_severity():
    for code in ("GroundFailure", "HighTemperature", "WeakSignal"):
        assert v201_events.notification_severity(code, {"severity": 9}) == ""


def test_every_level_0_to_9_has_one_severity():
    levels = [v201_events.notification_severity("Unknown", {"severity": n}) for n in range(10)]
    assert all(levels) and len(levels) == 10


def test_docs_carry_the_severity_table_the_tests_pin():
    doc = (Path(__file__).resolve().parents[2] / "docs" / "ocpp201.md").read_text(encoding="utf-8")
    assert (
        "| event `severity` | notification severity |\n"
        "|---|---|\n"
        "| 0 Danger, 1 Hardware Failure, 2 System Failure, 3 Critical | `critical` |\n"
        "| 4 Error, 5 Alert, 6 Warning | `warning` |\n"
        "| 7 Notice, 8 Informational, 9 Debug | `info` |\n"
    ) in doc
