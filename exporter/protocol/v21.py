"""OCPP 2.1: the 2.0.1 handler on the 2.1 schemas, plus what 2.1 adds.

2.1 keeps 2.0.1's device model, labels and NotifyEvent mapping (docs/ocpp201.md covers both);
it adds an event `severity` (mapped in `v201_events`), SEND messages (answered by nothing, as
OCPP-J 2.1 requires) and Charging-Station-initiated actions, each answered below or refused
with the CALLERROR the docs name for it.
"""

from __future__ import annotations

from typing import Any

from exporter.protocol.handler import Route
from exporter.protocol.rpc import OCPP_J_21, RpcError, Schemas
from exporter.protocol.untrusted import clean
from exporter.protocol.v201 import V201Handler, relax_notify_event, relax_status_notification

VERSION = "2.1"
SUBPROTOCOL = "ocpp2.1"
DIALECT = OCPP_J_21

_RELAX = {
    "StatusNotification": relax_status_notification,
    "NotifyEvent": relax_notify_event,
}
SCHEMAS = Schemas(
    "v21",
    suffix="Request",
    relax=_RELAX,
    format_error=DIALECT.format_violation,
    occurrence_error="OccurrenceConstraintViolation",
)
#: SEND messages have schemas without the Request suffix.
SEND_SCHEMAS = Schemas(
    "v21",
    format_error=DIALECT.format_violation,
    occurrence_error="OccurrenceConstraintViolation",
)

_FILES = [path.name for path in SCHEMAS._dir.iterdir() if path.name.endswith(".json")]
#: Every 2.1 CALL action (both directions): one the exporter does not route is NotSupported.
KNOWN_ACTIONS = frozenset(
    name.removesuffix("Request.json") for name in _FILES if name.endswith("Request.json")
)
#: Every 2.1 SEND action (schemas named without Request/Response).
SEND_ACTIONS = frozenset(
    name.removesuffix(".json")
    for name in _FILES
    if not name.endswith(("Request.json", "Response.json"))
)


class V21Handler(V201Handler):
    __slots__ = ()

    version = VERSION
    schemas = SCHEMAS
    known_actions = KNOWN_ACTIONS | SEND_ACTIONS

    @classmethod
    def routes(cls) -> dict[str, Route]:
        return {
            **super().routes(),
            # New in 2.1, carrying nothing the exporter shows: acknowledged.
            "BatterySwap": cls._empty,
            "NotifyPriorityCharging": cls._empty,
            "NotifySettlement": cls._empty,
            "NotifyDERAlarm": cls._empty,
            "NotifyDERStartStop": cls._empty,
            "ReportDERControl": cls._empty,
            "ClosePeriodicEventStream": cls._empty,
            "OpenPeriodicEventStream": cls._no_stream,
        }

    def _no_stream(self, payload: dict[str, Any], now: float) -> dict[str, Any]:
        # The exporter does not read periodic event streams: refusing one spares the station
        # (and the link) a stream of SENDs nobody uses.
        return {"status": "Rejected"}

    def handle_send(self, action: str, payload: dict[str, Any]) -> None:
        """A SEND: checked like a CALL, never answered (OCPP-J 2.1 section 4.2.4). The one 2.1
        SEND (NotifyPeriodicEventStream) carries stream data the exporter does not use."""
        if action not in SEND_ACTIONS:
            raise RpcError("NotImplemented", f"unknown SEND action {clean(action, 40)!r}")
        SEND_SCHEMAS.validate(action, payload)
