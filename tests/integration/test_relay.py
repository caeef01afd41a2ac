"""Relay mode end to end: a real `ocpp` station -> the relay exporter -> a real central system
(a minimal one built on the `ocpp` package, or a second exporter in standalone mode)."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import logging
import ssl
import subprocess
from collections.abc import AsyncIterator
from dataclasses import replace
from typing import Any

import pytest
import websockets
from ocpp.v16 import call

from exporter.config.model import Config, Limits, RelaySettings, RelayTls
from exporter.state.relay_legs import UpstreamLegs
from tests.support.in_process import loopback_config as base_config
from tests.support.ports import bound_port, free_port
from tests.support.relay_csms import Csms, recording_station, stop_station
from tests.support.scrape import samples
from tests.support.waiting import eventually


def relay_config(upstream_url: str, limits: Limits | None = None, **relay: Any) -> Config:
    config = replace(
        base_config(),
        mode="relay",
        relay=RelaySettings(upstream_url=upstream_url, **{"connect_timeout": 5.0, **relay}),
    )
    return replace(config, limits=limits) if limits is not None else config


@pytest.fixture
async def csms() -> AsyncIterator[Csms]:
    server = Csms()
    await server.start()
    yield server
    await server.stop()


def value(scrape, name: str, **labels: str) -> float | None:
    found = samples(scrape, name, **labels)
    return found[0][1] if found else None


async def test_frames_pass_through_unchanged_both_ways(exporter_factory, csms):
    relay = await exporter_factory(relay_config(csms.url))
    credentials = "Basic " + base64.b64encode(b"CP relay 1:s3cret").decode()
    # A station id that needs escaping in the path: the CSMS must see the same URL.
    station, wire = await recording_station(
        relay.ocpp_url, "CP%20relay%201", {"Authorization": credentials}
    )
    try:
        await station.boot(vendor="ACME", model="Wallbox", firmware_version="1.2.3")
        await station.status(1, "Available", "GroundFailure", info="leak  1")
        await station.call(call.Heartbeat())
        leg = csms.leg("CP relay 1")
        assert leg.request.raw_path == "/ocpp/CP%20relay%201"
        assert leg.headers["Authorization"] == credentials
        assert leg.protocol == "ocpp1.6"

        # A CALL from the central system reaches the station and its answer comes back.
        answer = await leg.side.call(call.TriggerMessage(requested_message="StatusNotification"))
        assert answer.status == "Accepted"

        async def all_frames_arrived():
            # Trigger answer + the re-reported StatusNotification and its answer.
            assert len(wire.sent) == 5 and len(leg.connection.sent) == 5
            assert len(wire.received) == 5 and len(leg.connection.received) == 5

        await eventually(all_frames_arrived)
        assert [m.encode() for m in leg.connection.received] == [m.encode() for m in wire.sent]
        assert [m.encode() for m in wire.received] == [m.encode() for m in leg.connection.sent]
        # The relay answered nothing and asked nothing of its own: one trigger, the CSMS's.
        assert station.triggers == 1

        async def metrics_reflect_the_station():
            scrape = await relay.scrape()
            sl = {"station": "CP relay 1"}
            assert value(scrape, "ocpp_upstream_connected", **sl) == 1
            assert value(scrape, "ocpp_station_connected", **sl) == 1
            assert value(scrape, "ocpp_connector_error", **sl, error_code="GroundFailure") == 1
            assert samples(
                scrape, "ocpp_station_info", **sl, vendor="ACME", firmware_version="1.2.3"
            )
            assert value(scrape, "ocpp_station_registration_status", **sl, status="Accepted") == 1
            assert (
                value(scrape, "ocpp_exporter_relay_frames_total", direction="station_to_upstream")
                == 5
            )
            assert (
                value(scrape, "ocpp_exporter_relay_frames_total", direction="upstream_to_station")
                == 5
            )
            frames = "ocpp_exporter_frames_total"
            assert value(scrape, frames, action="BootNotification", result="accepted") == 1
            assert value(scrape, frames, action="StatusNotification", result="accepted") == 2
            assert not samples(scrape, "ocpp_exporter_resyncs_total")

        await eventually(metrics_reflect_the_station)
        notes = await relay.notifications(kind="ocpp_error")
        assert notes[0]["station"] == "CP relay 1" and notes[0]["error_code"] == "GroundFailure"
    finally:
        await stop_station(station)


async def test_frames_the_exporter_cannot_parse_are_still_forwarded(exporter_factory, csms):
    relay = await exporter_factory(relay_config(csms.url))
    async with websockets.connect(f"{relay.ocpp_url}/CP-raw", subprotocols=["ocpp1.6"]) as ws:
        odd = [
            "this is not JSON",
            '{"an": "object"}',
            '[2, "id-1", "StatusNotification", {"connectorId": "one"}]',
            '[3, "never-asked", {}]',
            '[2, "id-2", "Heartbeat", {}]',
        ]
        for frame in odd:
            await ws.send(frame)
        # The CSMS, not the relay, judges the bad payload; then it answers the Heartbeat, so
        # the session survived everything before it.
        bad_payload_answer = json.loads(await asyncio.wait_for(ws.recv(), 5))
        assert bad_payload_answer[:3] == [4, "id-1", "TypeConstraintViolation"]
        heartbeat_answer = json.loads(await asyncio.wait_for(ws.recv(), 5))
        assert heartbeat_answer[:2] == [3, "id-2"]

        async def forwarded():
            assert csms.leg("CP-raw").connection.received == odd

        await eventually(forwarded)

        async def counted():
            scrape = await relay.scrape()
            unobserved = "ocpp_exporter_relay_unobserved_frames_total"
            up = {"direction": "station_to_upstream"}
            assert value(scrape, unobserved, **up, reason="invalid_json") == 1
            assert value(scrape, unobserved, **up, reason="not_an_array") == 1
            assert value(scrape, unobserved, **up, reason="unexpected_response") == 1
            assert value(scrape, "ocpp_upstream_connected", station="CP-raw") == 1

        await eventually(counted)


async def test_boot_answer_of_the_central_system_is_learned(exporter_factory, csms):
    csms.boot_status = "Rejected"
    relay = await exporter_factory(relay_config(csms.url))
    station, _ = await recording_station(relay.ocpp_url, "CP-rejected")
    try:
        answer = await station.boot()
        assert answer.status == "Rejected"

        async def learned():
            scrape = await relay.scrape()
            status = "ocpp_station_registration_status"
            assert value(scrape, status, station="CP-rejected", status="Rejected") == 1
            assert not samples(scrape, status, station="CP-rejected", status="Accepted")

        await eventually(learned)
    finally:
        await stop_station(station)


async def test_unreachable_upstream_refuses_the_upgrade_with_502(exporter_factory):
    relay = await exporter_factory(relay_config(f"ws://127.0.0.1:{free_port()}/ocpp"))
    with pytest.raises(websockets.InvalidStatus) as refused:
        await websockets.connect(f"{relay.ocpp_url}/CP-orphan", subprotocols=["ocpp1.6"])
    assert refused.value.response.status_code == 502
    scrape = await relay.scrape()
    assert value(scrape, "ocpp_upstream_connected", station="CP-orphan", site="unassigned") == 0
    assert value(scrape, "ocpp_exporter_upstream_failures_total", reason="unreachable") == 1
    assert value(scrape, "ocpp_station_connected", station="CP-orphan") != 1


async def test_upstream_refusal_status_reaches_the_station(exporter_factory, csms):
    csms.refuse_status = 401
    relay = await exporter_factory(relay_config(csms.url))
    with pytest.raises(websockets.InvalidStatus) as refused:
        await websockets.connect(f"{relay.ocpp_url}/CP-badauth", subprotocols=["ocpp1.6"])
    assert refused.value.response.status_code == 401
    csms.refuse_status = 500
    with pytest.raises(websockets.InvalidStatus) as refused:
        await websockets.connect(f"{relay.ocpp_url}/CP-badauth", subprotocols=["ocpp1.6"])
    assert refused.value.response.status_code == 502
    scrape = await relay.scrape()
    failures = "ocpp_exporter_upstream_failures_total"
    assert value(scrape, failures, reason="handshake_rejected") == 2
    assert value(scrape, "ocpp_upstream_connected", station="CP-badauth") == 0


async def test_upstream_loss_closes_the_station_and_a_reconnect_recovers(exporter_factory, csms):
    relay = await exporter_factory(relay_config(csms.url))
    station, wire = await recording_station(relay.ocpp_url, "CP-loss")
    await station.boot()
    # The central system's host vanishes: no close frame on the upstream leg.
    csms.leg("CP-loss").request.transport.abort()
    with contextlib.suppress(websockets.ConnectionClosed):
        await asyncio.wait_for(station._task, 10)
    assert wire.close_code == 1012

    async def shows_down():
        scrape = await relay.scrape()
        assert value(scrape, "ocpp_upstream_connected", station="CP-loss") == 0
        assert value(scrape, "ocpp_station_connected", station="CP-loss") == 0
        assert value(scrape, "ocpp_exporter_upstream_failures_total", reason="lost") == 1

    await eventually(shows_down)

    # The station reconnects, as real stations do after a close: the leg is back.
    station, wire = await recording_station(relay.ocpp_url, "CP-loss")
    try:
        await station.boot()
        assert len(csms.legs["CP-loss"]) == 2

        async def shows_up():
            scrape = await relay.scrape()
            assert value(scrape, "ocpp_upstream_connected", station="CP-loss") == 1
            assert value(scrape, "ocpp_station_connected", station="CP-loss") == 1

        await eventually(shows_up)

        # A central system that closes properly has its close code relayed.
        await csms.leg("CP-loss").connection.ws.close(code=4001, message=b"maintenance")
        with contextlib.suppress(websockets.ConnectionClosed):
            await asyncio.wait_for(station._task, 10)
        assert wire.close_code == 4001
        assert wire.ws.close_reason == "maintenance"
        scrape = await relay.scrape()
        assert value(scrape, "ocpp_exporter_upstream_failures_total", reason="closed") == 1
    finally:
        await stop_station(station)


async def test_station_disconnect_closes_the_upstream_leg(exporter_factory, csms):
    relay = await exporter_factory(relay_config(csms.url))
    station, _ = await recording_station(relay.ocpp_url, "CP-leaves")
    await station.boot()
    leg = csms.leg("CP-leaves")
    await station.close()
    await asyncio.wait_for(leg.closed.wait(), 10)
    assert leg.connection.ws.close_code == 1000

    async def gone():
        scrape = await relay.scrape()
        # The upstream was not at fault: no upstream series, the station is simply offline.
        assert not samples(scrape, "ocpp_upstream_connected", station="CP-leaves")
        assert value(scrape, "ocpp_station_connected", station="CP-leaves") == 0
        assert not samples(scrape, "ocpp_exporter_upstream_failures_total")

    await eventually(gone)


async def test_relay_in_front_of_a_standalone_exporter(exporter_factory):
    """The product in both roles: the standalone exporter is the central system."""
    upstream = await exporter_factory()
    relay = await exporter_factory(relay_config(upstream.ocpp_url))
    station = await relay.station("CP-chain")
    try:
        # The upstream's own re-sync (a CSMS-initiated CALL) goes through the relay.
        async def triggered():
            assert station.triggers == 1

        await eventually(triggered)
        await station.boot(vendor="Chain", model="C1")
        await station.status(1, "Faulted", "HighTemperature")
        await station.status(2, "Charging", "NoError")

        async def both_see_it(running):
            scrape = await running.scrape()
            code = "HighTemperature"
            assert value(scrape, "ocpp_connector_error", station="CP-chain", error_code=code) == 1
            assert (
                value(
                    scrape,
                    "ocpp_connector_status",
                    station="CP-chain",
                    connector="2",
                    status="Charging",
                )
                == 1
            )
            assert samples(scrape, "ocpp_station_info", station="CP-chain", vendor="Chain")

        await eventually(lambda: both_see_it(upstream))
        await eventually(lambda: both_see_it(relay))
        scrape = await relay.scrape()
        assert value(scrape, "ocpp_upstream_connected", station="CP-chain") == 1
        # Only the upstream re-synced; the relay sent nothing of its own.
        assert not samples(scrape, "ocpp_exporter_resyncs_total")
        assert station.triggers == 1

        async def upstream_resynced():
            assert samples(await upstream.scrape(), "ocpp_exporter_resyncs_total")

        await eventually(upstream_resynced)
    finally:
        await station.close()


@pytest.fixture
def certificate(tmp_path) -> tuple[str, str]:
    """A self-signed certificate for 127.0.0.1, made with the openssl command line."""
    cert, key = tmp_path / "csms.pem", tmp_path / "csms.key"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=test CSMS",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
            "-keyout",
            str(key),
            "-out",
            str(cert),
        ],
        check=True,
        capture_output=True,
        timeout=60,
    )
    return str(cert), str(key)


async def test_wss_upstream_is_verified_against_the_configured_ca(exporter_factory, certificate):
    cert, key = certificate
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    csms = Csms(ssl_context=context)
    await csms.start()
    try:
        # Without the CA the self-signed upstream is refused, and counted as a TLS failure.
        untrusting = await exporter_factory(relay_config(csms.url))
        with pytest.raises(websockets.InvalidStatus) as refused:
            await websockets.connect(f"{untrusting.ocpp_url}/CP-tls", subprotocols=["ocpp1.6"])
        assert refused.value.response.status_code == 502
        scrape = await untrusting.scrape()
        assert value(scrape, "ocpp_exporter_upstream_failures_total", reason="tls") == 1

        trusting = await exporter_factory(relay_config(csms.url, tls=RelayTls(ca_file=cert)))
        station = await trusting.station("CP-tls")
        try:
            assert (await station.boot()).status == "Accepted"
            assert csms.leg("CP-tls").protocol == "ocpp1.6"
        finally:
            await station.close()
    finally:
        await csms.stop()


async def test_relay_shutdown_closes_both_legs(csms):
    from exporter import service

    svc = service.build(relay_config(csms.url))
    runners = await service.start(svc)
    url = f"ws://127.0.0.1:{bound_port(runners[0])}/ocpp"
    station, wire = await recording_station(url, "CP-shutdown")
    await station.boot()
    leg = csms.leg("CP-shutdown")
    await service.stop(svc, runners)
    with contextlib.suppress(websockets.ConnectionClosed):
        await asyncio.wait_for(station._task, 10)
    assert wire.close_code == 1001
    await asyncio.wait_for(leg.closed.wait(), 10)
    assert leg.connection.ws.close_code == 1001


async def test_refusal_tells_the_station_nothing_internal(exporter_factory, csms, caplog):
    port = free_port()
    relay = await exporter_factory(relay_config(f"ws://127.0.0.1:{port}/ocpp"))
    with (
        caplog.at_level(logging.WARNING, logger="exporter.ocpp.relay"),
        pytest.raises(websockets.InvalidStatus) as refused,
    ):
        await websockets.connect(f"{relay.ocpp_url}/CP-curious", subprotocols=["ocpp1.6"])
    body = refused.value.response.body.decode()
    assert body.strip() == "central system: unreachable"
    # The details (where the CSMS is, the socket error) are for the operator's log only.
    assert str(port) not in body and "127.0.0.1" not in body
    assert any(str(port) in r.getMessage() for r in caplog.records)

    csms.refuse_status = 404
    relay = await exporter_factory(relay_config(csms.url))
    with pytest.raises(websockets.InvalidStatus) as refused:
        await websockets.connect(f"{relay.ocpp_url}/CP-curious", subprotocols=["ocpp1.6"])
    assert refused.value.response.status_code == 404
    body = refused.value.response.body.decode()
    assert body.strip() == "central system: refused the connection"
    assert str(csms.port) not in body


async def test_refused_made_up_ids_do_not_grow_series_without_bound(exporter_factory, csms):
    csms.refuse_status = 404
    relay = await exporter_factory(relay_config(csms.url, limits=Limits(max_stations=2)))
    for station_id in ["CP-x1", "CP-x2", "CP-x3", "CP-x4", "CP-x1"]:
        with pytest.raises(websockets.InvalidStatus):
            await websockets.connect(f"{relay.ocpp_url}/{station_id}", subprotocols=["ocpp1.6"])
    scrape = await relay.scrape()
    # Every refusal is counted, but only `max_stations` ids got a series (the repeated id
    # updated its own).
    assert value(scrape, "ocpp_exporter_upstream_failures_total", reason="handshake_rejected") == 5
    series = samples(scrape, "ocpp_upstream_connected")
    assert sorted(labels["station"] for labels, _ in series) == ["CP-x1", "CP-x2"]


def test_refusal_legs_for_known_stations_are_kept_and_forgotten_with_them():
    fleet_knows = {"CP-inventory", "CP-old"}
    legs = UpstreamLegs(known=fleet_knows.__contains__)
    legs.refused("CP-random", "handshake_rejected", 1.0, cap=1)
    legs.refused("CP-random-2", "handshake_rejected", 2.0, cap=1)
    # Over the cap: a station the fleet knows still gets its series (its alert must fire).
    legs.refused("CP-inventory", "unreachable", 3.0, cap=1)
    legs.refused("CP-old", "unreachable", 3.0, cap=1)
    live = legs.opened("CP-live", 4.0)
    assert set(legs.legs) == {"CP-random", "CP-inventory", "CP-old", "CP-live"}
    assert legs.failures == {"handshake_rejected": 2, "unreachable": 2}

    # The sweeper forgets CP-old (and CP-live would never be offered while connected).
    legs.forget(["CP-old", "CP-live", "CP-never-seen"])
    assert set(legs.legs) == {"CP-random", "CP-inventory", "CP-live"}
    assert legs.legs["CP-live"].connected and legs.legs["CP-live"].token == live


async def test_a_failing_pump_closes_both_legs_and_is_counted(exporter_factory, csms):
    relay = await exporter_factory(relay_config(csms.url))
    station, wire = await recording_station(relay.ocpp_url, "CP-bug")
    session = relay.svc.ocpp.sessions["CP-bug"]
    observe = session._observe

    def broken_observe(frame, from_station):
        if not from_station:
            raise RuntimeError("injected observer failure")
        observe(frame, from_station)

    # Fault injection: observation of CSMS frames is normally guarded; this stands for any bug
    # that escapes the upstream pump.
    session._observe = broken_observe
    try:
        # The answer is forwarded before it is observed, so the station still gets it.
        assert (await station.boot()).status == "Accepted"
        with contextlib.suppress(websockets.ConnectionClosed):
            await asyncio.wait_for(station._task, 10)
        assert wire.close_code == 1011
        leg = csms.leg("CP-bug")
        await asyncio.wait_for(leg.closed.wait(), 10)
        assert leg.connection.ws.close_code == 1001

        async def counted():
            scrape = await relay.scrape()
            reason = "relay_internal_error"
            assert value(scrape, "ocpp_exporter_disconnects_total", reason=reason) == 1
            assert value(scrape, "ocpp_station_connected", station="CP-bug") == 0
            # Not the central system's fault: no upstream-down series, no upstream failure.
            assert not samples(scrape, "ocpp_upstream_connected", station="CP-bug")
            assert not samples(scrape, "ocpp_exporter_upstream_failures_total")

        await eventually(counted)
    finally:
        await stop_station(station)


async def test_rate_limit_is_the_central_systems_business_in_relay_mode(exporter_factory, csms):
    """docs/security.md: limits.max_messages_per_second applies in standalone mode only; in
    relay mode the exporter answers nothing itself, so every frame goes to the CSMS."""
    limits = Limits(max_messages_per_second=1.0, burst=2)
    relay = await exporter_factory(relay_config(csms.url, limits=limits))
    async with websockets.connect(f"{relay.ocpp_url}/CP-chatty", subprotocols=["ocpp1.6"]) as ws:
        for n in range(8):
            await ws.send(json.dumps([2, f"hb-{n}", "Heartbeat", {}]))
        answers = [json.loads(await asyncio.wait_for(ws.recv(), 5)) for _ in range(8)]
    assert [a[:2] for a in answers] == [[3, f"hb-{n}"] for n in range(8)]
    scrape = await relay.scrape()
    assert not samples(scrape, "ocpp_exporter_limit_breaches_total", limit="message_rate")
