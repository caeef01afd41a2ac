"""A charging station for tests: the `ocpp` package's own v16 ChargePoint over `websockets`."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import websockets
from ocpp.routing import after, on
from ocpp.v16 import ChargePoint, call, call_result
from ocpp.v16.enums import Action, ChargePointErrorCode, ChargePointStatus, TriggerMessageStatus


class TestStation(ChargePoint):
    """Answers TriggerMessage(StatusNotification) by re-reporting `self.current` (connector ->
    (status, error_code)), or refuses it when `accept_trigger` is False."""

    __test__ = False  # not a pytest class

    def __init__(self, station_id: str, connection: Any, accept_trigger: bool = True) -> None:
        super().__init__(station_id, connection, response_timeout=5)
        self.accept_trigger = accept_trigger
        self.current: dict[int, tuple[str, str]] = {}
        self.triggers = 0
        self._task: asyncio.Task[None] | None = None

    @on(Action.trigger_message)
    def on_trigger(self, requested_message: str, connector_id: int | None = None):
        self.triggers += 1
        if not self.accept_trigger:
            return call_result.TriggerMessage(status=TriggerMessageStatus.rejected)
        return call_result.TriggerMessage(status=TriggerMessageStatus.accepted)

    @after(Action.trigger_message)  # runs once the answer is sent
    def after_trigger(self, requested_message: str, connector_id: int | None = None):
        if self.accept_trigger and requested_message == "StatusNotification":
            return self._report_all()
        return None

    async def _report_all(self) -> None:
        for connector, (status, code) in list(self.current.items()):
            await self.status(connector, status, code, remember=False)

    async def boot(self, vendor: str = "ACME", model: str = "Wallbox", **extra: Any):
        return await self.call(
            call.BootNotification(charge_point_vendor=vendor, charge_point_model=model, **extra)
        )

    async def status(
        self,
        connector: int,
        status: str | ChargePointStatus = "Available",
        error_code: str | ChargePointErrorCode = "NoError",
        remember: bool = True,
        **extra: Any,
    ):
        status = getattr(status, "value", status)
        error_code = getattr(error_code, "value", error_code)
        if remember:
            self.current[connector] = (status, error_code)
        return await self.call(
            call.StatusNotification(
                connector_id=connector, status=status, error_code=error_code, **extra
            )
        )

    async def call_heartbeat_ok(self) -> bool:
        return bool((await self.call(call.Heartbeat())).current_time)

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
        await self._connection.close()


async def connect_station(
    url: str, station_id: str, subprotocol: str = "ocpp1.6", **kwargs: Any
) -> TestStation:
    ws = await websockets.connect(f"{url}/{station_id}", subprotocols=[subprotocol])
    station = TestStation(station_id, ws, **kwargs)
    station._task = asyncio.create_task(station.start())
    return station
