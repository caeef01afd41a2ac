"""One station's open websocket: frame dispatch, CALLs to the station, liveness bookkeeping."""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Callable
from typing import Any, Protocol

from aiohttp import web

from exporter.endpoint.peer_identity import PeerIdentity
from exporter.protocol.rpc import (
    Call,
    CallError,
    CallResult,
    FrameError,
    RpcError,
    call,
    call_error,
    call_result,
)
from exporter.protocol.rpc import parse_frame as parse
from exporter.state.counters import Stats
from exporter.state.fleet import Fleet

log = logging.getLogger("exporter.ocpp")


class CallFailed(Exception):
    """The station answered our CALL with a CALLERROR, or the session ended first."""


class Handler(Protocol):
    version: str

    def handle_call(self, action: str, payload: dict[str, Any]) -> dict[str, Any]: ...

    async def resync(self, session: Session) -> None: ...


class Session:
    def __init__(
        self,
        station_id: str,
        ws: web.WebSocketResponse,
        handler: Handler,
        token: int,
        fleet: Fleet,
        stats: Stats,
        clock: Callable[[], float],
        call_timeout: float,
        known_actions: frozenset[str],
        formation_violation: str,
    ) -> None:
        self.station_id = station_id
        self.ws = ws
        self.handler = handler
        self.token = token
        self.fleet = fleet
        self.stats = stats
        self.clock = clock
        self.call_timeout = call_timeout
        self.known_actions = known_actions
        self.formation_violation = formation_violation
        self.pending: dict[str, asyncio.Future[dict[str, Any]]] = {}
        # Who presented the session (exporter/proxy.py), set by the server on upgrade.
        self.peer: PeerIdentity | None = None
        now = clock()
        self.last_rx = now
        self.last_frame = now
        self.ping_sent: float | None = None
        self.close_reason = "station_closed"
        self.transport: asyncio.BaseTransport | None = None
        self.resync_task: asyncio.Task[None] | None = None

    # -- inbound ----------------------------------------------------------------------

    async def on_text(self, text: str) -> None:
        started = time.perf_counter()
        now = self.clock()
        self.last_rx = self.last_frame = now
        self.fleet.seen(self.station_id, now)
        try:
            frame = parse(text, self.formation_violation)
        except FrameError as exc:
            self.stats.protocol_errors[exc.reason] += 1
            log.warning("station %s sent a bad frame: %s", self.station_id, exc)
            if exc.unique_id is not None:
                await self.ws.send_str(call_error(exc.unique_id, exc.error))
            return
        if isinstance(frame, Call):
            await self._on_call(frame)
        else:
            self._on_response(frame)
        self.stats.handling.observe(time.perf_counter() - started)

    async def _on_call(self, frame: Call) -> None:
        action = frame.action if frame.action in self.known_actions else "unknown"
        try:
            reply = call_result(
                frame.unique_id, self.handler.handle_call(frame.action, frame.payload)
            )
            result = "accepted"
        except RpcError as exc:
            reply = call_error(frame.unique_id, exc)
            result = "callerror"
            self.stats.protocol_errors[f"callerror_{exc.code}"] += 1
            log.info("station %s: %s answered with %s", self.station_id, action, exc)
        except Exception:
            # A bug of ours must cost the station one answer, not its session.
            log.exception("station %s: handling %s failed", self.station_id, action)
            reply = call_error(frame.unique_id, RpcError("InternalError", "internal error"))
            result = "internal_error"
        self.stats.frames[action, result] += 1
        await self.ws.send_str(reply)

    def _on_response(self, frame: CallResult | CallError) -> None:
        future = self.pending.pop(frame.unique_id, None)
        if future is None or future.done():
            self.stats.protocol_errors["unexpected_response"] += 1
            return
        if isinstance(frame, CallResult):
            future.set_result(frame.payload)
        else:
            future.set_exception(CallFailed(f"{frame.code}: {frame.description}"))

    def on_pong(self) -> None:
        self.last_rx = self.clock()
        self.ping_sent = None
        self.fleet.seen(self.station_id, self.last_rx)

    # -- outbound ---------------------------------------------------------------------

    async def call(self, action: str, payload: dict[str, Any]) -> dict[str, Any]:
        """Send a CALL to the station and wait for its CALLRESULT payload."""
        unique_id = uuid.uuid4().hex[:32]
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self.pending[unique_id] = future
        try:
            await self.ws.send_str(call(unique_id, action, payload))
            async with asyncio.timeout(self.call_timeout):
                return await future
        finally:
            self.pending.pop(unique_id, None)

    def fail_pending(self) -> None:
        for future in self.pending.values():
            if not future.done():
                future.set_exception(CallFailed("session closed"))
        self.pending.clear()
