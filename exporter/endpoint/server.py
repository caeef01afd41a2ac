"""The OCPP websocket endpoint on aiohttp: admission (path, station id, subprotocol), one
session per station, liveness (pings, heartbeat staleness) and graceful shutdown."""

from __future__ import annotations

import asyncio
import itertools
import logging
import time
from collections.abc import Callable, Coroutine
from typing import Any

from aiohttp import WSCloseCode, web

from exporter.config.model import STATION_ID_RE, Config
from exporter.endpoint.admission import Admission
from exporter.endpoint.peer_identity import PEER_IDENTITY, identify
from exporter.endpoint.relay import (
    RelaySession,
    UpstreamConnector,
    UpstreamRefused,
    basic_authorization,
    raw_station_segment,
)
from exporter.endpoint.session import Session
from exporter.endpoint.station_session import (
    Connection,
    Protocol,
    SessionContext,
    StationSession,
)
from exporter.endpoint.token_bucket import TokenBucket
from exporter.knowledge.vendor_codes import CodeBook
from exporter.protocol import v16, v21, v201
from exporter.protocol.handler import HandlerContext
from exporter.protocol.untrusted import clean
from exporter.state.counters import Stats
from exporter.state.fleet import Fleet, FleetFull
from exporter.state.relay_legs import UpstreamLegs

log = logging.getLogger("exporter.ocpp")


PROTOCOLS: dict[str, Protocol] = {
    v16.SUBPROTOCOL: Protocol(v16.V16Handler, v16.KNOWN_ACTIONS, v16.DIALECT),
    v201.SUBPROTOCOL: Protocol(v201.V201Handler, v201.KNOWN_ACTIONS, v201.DIALECT),
    v21.SUBPROTOCOL: Protocol(v21.V21Handler, v21.V21Handler.known_actions, v21.DIALECT),
}
SUPPORTED_SUBPROTOCOLS = tuple(PROTOCOLS)


def choose_subprotocol(offered: list[str]) -> str | None:
    """The server picks (RFC 6455 4.2.2): the first subprotocol in the client's order of
    preference that we support, so a station offering "ocpp2.0.1, ocpp1.6" gets 2.0.1."""
    return next((p for p in offered if p in PROTOCOLS), None)


def offered_subprotocols(request: web.Request) -> list[str]:
    header = request.headers.get("Sec-WebSocket-Protocol", "")
    return [p.strip() for p in header.split(",") if p.strip()]


class OcppServer:
    def __init__(
        self,
        config: Config,
        fleet: Fleet,
        stats: Stats,
        admission: Admission,
        *,
        upstream_legs: UpstreamLegs,
        relay: UpstreamConnector | None = None,
        new_bucket: Callable[[str], TokenBucket] | None = None,
        clock: Callable[[], float] = time.time,
        codes: CodeBook | None = None,
    ) -> None:
        """`admission` decides who may connect; `relay` (config `mode: relay`) opens each
        station's leg to its own CSMS, whose state `upstream_legs` keeps; `new_bucket` gives a
        station's message rate limit, kept across its sessions (None: no limit); `codes` are the
        vendor error code schemes the handlers recognise."""
        self.config = config
        self.settings = config.ocpp
        self.fleet = fleet
        self.stats = stats
        self.clock = clock
        self.admission = admission
        self.upstream_legs = upstream_legs
        self.relay = relay
        self.new_bucket = new_bucket
        self.sessions: dict[str, StationSession] = {}
        self.session_context = SessionContext(fleet, stats, self.settings, clock, upstream_legs)
        self.handler_context = HandlerContext(
            fleet,
            stats,
            self.settings,
            config.limits,
            clock,
            itertools.count(1),
            codes or CodeBook(),
        )
        self._sweeper: asyncio.Task[None] | None = None
        self._closing = False
        self._tasks: set[asyncio.Task[Any]] = set()
        self._next_forget = 0.0

    def add_routes(self, app: web.Application) -> None:
        app.router.add_get(self.settings.path_prefix + "/{station_id}", self.handle)
        app.on_startup.append(self._start)
        app.on_shutdown.append(self._shutdown)
        if self.relay is not None:
            app.on_cleanup.append(self._close_relay)

    async def _close_relay(self, app: web.Application) -> None:
        if self.relay is not None:
            await self.relay.close()

    # -- admission ----------------------------------------------------------------------

    def _refuse(self, reason: str, status: int, text: str) -> web.Response:
        self.stats.connections_rejected[reason] += 1
        return web.Response(status=status, text=text + "\n")

    async def handle(self, request: web.Request) -> web.StreamResponse:
        station_id = request.match_info["station_id"]
        if not STATION_ID_RE.fullmatch(station_id):
            return self._refuse(
                "bad_station_id", 400, "station id must be 1 to 48 printable characters without '/'"
            )
        if self._closing:
            return self._refuse("shutting_down", 503, "exporter is shutting down")
        offered = offered_subprotocols(request)
        chosen = choose_subprotocol(offered)
        if chosen is None:
            return self._refuse(
                "no_subprotocol",
                400,
                f"offer one of the supported OCPP subprotocols in Sec-WebSocket-Protocol: "
                f"{', '.join(SUPPORTED_SUBPROTOCOLS)} "
                f"(offered: {clean(', '.join(offered), 120) or 'none'})",
            )
        # aiohttp refuses a frame of max_msg_size bytes or more, hence one over: a frame of exactly
        # max_frame_bytes passes; StationSession.oversized applies the exact bound.
        ws = web.WebSocketResponse(
            protocols=(chosen,),
            autoping=False,
            max_msg_size=self.settings.max_frame_bytes + 1,
            timeout=self.settings.ping_timeout,
        )
        if not ws.can_prepare(request).ok:
            return self._refuse("not_websocket", 400, "expected a websocket upgrade request")
        # Credentials last among the checks: a malformed request gets its 400 without costing a
        # password hash.
        # Behind a TLS-terminating proxy: the client certificate's CN, from trusted peers only.
        request[PEER_IDENTITY] = identify(
            request, self.settings.trusted_proxies, self.settings.client_cert_header
        )
        refused = await self.admission.check(request, station_id)
        if refused is not None:
            return refused
        upstream = None
        if self.relay is not None:
            # Relay mode: reach the station's CSMS before accepting the station, so that a
            # station whose CSMS is down gets an HTTP error and retries, never a dead websocket.
            try:
                upstream = await self.relay.open(
                    station_id,
                    raw_station_segment(request),
                    [p for p in offered if p in SUPPORTED_SUBPROTOCOLS],
                    basic_authorization(request),
                )
            except UpstreamRefused as exc:
                return self._refuse(
                    f"upstream_{exc.reason}", exc.status, f"central system: {exc.detail}"
                )
            ws = web.WebSocketResponse(
                protocols=(upstream.protocol or "",),
                autoping=False,
                max_msg_size=self.settings.max_frame_bytes + 1,
                timeout=self.settings.ping_timeout,
            )
        # In relay mode the CSMS picked the subprotocol; observe in the version it chose.
        negotiated = upstream.protocol if upstream is not None else chosen
        protocol = PROTOCOLS.get(negotiated or "", PROTOCOLS[chosen])
        try:
            await ws.prepare(request)
            token = self.fleet.connect(station_id, self.clock(), protocol.handler.version)
        except FleetFull as exc:
            self.stats.connections_rejected["too_many_stations"] += 1
            await ws.close(code=WSCloseCode.TRY_AGAIN_LATER, message=b"too many stations")
            log.warning("refused station %s: %s", station_id, exc)
            if upstream is not None:
                await upstream.close(code=WSCloseCode.TRY_AGAIN_LATER)
            return ws
        except BaseException:
            if upstream is not None:
                await upstream.close(code=WSCloseCode.GOING_AWAY)
            raise
        handler = protocol.handler(station_id, self.handler_context)
        connection = Connection(
            station_id, ws, token, request.get(PEER_IDENTITY), request.transport
        )
        session: StationSession
        if upstream is not None:
            session = RelaySession(self.session_context, connection, handler, protocol, upstream)
        else:
            bucket = self.new_bucket(station_id) if self.new_bucket is not None else None
            session = Session(self.session_context, connection, handler, protocol, bucket)
        await self._run(session, request)
        return ws

    def _spawn(self, coro: Coroutine[Any, Any, Any]) -> None:
        # The loop keeps only weak references to tasks: hold them until they finish.
        task = asyncio.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # -- the session's life ---------------------------------------------------------------

    async def _run(self, session: StationSession, request: web.Request) -> None:
        station_id = session.station_id
        previous = self.sessions.get(station_id)
        self.sessions[station_id] = session
        if previous is not None:
            previous.end("replaced")
            self._spawn(previous.ws.close(code=WSCloseCode.POLICY_VIOLATION, message=b"replaced"))
        self.stats.open_connections += 1
        address = session.peer.station_address if session.peer else request.remote
        log.info("station %s connected (%s)", station_id, address)
        try:
            await session.run()
        finally:
            if self.sessions.get(station_id) is session:
                del self.sessions[station_id]
            self.fleet.disconnect(station_id, session.token, self.clock())
            self.stats.open_connections -= 1
            self.stats.disconnects[session.close_reason] += 1
            log.info("station %s disconnected (%s)", station_id, session.close_reason)

    # -- liveness ---------------------------------------------------------------------

    async def _start(self, app: web.Application) -> None:
        self._sweeper = asyncio.create_task(self._sweep_forever())

    async def _sweep_forever(self) -> None:
        period = min(1.0, self.settings.ping_timeout / 2, self.settings.ping_interval / 2)
        while True:
            await asyncio.sleep(period)
            try:
                self.sweep()
            except Exception:
                # Liveness for the whole fleet depends on this loop: log, never die.
                log.exception("liveness sweep failed")

    def sweep(self) -> None:
        """One pass over all sessions: ping the quiet ones, drop the dead ones. One task for the
        whole fleet instead of one timer per connection keeps 10,000 sessions cheap."""
        now = self.clock()
        for session in list(self.sessions.values()):
            reason = session.overdue(now)
            if reason is not None:
                self._drop(session, reason)
            elif session.ping_due(now):
                session.ping_sent = now
                self._spawn(session.ping())
        self.forget_stale(now)

    def forget_stale(self, now: float) -> None:
        """limits.forget_unknown_after: drop stations that moved to another replica (or went
        away) so they do not linger here disconnected. A pass over the whole fleet, so at most
        every minute."""
        after = self.config.limits.forget_unknown_after
        if after is None or now < self._next_forget:
            return
        self._next_forget = now + min(60.0, after / 10)
        forgotten = self.fleet.forget(now, after)
        self.upstream_legs.forget(forgotten)
        for station_id in forgotten:
            log.info("forgot station %s: not in the inventory, offline for %gs", station_id, after)

    def _drop(self, session: StationSession, reason: str) -> None:
        """A dead peer will never answer a close handshake: cut the TCP connection."""
        session.end(reason)
        log.warning("station %s: %s, closing the connection", session.station_id, reason)
        if self.sessions.get(session.station_id) is session:
            del self.sessions[session.station_id]
        self.fleet.disconnect(session.station_id, session.token, self.clock())
        if session.transport is not None:
            session.transport.abort()
        else:
            self._spawn(session.ws.close(code=WSCloseCode.GOING_AWAY))

    async def _shutdown(self, app: web.Application) -> None:
        """Close every session with 1001 so stations reconnect (to another replica, if any)."""
        self._closing = True
        if self._sweeper is not None:
            self._sweeper.cancel()
        sessions = list(self.sessions.values())
        for session in sessions:
            session.end("shutdown")
        await asyncio.gather(
            *(
                s.ws.close(code=WSCloseCode.GOING_AWAY, message=b"exporter shutting down")
                for s in sessions
            ),
            return_exceptions=True,
        )
