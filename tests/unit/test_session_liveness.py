"""The liveness rules every station session shares (what the endpoint's sweeper acts on), and
how the endpoint ends a session, with an injected clock and no socket."""

from __future__ import annotations

import asyncio
import itertools

from aiohttp import web

from exporter.config.model import Limits, OcppSettings
from exporter.endpoint.server import PROTOCOLS
from exporter.endpoint.session import Session
from exporter.endpoint.station_session import Connection, SessionContext
from exporter.knowledge.vendor_codes import CodeBook
from exporter.protocol.handler import HandlerContext
from exporter.state.counters import Stats
from exporter.state.fleet import Fleet
from exporter.state.relay_legs import UpstreamLegs

SETTINGS = OcppSettings(heartbeat_timeout=180.0, ping_interval=30.0, ping_timeout=10.0)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def standalone_session(clock: Clock, fleet: Fleet | None = None) -> Session:
    fleet = Fleet() if fleet is None else fleet
    stats = Stats()
    token = fleet.connect("CP", clock())
    protocol = PROTOCOLS["ocpp1.6"]
    handler = protocol.handler(
        "CP",
        HandlerContext(fleet, stats, SETTINGS, Limits(), clock, itertools.count(1), CodeBook()),
    )
    context = SessionContext(fleet, stats, SETTINGS, clock, UpstreamLegs(known=lambda _: True))
    connection = Connection("CP", web.WebSocketResponse(), token, None, None)
    return Session(context, connection, handler, protocol)


def test_a_quiet_station_is_pinged_once_and_dropped_when_the_pong_is_late():
    clock = Clock()
    session = standalone_session(clock)
    clock.now += 29.0
    assert not session.ping_due(clock()) and session.overdue(clock()) is None
    clock.now += 1.0
    assert session.ping_due(clock())
    session.ping_sent = clock()
    clock.now += 10.0
    # One ping at a time; the pong gets ping_timeout, not a second ping.
    assert not session.ping_due(clock()) and session.overdue(clock()) is None
    clock.now += 0.5
    assert session.overdue(clock()) == "ping_timeout"


def test_a_pong_keeps_the_websocket_alive_but_not_the_ocpp_session():
    clock = Clock()
    fleet = Fleet()
    session = standalone_session(clock, fleet)
    for _ in range(5):
        clock.now += 30.0
        session.ping_sent = clock()
        clock.now += 1.0
        session.on_pong()
        assert session.ping_sent is None and session.overdue(clock()) is None
    assert fleet.stations["CP"].last_seen == clock()
    clock.now += 25.0
    # 180 s without an OCPP frame is the limit; pongs alone do not stand for heartbeats.
    assert session.overdue(clock()) is None
    clock.now += 0.5
    assert session.overdue(clock()) == "heartbeat_timeout"


async def test_ending_a_session_stops_its_resync_and_keeps_the_reason():
    clock = Clock()
    session = standalone_session(clock)
    assert session.close_reason == "station_closed"
    session.resync_task = asyncio.create_task(asyncio.sleep(60))
    session.end("replaced")
    assert session.close_reason == "replaced"
    await asyncio.gather(session.resync_task, return_exceptions=True)
    assert session.resync_task.cancelled()


async def test_a_pending_call_fails_when_the_session_ends():
    clock = Clock()
    session = standalone_session(clock)
    future: asyncio.Future[dict[str, object]] = asyncio.get_running_loop().create_future()
    session.pending["abc"] = future
    session.fail_pending()
    assert future.done() and "session closed" in str(future.exception())
    assert not session.pending
