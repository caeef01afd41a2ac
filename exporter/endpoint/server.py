"""The OCPP websocket endpoint on aiohttp: admission (path, station id, subprotocol), one
session per station, liveness (pings, heartbeat staleness) and graceful shutdown."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any

from aiohttp import WSCloseCode, WSMsgType, web

from exporter.config.model import STATION_ID_RE, Config
from exporter.endpoint.admission import Admission
from exporter.endpoint.peer_identity import PEER_IDENTITY, identify
from exporter.endpoint.rate_limit import refuse_over_rate
from exporter.endpoint.relay import (
    RelaySession,
    UpstreamConnector,
    UpstreamRefused,
    basic_authorization,
    raw_station_segment,
)
from exporter.endpoint.session import Session
from exporter.endpoint.token_bucket import TokenBucket
from exporter.knowledge.vendor_codes import CodeBook
from exporter.protocol import v16, v201
from exporter.protocol.handler import VersionHandler
from exporter.protocol.untrusted import clean
from exporter.state.counters import Stats
from exporter.state.fleet import Fleet, FleetFull
from exporter.state.relay_legs import UpstreamLegs

log = logging.getLogger("exporter.ocpp")


@dataclass(frozen=True)
class Protocol:
    """What a negotiated subprotocol selects for the connection."""

    handler: type[VersionHandler]
    known_actions: frozenset[str]
    formation_violation: str


PROTOCOLS: dict[str, Protocol] = {
    v16.SUBPROTOCOL: Protocol(v16.V16Handler, v16.KNOWN_ACTIONS, "FormationViolation"),
    v201.SUBPROTOCOL: Protocol(v201.V201Handler, v201.KNOWN_ACTIONS, v201.FORMAT_VIOLATION),
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
        clock: Callable[[], float] = time.time,
        codes: CodeBook | None = None,
    ) -> None:
        self.config = config
        self.codes = codes
        self.settings = config.ocpp
        self.fleet = fleet
        self.stats = stats
        self.clock = clock
        self.sessions: dict[str, Session | RelaySession] = {}
        # Relay mode (config `mode: relay`): stations are passed through to their own CSMS.
        self.upstream_legs = UpstreamLegs(known=lambda sid: sid in self.fleet.stations)
        self.relay = (
            UpstreamConnector(config, self.upstream_legs, clock) if config.mode == "relay" else None
        )
        self._transaction_ids = itertools.count(1)
        self._sweeper: asyncio.Task[None] | None = None
        self._closing = False
        self._tasks: set[asyncio.Task[None]] = set()
        # Set by exporter.security.install: who may connect, and per-session rate limits.
        self.admission: Admission | None = None
        self.new_bucket: Callable[[], TokenBucket] | None = None
        self._next_forget = 0.0

    def add_routes(self, app: web.Application) -> None:
        app.router.add_get(self.settings.path_prefix + "/{station_id}", self.handle)
        app.on_startup.append(self._start)
        app.on_shutdown.append(self._shutdown)
        if self.relay is not None:
            app.on_cleanup.append(lambda _app: self.relay.close())

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
        ws = web.WebSocketResponse(
            protocols=(chosen,),
            autoping=False,
            max_msg_size=self.settings.max_frame_bytes,
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
        if self.admission is not None:
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
                max_msg_size=self.settings.max_frame_bytes,
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
        handler = protocol.handler(
            station_id,
            self.fleet,
            self.stats,
            self.settings,
            self.config.limits,
            self.clock,
            self._transaction_ids,
            self.codes,
        )
        if upstream is not None:
            relay = RelaySession(
                station_id,
                ws,
                upstream,
                handler,
                token,
                self.fleet,
                self.stats,
                self.upstream_legs,
                self.clock,
                protocol.known_actions,
                protocol.formation_violation,
            )
            await self._run(relay, request)
            return ws
        session = Session(
            station_id,
            ws,
            handler,
            token,
            self.fleet,
            self.stats,
            self.clock,
            self.settings.call_timeout,
            protocol.known_actions,
            protocol.formation_violation,
        )
        await self._run(session, request)
        return ws

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        # The loop keeps only weak references to tasks: hold them until they finish.
        task = asyncio.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # -- the session's life ---------------------------------------------------------------

    async def _run(self, session: Session | RelaySession, request: web.Request) -> None:
        station_id = session.station_id
        previous = self.sessions.get(station_id)
        self.sessions[station_id] = session
        if previous is not None:
            previous.close_reason = "replaced"
            # Its re-sync must not finish (or abandon) the new session's one.
            if getattr(previous, "resync_task", None) is not None:
                previous.resync_task.cancel()
            self._spawn(previous.ws.close(code=WSCloseCode.POLICY_VIOLATION, message=b"replaced"))
        session.transport = request.transport
        self.stats.open_connections += 1
        session.peer = request.get(PEER_IDENTITY)
        address = session.peer.station_address if session.peer else request.remote
        log.info("station %s connected (%s)", station_id, address)
        # Relay mode sends nothing of its own (no TriggerMessage re-sync): the CSMS owns the
        # station's conversation, the exporter only passes it through.
        resync = None
        ws = session.ws
        bucket = self.new_bucket() if self.new_bucket is not None else None
        try:
            if isinstance(session, RelaySession):
                await session.run()
            else:
                resync = session.resync_task = asyncio.create_task(session.handler.resync(session))
                async for msg in ws:
                    if msg.type == WSMsgType.TEXT:
                        if bucket is not None and not bucket.allow():
                            await refuse_over_rate(session, msg.data, bucket, self.stats)
                            continue
                        await session.on_text(msg.data)
                    elif msg.type == WSMsgType.PING:
                        session.on_pong()
                        await ws.pong(msg.data)
                    elif msg.type == WSMsgType.PONG:
                        session.on_pong()
                    elif msg.type == WSMsgType.BINARY:
                        self.stats.protocol_errors["binary_frame"] += 1
                        await ws.close(code=WSCloseCode.UNSUPPORTED_DATA, message=b"OCPP-J is text")
                        session.close_reason = "binary_frame"
                    elif msg.type == WSMsgType.ERROR:
                        session.close_reason = self._error_reason(ws)
        except ConnectionResetError:
            session.close_reason = "connection_lost"
        except asyncio.CancelledError:
            # Keep a reason already given (replaced, shutdown, ...); let cancellation go on.
            if session.close_reason == "station_closed":
                session.close_reason = "connection_lost"
            raise
        finally:
            if resync is not None:
                resync.cancel()
            session.fail_pending()
            if self.sessions.get(station_id) is session:
                del self.sessions[station_id]
            self.fleet.disconnect(station_id, session.token, self.clock())
            self.stats.open_connections -= 1
            self.stats.disconnects[session.close_reason] += 1
            log.info("station %s disconnected (%s)", station_id, session.close_reason)

    def _error_reason(self, ws: web.WebSocketResponse) -> str:
        error = ws.exception()
        if getattr(error, "code", None) == WSCloseCode.MESSAGE_TOO_BIG:
            self.stats.protocol_errors["frame_too_large"] += 1
            return "frame_too_large"
        self.stats.protocol_errors["websocket_error"] += 1
        return "websocket_error"

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
        s = self.settings
        for session in list(self.sessions.values()):
            if now - session.last_frame > s.heartbeat_timeout:
                self._drop(session, "heartbeat_timeout")
            elif session.ping_sent is not None:
                if now - session.ping_sent > s.ping_timeout:
                    self._drop(session, "ping_timeout")
            elif now - session.last_rx >= s.ping_interval:
                session.ping_sent = now
                self._spawn(self._ping(session))
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

    async def _ping(self, session: Session | RelaySession) -> None:
        with contextlib.suppress(ConnectionError, RuntimeError):
            await session.ws.ping()

    def _drop(self, session: Session | RelaySession, reason: str) -> None:
        """A dead peer will never answer a close handshake: cut the TCP connection."""
        session.close_reason = reason
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
            session.close_reason = "shutdown"
        await asyncio.gather(
            *(
                s.ws.close(code=WSCloseCode.GOING_AWAY, message=b"exporter shutting down")
                for s in sessions
            ),
            return_exceptions=True,
        )
