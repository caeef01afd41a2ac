"""OCPP 2.0.1: answers every Charging Station-initiated action and turns it into fleet state.

Faults arrive as NotifyEvent device-model events (mapped by `v201_events`), not as a status
error code. Labels, the mapping table and the re-sync rules are documented in docs/ocpp201.md.
"""

from __future__ import annotations

import logging
from typing import Any

from exporter.knowledge.ocpp_enums import OCPP201_STATUSES, UNKNOWN, UNKNOWN_STATUS
from exporter.protocol import code_schemes, v201_events
from exporter.protocol.handler import Route, StationLink, VersionHandler, now_iso
from exporter.protocol.rpc import OCPP_J_201, CallFailed, RpcError, Schemas, resolved
from exporter.protocol.untrusted import clean
from exporter.state.fleet import ActiveError, StationInfo

log = logging.getLogger("exporter.ocpp")

VERSION = "2.0.1"
SUBPROTOCOL = "ocpp2.0.1"
DIALECT = OCPP_J_201
FORMAT_VIOLATION = DIALECT.format_violation
STATUSES = frozenset(OCPP201_STATUSES)
STATION_CONNECTOR = "0"
#: The source a Faulted status without a reported cause raises `Unknown` under.
FAULTED_SOURCE = "connectorstatus.faulted"
#: Distinct SecurityEventNotification types counted by name; later ones count as "other", so
#: a station cannot grow the exporter's own metrics without bound.
MAX_SECURITY_EVENT_TYPES = 64
#: Distinct problems (component/variable sources) held per connector; more are counted, not kept.
MAX_PROBLEMS_PER_CONNECTOR = 32
#: How a station reports connector statuses (fleet `status_via`).
VIA_STATUS_NOTIFICATION = "StatusNotification"
VIA_AVAILABILITY_STATE = v201_events.AVAILABILITY_STATE
#: Connectors asked for in one GetVariables re-sync (stations bound items per message).
MAX_RESYNC_VARIABLES = 64

#: Every 2.0.1 action (both directions): one the exporter does not route is NotSupported, a
#: name outside 2.0.1 NotImplemented.
KNOWN_ACTIONS = frozenset(
    path.name.removesuffix("Request.json")
    for path in Schemas("v201")._dir.iterdir()
    if path.name.endswith("Request.json")
)


def relax_status_notification(schema: dict[str, Any]) -> None:
    # A status outside the enum is still a report about the connector: record it as Unknown.
    # (connectorStatus is a $ref to ConnectorStatusEnumType, used by nothing else here.)
    del resolved(schema, schema["properties"]["connectorStatus"])["enum"]


def relax_notify_event(schema: dict[str, Any]) -> None:
    # An over-long actualValue or techInfo still describes a fault: keep it (truncated).
    props = schema["definitions"]["EventDataType"]["properties"]
    for name in ("actualValue", "techCode", "techInfo"):
        props[name].pop("maxLength", None)


SCHEMAS = Schemas(
    "v201",
    suffix="Request",
    relax={
        "StatusNotification": relax_status_notification,
        "NotifyEvent": relax_notify_event,
    },
    format_error=FORMAT_VIOLATION,
    occurrence_error="OccurrenceConstraintViolation",
)


def evse_address(label: str) -> dict[str, int]:
    """The EVSEType behind a connector label other than "0": the inverse of `connector_label`
    ("2" is connector 1 of EVSE 2, "2/3" connector 3 of EVSE 2)."""
    evse, _, connector = label.partition("/")
    return {"id": int(evse), "connectorId": int(connector or 1)}


def availability_variable(label: str) -> dict[str, Any]:
    """The GetVariables item asking for the AvailabilityState behind a `connector` label ("0"
    is the ChargingStation's)."""
    variable = {"name": v201_events.AVAILABILITY_STATE}
    if label == STATION_CONNECTOR:
        return {"component": {"name": "ChargingStation"}, "variable": variable}
    return {"component": {"name": "Connector", "evse": evse_address(label)}, "variable": variable}


def component_key(component: dict[str, Any]) -> tuple[str, Any, Any]:
    evse = component.get("evse")
    evse = evse if isinstance(evse, dict) else {}
    return (str(component.get("name", "")).lower(), evse.get("id"), evse.get("connectorId"))


def connector_label(evse_id: int | None, connector_id: int | None = None) -> str:
    """The `connector` label: 2.0.1's EVSE is what 1.6 called a connector (the spec's own
    migration rule), so EVSE 1 is "1" in both versions; a second connector on one EVSE is
    "1/2"; the station itself (no EVSE) is "0"."""
    if not evse_id:
        return STATION_CONNECTOR
    if connector_id is None or connector_id <= 1:
        return str(evse_id)
    return f"{evse_id}/{connector_id}"


class V201Handler(VersionHandler):
    __slots__ = ()

    version = VERSION
    schemas = SCHEMAS
    known_actions = KNOWN_ACTIONS

    @classmethod
    def routes(cls) -> dict[str, Route]:
        return {
            "BootNotification": cls._boot_notification,
            "Heartbeat": cls._heartbeat,
            "StatusNotification": cls._status_notification,
            "NotifyEvent": cls._notify_event,
            "Authorize": cls._authorize,
            "TransactionEvent": cls._transaction_event,
            "MeterValues": cls._empty,
            "FirmwareStatusNotification": cls._firmware_status,
            "SecurityEventNotification": cls._security_event,
            "DataTransfer": cls._data_transfer,
            "LogStatusNotification": cls._empty,
            "PublishFirmwareStatusNotification": cls._empty,
            "NotifyReport": cls._empty,
            "NotifyMonitoringReport": cls._empty,
            "NotifyChargingLimit": cls._empty,
            "ClearedChargingLimit": cls._empty,
            "NotifyCustomerInformation": cls._empty,
            "NotifyDisplayMessages": cls._empty,
            "ReportChargingProfiles": cls._empty,
            "ReservationStatusUpdate": cls._empty,
            "NotifyEVChargingSchedule": cls._accepted,
        }

    def _connector(self, evse: dict[str, Any] | None) -> str:
        if evse is None:
            return STATION_CONNECTOR
        evse_id, connector_id = evse["id"], evse.get("connectorId")
        bound = self.limits.max_connectors_per_station
        if not 0 <= evse_id <= bound or not 0 <= (connector_id or 0) <= bound:
            raise RpcError(
                "PropertyConstraintViolation", f"evse and connector ids must be 0 to {bound}"
            )
        label = connector_label(evse_id, connector_id)
        # "evse/connector" pairs could otherwise reach (bound + 1)^2 labels per station; real
        # stations have one or two connectors per EVSE.
        station = self.fleet.get(self.station_id)
        known = station.connectors if station is not None else {}
        if label not in known and len(known) >= 2 * (bound + 1):
            raise RpcError("PropertyConstraintViolation", f"more than {2 * (bound + 1)} connectors")
        return label

    # -- handlers ---------------------------------------------------------------------

    def _boot_notification(self, payload: dict[str, Any], now: float) -> dict[str, Any]:
        station = payload["chargingStation"]
        info = StationInfo(
            vendor=self._label(station.get("vendorName")),
            model=self._label(station.get("model")),
            firmware_version=self._label(station.get("firmwareVersion")),
            serial_number=self._label(station.get("serialNumber")),
            ocpp_version=self.version,
        )
        self.fleet.boot(self.station_id, info, now)
        return {
            "status": "Accepted",
            "currentTime": now_iso(now),
            "interval": int(self.settings.heartbeat_interval),
        }

    def _status_notification(self, payload: dict[str, Any], now: float) -> dict[str, Any]:
        connector = self._connector(
            {"id": payload["evseId"], "connectorId": payload["connectorId"]}
        )
        status = payload["connectorStatus"]
        if status not in STATUSES:
            self.stats.schema_violations["StatusNotification", "connectorStatus"] += 1
            status = UNKNOWN_STATUS
        self._report_status(connector, status, now, VIA_STATUS_NOTIFICATION)
        return {}

    def _report_status(self, connector: str, status: str, now: float, via: str) -> None:
        """A connector status, from a StatusNotification or an AvailabilityState: the same
        labels, the same Faulted-without-cause rule."""
        self.fleet.report_connector_status(self.station_id, connector, status, now, via)
        state = self.fleet.stations[self.station_id].connectors[connector]
        if status != "Faulted":
            self.fleet.clear_from(self.station_id, connector, FAULTED_SOURCE)
        elif not any(source != FAULTED_SOURCE for source in state.sources):
            # Faulted without a NotifyEvent naming the cause still has to page like 1.6 does.
            self.fleet.raise_from(
                self.station_id,
                connector,
                FAULTED_SOURCE,
                ActiveError(
                    code=UNKNOWN,
                    since=now,
                    status=status,
                    info="connectorStatus=Faulted, no cause reported by NotifyEvent",
                ),
                now,
            )

    def _notify_event(self, payload: dict[str, Any], now: float) -> dict[str, Any]:
        for event in payload["eventData"]:
            self._event(event, now)
        return {}

    def _event(self, event: dict[str, Any], now: float) -> None:
        outcome = v201_events.classify(event)
        if outcome.verdict == "ignore":
            self.stats.events_ignored[outcome.reason] += 1
            return
        connector = self._connector(event["component"].get("evse"))
        if outcome.verdict == "status":
            self._availability_state(connector, outcome.status, now)
            return
        recognised = code_schemes.recognise_v201(
            self.codes,
            str(event.get("techCode", "")),
            code_schemes.reading(event["actualValue"]),
            self._station(),
        )
        source = (
            code_schemes.source_key(event["component"], recognised)
            if recognised is not None
            else v201_events.source_key(event)
        )
        if outcome.verdict == "clear":
            self.fleet.clear_from(self.station_id, connector, source)
            return
        station = self.fleet.get(self.station_id)
        state = station.connectors.get(connector) if station is not None else None
        sources = state.sources if state is not None else {}
        if source not in sources and len(sources) >= MAX_PROBLEMS_PER_CONNECTOR:
            # Each distinct component/variable is a source: bound what one station can make
            # the exporter hold (and re-derive on every event).
            self.stats.events_ignored["too_many_problems"] += 1
            return
        where = v201_events.describe(event["component"], event["variable"])
        info = f"{where}={event['actualValue']}"
        if event.get("techInfo"):
            info += f" {event['techInfo']}"
        self.fleet.clear_from(self.station_id, connector, FAULTED_SOURCE)
        error = ActiveError(
            code=outcome.code,
            since=now,
            status=state.status if state is not None else "",
            vendor_error_code=self._label(event.get("techCode", "")),
            info=self._label(info),
        )
        if recognised is not None:
            # The scheme's code says which fault it is more precisely than the device model.
            error.code = recognised.implied_error_code
            error.scheme = recognised.scheme
            error.codes = tuple(self._label(c) for c in recognised.codes)
            error.readings = tuple(self._label(r) for r in recognised.readings)
        error.severity = v201_events.notification_severity(error.code, event)
        self.fleet.raise_from(self.station_id, connector, source, error, now)

    def _availability_state(self, connector: str, value: str, now: float) -> None:
        status = value if value in STATUSES else UNKNOWN_STATUS
        if status != value:
            self.stats.schema_violations["NotifyEvent", v201_events.AVAILABILITY_STATE] += 1
        self._report_status(connector, status, now, VIA_AVAILABILITY_STATE)

    def _authorize(self, payload: dict[str, Any], now: float) -> dict[str, Any]:
        # Authorization belongs to the CSMS; as a monitoring endpoint we never block charging.
        return {"idTokenInfo": {"status": "Accepted"}}

    def _transaction_event(self, payload: dict[str, Any], now: float) -> dict[str, Any]:
        if "idToken" in payload:
            return {"idTokenInfo": {"status": "Accepted"}}
        return {}

    def _accepted(self, payload: dict[str, Any], now: float) -> dict[str, Any]:
        return {"status": "Accepted"}

    def _security_event(self, payload: dict[str, Any], now: float) -> dict[str, Any]:
        kind = clean(payload["type"], 50)
        counts = self.stats.security_events
        if kind not in counts and len(counts) >= MAX_SECURITY_EVENT_TYPES:
            kind = "other"
        counts[kind] += 1
        log.warning(
            "station %s security event %s: %s",
            self.station_id,
            kind,
            clean(payload.get("techInfo", ""), 200),
        )
        return {}

    # -- after connect ----------------------------------------------------------------

    async def request_resync(self, session: StationLink) -> bool | None:
        """Ask the station for what it uses to report statuses (docs/ocpp201.md "After a
        reconnect"). A station that reports AvailabilityState events is asked for the variable's
        current value on each connector it has (GetVariables: no TriggerMessage makes a station
        send NotifyEvent), and the answer is the re-report; one that does not answer GetVariables,
        and every other station, gets TriggerMessage(StatusNotification)."""
        station = self.fleet.get(self.station_id)
        labels = sorted(station.connectors) if station is not None else []
        if station is not None and station.status_via == VIA_AVAILABILITY_STATE and labels:
            try:
                return await self._resync_by_variables(session, labels[:MAX_RESYNC_VARIABLES])
            except CallFailed:
                pass  # a CALLERROR (e.g. NotSupported): the trigger may still work
        return await self._trigger_status_notifications(session, labels)

    async def _resync_by_variables(self, session: StationLink, labels: list[str]) -> bool | None:
        asked = [availability_variable(label) for label in labels]
        answer = await session.call("GetVariables", {"getVariableData": asked})
        results = answer.get("getVariableResult")
        if not isinstance(results, list):
            return False
        now = self.clock()
        by_component = {
            component_key(item["component"]): label
            for item, label in zip(asked, labels, strict=True)
        }
        for result in results:
            if not isinstance(result, dict) or result.get("attributeStatus") != "Accepted":
                continue
            value, component = result.get("attributeValue"), result.get("component")
            label = (
                by_component.get(component_key(component)) if isinstance(component, dict) else None
            )
            if isinstance(value, str) and label is not None:
                self._availability_state(label, value, now)
        return None

    async def _trigger_status_notifications(self, session: StationLink, labels: list[str]) -> bool:
        """2.x (F06.FR.13): a TriggerMessage for StatusNotification names the EVSE and connector,
        as StatusNotification is sent per connector; so one per connector the station has
        reported. A station not heard from yet is asked once without `evse`, for all of them."""
        targets = [evse_address(label) for label in labels if label != STATION_CONNECTOR]
        if not targets:
            return bool(await super().request_resync(session))
        accepted = False
        for evse in targets[:MAX_RESYNC_VARIABLES]:
            answer = await session.call(
                "TriggerMessage", {"requestedMessage": "StatusNotification", "evse": evse}
            )
            accepted = answer.get("status") == "Accepted" or accepted
        return accepted

    def finish_resync(self) -> None:
        # NotifyEvent problems are not re-reported by a StatusNotification, so they stay until
        # the station clears them or reboots; only a Faulted-without-cause goes.
        self.fleet.finish_source_resync(self.station_id, FAULTED_SOURCE, self.clock())
