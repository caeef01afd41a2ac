"""A standalone station session: the exporter answers the station as its central system.
Frame dispatch, CALLs to the station and its re-sync after connecting."""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from typing import Any

from aiohttp import WSCloseCode, WSMsgType

from exporter.endpoint.rate_limit import refuse_over_rate
from exporter.endpoint.station_session import (
    LIVENESS_FRAMES,
    Connection,
    Protocol,
    SessionContext,
    StationSession,
)
from exporter.endpoint.token_bucket import TokenBucket
from exporter.protocol.handler import VersionHandler
from exporter.protocol.rpc import (
    RPC_ERROR_CODES_2X,
    Call,
    CallError,
    CallFailed,
    CallResult,
    CallResultError,
    FrameError,
    RpcError,
    Send,
    call,
    call_error,
    call_result,
)
from exporter.protocol.rpc import parse_frame as parse
from exporter.protocol.untrusted import clean

log = logging.getLogger("exporter.ocpp")


class Session(StationSession):
    """A standalone session: the exporter is the station's central system and answers it."""

    __slots__ = ("bucket", "pending", "resync_task")

    def __init__(
        self,
        context: SessionContext,
        connection: Connection,
        handler: VersionHandler,
        protocol: Protocol,
        bucket: TokenBucket | None = None,
    ) -> None:
        super().__init__(context, connection, handler, protocol)
        # Per-station message rate limit (limits.max_messages_per_second); None: off.
        self.bucket = bucket
        self.pending: dict[str, asyncio.Future[dict[str, Any]]] = {}
        self.resync_task: asyncio.Task[None] | None = None

    # -- the run loop -------------------------------------------------------------------

    async def _serve(self) -> None:
        stats = self.context.stats
        self.resync_task = asyncio.create_task(self.handler.resync(self))
        # A finished re-sync need not be kept for the rest of the session.
        self.resync_task.add_done_callback(self._resync_done)
        ws = self.ws
        async for msg in ws:
            if msg.type == WSMsgType.TEXT:
                if self.oversized(msg.data):
                    await self.close_oversized()
                    break
                if self.bucket is not None and not self.bucket.allow():
                    await refuse_over_rate(self, msg.data, self.bucket, stats)
                    continue
                await self.on_text(msg.data)
            elif msg.type in LIVENESS_FRAMES:
                # A ping costs a pong: it counts against the rate like a frame (a pong answers
                # our own ping and does not).
                if (
                    msg.type == WSMsgType.PING
                    and self.bucket is not None
                    and not self.bucket.allow()
                ):
                    await refuse_over_rate(self, "", self.bucket, stats)
                    continue
                await self._on_ping_or_pong(msg)
            elif msg.type == WSMsgType.BINARY:
                stats.protocol_errors["binary_frame"] += 1
                await ws.close(code=WSCloseCode.UNSUPPORTED_DATA, message=b"OCPP-J is text")
                self.close_reason = "binary_frame"
            elif msg.type == WSMsgType.ERROR:
                self.close_reason = self._error_reason()

    def _error_reason(self) -> str:
        error = self.ws.exception()
        if getattr(error, "code", None) == WSCloseCode.MESSAGE_TOO_BIG:
            self.context.stats.protocol_errors["frame_too_large"] += 1
            return "frame_too_large"
        self.context.stats.protocol_errors["websocket_error"] += 1
        return "websocket_error"

    def _resync_done(self, task: asyncio.Task[None]) -> None:
        if self.resync_task is task:
            self.resync_task = None

    def _stop_work(self) -> None:
        if self.resync_task is not None:
            self.resync_task.cancel()

    # -- inbound ----------------------------------------------------------------------

    async def on_text(self, text: str) -> None:
        started = time.perf_counter()
        now = self.context.clock()
        self.last_rx = self.last_frame = now
        self.context.fleet.seen(self.station_id, now)
        try:
            frame = parse(text, self.protocol.dialect)
        except FrameError as exc:
            self.context.stats.protocol_errors[exc.reason] += 1
            log.warning("station %s sent a bad frame: %s", self.station_id, exc)
            if exc.unique_id is not None:
                await self.ws.send_str(call_error(exc.unique_id, exc.error))
            return
        if isinstance(frame, Call):
            await self._on_call(frame)
        elif isinstance(frame, Send):
            self._on_send(frame)
        elif isinstance(frame, CallResultError):
            # The station could not process one of our answers: nothing to send back.
            code = clean(frame.code, 40)
            # The code becomes a label value: only the spec's codes keep their name.
            known = code if code in RPC_ERROR_CODES_2X else "other"
            self.context.stats.protocol_errors[f"callresulterror_{known}"] += 1
            log.warning(
                "station %s refused our answer to %s: %s %s",
                self.station_id,
                frame.unique_id,
                code,
                clean(frame.description, 200),
            )
        else:
            self._on_response(frame)
        self.context.stats.handling.observe(time.perf_counter() - started)

    def _on_send(self, frame: Send) -> None:
        """A 2.1 SEND is never answered, not even when it is invalid (OCPP-J 2.1 4.2.4)."""
        stats = self.context.stats
        action = frame.action if frame.action in self.protocol.known_actions else "unknown"
        try:
            self.handler.handle_send(frame.action, frame.payload)
            result = "accepted"
        except RpcError as exc:
            result = "invalid"
            stats.protocol_errors[f"send_{exc.code}"] += 1
            log.info("station %s: SEND %s ignored: %s", self.station_id, action, exc)
        stats.frames[action, result] += 1

    async def _on_call(self, frame: Call) -> None:
        stats = self.context.stats
        action = frame.action if frame.action in self.protocol.known_actions else "unknown"
        try:
            reply = call_result(
                frame.unique_id, self.handler.handle_call(frame.action, frame.payload)
            )
            result = "accepted"
        except RpcError as exc:
            reply = call_error(frame.unique_id, exc)
            result = "callerror"
            stats.protocol_errors[f"callerror_{exc.code}"] += 1
            log.info("station %s: %s answered with %s", self.station_id, action, exc)
        except Exception:
            # A bug of ours must cost the station one answer, not its session.
            log.exception("station %s: handling %s failed", self.station_id, action)
            reply = call_error(frame.unique_id, RpcError("InternalError", "internal error"))
            result = "internal_error"
        stats.frames[action, result] += 1
        await self.ws.send_str(reply)

    def _on_response(self, frame: CallResult | CallError) -> None:
        future = self.pending.pop(frame.unique_id, None)
        if future is None or future.done():
            self.context.stats.protocol_errors["unexpected_response"] += 1
            return
        if isinstance(frame, CallResult):
            future.set_result(frame.payload)
        else:
            future.set_exception(CallFailed(f"{frame.code}: {frame.description}"))

    # -- outbound ---------------------------------------------------------------------

    async def call(self, action: str, payload: dict[str, Any]) -> dict[str, Any]:
        """Send a CALL to the station and wait for its CALLRESULT payload."""
        unique_id = uuid.uuid4().hex[:32]
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self.pending[unique_id] = future
        try:
            await self.ws.send_str(call(unique_id, action, payload))
            async with asyncio.timeout(self.context.settings.call_timeout):
                return await future
        finally:
            self.pending.pop(unique_id, None)

    def fail_pending(self) -> None:
        for future in self.pending.values():
            if not future.done():
                future.set_exception(CallFailed("session closed"))
        self.pending.clear()
