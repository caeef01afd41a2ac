"""The OCPP 2.0.1 side of a simulated station: the `ocpp` package's v201 ChargePoint, and how a
scenario's connector state becomes 2.0.1 messages.

A 2.0.1 station has no error code in its StatusNotification: faults travel as NotifyEvent, the
way EVerest sends them (component `EVSE` with the EVSE and connector, variable `Problem`,
`techCode` = the fault's code, e.g. a ChargeX `CX014`; cleared with `cleared: true`). The 1.6
statuses of a scenario map onto the 2.0.1 connector statuses.
"""

from __future__ import annotations

import contextlib
import itertools
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

from ocpp.routing import after, on
from ocpp.v201 import ChargePoint, call, call_result
from ocpp.v201.enums import Action

SUBPROTOCOL = "ocpp2.0.1"

#: 1.6 ChargePointStatus (what scenarios are written in) -> 2.0.1 ConnectorStatusEnumType.
STATUS = {
    "Available": "Available",
    "Preparing": "Occupied",
    "Charging": "Occupied",
    "SuspendedEV": "Occupied",
    "SuspendedEVSE": "Occupied",
    "Finishing": "Occupied",
    "Reserved": "Reserved",
    "Unavailable": "Unavailable",
    "Faulted": "Faulted",
}


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


class SimulatedChargingStation201(ChargePoint):
    """Answers the exporter's TriggerMessage and Reset; the callbacks are the station's side."""

    def __init__(
        self,
        station_id: str,
        connection: Any,
        report: Callable[[], Awaitable[None]],
        boot: Callable[[], Awaitable[None]],
        reboot: Callable[[], None],
        send_errors: tuple[type[BaseException], ...],
    ) -> None:
        super().__init__(station_id, connection, response_timeout=30)
        self._report = report
        self._boot = boot
        self._reboot = reboot
        self._send_errors = send_errors

    @on(Action.trigger_message)
    def on_trigger_message(self, requested_message: str, **kwargs: Any):
        status = (
            "Accepted"
            if requested_message in ("StatusNotification", "BootNotification", "Heartbeat")
            else "NotImplemented"
        )
        return call_result.TriggerMessage(status=status)

    @after(Action.trigger_message)
    async def after_trigger_message(self, requested_message: str, **kwargs: Any):
        with contextlib.suppress(*self._send_errors):
            if requested_message == "StatusNotification":
                await self._report()
            elif requested_message == "BootNotification":
                await self._boot()
            elif requested_message == "Heartbeat":
                await self.call(call.Heartbeat())

    @on(Action.reset)
    def on_reset(self, type: str, **kwargs: Any):
        return call_result.Reset(status="Accepted")

    @after(Action.reset)
    def after_reset(self, type: str, **kwargs: Any):
        self._reboot()


class Reporter201:
    """Turns connector states into StatusNotification and NotifyEvent, remembering which code
    each connector raised so that its clear names the same one."""

    def __init__(self) -> None:
        self.raised: dict[int, str] = {}
        self._event_ids = itertools.count(1)
        self._seq = itertools.count()

    def forget(self) -> None:
        """After a reboot the station starts with no problem raised."""
        self.raised.clear()

    async def boot(self, cp: ChargePoint, vendor: str, model: str, firmware: str, serial: str):
        station = {
            "vendorName": vendor,
            "model": model,
            "firmwareVersion": firmware,
            "serialNumber": serial,
        }
        return await cp.call(call.BootNotification(charging_station=station, reason="PowerUp"))

    async def report(
        self,
        cp: ChargePoint,
        connector: int,
        status: str,
        code: str,
        info: str,
    ) -> None:
        """`code` is the fault's techCode ("" when the connector has none)."""
        if connector > 0:
            await cp.call(
                call.StatusNotification(
                    timestamp=now_iso(),
                    connector_status=STATUS.get(status, "Unavailable"),
                    evse_id=connector,
                    connector_id=1,
                )
            )
        previous = self.raised.get(connector, "")
        if previous and previous != code:
            await self._event(cp, connector, previous, "", cleared=True)
            del self.raised[connector]
        if code and code != self.raised.get(connector):
            await self._event(cp, connector, code, info, cleared=False)
            self.raised[connector] = code

    async def _event(
        self, cp: ChargePoint, connector: int, code: str, info: str, cleared: bool
    ) -> None:
        component: dict[str, Any] = {"name": "ChargingStation"}
        if connector > 0:
            component = {"name": "EVSE", "evse": {"id": connector, "connectorId": 1}}
        event: dict[str, Any] = {
            "eventId": next(self._event_ids),
            "timestamp": now_iso(),
            "trigger": "Alerting",
            "actualValue": "false" if cleared else "true",
            "techCode": code,
            "cleared": cleared,
            "eventNotificationType": "HardWiredNotification",
            "component": component,
            "variable": {"name": "Problem"},
        }
        if info:
            event["techInfo"] = info
        await cp.call(
            call.NotifyEvent(generated_at=now_iso(), seq_no=next(self._seq), event_data=[event])
        )
