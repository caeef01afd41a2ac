"""A reconnect storm: 1,000 stations connect at once, all are served; they drop and come back at
once, all are served again (raw websockets clients, the exporter in this process)."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import websockets

from tests.support.waiting import eventually

STATIONS = 1000


async def boot(url: str, station_id: str) -> Any:
    ws = await websockets.connect(
        f"{url}/{station_id}",
        subprotocols=["ocpp1.6"],
        proxy=None,
        open_timeout=60,
        ping_interval=None,
        compression=None,
    )
    await ws.send(
        json.dumps(
            [2, "b", "BootNotification", {"chargePointVendor": "V", "chargePointModel": "M"}]
        )
    )
    while True:
        frame = json.loads(await asyncio.wait_for(ws.recv(), 60))
        if frame[0] == 3 and frame[1] == "b":
            assert frame[2]["status"] == "Accepted"
            return ws


async def test_thousand_stations_reconnecting_at_once(exporter_factory):
    running = await exporter_factory()
    ids = [f"STORM-{n:04d}" for n in range(STATIONS)]
    for _round in range(2):
        sockets = await asyncio.gather(*(boot(running.ocpp_url, i) for i in ids))

        async def all_connected():
            assert running.svc.stats.open_connections == STATIONS
            assert sum(s.connected for s in running.svc.fleet) == STATIONS

        await eventually(all_connected, timeout=60)
        # everyone drops at once (a network blip), then comes back in the next round
        for ws in sockets:
            ws.transport.abort()

        async def all_gone():
            assert running.svc.stats.open_connections == 0

        await eventually(all_gone, timeout=60)
    assert running.svc.stats.frames["BootNotification", "accepted"] == 2 * STATIONS
    assert not running.svc.stats.connections_rejected
