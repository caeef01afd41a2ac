"""The OCPP 2.x side of a simulated station (2.0.1, and 2.1 which keeps its device model): the
`ocpp` package's v201 or v21 ChargePoint, and how a scenario's connector state becomes 2.x
messages.

A 2.x station has no error code in its StatusNotification: faults travel as NotifyEvent, the
way EVerest sends them (component `EVSE` with the EVSE and connector, variable `Problem`,
`techCode` = the fault's code, e.g. a ChargeX `CX014`; cleared with `cleared: true`). The 1.6
statuses of a scenario map onto the 2.x connector statuses. A station may report statuses by
StatusNotification, or (2.1 deprecates it) only as `Connector.AvailabilityState` events; such a
station refuses TriggerMessage(StatusNotification) and answers GetVariables instead.
"""

from __future__ import annotations

import contextlib
import itertools
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from types import ModuleType
from typing import Any

from ocpp import v21, v201
from ocpp.routing import after, on

#: version -> (subprotocol, the package's `call` and `call_result` modules)
VERSIONS: dict[str, tuple[str, ModuleType, ModuleType]] = {
    "2.0.1": ("ocpp2.0.1", v201.call, v201.call_result),
    "2.1": ("ocpp2.1", v21.call, v21.call_result),
}
#: How a station reports its connectors' statuses.
STATUS_NOTIFICATION = "StatusNotification"
AVAILABILITY_STATE = "AvailabilityState"

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


class _Handlers:
    """Answers the exporter's TriggerMessage, GetVariables and Reset; the callbacks are the
    station's side. Mixed into the package's v201 or v21 ChargePoint."""

    def __init__(
        self,
        station_id: str,
        connection: Any,
        reporter: Reporter201,
        report: Callable[[int | None], Awaitable[None]],
        boot: Callable[[], Awaitable[None]],
        reboot: Callable[[], None],
        send_errors: tuple[type[BaseException], ...],
    ) -> None:
        super().__init__(station_id, connection, response_timeout=30)  # type: ignore[call-arg]
        self._reporter = reporter
        self._report = report
        self._boot = boot
        self._reboot = reboot
        self._send_errors = send_errors

    def _answers(self, requested_message: str) -> bool:
        if requested_message == STATUS_NOTIFICATION:
            # A station reporting AvailabilityState events has no StatusNotification to send.
            return self._reporter.status_via == STATUS_NOTIFICATION
        return requested_message in ("BootNotification", "Heartbeat")

    @on("TriggerMessage")
    def on_trigger_message(self, requested_message: str, **kwargs: Any) -> Any:
        accepted = self._answers(requested_message)
        status = "Accepted" if accepted else "Rejected"
        return self._reporter.call_result.TriggerMessage(status=status)

    @after("TriggerMessage")
    async def after_trigger_message(
        self, requested_message: str, evse: dict[str, int] | None = None, **kwargs: Any
    ) -> None:
        if not self._answers(requested_message):
            return
        with contextlib.suppress(*self._send_errors):
            if requested_message == STATUS_NOTIFICATION:
                # The EVSE the trigger names (a simulated EVSE has one connector), or all.
                await self._report(None if evse is None else evse["id"])
            elif requested_message == "BootNotification":
                await self._boot()
            elif requested_message == "Heartbeat":
                await self.call(self._reporter.call.Heartbeat())  # type: ignore[attr-defined]

    @on("GetVariables")
    def on_get_variables(self, get_variable_data: list[dict[str, Any]], **kwargs: Any) -> Any:
        return self._reporter.call_result.GetVariables(
            get_variable_result=[self._reporter.variable(item) for item in get_variable_data]
        )

    @on("Reset")
    def on_reset(self, type: str, **kwargs: Any) -> Any:
        return self._reporter.call_result.Reset(status="Accepted")

    @after("Reset")
    def after_reset(self, type: str, **kwargs: Any) -> None:
        self._reboot()


class _Station201(_Handlers, v201.ChargePoint):
    pass


class _Station21(_Handlers, v21.ChargePoint):
    pass


CHARGE_POINTS: dict[str, type[_Handlers]] = {"2.0.1": _Station201, "2.1": _Station21}


class Reporter201:
    """Turns connector states into StatusNotification (or AvailabilityState events) and
    NotifyEvent, remembering which code each connector raised so that its clear names the same
    one, and each connector's last status so that GetVariables can answer it."""

    def __init__(self, version: str = "2.0.1", status_via: str = STATUS_NOTIFICATION) -> None:
        self.version = version
        self.subprotocol, self.call, self.call_result = VERSIONS[version]
        self.status_via = status_via
        self.raised: dict[int, str] = {}
        self.statuses: dict[int, str] = {}
        self._event_ids = itertools.count(1)
        self._seq = itertools.count()

    def charge_point(self, station_id: str, connection: Any, **callbacks: Any) -> Any:
        """The package's ChargePoint of this version with the station's handlers."""
        return CHARGE_POINTS[self.version](station_id, connection, self, **callbacks)

    def remember(self, connector: int, status: str) -> None:
        """The connector's state changed, reported or not (the station may be offline): what
        GetVariables answers."""
        if connector > 0:
            self.statuses[connector] = STATUS.get(status, "Unavailable")

    def variable(self, item: dict[str, Any]) -> dict[str, Any]:
        """One GetVariables result: a Connector's AvailabilityState is known, nothing else."""
        component, variable = item["component"], item["variable"]
        evse = component.get("evse") or {}
        known = (
            component["name"] == "Connector"
            and variable["name"] == AVAILABILITY_STATE
            and evse.get("id") in self.statuses
            and evse.get("connector_id", 1) == 1
        )
        result = {
            "attribute_status": "Accepted" if known else "UnknownComponent",
            "component": component,
            "variable": variable,
        }
        if known:
            result["attribute_value"] = self.statuses[evse["id"]]
        return result

    def forget(self) -> None:
        """After a reboot the station starts with no problem raised."""
        self.raised.clear()

    async def boot(self, cp: Any, vendor: str, model: str, firmware: str, serial: str) -> Any:
        station = {
            "vendorName": vendor,
            "model": model,
            "firmwareVersion": firmware,
            "serialNumber": serial,
        }
        return await cp.call(self.call.BootNotification(charging_station=station, reason="PowerUp"))

    async def report(
        self,
        cp: Any,
        connector: int,
        status: str,
        code: str,
        info: str,
    ) -> None:
        """`code` is the fault's techCode ("" when the connector has none)."""
        if connector > 0:
            self.remember(connector, status)
            connector_status = self.statuses[connector]
            if self.status_via == AVAILABILITY_STATE:
                await self._availability(cp, connector, connector_status)
            else:
                await cp.call(
                    self.call.StatusNotification(
                        timestamp=now_iso(),
                        connector_status=connector_status,
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

    async def _availability(self, cp: Any, connector: int, status: str) -> None:
        event = {
            "eventId": next(self._event_ids),
            "timestamp": now_iso(),
            "trigger": "Delta",
            "actualValue": status,
            "eventNotificationType": "HardWiredNotification",
            "component": {"name": "Connector", "evse": {"id": connector, "connectorId": 1}},
            "variable": {"name": AVAILABILITY_STATE},
        }
        await cp.call(
            self.call.NotifyEvent(
                generated_at=now_iso(), seq_no=next(self._seq), event_data=[event]
            )
        )

    async def _event(self, cp: Any, connector: int, code: str, info: str, cleared: bool) -> None:
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
            self.call.NotifyEvent(
                generated_at=now_iso(), seq_no=next(self._seq), event_data=[event]
            )
        )
