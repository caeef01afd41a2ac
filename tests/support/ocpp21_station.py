"""An OCPP 2.1 charging station for tests: the `ocpp` package's own v21 ChargePoint over
`websockets`. The package validates every answer of the exporter, and every CALL the exporter
sends it, against the 2.1 schemas.

The station reports connector statuses the way it is told to: by StatusNotification, or (2.1
deprecates StatusNotification) only as `Connector.AvailabilityState` NotifyEvent events. It
answers the exporter's re-sync accordingly: TriggerMessage(StatusNotification) by re-sending
StatusNotifications, GetVariables(AvailabilityState) with its current values."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
from typing import Any

import websockets
from ocpp.exceptions import NotSupportedError
from ocpp.routing import after, on
from ocpp.v21 import ChargePoint, call, call_result
from ocpp.v21.enums import Action, TriggerMessageStatusEnumType

from tests.support.ocpp201_station import event, now

STATUS_NOTIFICATION = "StatusNotification"
AVAILABILITY_STATE = "AvailabilityState"


def availability(evse: int, connector: int, status: str, event_id: int) -> dict[str, Any]:
    """The event a 2.1 station sends when a connector's AvailabilityState changes."""
    return event(
        "Connector",
        AVAILABILITY_STATE,
        status,
        evse=evse,
        connector=connector,
        trigger="Delta",
        event_id=event_id,
        eventNotificationType="HardWiredNotification",
    )


class Station21(ChargePoint):
    """`current` ((evse, connector) -> status) is what the station re-reports when asked;
    `reports` says how it reports statuses (StatusNotification or AvailabilityState)."""

    __test__ = False

    def __init__(
        self,
        station_id: str,
        connection: Any,
        reports: str = AVAILABILITY_STATE,
        accept_trigger: bool = True,
        answer_get_variables: bool = True,
    ) -> None:
        super().__init__(station_id, connection, response_timeout=5)
        self.reports = reports
        self.accept_trigger = accept_trigger
        self.answer_get_variables = answer_get_variables
        self.current: dict[tuple[int, int], str] = {}
        # What the exporter asked for: ("TriggerMessage", (requestedMessage, (evse, connector)
        # or None)) or ("GetVariables", [(component, evse id, connector id, variable), ...]).
        self.asked: list[tuple[str, Any]] = []
        self._task: asyncio.Task[None] | None = None
        self._seq = 0
        self._event_ids = itertools.count(1000)
        self._send_ids = itertools.count(1)

    # -- what the exporter asks ----------------------------------------------------------

    @on(Action.trigger_message)
    def on_trigger(self, requested_message: str, evse: dict[str, int] | None = None, **kwargs: Any):
        named = None if evse is None else (evse["id"], evse.get("connector_id", 1))
        self.asked.append(("TriggerMessage", (requested_message, named)))
        # A station that only reports AvailabilityState has no StatusNotification to send.
        accepted = self.accept_trigger and self.reports == STATUS_NOTIFICATION
        status = (
            TriggerMessageStatusEnumType.accepted
            if accepted
            else TriggerMessageStatusEnumType.rejected
        )
        return call_result.TriggerMessage(status=status)

    @after(Action.trigger_message)
    async def after_trigger(
        self, requested_message: str, evse: dict[str, int] | None = None, **kwargs: Any
    ) -> None:
        if not (
            self.accept_trigger
            and self.reports == STATUS_NOTIFICATION
            and requested_message == STATUS_NOTIFICATION
        ):
            return
        named = None if evse is None else (evse["id"], evse.get("connector_id", 1))
        for (evse_id, connector), status in list(self.current.items()):
            if named is None or named == (evse_id, connector):
                await self.status(evse_id, connector, status, remember=False)

    @on(Action.get_variables)
    def on_get_variables(self, get_variable_data: list[dict[str, Any]], **kwargs: Any):
        asked, results = [], []
        for item in get_variable_data:
            component, variable = item["component"], item["variable"]
            evse = component.get("evse", {})
            asked.append(
                (component["name"], evse.get("id"), evse.get("connector_id"), variable["name"])
            )
            key = (evse.get("id"), evse.get("connector_id") or 1)
            known = (
                component["name"] == "Connector"
                and variable["name"] == AVAILABILITY_STATE
                and key in self.current
            )
            result: dict[str, Any] = {
                "attribute_status": "Accepted" if known else "UnknownComponent",
                "component": component,
                "variable": variable,
            }
            if known:
                result["attribute_value"] = self.current[key]
            results.append(result)
        self.asked.append(("GetVariables", asked))
        if not self.answer_get_variables:
            raise NotSupportedError(description="GetVariables is not supported here")
        return call_result.GetVariables(get_variable_result=results)

    # -- what the station sends ----------------------------------------------------------

    async def boot(self, vendor: str = "ACME", model: str = "Wallbox21", **extra: Any):
        return await self.call(
            call.BootNotification(
                charging_station={"vendorName": vendor, "model": model, **extra},
                reason="PowerUp",
            )
        )

    async def status(
        self, evse: int, connector: int = 1, status: str = "Available", remember: bool = True
    ):
        if remember:
            self.current[evse, connector] = status
        return await self.call(
            call.StatusNotification(
                timestamp=now(), connector_status=status, evse_id=evse, connector_id=connector
            )
        )

    async def availability(self, evse: int, connector: int, status: str):
        """Report a status the 2.1 way: a Connector.AvailabilityState event."""
        self.current[evse, connector] = status
        return await self.notify(availability(evse, connector, status, next(self._event_ids)))

    async def notify(self, *events: dict[str, Any]):
        self._seq += 1
        return await self.call(
            call.NotifyEvent(generated_at=now(), seq_no=self._seq, event_data=list(events))
        )

    async def send_unconfirmed(self, action: str, payload: dict[str, Any]) -> None:
        """A 2.1 SEND frame (message type 6); the package has no API for it."""
        frame = [6, f"send-{next(self._send_ids)}", action, payload]
        await self._connection.send(json.dumps(frame))

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
        await self._connection.close()


async def connect_station21(
    url: str, station_id: str, subprotocols: tuple[str, ...] = ("ocpp2.1",), **kwargs: Any
) -> Station21:
    ws = await websockets.connect(f"{url}/{station_id}", subprotocols=list(subprotocols))
    assert ws.subprotocol == "ocpp2.1", ws.subprotocol
    station = Station21(station_id, ws, **kwargs)
    station._task = asyncio.create_task(station.start())
    return station
