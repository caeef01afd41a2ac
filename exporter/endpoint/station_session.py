"""What every station session is, standalone or relay: the interface the endpoint's server uses
(liveness, PING/PONG, close reason, run loop), the accepted connection it serves and the one
context object that carries its dependencies."""

from __future__ import annotations

import asyncio
import contextlib
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass

from aiohttp import WSCloseCode, WSMessage, WSMsgType, web

from exporter.config.model import OcppSettings
from exporter.endpoint.peer_identity import PeerIdentity
from exporter.protocol.handler import VersionHandler
from exporter.protocol.rpc import Dialect
from exporter.state.counters import Stats
from exporter.state.fleet import Fleet
from exporter.state.relay_legs import UpstreamLegs

#: Websocket control frames that show the station is alive.
LIVENESS_FRAMES = (WSMsgType.PING, WSMsgType.PONG)
#: The close reason until something else is known: the station ended the session itself.
STATION_CLOSED = "station_closed"


@dataclass(frozen=True)
class SessionContext:
    """What all sessions of one endpoint share."""

    fleet: Fleet
    stats: Stats
    settings: OcppSettings
    clock: Callable[[], float]
    # Relay mode's upstream legs (standalone sessions never touch them).
    legs: UpstreamLegs


@dataclass(frozen=True)
class Protocol:
    """What a negotiated subprotocol selects for the connection."""

    handler: type[VersionHandler]
    known_actions: frozenset[str]
    # How the version's OCPP-J frames and answers broken frames.
    dialect: Dialect


@dataclass(frozen=True)
class Connection:
    """One station's accepted websocket."""

    station_id: str
    ws: web.WebSocketResponse
    # The fleet's token for this session: a late disconnect of a replaced session is ignored.
    token: int
    # Who presented the session (endpoint/peer_identity.py).
    peer: PeerIdentity | None
    # Cut without a close handshake when the peer is dead.
    transport: asyncio.Transport | None


class StationSession(ABC):
    """One station's session as the server sees it. Subclasses serve the websocket in
    `_serve`; `run` gives every kind the same ending (close reason, pending work)."""

    # One per connected station: slots keep each a few hundred bytes smaller.
    __slots__ = (
        "close_reason",
        "context",
        "handler",
        "last_frame",
        "last_rx",
        "peer",
        "ping_sent",
        "protocol",
        "station_id",
        "token",
        "transport",
        "ws",
    )

    def __init__(
        self,
        context: SessionContext,
        connection: Connection,
        handler: VersionHandler,
        protocol: Protocol,
    ) -> None:
        self.context = context
        self.station_id = connection.station_id
        self.ws = connection.ws
        self.token = connection.token
        self.peer = connection.peer
        self.transport = connection.transport
        self.handler = handler
        self.protocol = protocol
        now = context.clock()
        # Anything from the station (frames, pings, pongs) and OCPP frames only.
        self.last_rx = now
        self.last_frame = now
        self.ping_sent: float | None = None
        self.close_reason = STATION_CLOSED

    # -- the run loop -------------------------------------------------------------------

    async def run(self) -> None:
        """Serve the station until its websocket ends; `close_reason` then says why."""
        try:
            await self._serve()
        except ConnectionResetError:
            self.close_reason = "connection_lost"
        except asyncio.CancelledError:
            # Keep a reason already given (replaced, shutdown, ...); let cancellation go on.
            if self.close_reason == STATION_CLOSED:
                self.close_reason = "connection_lost"
            raise
        finally:
            self._stop_work()
            self.fail_pending()

    @abstractmethod
    async def _serve(self) -> None: ...

    def end(self, reason: str) -> None:
        """The endpoint ends the session (replaced, shutdown, dead peer): `reason` is what the
        disconnect is counted as, and work the session started on its own stops now, so that it
        cannot finish (or abandon) what a newer session of the station started."""
        self.close_reason = reason
        self._stop_work()

    @abstractmethod
    def _stop_work(self) -> None:
        """Cancel tasks the session started by itself."""

    @abstractmethod
    def fail_pending(self) -> None:
        """Release whatever waits for an answer from the station."""

    # -- frame size -------------------------------------------------------------------

    def oversized(self, text: str) -> bool:
        """More than ocpp.max_frame_bytes of UTF-8. aiohttp bounds a frame as it arrives, but a
        compressed one only once inflated, and one byte loosely; this is the exact bound."""
        limit = self.context.settings.max_frame_bytes
        n = len(text)
        return n > limit or (4 * n > limit and len(text.encode()) > limit)

    async def close_oversized(self) -> None:
        self.context.stats.protocol_errors["frame_too_large"] += 1
        self.close_reason = "frame_too_large"
        await self.ws.close(
            code=WSCloseCode.MESSAGE_TOO_BIG, message=b"frame larger than max_frame_bytes"
        )

    # -- liveness -----------------------------------------------------------------------

    def on_pong(self) -> None:
        self.last_rx = self.context.clock()
        self.ping_sent = None
        self.context.fleet.seen(self.station_id, self.last_rx)

    async def _on_ping_or_pong(self, msg: WSMessage) -> None:
        """A websocket PING or PONG from the station (see LIVENESS_FRAMES)."""
        self.on_pong()
        if msg.type == WSMsgType.PING:
            await self.ws.pong(msg.data)

    def overdue(self, now: float) -> str | None:
        """Why the peer counts as dead at `now` (the disconnect reason), or None."""
        settings = self.context.settings
        if now - self.last_frame > settings.heartbeat_timeout:
            return "heartbeat_timeout"
        if self.ping_sent is not None and now - self.ping_sent > settings.ping_timeout:
            return "ping_timeout"
        return None

    def ping_due(self, now: float) -> bool:
        """Quiet for a ping interval with no ping outstanding."""
        return self.ping_sent is None and now - self.last_rx >= self.context.settings.ping_interval

    async def ping(self) -> None:
        with contextlib.suppress(ConnectionError, RuntimeError):
            await self.ws.ping()
