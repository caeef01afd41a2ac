"""Limits: message rate, connections, frame size, connectors. Each breach gets a clear answer
(CALLERROR, close code or HTTP status), is counted, and leaves other stations alone."""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

import pytest
import websockets
from websockets.exceptions import ConnectionClosed, InvalidStatus

from exporter.config.model import Limits
from tests.support.in_process import loopback_config as make_config
from tests.support.scrape import samples
from tests.support.waiting import eventually


async def raw(running: Any, station_id: str):
    return await websockets.connect(
        f"{running.ocpp_url}/{station_id}", subprotocols=["ocpp1.6"], proxy=None
    )


async def reply_to(ws: Any, unique_id: str) -> list[Any]:
    """The next frame answering `unique_id` (skipping the exporter's own CALLs)."""
    while True:
        frame = json.loads(await ws.recv())
        if frame[0] != 2 and frame[1] == unique_id:
            return frame


async def test_message_rate_limit(exporter_factory):
    limits = replace(Limits(), max_messages_per_second=0.5, burst=3)
    running = await exporter_factory(replace(make_config(), limits=limits))
    good = await running.station("CP-GOOD")
    noisy = await raw(running, "CP-NOISY")
    try:
        for n in range(3):
            await noisy.send(json.dumps([2, f"h{n}", "Heartbeat", {}]))
            assert (await reply_to(noisy, f"h{n}"))[0] == 3
        await noisy.send(json.dumps([2, "over", "Heartbeat", {}]))
        error = await reply_to(noisy, "over")
        assert error[0] == 4 and error[2] == "GenericError"
        assert "rate limit" in error[3]
        # the well-behaved station is served meanwhile
        assert (await good.boot()).status == "Accepted"
        with pytest.raises(ConnectionClosed) as closed:
            for n in range(20):
                await noisy.send(json.dumps([2, f"x{n}", "Heartbeat", {}]))
            while True:
                await noisy.recv()
        assert closed.value.rcvd.code == 1008
        assert (await good.status(1, "Available", "GroundFailure")) is not None

        async def counted():
            scrape = await running.scrape()
            assert (
                samples(scrape, "ocpp_exporter_limit_breaches_total", limit="message_rate")[0][1]
                >= 4
            )
            assert samples(scrape, "ocpp_exporter_disconnects_total", reason="rate_limited")
            assert samples(scrape, "ocpp_station_connected", station="CP-GOOD")[0][1] == 1
            assert samples(scrape, "ocpp_connector_error", station="CP-GOOD")

        await eventually(counted)
    finally:
        await good.close()
        await noisy.close()


async def test_connection_limit(exporter_factory):
    limits = replace(Limits(), max_connections=2)
    running = await exporter_factory(replace(make_config(), limits=limits))
    first = await running.station("CP-1")
    second = await running.station("CP-2")
    try:
        with pytest.raises(InvalidStatus) as refused:
            await raw(running, "CP-3")
        assert refused.value.response.status_code == 503
        assert (await first.boot()).status == "Accepted"
        scrape = await running.scrape()
        assert (
            samples(scrape, "ocpp_exporter_limit_breaches_total", limit="too_many_connections")[0][
                1
            ]
            == 1
        )
    finally:
        await first.close()
        await second.close()
    third = await running.station("CP-3")  # room again once the others left
    await third.boot()
    await third.close()


async def test_oversize_frame_closes_with_1009(exporter_factory):
    running = await exporter_factory(make_config(max_frame_bytes=1024))
    good = await running.station("CP-GOOD")
    big = await raw(running, "CP-BIG")
    try:
        await big.send(json.dumps([2, "1", "DataTransfer", {"vendorId": "x", "data": "y" * 2000}]))
        with pytest.raises(ConnectionClosed) as closed:
            while True:
                await big.recv()
        assert closed.value.rcvd.code == 1009
        assert (await good.boot()).status == "Accepted"

        async def counted():
            scrape = await running.scrape()
            assert (
                samples(scrape, "ocpp_exporter_protocol_errors_total", reason="frame_too_large")[0][
                    1
                ]
                == 1
            )

        await eventually(counted)
    finally:
        await good.close()
        await big.close()


async def test_connector_bound(exporter_factory):
    limits = replace(Limits(), max_connectors_per_station=4)
    running = await exporter_factory(replace(make_config(), limits=limits))
    ws = await raw(running, "CP-1")
    try:
        payload = {"connectorId": 5, "errorCode": "NoError", "status": "Available"}
        await ws.send(json.dumps([2, "s5", "StatusNotification", payload]))
        error = await reply_to(ws, "s5")
        assert error[0] == 4 and error[2] == "PropertyConstraintViolation"
        assert "5" not in running.svc.fleet.stations["CP-1"].connectors
    finally:
        await ws.close()
