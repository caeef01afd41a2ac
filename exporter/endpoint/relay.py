"""Relay mode: the exporter stands between a station and the central system (CSMS) it belongs
to, passes every websocket message through unchanged in both directions, and only *observes*
them to keep the fleet state that the metrics render.

Behaviour (documented in docs/deployment.md; tests/test_relay*.py pin it):

- The upstream leg is opened *before* the station's upgrade is accepted, with the station id,
  the station's offered subprotocols and, when the station sent HTTP Basic credentials, its
  Authorization header. If the upstream cannot be reached the station gets an HTTP error
  instead of a websocket (502, 504 on timeout, or the upstream's own 4xx such as 401/404), and
  retries with its usual back-off: a station never holds a websocket that leads nowhere.
- One task per direction forwards each message as soon as it arrives, so there is no
  reordering. Observation (parsing, schema checks, fleet updates) never blocks or drops a
  frame: whatever cannot be parsed is forwarded all the same and counted.
- The exporter sends nothing of its own over either leg (no TriggerMessage re-sync, no
  answers): the CSMS answers. Websocket pings are per leg (each hop keeps its own liveness).
- Either leg ending ends the other: a station that leaves closes the upstream leg with the
  station's close code; an upstream that closes is relayed with its close code; an upstream
  that is lost without a close frame closes the station with 1012 (service restart) so that
  it reconnects, and the reconnect meets the connect-time check above.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import ssl
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import aiohttp
from aiohttp import WSCloseCode, WSMsgType, web
from yarl import URL

from exporter.config.model import Config
from exporter.endpoint.station_session import (
    LIVENESS_FRAMES,
    STATION_CLOSED,
    Connection,
    Protocol,
    SessionContext,
    StationSession,
)
from exporter.protocol.handler import VersionHandler
from exporter.protocol.rpc import Call, CallError, CallResult, FrameError, RpcError, parse_frame
from exporter.protocol.untrusted import clean
from exporter.state.relay_legs import TO_STATION, TO_UPSTREAM, UpstreamLegs

log = logging.getLogger("exporter.ocpp.relay")

#: Outstanding CALLs remembered per direction to pair responses with their action; a peer that
#: never answers must not grow this without bound.
MAX_PENDING = 256
#: How long to wait for the other side of a close handshake before cutting the leg.
CLOSE_TIMEOUT = 5.0


class UpstreamRefused(Exception):
    """The upstream leg could not be opened; `status` is the HTTP answer for the station and
    `detail` the text it gets: generic per reason, because the station must not learn the
    CSMS's address or the exporter's network errors (those go to the log)."""

    def __init__(self, reason: str, status: int) -> None:
        self.reason = reason
        self.status = status
        self.detail = PUBLIC_REASONS.get(reason, "unavailable")
        super().__init__(f"{reason}: {self.detail}")


#: What a refused station is told, by reason (the server prefixes "central system: ").
PUBLIC_REASONS = {
    "timeout": "timed out",
    "handshake_rejected": "refused the connection",
    # Certificates between the exporter and the CSMS are not the station's business.
    "tls": "unreachable",
    "unreachable": "unreachable",
    "subprotocol_mismatch": "supports none of the offered subprotocols",
}
#: Internal details logged per refusal are cut to this length: an exception's text can carry
#: whatever the peer sent.
MAX_LOGGED_DETAIL = 300


def basic_authorization(request: web.Request) -> str | None:
    """The station's Authorization header when it is HTTP Basic (OCPP security profiles 1/2);
    other schemes are not the station's credentials towards its CSMS and are not passed on."""
    value = request.headers.get("Authorization", "")
    return value if value[:6].lower() == "basic " else None


def raw_station_segment(request: web.Request) -> str:
    """The station id exactly as the station encoded it in its path, so the CSMS sees the same
    URL the station would have used directly."""
    return request.raw_path.split("?", 1)[0].rsplit("/", 1)[-1]


def _sendable(code: int | None, otherwise: int) -> int:
    """`code` when it may be sent in a close frame, else `otherwise`."""
    # 1005, 1006 and 1015 describe what happened locally and must never be sent on the wire.
    if code is None or code in (1004, 1005, 1006):
        return otherwise
    return code if 1000 <= code <= 1014 or 3000 <= code <= 4999 else otherwise


class UpstreamConnector:
    """Opens upstream legs: one HTTP client for all stations, TLS settings from the config."""

    def __init__(self, config: Config, legs: UpstreamLegs, clock: Callable[[], float]) -> None:
        self.config = config
        self.settings = config.relay
        self.legs = legs
        self.clock = clock
        self._http: aiohttp.ClientSession | None = None
        self._ssl: ssl.SSLContext | None = None

    def _ssl_context(self) -> ssl.SSLContext:
        if self._ssl is None:
            tls = self.settings.tls
            context = ssl.create_default_context(cafile=tls.ca_file)
            if tls.insecure_skip_verify:
                context.check_hostname = False
                context.verify_mode = ssl.CERT_NONE
            self._ssl = context
        return self._ssl

    def _client(self) -> aiohttp.ClientSession:
        if self._http is None or self._http.closed:
            # No pool limit: every station holds one upstream connection for its whole session.
            self._http = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0))
        return self._http

    async def open(
        self,
        station_id: str,
        raw_segment: str,
        subprotocols: list[str],
        authorization: str | None,
    ) -> aiohttp.ClientWebSocketResponse:
        base = self.config.upstream_url_of(station_id)
        url = f"{base}/{raw_segment}"
        headers = {"Authorization": authorization} if authorization else {}
        try:
            async with asyncio.timeout(self.settings.connect_timeout):
                upstream = await self._client().ws_connect(
                    URL(url, encoded=True),
                    protocols=subprotocols,
                    headers=headers,
                    ssl=self._ssl_context() if url.startswith("wss:") else False,
                    autoping=True,
                    heartbeat=self.config.ocpp.ping_interval,
                    max_msg_size=self.config.ocpp.max_frame_bytes + 1,
                    timeout=aiohttp.ClientWSTimeout(ws_receive=None, ws_close=CLOSE_TIMEOUT),
                )
        except TimeoutError:
            raise self._refused(station_id, "timeout", 504, f"no answer from {base}") from None
        except aiohttp.WSServerHandshakeError as exc:
            # The CSMS's own verdict on this station (401 bad credentials, 404 unknown id)
            # is the one the station must see; its server errors become a gateway error.
            status = exc.status if 400 <= exc.status < 500 else 502
            raise self._refused(
                station_id, "handshake_rejected", status, f"{base} answered HTTP {exc.status}"
            ) from None
        except (aiohttp.ClientConnectorCertificateError, aiohttp.ClientSSLError, ssl.SSLError):
            raise self._refused(
                station_id, "tls", 502, f"TLS with {base} failed (see relay.tls)"
            ) from None
        except (aiohttp.ClientError, OSError) as exc:
            raise self._refused(station_id, "unreachable", 502, f"{base}: {exc}") from None
        if upstream.protocol is None or upstream.protocol not in subprotocols:
            await upstream.close()
            raise self._refused(
                station_id,
                "subprotocol_mismatch",
                502,
                f"{base} accepted none of {', '.join(subprotocols)}",
            )
        return upstream

    def _refused(self, station_id: str, reason: str, status: int, detail: str) -> UpstreamRefused:
        # Made-up station ids refused by the CSMS must not add series without bound: the same
        # bound as the fleet's own.
        self.legs.refused(station_id, reason, self.clock(), self.config.limits.max_stations)
        log.warning(
            "station %s: upstream leg refused (%s): %s",
            station_id,
            reason,
            detail[:MAX_LOGGED_DETAIL],
        )
        return UpstreamRefused(reason, status)

    async def close(self) -> None:
        if self._http is not None:
            await self._http.close()


@dataclass
class _Pending:
    action: str
    payload: dict[str, Any]


class RelaySession(StationSession):
    """One station's two legs: the station's websocket and the `upstream` leg to its CSMS."""

    def __init__(
        self,
        context: SessionContext,
        connection: Connection,
        handler: VersionHandler,
        protocol: Protocol,
        upstream: aiohttp.ClientWebSocketResponse,
    ) -> None:
        super().__init__(context, connection, handler, protocol)
        self.upstream = upstream
        self.legs = context.legs
        self.leg_token = self.legs.opened(self.station_id, self.last_rx)
        # CALLs awaiting their response, by the direction the CALL travelled.
        self._calls_from_station: dict[str, _Pending] = {}
        self._calls_from_upstream: dict[str, _Pending] = {}
        self._upstream_ended = False

    def on_pong(self) -> None:
        # The CSMS, not the exporter, sets the heartbeat interval in relay mode (it may well be
        # longer than ocpp.heartbeat_timeout): a station that answers pings is alive.
        super().on_pong()
        self.last_frame = self.last_rx

    def _stop_work(self) -> None:
        # Relay mode starts nothing of its own (no re-sync): the CSMS owns the conversation.
        pass

    def fail_pending(self) -> None:
        self._calls_from_station.clear()
        self._calls_from_upstream.clear()

    # -- the two pumps --------------------------------------------------------------------

    async def _serve(self) -> None:
        """Relay until either leg ends; then end the other one. Both directions run as tasks
        so that whichever ends first, by a close or by a bug, ends the whole session: a pump
        that died alone would leave one direction silently dead while the other still flows."""
        station = asyncio.create_task(self._from_station(), name=f"relay-{self.station_id}-up")
        upstream = asyncio.create_task(self._from_upstream(), name=f"relay-{self.station_id}-down")
        pumps = (station, upstream)
        try:
            done, _ = await asyncio.wait(pumps, return_when=asyncio.FIRST_COMPLETED)
            if station in done and self._upstream_ended and not upstream.done():
                # The upstream pump is closing the station: let it finish that handshake.
                await asyncio.wait((upstream,), timeout=CLOSE_TIMEOUT * 2)
        finally:
            for pump in pumps:
                pump.cancel()
            # Every outcome is retrieved here: no pump's exception goes unnoticed.
            outcomes = await asyncio.gather(*pumps, return_exceptions=True)
            failure = next((o for o in outcomes if isinstance(o, Exception)), None)
            if failure is not None:
                await self._internal_failure(failure)
            elif not self._upstream_ended:
                self.legs.station_ended(self.station_id, self.leg_token)
                # The station's own close code when it closed; 1001 when the endpoint closed it
                # (shutdown, replaced, dead peer) or it vanished without a close frame.
                code = self.ws.close_code if self.close_reason == STATION_CLOSED else None
                await self._close_upstream(
                    _sendable(code, WSCloseCode.GOING_AWAY), b"station disconnected"
                )

    async def _internal_failure(self, failure: Exception) -> None:
        """A pump raised: a bug in the exporter, not either peer's doing. Both legs close so the
        station reconnects to a fresh session; counted as a `relay_internal_error` disconnect."""
        self.close_reason = "relay_internal_error"
        log.error(
            "station %s: relay failed, closing both legs",
            self.station_id,
            exc_info=(type(failure), failure, failure.__traceback__),
        )
        if not self._upstream_ended:
            # The upstream was not at fault: no `ocpp_upstream_connected=0` for this.
            self.legs.station_ended(self.station_id, self.leg_token)
            await self._close_upstream(WSCloseCode.GOING_AWAY, b"relay failure")
        with contextlib.suppress(ConnectionError, RuntimeError, TimeoutError):
            await self.ws.close(code=WSCloseCode.INTERNAL_ERROR, message=b"relay failure")

    async def _close_upstream(self, code: int, message: bytes) -> None:
        with contextlib.suppress(ConnectionError, RuntimeError, TimeoutError):
            await self.upstream.close(code=code, message=message)

    async def _from_station(self) -> None:
        try:
            await self._pump_station()
        except ConnectionResetError:
            self.close_reason = "connection_lost"

    async def _pump_station(self) -> None:
        ws = self.ws
        async for msg in ws:
            if msg.type == WSMsgType.TEXT:
                if self.oversized(msg.data):
                    await self.close_oversized()
                    break
                now = self.context.clock()
                self.last_rx = self.last_frame = now
                self.context.fleet.seen(self.station_id, now)
                frame = self._parse(msg.data, TO_UPSTREAM)
                if not await self._forward(self.upstream.send_str(msg.data)):
                    return
                self.legs.frames[TO_UPSTREAM] += 1
                if frame is not None:
                    self._observe(frame, from_station=True)
            elif msg.type == WSMsgType.BINARY:
                # Not OCPP-J, but not ours to judge either: the CSMS decides.
                self.last_rx = self.last_frame = self.context.clock()
                if not await self._forward(self.upstream.send_bytes(msg.data)):
                    return
                self.legs.frames[TO_UPSTREAM] += 1
                self.legs.unobserved[TO_UPSTREAM, "binary_frame"] += 1
            elif msg.type in LIVENESS_FRAMES:
                await self._on_ping_or_pong(msg)
            elif msg.type == WSMsgType.ERROR:
                self.close_reason = "websocket_error"

    async def _from_upstream(self) -> None:
        upstream = self.upstream
        close_message = b""
        clean_close = False
        while True:
            msg = await upstream.receive()
            if msg.type in (WSMsgType.CLOSE, WSMsgType.CLOSING, WSMsgType.CLOSED):
                clean_close = msg.type == WSMsgType.CLOSE
                if clean_close and isinstance(msg.extra, str):
                    close_message = msg.extra.encode()[:120]
                break
            if msg.type == WSMsgType.TEXT:
                frame = self._parse(msg.data, TO_STATION)
                if not await self._forward(self.ws.send_str(msg.data)):
                    return
                self.legs.frames[TO_STATION] += 1
                if frame is not None:
                    self._observe(frame, from_station=False)
            elif msg.type == WSMsgType.BINARY:
                if not await self._forward(self.ws.send_bytes(msg.data)):
                    return
                self.legs.frames[TO_STATION] += 1
                self.legs.unobserved[TO_STATION, "binary_frame"] += 1
            elif msg.type == WSMsgType.ERROR:
                break
        # The upstream ended the leg while the station was still there.
        self._upstream_ended = True
        code = upstream.close_code
        if clean_close:
            reason = "closed"
            close_code = _sendable(code, WSCloseCode.OK)
            close_message = close_message or b"upstream closed the connection"
        else:
            reason = "lost"
            close_code = WSCloseCode.SERVICE_RESTART
            close_message = b"upstream connection lost"
        self.legs.upstream_ended(self.station_id, self.leg_token, reason, self.context.clock())
        self.close_reason = f"upstream_{reason}"
        log.warning(
            "station %s: upstream leg %s (code %s), closing the station with %s",
            self.station_id,
            reason,
            code,
            int(close_code),
        )
        with contextlib.suppress(ConnectionError, RuntimeError):
            await self.ws.close(code=close_code, message=close_message)

    async def _forward(self, send: Any) -> bool:
        """False when the receiving leg is already gone (its own pump reports why)."""
        try:
            await send
        except (ConnectionError, RuntimeError):
            return False
        return True

    # -- observation: lenient, never in the way -------------------------------------------

    def _parse(self, text: str, direction: str) -> Call | CallResult | None:
        try:
            frame = parse_frame(text, self.protocol.dialect)
        except FrameError as exc:
            self.legs.unobserved[direction, exc.reason] += 1
            return None
        if isinstance(frame, Call):
            # Remembered before forwarding: the answer may come back before we look again.
            calls = (
                self._calls_from_station if direction == TO_UPSTREAM else self._calls_from_upstream
            )
            if len(calls) < MAX_PENDING:
                calls[frame.unique_id] = _Pending(frame.action, frame.payload)
            return frame
        if isinstance(frame, CallResult):
            return frame
        if isinstance(frame, CallError):
            # Only its pairing matters.
            self._answered(frame.unique_id, direction, None)
        # A 2.1 SEND or CALLRESULTERROR answers nothing and carries no state we keep.
        return None

    def _observe(self, frame: Call | CallResult, from_station: bool) -> None:
        try:
            if isinstance(frame, Call):
                if from_station:
                    self._observe_call(frame)
            else:
                direction = TO_UPSTREAM if from_station else TO_STATION
                self._answered(frame.unique_id, direction, frame.payload)
        except Exception:
            # A bug in observation must cost a data point, never the station's session.
            self.legs.unobserved[TO_UPSTREAM if from_station else TO_STATION, "observer_bug"] += 1
            log.exception("station %s: observing a frame failed", self.station_id)

    def _observe_call(self, frame: Call) -> None:
        """Run the version handler for its effect on the fleet; its reply is dropped because
        the CSMS answers. A payload the handler rejects is counted, the frame already went."""
        try:
            self.handler.handle_call(frame.action, frame.payload)
        except RpcError as exc:
            self.context.stats.protocol_errors[f"unobserved_{exc.code}"] += 1

    def _answered(self, unique_id: str, direction: str, payload: dict[str, Any] | None) -> None:
        """A response travelling in `direction` answers a CALL that travelled the other way."""
        calls = self._calls_from_upstream if direction == TO_UPSTREAM else self._calls_from_station
        call = calls.pop(unique_id, None)
        if call is None:
            self.legs.unobserved[direction, "unexpected_response"] += 1
            return
        if direction == TO_STATION:
            # The CSMS answered the station: the same accounting the standalone mode keeps.
            action = call.action if call.action in self.protocol.known_actions else "unknown"
            result = "accepted" if payload is not None else "callerror"
            self.context.stats.frames[action, result] += 1
            status = payload.get("status") if payload is not None else None
            if call.action == "BootNotification" and isinstance(status, str):
                # Whether the CSMS accepted the station: only the relay can learn this.
                self.context.fleet.registration(
                    self.station_id, clean(status, 32), self.context.clock()
                )
