"""OCPP 2.x protocol rules without sockets: schema relaxations, framing, event mapping."""

from __future__ import annotations

import pytest

from exporter.protocol import v201
from exporter.protocol.rpc import RpcError, resolved


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
