"""A minimal OCPP 1.6 central system for relay tests: aiohttp on loopback, the `ocpp` package's
own v16 ChargePoint on the server side, and every raw frame recorded on both sides so that
tests can compare bytes; plus a recording wrapper for the station's websocket."""

from __future__ import annotations

import asyncio
import contextlib
import ssl
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import websockets
from aiohttp import WSMsgType, web
from ocpp.routing import on
from ocpp.v16 import ChargePoint, call_result
from ocpp.v16.enums import Action

from tests.support.ocpp_station import TestStation


class LegClosed(Exception):
    """The websocket the CSMS side was reading from has closed."""


class RecordingConnection:
    """What the `ocpp` ChargePoint needs of a connection (recv/send) over an aiohttp
    websocket, keeping every text frame as it crossed the wire."""

    def __init__(self, ws: web.WebSocketResponse) -> None:
        self.ws = ws
        self.received: list[str] = []
        self.sent: list[str] = []

    async def recv(self) -> str:
        while True:
            msg = await self.ws.receive()
            if msg.type == WSMsgType.TEXT:
                self.received.append(msg.data)
                return msg.data
            if msg.type in (WSMsgType.CLOSE, WSMsgType.CLOSING, WSMsgType.CLOSED, WSMsgType.ERROR):
                raise LegClosed()

    async def send(self, text: str) -> None:
        self.sent.append(text)
        await self.ws.send_str(text)


class CsmsSide(ChargePoint):
    """The central system's view of one station."""

    def __init__(self, station_id: str, connection: RecordingConnection, csms: Csms) -> None:
        super().__init__(station_id, connection, response_timeout=5)
        self.csms = csms

    @on(Action.boot_notification)
    def on_boot(self, charge_point_vendor: str, charge_point_model: str, **_: Any):
        return call_result.BootNotification(
            current_time=datetime.now(UTC).isoformat(),
            interval=300,
            status=self.csms.boot_status,
        )

    @on(Action.status_notification)
    def on_status(self, connector_id: int, error_code: str, status: str, **_: Any):
        return call_result.StatusNotification()

    @on(Action.heartbeat)
    def on_heartbeat(self):
        return call_result.Heartbeat(current_time=datetime.now(UTC).isoformat())


@dataclass
class CsmsLeg:
    side: CsmsSide
    connection: RecordingConnection
    headers: dict[str, str]
    protocol: str | None
    request: web.Request
    closed: asyncio.Event = field(default_factory=asyncio.Event)


class Csms:
    """`ws://127.0.0.1:{port}/ocpp/{station_id}`; `legs` keeps every leg ever opened."""

    def __init__(self, ssl_context: ssl.SSLContext | None = None) -> None:
        self.ssl_context = ssl_context
        self.boot_status = "Accepted"
        self.refuse_status: int | None = None
        self.legs: dict[str, list[CsmsLeg]] = {}
        self._runner: web.AppRunner | None = None
        self.port = 0

    @property
    def url(self) -> str:
        scheme = "wss" if self.ssl_context else "ws"
        return f"{scheme}://127.0.0.1:{self.port}/ocpp"

    def leg(self, station_id: str) -> CsmsLeg:
        return self.legs[station_id][-1]

    async def start(self) -> None:
        app = web.Application()
        app.router.add_get("/ocpp/{station_id}", self._handle)
        self._runner = web.AppRunner(app, handle_signals=False, shutdown_timeout=1)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", self.port, ssl_context=self.ssl_context)
        await site.start()
        self.port = self._runner.addresses[0][1]

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        if self.refuse_status is not None:
            return web.Response(status=self.refuse_status, text="refused by the test CSMS\n")
        ws = web.WebSocketResponse(protocols=("ocpp1.6",))
        await ws.prepare(request)
        station_id = request.match_info["station_id"]
        connection = RecordingConnection(ws)
        leg = CsmsLeg(
            CsmsSide(station_id, connection, self),
            connection,
            dict(request.headers),
            ws.ws_protocol,
            request,
        )
        self.legs.setdefault(station_id, []).append(leg)
        try:
            await leg.side.start()
        except (LegClosed, ConnectionError):
            pass
        finally:
            leg.closed.set()
        return ws


class RecordingWebsocket:
    """A station-side `websockets` connection that keeps every text frame both ways."""

    def __init__(self, ws: Any) -> None:
        self.ws = ws
        self.sent: list[str] = []
        self.received: list[str] = []

    async def recv(self) -> str:
        message = await self.ws.recv()
        self.received.append(message)
        return message

    async def send(self, message: str) -> None:
        self.sent.append(message)
        await self.ws.send(message)

    async def close(self, *args: Any, **kwargs: Any) -> None:
        await self.ws.close(*args, **kwargs)

    @property
    def close_code(self) -> int | None:
        return self.ws.close_code


async def recording_station(
    url: str, path_segment: str, headers: dict[str, str] | None = None
) -> tuple[TestStation, RecordingWebsocket]:
    ws = await websockets.connect(
        f"{url}/{path_segment}", subprotocols=["ocpp1.6"], additional_headers=headers or {}
    )
    recorder = RecordingWebsocket(ws)
    station = TestStation(path_segment, recorder)
    station._task = asyncio.create_task(station.start())
    return station, recorder


async def stop_station(station: TestStation) -> None:
    with contextlib.suppress(Exception):
        await station.close()
