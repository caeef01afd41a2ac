"""OCPP 1.6J: answers every Charge Point-initiated action and turns it into fleet state."""

from __future__ import annotations

from typing import Any

from exporter.knowledge.ocpp_enums import (
    NO_ERROR,
    OCPP16_ERROR_CODES,
    OCPP16_STATUSES,
    UNKNOWN,
    UNKNOWN_STATUS,
)
from exporter.protocol import code_schemes
from exporter.protocol.handler import Route, VersionHandler, now_iso
from exporter.protocol.rpc import OCPP_J_16, RpcError, Schemas
from exporter.state.fleet import ActiveError, StationInfo

VERSION = "1.6"
SUBPROTOCOL = "ocpp1.6"
DIALECT = OCPP_J_16
ERROR_CODES = frozenset(OCPP16_ERROR_CODES)
STATUSES = frozenset(OCPP16_STATUSES)


#: Every 1.6 action (both directions, incl. the security whitepaper's): one the exporter does not
#: route (e.g. a station sending Reset) is NotSupported, a name outside 1.6 NotImplemented.
KNOWN_ACTIONS = frozenset(
    path.name.removesuffix(".json")
    for path in Schemas("v16")._dir.iterdir()
    if path.name.endswith(".json") and not path.name.endswith("Response.json")
)


def _relax_status_notification(schema: dict[str, Any]) -> None:
    # A station that sends a code or status outside the 1.6 enums, or an over-long info, is
    # still reporting a fault: record it (as Unknown, truncated) instead of rejecting it.
    props = schema["properties"]
    for name in ("errorCode", "status"):
        props[name].pop("enum", None)
    for name in ("info", "vendorId", "vendorErrorCode"):
        props[name].pop("maxLength", None)


SCHEMAS = Schemas(
    "v16",
    relax={"StatusNotification": _relax_status_notification},
    format_error=DIALECT.format_violation,
    occurrence_error="OccurenceConstraintViolation",
)


class V16Handler(VersionHandler):
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
            "Authorize": cls._accept_id_tag,
            "StartTransaction": cls._start_transaction,
            "StopTransaction": cls._accept_id_tag,
            "MeterValues": cls._empty,
            "DataTransfer": cls._data_transfer,
            "DiagnosticsStatusNotification": cls._empty,
            "FirmwareStatusNotification": cls._firmware_status,
            "SignedFirmwareStatusNotification": cls._firmware_status,
            "SecurityEventNotification": cls._empty,
            "LogStatusNotification": cls._empty,
        }

    # -- handlers ---------------------------------------------------------------------

    def _boot_notification(self, payload: dict[str, Any], now: float) -> dict[str, Any]:
        info = StationInfo(
            vendor=self._label(payload.get("chargePointVendor")),
            model=self._label(payload.get("chargePointModel")),
            firmware_version=self._label(payload.get("firmwareVersion")),
            serial_number=self._label(
                payload.get("chargePointSerialNumber") or payload.get("chargeBoxSerialNumber")
            ),
            ocpp_version=VERSION,
        )
        self.fleet.boot(self.station_id, info, now)
        return {
            "status": "Accepted",
            "currentTime": now_iso(now),
            "interval": int(self.settings.heartbeat_interval),
        }

    def _status_notification(self, payload: dict[str, Any], now: float) -> dict[str, Any]:
        connector_id = payload["connectorId"]
        if not 0 <= connector_id <= self.limits.max_connectors_per_station:
            raise RpcError(
                "PropertyConstraintViolation",
                f"connectorId must be 0 to {self.limits.max_connectors_per_station}",
            )
        status = payload["status"]
        if status not in STATUSES:
            self.stats.schema_violations["StatusNotification", "status"] += 1
            status = UNKNOWN_STATUS
        raw_code = payload["errorCode"]
        info = payload.get("info", "")
        if raw_code in ERROR_CODES:
            code = raw_code
        else:
            # Keep what the station said: an operator needs the raw value to look it up.
            self.stats.schema_violations["StatusNotification", "errorCode"] += 1
            code = UNKNOWN
            info = f"errorCode={raw_code} {info}".strip()
        vendor_id = str(payload.get("vendorId", ""))
        vendor_error_code = str(payload.get("vendorErrorCode", ""))
        # Most notifications carry no vendor code: skip the lookup of what catalogs may match.
        recognised = (
            code_schemes.recognise_v16(
                self.codes,
                vendor_id,
                vendor_error_code,
                str(payload.get("info", "")),
                self._station(),
            )
            if vendor_error_code
            else None
        )
        if recognised is not None and recognised.dropped:
            self.stats.limit_breaches["compound_codes"] += recognised.dropped
        if recognised is not None and recognised.resolved:
            # EVerest ReportClearedErrors: errorCode names what is still active, not this code.
            self.fleet.resolve_codes(
                self.station_id,
                str(connector_id),
                status,
                recognised.scheme,
                recognised.codes,
                code != NO_ERROR,
                now,
            )
            return {}
        error = None
        if code != NO_ERROR:
            error = ActiveError(
                code=code,
                since=now,
                status=status,
                vendor_id=self._label(vendor_id),
                vendor_error_code=self._label(vendor_error_code),
                info=self._label(info),
            )
            if recognised is not None:
                error.scheme = recognised.scheme
                error.codes = tuple(self._label(c) for c in recognised.codes)
                error.readings = tuple(self._label(r) for r in recognised.readings)
        self.fleet.report_status(self.station_id, str(connector_id), status, error, now)
        return {}

    def _accept_id_tag(self, payload: dict[str, Any], now: float) -> dict[str, Any]:
        # Authorization belongs to the CSMS; as a monitoring endpoint we never block charging.
        return {"idTagInfo": {"status": "Accepted"}}

    def _start_transaction(self, payload: dict[str, Any], now: float) -> dict[str, Any]:
        return {"transactionId": next(self._transaction_ids), "idTagInfo": {"status": "Accepted"}}
