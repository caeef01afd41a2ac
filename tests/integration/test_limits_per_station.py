"""The documented limits hold exactly: the message rate is per station across reconnects and
counts pings; a frame of exactly max_frame_bytes is accepted and one byte more closes with 1009,
compressed or not (docs/security.md, "Limits")."""

from __future__ import annotations

import asyncio
import json
from dataclasses import replace
from typing import Any

import pytest
import websockets
from websockets.exceptions import ConnectionClosed

from exporter.config.model import Limits
from tests.support.in_process import loopback_config as make_config


async def connect(running: Any, station_id: str, compression: str | None = None):
    return await websockets.connect(
        f"{running.ocpp_url}/{station_id}",
        subprotocols=["ocpp1.6"],
        compression=compression,
        ping_interval=None,
        proxy=None,
    )


async def reply_to(ws: Any, unique_id: str) -> list[Any]:
    while True:
        frame = json.loads(await ws.recv())
        if frame[0] == 2:  # the exporter's TriggerMessage after connect: left unanswered, so
            continue  # that only the frames under test count against the rate
        if frame[1] == unique_id:
            return frame


async def test_a_reconnect_does_not_refill_the_station_s_bucket(exporter_factory):
    limits = replace(Limits(), max_messages_per_second=0.2, burst=3)
    running = await exporter_factory(replace(make_config(), limits=limits))
    ws = await connect(running, "CP-RECONNECT")
    for n in range(3):
        await ws.send(json.dumps([2, f"h{n}", "Heartbeat", {}]))
        assert (await reply_to(ws, f"h{n}"))[0] == 3
    await ws.close()
    again = await connect(running, "CP-RECONNECT")
    try:
        await again.send(json.dumps([2, "after", "Heartbeat", {}]))
        answer = await reply_to(again, "after")
        assert answer[0] == 4 and answer[2] == "GenericError", answer
        # Another station has its own bucket.
        other = await connect(running, "CP-OTHER")
        await other.send(json.dumps([2, "o", "Heartbeat", {}]))
        assert (await reply_to(other, "o"))[0] == 3
        await other.close()
    finally:
        await again.close()


async def test_pings_count_against_the_rate(exporter_factory):
    limits = replace(Limits(), max_messages_per_second=0.2, burst=3)
    running = await exporter_factory(replace(make_config(), limits=limits))
    ws = await connect(running, "CP-PINGS")
    try:
        for _ in range(3):
            await asyncio.wait_for(await ws.ping(), 5)
        with pytest.raises(TimeoutError):  # over the rate: no pong
            await asyncio.wait_for(await ws.ping(), 0.5)
        with pytest.raises(ConnectionClosed) as closed:
            for _ in range(20):
                await ws.ping()
            await asyncio.wait_for(ws.recv(), 5)
            while True:
                await asyncio.wait_for(ws.recv(), 5)
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 1008
    finally:
        await ws.close()


def frame_of(size: int) -> str:
    """A DataTransfer CALL of exactly `size` bytes."""
    bare = json.dumps([2, "big", "DataTransfer", {"vendorId": "x", "data": ""}])
    return json.dumps(
        [2, "big", "DataTransfer", {"vendorId": "x", "data": "y" * (size - len(bare))}]
    )


@pytest.mark.parametrize("compression", [None, "deflate"])
async def test_a_frame_of_exactly_max_frame_bytes_passes_one_more_closes_1009(
    exporter_factory, compression
):
    running = await exporter_factory(make_config(max_frame_bytes=1024))
    exact = await connect(running, "CP-EXACT", compression)
    try:
        text = frame_of(1024)
        assert len(text.encode()) == 1024
        await exact.send(text)
        answer = await reply_to(exact, "big")
        assert answer[0] == 3, answer
    finally:
        await exact.close()
    over = await connect(running, "CP-OVER", compression)
    try:
        await over.send(frame_of(1025))
        with pytest.raises(ConnectionClosed) as closed:
            await reply_to(over, "big")
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 1009
    finally:
        await over.close()
