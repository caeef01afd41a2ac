"""GET /api/v1/notifications/stream against a real exporter, real `ocpp` stations and real HTTP
clients: the snapshot, one event per change within a second, reconnecting with Last-Event-ID,
the subscriber bound, and a client that stops reading being cut off without holding up others."""

from __future__ import annotations

import asyncio
import base64
import socket
import ssl
from dataclasses import replace

import aiohttp
import pytest

from exporter import service
from exporter.config.model import Device, Limits, Site
from exporter.config.security import TlsFiles, WebSecurity
from exporter.security.passwords import hash_password
from tests.support.certs import CertificateAuthority
from tests.support.in_process import Running
from tests.support.in_process import loopback_config as make_config
from tests.support.ports import bound_port
from tests.support.sse import Event, SseClient, apply
from tests.support.waiting import eventually

STREAM = "/api/v1/notifications/stream"


async def subscribe(exporter: Running, **headers: str) -> SseClient:
    client = SseClient(exporter.http_url + STREAM, headers)
    assert await client.open() == 200
    return client


async def next_of(client: SseClient, kind: str, timeout: float = 5.0) -> Event:
    event = await client.next(timeout)
    assert event.event == kind, event
    return event


async def test_snapshot_then_one_event_per_change_within_a_second(exporter: Running):
    station = await exporter.station("CP-LIVE")
    client = await subscribe(exporter)
    try:
        await station.boot()
        snapshot = await next_of(client, "snapshot")
        assert snapshot.data["notifications"] == []
        assert client.response is not None
        assert client.response.headers["Content-Type"].startswith("text/event-stream")

        loop = asyncio.get_running_loop()
        reported = loop.time()
        await station.status(1, "Available", "GroundFailure")
        added = await next_of(client, "add", timeout=1.0)
        assert loop.time() - reported < 1.0
        item = added.data
        assert item["notification"]["kind"] == "ocpp_error"
        assert item["notification"]["station"] == "CP-LIVE"
        assert item["notification"]["error_code"] == "GroundFailure"
        assert item["notification"]["resolution"], "the steps travel with the event"
        # the stream carries exactly what the JSON API says
        assert [item["notification"]] == await exporter.notifications(station="CP-LIVE")

        # a status change on the faulted connector is an update of the same notification
        await station.status(1, "Faulted", "GroundFailure")
        updated = await next_of(client, "update", timeout=1.0)
        assert updated.data["id"] == item["id"]
        assert updated.data["notification"]["current_status"] == "Faulted"

        cleared = loop.time()
        await station.status(1, "Available", "NoError")
        removed = await next_of(client, "remove", timeout=1.0)
        assert loop.time() - cleared < 1.0
        assert removed.data == {"id": item["id"]}
        # event ids increase one by one: a client can tell it missed nothing
        versions = [int(e.id.rsplit("-", 1)[1]) for e in (snapshot, added, updated, removed)]
        assert versions[1:] == list(range(versions[0] + 1, versions[0] + 4))
    finally:
        await client.close()
        await station.close()


async def test_a_new_subscriber_gets_the_active_notifications_in_order(exporter: Running):
    station = await exporter.station("CP-SNAP")
    try:
        await station.boot()
        await station.status(1, "Available", "WeakSignal")
        await station.status(2, "Faulted", "GroundFailure")
        client = await subscribe(exporter)
        try:
            snapshot = await next_of(client, "snapshot")
        finally:
            await client.close()
        codes = [i["notification"]["error_code"] for i in snapshot.data["notifications"]]
        api = [n["error_code"] for n in await exporter.notifications(station="CP-SNAP")]
        assert codes == api == ["GroundFailure", "WeakSignal"]  # critical before info
    finally:
        await station.close()


async def test_reconnecting_with_last_event_id_gets_only_what_was_missed(exporter: Running):
    station = await exporter.station("CP-RECON")
    try:
        await station.boot()
        first = await subscribe(exporter)
        snapshot = await next_of(first, "snapshot")
        await first.close()

        # while nobody listens, one error comes and another goes
        await station.status(1, "Available", "HighTemperature")
        await station.status(2, "Available", "ReaderFailure")
        await station.status(1, "Available", "NoError")

        again = await subscribe(exporter, **{"Last-Event-ID": snapshot.id})
        try:
            missed = await next_of(again, "add")
            assert missed.data["notification"]["error_code"] == "ReaderFailure"
            assert int(missed.id.rsplit("-", 1)[1]) > int(snapshot.id.rsplit("-", 1)[1])
            # and then it stays live
            await station.status(2, "Available", "NoError")
            assert (await next_of(again, "remove", timeout=1.0)).data["id"] == missed.data["id"]
        finally:
            await again.close()

        # an id this process never issued (another process, a restart) gets a fresh snapshot
        for stale in ("0badc0de-3", "garbage", snapshot.id.rsplit("-", 1)[0] + "-999999"):
            fresh = await subscribe(exporter, **{"Last-Event-ID": stale})
            try:
                assert (await fresh.next()).event == "snapshot"
            finally:
                await fresh.close()
    finally:
        await station.close()


async def test_subscribers_are_bounded_and_a_freed_slot_is_reused(exporter: Running):
    exporter.svc.metrics_side.stream.max_subscribers = 2
    clients = [await subscribe(exporter), await subscribe(exporter)]
    refused = SseClient(exporter.http_url + STREAM)
    try:
        for client in clients:
            await next_of(client, "snapshot")
        assert await refused.open() == 503
        assert refused.response is not None
        assert "too many stream subscribers" in await refused.response.text()
        await clients.pop().close()

        async def a_slot_is_free():
            late = SseClient(exporter.http_url + STREAM)
            try:
                assert await late.open() == 200
                await next_of(late, "snapshot")
            finally:
                await late.close()

        await eventually(a_slot_is_free)
    finally:
        await refused.close()
        for client in clients:
            await client.close()


async def _stalled_subscriber(
    exporter: Running,
) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """A client that sends the request and then never reads: a tiny receive window makes the
    server's buffers fill after a few events."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 2048)
    sock.setblocking(False)
    await asyncio.get_running_loop().sock_connect(sock, ("127.0.0.1", exporter.metrics_port))
    reader, writer = await asyncio.open_connection(sock=sock)
    writer.write(f"GET {STREAM} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode())
    await writer.drain()
    return reader, writer


async def test_a_subscriber_that_stops_reading_is_cut_off(exporter_factory):
    config = make_config()
    config = replace(config, limits=replace(Limits(), max_messages_per_second=0))
    exporter: Running = await exporter_factory(config)
    stream = exporter.svc.metrics_side.stream
    stream.max_queued = 8
    station = await exporter.station("CP-FLOOD")
    healthy = await subscribe(exporter)
    reader, writer = await _stalled_subscriber(exporter)
    try:
        await station.boot()
        seen: dict[str, dict] = {}
        apply(seen, await next_of(healthy, "snapshot"))

        async def both_subscribed():
            assert len(stream.subscribers) == 2

        await eventually(both_subscribed)

        # Every round moves 30 connectors to another code: 60 changes of about 1.5 kB each, far
        # more than 8 queued changes, until the stalled client's buffers are full and it is cut.
        codes = ["GroundFailure", "HighTemperature", "OverVoltage", "UnderVoltage"]
        rounds = 0
        while stream.dropped_total == 0:
            assert rounds < 40, "a client that reads nothing was never cut off"
            code = codes[rounds % len(codes)]
            rounds += 1
            for connector in range(1, 31):
                await station.status(connector, "Faulted", code)

            # A client that reads keeps up: bursts may come as a snapshot, never as a cut.
            async def healthy_caught_up(code=code):
                while True:
                    try:
                        apply(seen, await healthy.next(timeout=0.5))
                    except TimeoutError:
                        break
                assert sorted(n["error_code"] for n in seen.values()) == [code] * 30

            await eventually(healthy_caught_up, timeout=10)
        assert list(seen.values()) == await exporter.notifications()
        assert stream.dropped_total == 1
        assert len(stream.subscribers) == 1

        # the stalled client's connection was aborted: once it reads, the data ends early
        with pytest.raises((ConnectionResetError, EOFError)):
            while True:
                if not await asyncio.wait_for(reader.read(65536), 5):
                    raise EOFError
    finally:
        writer.close()
        await healthy.close()
        await station.close()


async def test_stopping_the_service_ends_open_streams_promptly():
    svc = service.build(make_config())
    runners = await service.start(svc)
    client = SseClient(f"http://127.0.0.1:{bound_port(runners[1])}{STREAM}")
    try:
        assert await client.open() == 200
        await next_of(client, "snapshot")
        loop = asyncio.get_running_loop()
        started = loop.time()
        await service.stop(svc, runners)
        assert loop.time() - started < 3.0, "the listener waited for the stream to end"
        with pytest.raises((EOFError, ConnectionError)):
            await client.next(timeout=2.0)
    finally:
        await client.close()
        await service.stop(svc, runners)


async def test_a_controller_going_silent_is_streamed_without_any_station_traffic(
    exporter_factory,
):
    # Liveness of site devices changes with time alone: no mutation wakes the stream, its tick does.
    site = Site(
        "depot",
        controller="ctl-1",
        controller_device=Device("ctl-1", "controller", stale_after=0.5),
    )
    exporter: Running = await exporter_factory(replace(make_config(), sites=(site,)))
    client = await subscribe(exporter)
    try:
        snapshot = await next_of(client, "snapshot")
        assert snapshot.data["notifications"] == []
        added = await next_of(client, "add", timeout=2.0)
        assert added.data["notification"]["kind"] == "controller_offline"
        assert added.data["notification"]["controller"] == "ctl-1"
    finally:
        await client.close()


async def test_the_page_and_stream_sit_behind_the_listeners_tls_and_basic_auth(
    exporter_factory, tmp_path
):
    ca = CertificateAuthority(tmp_path, "web-ca")
    server = ca.issue("127.0.0.1", server=True)
    web = WebSecurity(
        tls=TlsFiles(server.cert_file, server.key_file),
        basic_auth_users={"desk": hash_password("see-the-faults")},
    )
    exporter: Running = await exporter_factory(replace(make_config(), web=web))
    base = f"https://127.0.0.1:{exporter.metrics_port}"
    tls = ssl.create_default_context(cafile=ca.ca_file)
    paths = ("/", "/static/live.js", "/static/live.css", STREAM)
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=tls)) as http:
        for path in paths:
            async with http.get(base + path) as r:
                assert r.status == 401, path
        auth = {"Authorization": "Basic " + base64.b64encode(b"desk:see-the-faults").decode()}
        for path in paths[:-1]:
            async with http.get(base + path, headers=auth) as r:
                assert r.status == 200, path
                assert r.headers["Content-Security-Policy"].startswith("default-src 'none'")
        async with http.get(base + STREAM, headers=auth) as r:
            assert r.status == 200
            assert r.headers["Content-Type"].startswith("text/event-stream")
            assert b"event: snapshot" in await r.content.readuntil(b"\r\n\r\n")


async def test_fleet_changes_wake_the_stream_without_waiting_for_the_tick(exporter: Running):
    # The fleet's change hook refreshes the stream; the tick is only for time-driven changes.
    exporter.svc.metrics_side.stream.tick = 60.0
    station = await exporter.station("CP-HOOK")
    client = await subscribe(exporter)
    try:
        await station.boot()
        await next_of(client, "snapshot")
        loop = asyncio.get_running_loop()
        for code in ("OverVoltage", "NoError"):
            reported = loop.time()
            await station.status(1, "Available", code)
            await next_of(client, "add" if code != "NoError" else "remove", timeout=1.0)
            assert loop.time() - reported < 1.0
    finally:
        await client.close()
        await station.close()
