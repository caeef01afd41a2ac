"""Added latency of relay mode, per frame, at load.

Starts two real exporters as subprocesses on loopback: one standalone (playing the central
system) and one in relay mode pointing at it. The same simulated fleet then runs twice: stations
straight to the central system, and stations through the relay. Each station sends Heartbeat
CALLs at a fixed rate; the round trip CALL -> CALLRESULT is measured per frame. A relayed round
trip crosses the relay twice (request and answer), so the added latency per frame is half the
difference of the round trips.

    python bench/relay_latency.py --stations 200 --rate 5 --duration 15

Prints p50/p90/p99 round trips for both paths and the added latency per frame.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import websockets

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
import exporter_process

from tests.support.ports import free_port


def start_exporter(config_text: str, workdir: Path, name: str) -> tuple[subprocess.Popen, int]:
    ocpp_port, metrics_port = free_port(), free_port()
    path = workdir / f"{name}.yaml"
    path.write_text(config_text)
    return exporter_process.start(ocpp_port, metrics_port, path), ocpp_port


async def wait_listening(port: int, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            _, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.close()
            return
        except OSError:
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.1)


async def station(url: str, station_id: str, rate: float, duration: float, rtts: list[float]):
    async with websockets.connect(f"{url}/{station_id}", subprotocols=["ocpp1.6"]) as ws:
        pending: dict[str, float] = {}

        async def reader() -> None:
            async for raw in ws:
                message = json.loads(raw)
                if message[0] == 2:
                    # The central system's TriggerMessage after connect: answer, not measured.
                    await ws.send(json.dumps([3, message[1], {"status": "Rejected"}]))
                elif message[1] in pending:
                    rtts.append(time.perf_counter() - pending.pop(message[1]))

        reading = asyncio.create_task(reader())
        boot = {"chargePointVendor": "Bench", "chargePointModel": "B1"}
        await ws.send(json.dumps([2, uuid.uuid4().hex, "BootNotification", boot]))
        # Spread stations over the period so that the load is even, not in bursts.
        period = 1.0 / rate
        await asyncio.sleep(period * (hash(station_id) % 1000) / 1000)
        end = time.monotonic() + duration
        while time.monotonic() < end:
            unique_id = uuid.uuid4().hex
            pending[unique_id] = time.perf_counter()
            await ws.send(json.dumps([2, unique_id, "Heartbeat", {}]))
            await asyncio.sleep(period)
        await asyncio.sleep(1.0)
        reading.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await reading


async def fleet(url: str, stations: int, rate: float, duration: float) -> list[float]:
    rtts: list[float] = []
    await asyncio.gather(
        *(station(url, f"BENCH-{i:05d}", rate, duration, rtts) for i in range(stations))
    )
    return rtts


def quantile(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=1000, method="inclusive")[int(q * 1000) - 1]


def summary(rtts: list[float]) -> dict[str, float]:
    return {q: quantile(rtts, float(q)) * 1000 for q in ("0.5", "0.9", "0.99")}


async def main(args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        upstream, upstream_port = start_exporter("{}\n", workdir, "upstream")
        upstream_url = f"ws://127.0.0.1:{upstream_port}/ocpp"
        relay, relay_port = start_exporter(
            f"mode: relay\nrelay:\n  upstream_url: {upstream_url}\n", workdir, "relay"
        )
        try:
            await wait_listening(upstream_port)
            await wait_listening(relay_port)
            load = f"{args.stations} stations x {args.rate}/s for {args.duration}s"
            print(f"load: {load} = {args.stations * args.rate:.0f} CALLs/s")
            direct = await fleet(upstream_url, args.stations, args.rate, args.duration)
            relayed = await fleet(
                f"ws://127.0.0.1:{relay_port}/ocpp", args.stations, args.rate, args.duration
            )
        finally:
            for process in (relay, upstream):
                process.terminate()
                process.wait(timeout=10)
    d, r = summary(direct), summary(relayed)
    print(f"{'round trip (ms)':<28}{'p50':>8}{'p90':>8}{'p99':>8}{'frames':>9}")
    print(f"{'station -> CSMS':<28}{d['0.5']:8.2f}{d['0.9']:8.2f}{d['0.99']:8.2f}{len(direct):9}")
    print(
        f"{'station -> relay -> CSMS':<28}{r['0.5']:8.2f}{r['0.9']:8.2f}{r['0.99']:8.2f}"
        f"{len(relayed):9}"
    )
    added = {q: (r[q] - d[q]) / 2 for q in d}
    print(f"{'added per frame (ms)':<28}{added['0.5']:8.2f}{added['0.9']:8.2f}{added['0.99']:8.2f}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--stations", type=int, default=200)
    parser.add_argument("--rate", type=float, default=5.0, help="CALLs per second per station")
    parser.add_argument("--duration", type=float, default=15.0, help="seconds per run")
    asyncio.run(main(parser.parse_args()))
