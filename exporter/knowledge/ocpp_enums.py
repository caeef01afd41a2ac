"""OCPP's own vocabulary the exporter needs across versions, taken from the `ocpp` package's enums
so that no module keeps a copy: error codes, connector statuses, firmware states.

Protocol-neutral on purpose: the handlers, the state's renderers, the simulator and the
generators all import it, and it imports nothing of the exporter.
"""

from __future__ import annotations

from ocpp.v16.enums import ChargePointErrorCode, ChargePointStatus, FirmwareStatus
from ocpp.v201.enums import ConnectorStatusEnumType

NO_ERROR = ChargePointErrorCode.no_error.value
#: The OCPP 1.6 ChargePointErrorCode values, NoError included, in spec order.
OCPP16_ERROR_CODES = tuple(c.value for c in ChargePointErrorCode)
#: Anything a station sends that is not in the enum is recorded under this code (and status).
UNKNOWN = "Unknown"
UNKNOWN_STATUS = "Unknown"
#: The error codes the exporter records (and the catalog describes): the 1.6 ones besides
#: NoError, then Unknown.
ERROR_CODES = (*(c for c in OCPP16_ERROR_CODES if c != NO_ERROR), UNKNOWN)

#: OCPP 1.6 ChargePointStatus values, in spec order.
OCPP16_STATUSES = tuple(s.value for s in ChargePointStatus)
#: OCPP 2.0.1 ConnectorStatusEnumType values, in spec order.
OCPP201_STATUSES = tuple(s.value for s in ConnectorStatusEnumType)
#: Every connector status a station may report: the 1.6 ones, then 2.0.1's additions.
CONNECTOR_STATUSES = (*OCPP16_STATUSES, *(s for s in OCPP201_STATUSES if s not in OCPP16_STATUSES))

#: FirmwareStatusNotification values (1.6 core and security extension) during which a station is
#: expected to restart and go briefly offline.
FIRMWARE_UPDATE_STATES = frozenset(
    s.value
    for s in (
        FirmwareStatus.downloading,
        FirmwareStatus.downloaded,
        FirmwareStatus.download_scheduled,
        FirmwareStatus.installing,
        FirmwareStatus.install_scheduled,
        FirmwareStatus.install_rebooting,
        FirmwareStatus.signature_verified,
    )
)
