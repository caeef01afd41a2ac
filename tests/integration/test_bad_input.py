"""Bad input gets a specific answer and never costs the session, other stations or state."""

from __future__ import annotations

import asyncio
import json
import socket

import aiohttp
import pytest

from tests.support.in_process import loopback_config
from tests.support.scrape import samples
from tests.support.waiting import eventually


async def raw(running, station_id="RAW-1", protocols=("ocpp1.6",)):
    http = aiohttp.ClientSession()
    ws = await http.ws_connect(f"{running.ocpp_url}/{station_id}", protocols=protocols)
    return http, ws


async def exchange(ws, frame: str | list):
    await ws.send_str(frame if isinstance(frame, str) else json.dumps(frame))
    while True:
        msg = await asyncio.wait_for(ws.receive(), 5)
        if msg.type != aiohttp.WSMsgType.TEXT:
            return msg
        reply = json.loads(msg.data)
        if reply[0] == 2:  # the exporter's own TriggerMessage: answer and keep reading
            await ws.send_str(json.dumps([3, reply[1], {"status": "Rejected"}]))
            continue
        return reply


@pytest.mark.parametrize(
    ("frame", "code"),
    [
        ([2, "m1", "Heartbeat"], "FormationViolation"),
        ([2, "m2", "Heartbeat", []], "FormationViolation"),
        ([2, "m3", "FlyToTheMoon", {}], "NotImplemented"),
        ([2, "m4", "Reset", {"type": "Hard"}], "NotSupported"),
        (
            [
                2,
                "m5",
                "StatusNotification",
                {"connectorId": "one", "errorCode": "NoError", "status": "Available"},
            ],
            "TypeConstraintViolation",
        ),
        ([2, "m6", "StatusNotification", {"connectorId": 1}], "OccurenceConstraintViolation"),
        (
            [
                2,
                "m7",
                "BootNotification",
                {"chargePointVendor": "A", "chargePointModel": "B", "colour": "red"},
            ],
            "FormationViolation",
        ),
        (
            [
                2,
                "m8",
                "StatusNotification",
                {"connectorId": 999, "errorCode": "NoError", "status": "Available"},
            ],
            "PropertyConstraintViolation",
        ),
        ([7, "m9", {}], "ProtocolError"),
    ],
)
async def test_bad_calls_get_the_matching_callerror_and_the_session_stays_up(exporter, frame, code):
    http, ws = await raw(exporter)
    try:
        reply = await exchange(ws, frame)
        assert reply[0] == 4 and reply[1] == frame[1] and reply[2] == code, reply
        ok = await exchange(ws, [2, "after", "Heartbeat", {}])
        assert ok[0] == 3 and ok[1] == "after" and "currentTime" in ok[2]
    finally:
        await ws.close()
        await http.close()


@pytest.mark.parametrize("frame", ["{not json", '{"a": 1}', "[]", '[2, 5, "Heartbeat", {}]'])
async def test_frames_without_a_readable_id_are_counted_not_answered(exporter, frame):
    http, ws = await raw(exporter)
    try:
        await ws.send_str(frame)
        ok = await exchange(ws, [2, "after", "Heartbeat", {}])
        assert ok[1] == "after"
        scrape = await exporter.scrape()
        assert sum(v for _, v in samples(scrape, "ocpp_exporter_protocol_errors_total")) >= 1
    finally:
        await ws.close()
        await http.close()


async def test_oversized_frame_closes_with_1009_and_other_stations_are_untouched(exporter_factory):
    running = await exporter_factory(loopback_config(max_frame_bytes=1024))
    bystander = await running.station("GOOD-1")
    await bystander.status(1, "Available", "GroundFailure")
    http, ws = await raw(running, "BAD-1")
    try:
        await ws.send_str(json.dumps([2, "big", "DataTransfer", {"vendorId": "x" * 5000}]))
        msg = await asyncio.wait_for(ws.receive(), 5)
        while msg.type == aiohttp.WSMsgType.TEXT:  # skip the exporter's TriggerMessage
            msg = await asyncio.wait_for(ws.receive(), 5)
        assert ws.close_code == 1009
        assert await bystander.call_heartbeat_ok()

        async def counted():
            scrape = await running.scrape()
            assert samples(scrape, "ocpp_exporter_protocol_errors_total", reason="frame_too_large")
            assert samples(scrape, "ocpp_connector_error", station="GOOD-1")

        await eventually(counted)
    finally:
        await ws.close()
        await http.close()
        await bystander.close()


async def test_binary_frames_are_refused_with_1003(exporter):
    http, ws = await raw(exporter)
    try:
        await ws.send_bytes(b"\x00\x01")
        msg = await asyncio.wait_for(ws.receive(), 5)
        while msg.type == aiohttp.WSMsgType.TEXT:
            msg = await asyncio.wait_for(ws.receive(), 5)
        assert ws.close_code == 1003
    finally:
        await http.close()


@pytest.mark.parametrize(
    ("path", "protocols", "status"),
    [
        ("/ocpp/CP-1", (), 400),
        ("/ocpp/CP-1", ("ocpp1.5",), 400),
        ("/ocpp/" + "X" * 49, ("ocpp1.6",), 400),
        ("/ocpp/a%2Fb", ("ocpp1.6",), 400),
        ("/elsewhere/CP-1", ("ocpp1.6",), 404),
    ],
)
async def test_upgrades_are_refused_before_the_handshake(exporter, path, protocols, status):
    headers = {
        "Upgrade": "websocket",
        "Connection": "Upgrade",
        "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==",
        "Sec-WebSocket-Version": "13",
    }
    if protocols:
        headers["Sec-WebSocket-Protocol"] = ", ".join(protocols)
    url = f"http://127.0.0.1:{exporter.ocpp_port}{path}"
    async with aiohttp.ClientSession() as http, http.get(url, headers=headers) as r:
        assert r.status == status
        if status == 400:
            assert "ocpp1.6" in await r.text() or "station id" in await r.text()
    assert not exporter.svc.ocpp.sessions


async def test_a_half_open_connection_is_detected_and_closed(exporter_factory):
    """A peer that completed the handshake and then went silent (no pongs, no frames)."""
    running = await exporter_factory(loopback_config(ping_interval=0.3, ping_timeout=0.5))
    sock = socket.create_connection(("127.0.0.1", running.ocpp_port))
    sock.sendall(
        b"GET /ocpp/SILENT HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
        b"Sec-WebSocket-Protocol: ocpp1.6\r\n\r\n"
    )
    try:

        async def connected():
            scrape = await running.scrape()
            assert samples(scrape, "ocpp_station_connected", station="SILENT")[0][1] == 1

        await eventually(connected)

        async def dropped():
            scrape = await running.scrape()
            assert samples(scrape, "ocpp_station_connected", station="SILENT")[0][1] == 0
            assert samples(scrape, "ocpp_exporter_disconnects_total", reason="ping_timeout")

        await eventually(dropped, timeout=10)
    finally:
        sock.close()


async def test_a_station_that_answers_pings_but_sends_no_heartbeat_goes_stale(exporter_factory):
    running = await exporter_factory(
        loopback_config(heartbeat_interval=0.5, heartbeat_timeout=1.0, ping_interval=0.2)
    )
    http, ws = await raw(running, "QUIET")  # aiohttp's client answers pings by itself
    try:

        async def dropped():
            scrape = await running.scrape()
            assert samples(scrape, "ocpp_exporter_disconnects_total", reason="heartbeat_timeout")

        await eventually(dropped, timeout=10)
    finally:
        await ws.close()
        await http.close()


async def test_a_lone_surrogate_in_a_label_cannot_break_the_scrape(exporter):
    http, ws = await raw(exporter, "SURR-1")
    try:
        boot = '[2,"b1","BootNotification",{"chargePointVendor":"\\ud800","chargePointModel":"M"}]'
        reply = await exchange(ws, boot)
        assert reply[0] == 3
        scrape = await exporter.scrape()  # asserts HTTP 200 and parses
        ((labels, _),) = samples(scrape, "ocpp_station_info", station="SURR-1")
        assert labels["vendor"] == "?"
    finally:
        await ws.close()
        await http.close()


async def test_deeply_nested_json_is_a_counted_bad_frame_not_a_dead_session(exporter):
    http, ws = await raw(exporter, "DEEP-1")
    try:
        await ws.send_str("[" * 20000 + "]" * 20000)
        ok = await exchange(ws, [2, "after", "Heartbeat", {}])
        assert ok[1] == "after"
        scrape = await exporter.scrape()
        assert samples(scrape, "ocpp_exporter_protocol_errors_total", reason="invalid_json")
    finally:
        await ws.close()
        await http.close()


@pytest.mark.parametrize("station_id", ["a%0Ab", "a%09b", "X" * 48 + "%0A"])
async def test_station_ids_with_control_characters_are_refused(exporter, station_id):
    url = f"http://127.0.0.1:{exporter.ocpp_port}/ocpp/{station_id}"
    headers = {
        "Upgrade": "websocket",
        "Connection": "Upgrade",
        "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==",
        "Sec-WebSocket-Version": "13",
        "Sec-WebSocket-Protocol": "ocpp1.6",
    }
    async with aiohttp.ClientSession() as http, http.get(url, headers=headers) as r:
        assert r.status == 400
