"""Soak: N stations flapping against a real exporter subprocess for M minutes, sampling the
exporter's memory (RSS), asyncio tasks, open connections and file descriptors.

    python bench/soak.py --minutes 10 --stations 1000

Each station loops: connect, BootNotification, StatusNotifications (sometimes with an error),
a few Heartbeats, then drops (half close cleanly, half vanish) and comes back after a pause.
The exporter runs with a state directory, so the store's flushes are part of the load.
Flat RSS and task counts over time = no leak. Prints a table; exit 1 if the exporter died.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import websockets

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from tests.support.ports import free_port

ROOT = Path(__file__).resolve().parent.parent
ERRORS = ["GroundFailure", "HighTemperature", "OverCurrentFailure", "ConnectorLockFailure"]


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def metric(text: str, name: str) -> float:
    for line in text.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    return float("nan")


class Counters:
    def __init__(self) -> None:
        self.sessions = 0
        self.failures = 0


async def station(url: str, station_id: str, stop: float, counters: Counters) -> None:
    rng = random.Random(station_id)
    n = 0
    while time.monotonic() < stop:
        try:
            async with asyncio.timeout(60):
                ws = await websockets.connect(
                    f"{url}/{station_id}",
                    subprotocols=["ocpp1.6"],
                    proxy=None,
                    ping_interval=None,
                    compression=None,
                )
            counters.sessions += 1

            async def call(action: str, payload: dict, ws=ws) -> None:
                nonlocal n
                n += 1
                uid = str(n)
                await ws.send(json.dumps([2, uid, action, payload]))
                while True:
                    frame = json.loads(await asyncio.wait_for(ws.recv(), 60))
                    if frame[0] == 2:  # TriggerMessage: accept, then re-report
                        await ws.send(json.dumps([3, frame[1], {"status": "Accepted"}]))
                    elif frame[1] == uid:
                        return

            await call("BootNotification", {"chargePointVendor": "Soak", "chargePointModel": "S"})
            for connector in (1, 2):
                code = rng.choice(ERRORS) if rng.random() < 0.2 else "NoError"
                status = "Faulted" if code != "NoError" else "Available"
                await call(
                    "StatusNotification",
                    {"connectorId": connector, "errorCode": code, "status": status},
                )
            for _ in range(rng.randint(0, 3)):
                await asyncio.sleep(rng.uniform(0.5, 3))
                await call("Heartbeat", {})
            if rng.random() < 0.5:
                await ws.close()
            else:
                ws.transport.abort()  # vanish without a close handshake
        except (TimeoutError, OSError, websockets.exceptions.WebSocketException):
            counters.failures += 1
        await asyncio.sleep(rng.uniform(0.1, 2.0))


async def sample_forever(pid: int, metrics_url: str, every: float, rows: list, counters) -> None:
    started = time.monotonic()
    while True:
        try:
            text = await asyncio.to_thread(
                lambda: urllib.request.urlopen(metrics_url, timeout=30).read().decode()
            )
        except OSError:
            text = ""
        rows.append(
            (
                time.monotonic() - started,
                rss_mib(pid),
                metric(text, "ocpp_exporter_asyncio_tasks"),
                metric(text, "ocpp_exporter_open_connections"),
                len(os.listdir(f"/proc/{pid}/fd")),
                counters.sessions,
                counters.failures,
            )
        )
        print(
            "{:7.0f}s  rss {:7.1f} MiB  tasks {:6.0f}  open {:6.0f}  fds {:6d}  sessions {:7d}"
            "  failures {:5d}".format(*rows[-1]),
            flush=True,
        )
        await asyncio.sleep(every)


async def main(args: argparse.Namespace) -> int:
    ocpp_port, metrics_port = free_port(), free_port()
    with tempfile.TemporaryDirectory() as tmp:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "exporter",
                "serve",
                "--state-dir",
                f"{tmp}/state",
                "--ocpp-listen",
                f"127.0.0.1:{ocpp_port}",
                "--metrics-listen",
                f"127.0.0.1:{metrics_port}",
                "--log-level",
                "error",
            ],
            cwd=ROOT,
        )
        metrics_url = f"http://127.0.0.1:{metrics_port}/metrics"
        for _ in range(100):
            with contextlib.suppress(OSError):
                urllib.request.urlopen(metrics_url, timeout=2).read()
                break
            await asyncio.sleep(0.1)
        url = f"ws://127.0.0.1:{ocpp_port}/ocpp"
        stop = time.monotonic() + args.minutes * 60
        counters = Counters()
        rows: list = []
        sampler = asyncio.create_task(
            sample_forever(proc.pid, metrics_url, args.sample_seconds, rows, counters)
        )
        await asyncio.gather(
            *(station(url, f"SOAK-{i:05d}", stop, counters) for i in range(args.stations))
        )
        await asyncio.sleep(args.sample_seconds)  # one sample after everyone left
        sampler.cancel()
        alive = proc.poll() is None
        proc.terminate()
        code = proc.wait(30)
    print()
    print("| t (s) | RSS (MiB) | asyncio tasks | open connections | fds | sessions | failures |")
    print("|---:|---:|---:|---:|---:|---:|---:|")
    for row in rows:
        print("| {:.0f} | {:.1f} | {:.0f} | {:.0f} | {} | {} | {} |".format(*row))
    print(f"\nexporter alive at the end: {alive}; exit code after SIGTERM: {code}")
    return 0 if alive and code == 0 else 1


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--stations", type=int, default=1000)
    parser.add_argument("--sample-seconds", type=float, default=15.0)
    sys.exit(asyncio.run(main(parser.parse_args())))
