"""Load generator worker: runs in its own process (bench/run.py starts one or more), holds a
share of the station connections, and sends pre-serialised frames so that the generator spends
as little as possible per frame. Commands arrive over a multiprocessing pipe.

Every connection has a reader task that answers the server's CALLs (the exporter's re-sync
TriggerMessage, pings through aiohttp's autoping) so idle connections stay healthy; a frame's
round trip ends when the reader sees the CALLRESULT.
"""

from __future__ import annotations

import asyncio
import json
import resource
import time
from array import array
from typing import Any

import aiohttp

BOOT = (
    '[2,"boot","BootNotification",{"chargePointVendor":"Bench","chargePointModel":"B-1",'
    '"firmwareVersion":"1.0"}]'
)


def status_frame(unique_id: str, connector: int, status: str, code: str = "NoError") -> str:
    return (
        f'[2,"{unique_id}","StatusNotification",{{"connectorId":{connector},'
        f'"errorCode":"{code}","status":"{status}"}}]'
    )


class Conn:
    __slots__ = ("frames", "reader", "waiter", "ws")

    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self.ws = ws
        self.waiter: asyncio.Future[None] | None = None
        self.reader: asyncio.Task[None] | None = None
        # Two pre-serialised frames alternate so that the status really changes each time.
        self.frames = (
            status_frame("a", 1, "Charging"),
            status_frame("b", 1, "Available"),
        )

    async def read(self) -> None:
        ws = self.ws
        while True:
            msg = await ws.receive()
            if msg.type != aiohttp.WSMsgType.TEXT:
                break
            data = msg.data
            if data.startswith("[2"):
                # A CALL from the server: refuse politely (keeps the exporter's re-sync short).
                unique_id = json.loads(data)[1]
                await ws.send_str(f'[3,"{unique_id}",{{"status":"Rejected"}}]')
            elif self.waiter is not None and not self.waiter.done():
                self.waiter.set_result(None)
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_exception(ConnectionError("closed"))

    async def round_trip(self, frame: str) -> None:
        self.waiter = asyncio.get_running_loop().create_future()
        await self.ws.send_str(frame)
        await self.waiter


class Worker:
    def __init__(self) -> None:
        self.conns: list[Conn] = []
        self.session: aiohttp.ClientSession | None = None

    async def connect(self, url: str, ids: list[str], boot: bool, concurrency: int) -> dict:
        if self.session is None:
            self.session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=0, force_close=False)
            )
        sem = asyncio.Semaphore(concurrency)
        errors: list[str] = []

        async def one(station_id: str) -> None:
            async with sem:
                try:
                    ws = await self.session.ws_connect(
                        f"{url}/{station_id}", protocols=("ocpp1.6",), autoping=True
                    )
                except (aiohttp.ClientError, OSError) as exc:
                    errors.append(repr(exc))
                    return
                conn = Conn(ws)
                conn.reader = asyncio.create_task(conn.read())
                if boot:
                    await conn.round_trip(BOOT)
                self.conns.append(conn)

        await asyncio.gather(*(one(i) for i in ids))
        return {"connected": len(self.conns), "errors": errors[:5], "failed": len(errors)}

    async def populate(self, first_index: int, error_every: int) -> dict:
        """Connectors 1 and 2 of every station report; every `error_every`-th connector (counted
        fleet-wide) reports GroundFailure while Available."""
        index = first_index * 2

        async def one(conn: Conn, base: int) -> None:
            for offset, connector in enumerate((1, 2)):
                n = base + offset
                code = "GroundFailure" if n % error_every == 0 else "NoError"
                await conn.round_trip(status_frame(f"p{connector}", connector, "Available", code))

        await asyncio.gather(*(one(c, index + 2 * i) for i, c in enumerate(self.conns)))
        return {"populated": len(self.conns)}

    async def load(self, seconds: float, active: int) -> dict:
        """Closed loop: each active connection keeps one StatusNotification in flight."""
        deadline = time.perf_counter() + seconds
        latencies = array("d")
        failed = 0

        async def one(conn: Conn) -> None:
            nonlocal failed
            frames = conn.frames
            k = 0
            clock = time.perf_counter
            while True:
                started = clock()
                if started >= deadline:
                    return
                try:
                    await conn.round_trip(frames[k & 1])
                except ConnectionError:
                    failed += 1
                    return
                latencies.append(clock() - started)
                k += 1

        started = time.perf_counter()
        await asyncio.gather(*(one(c) for c in self.conns[:active]))
        return {
            "latencies": latencies.tobytes(),
            "elapsed": time.perf_counter() - started,
            "failed": failed,
        }

    async def probe(self, seconds: float, count: int, period: float) -> dict:
        """Paced frames on `count` connections, one every `period` each: their worst round trip
        tells how long the server's loop was blocked (e.g. by a /metrics scrape)."""
        deadline = time.perf_counter() + seconds
        latencies = array("d")

        async def one(conn: Conn, phase: float) -> None:
            await asyncio.sleep(phase)
            frames = conn.frames
            k = 0
            while time.perf_counter() < deadline:
                started = time.perf_counter()
                await conn.round_trip(frames[k & 1])
                latencies.append(time.perf_counter() - started)
                k += 1
                await asyncio.sleep(max(0.0, period - (time.perf_counter() - started)))

        conns = self.conns[-count:]
        await asyncio.gather(*(one(c, period * i / count) for i, c in enumerate(conns)))
        return {"latencies": latencies.tobytes()}

    async def open_count(self) -> dict:
        return {"open": sum(1 for c in self.conns if not c.ws.closed)}

    async def close(self) -> dict:
        conns, self.conns = self.conns, []
        await asyncio.gather(*(c.ws.close() for c in conns), return_exceptions=True)
        for c in conns:
            if c.reader is not None:
                c.reader.cancel()
        return {"closed": len(conns)}

    async def shutdown(self) -> None:
        await self.close()
        if self.session is not None:
            await self.session.close()


def serve(pipe: Any) -> None:
    """Entry point of a worker process: execute (method, kwargs) commands until None."""
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))

    async def loop() -> None:
        worker = Worker()
        aio = asyncio.get_running_loop()
        while True:
            command = await aio.run_in_executor(None, pipe.recv)
            if command is None:
                await worker.shutdown()
                pipe.send({"bye": True})
                return
            method, kwargs = command
            try:
                pipe.send(await getattr(worker, method)(**kwargs))
            except Exception as exc:
                pipe.send({"error": repr(exc)})

    asyncio.run(loop())
