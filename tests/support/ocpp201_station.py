"""A 2.0.1 charging station for tests: the `ocpp` package's own v201 ChargePoint over
`websockets`. The package validates our answers against its response schemas."""

from __future__ import annotations

import asyncio
import contextlib
from datetime import UTC, datetime
from typing import Any

import websockets
from ocpp.routing import after, on
from ocpp.v201 import ChargePoint, call, call_result
from ocpp.v201.enums import Action, TriggerMessageStatusEnumType


def now() -> str:
    return datetime.now(UTC).isoformat()


def event(
    component: str,
    variable: str,
    value: str = "true",
    *,
    evse: int | None = 1,
    connector: int | None = None,
    trigger: str = "Alerting",
    cleared: bool | None = None,
    event_id: int = 1,
    component_instance: str | None = None,
    variable_instance: str | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """One EventDataType, in the wire's camelCase."""
    comp: dict[str, Any] = {"name": component}
    if component_instance:
        comp["instance"] = component_instance
    if evse is not None:
        comp["evse"] = {"id": evse} if connector is None else {"id": evse, "connectorId": connector}
    var: dict[str, Any] = {"name": variable}
    if variable_instance:
        var["instance"] = variable_instance
    data: dict[str, Any] = {
        "eventId": event_id,
        "timestamp": now(),
        "trigger": trigger,
        "actualValue": value,
        "eventNotificationType": "HardWiredMonitor",
        "component": comp,
        "variable": var,
        **extra,
    }
    if cleared is not None:
        data["cleared"] = cleared
    return data


class Station201(ChargePoint):
    """Answers TriggerMessage(StatusNotification) by re-reporting `self.current`
    ((evse, connector) -> status), or refuses it when `accept_trigger` is False."""

    __test__ = False

    def __init__(self, station_id: str, connection: Any, accept_trigger: bool = True) -> None:
        super().__init__(station_id, connection, response_timeout=5)
        self.accept_trigger = accept_trigger
        self.current: dict[tuple[int, int], str] = {}
        self.triggers: list[str] = []
        # The EVSE each TriggerMessage named ((id, connector id), or None for all of them).
        self.trigger_evses: list[tuple[int, int] | None] = []
        self._task: asyncio.Task[None] | None = None
        self._seq = 0

    @on(Action.trigger_message)
    def on_trigger(self, requested_message: str, evse: dict[str, int] | None = None, **kwargs: Any):
        self.triggers.append(requested_message)
        self.trigger_evses.append(
            None if evse is None else (evse["id"], evse.get("connector_id", 1))
        )
        status = (
            TriggerMessageStatusEnumType.accepted
            if self.accept_trigger
            else TriggerMessageStatusEnumType.rejected
        )
        return call_result.TriggerMessage(status=status)

    @after(Action.trigger_message)
    def after_trigger(
        self, requested_message: str, evse: dict[str, int] | None = None, **kwargs: Any
    ):
        if self.accept_trigger and requested_message == "StatusNotification":
            return self._report(evse)
        return None

    async def _report(self, evse: dict[str, int] | None) -> None:
        """The connector the trigger named (F06.FR.13), or every one."""
        for (evse_id, connector), status in list(self.current.items()):
            if evse is None or (evse["id"], evse.get("connector_id", 1)) == (evse_id, connector):
                await self.status(evse_id, connector, status, remember=False)

    async def boot(self, vendor: str = "ACME", model: str = "Wallbox2", **extra: Any):
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

    async def notify(self, *events: dict[str, Any]):
        self._seq += 1
        return await self.call(
            call.NotifyEvent(generated_at=now(), seq_no=self._seq, event_data=list(events))
        )

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
        await self._connection.close()


async def connect_station201(
    url: str, station_id: str, subprotocols: tuple[str, ...] = ("ocpp2.0.1",), **kwargs: Any
) -> Station201:
    ws = await websockets.connect(f"{url}/{station_id}", subprotocols=list(subprotocols))
    station = Station201(station_id, ws, **kwargs)
    station._task = asyncio.create_task(station.start())
    return station
