"""Three (or N) exporter replicas behind the shipped HAProxy configuration, all on loopback, and a
fleet of light OCPP 1.6 stations that reconnect with backoff, as real stations do.

Shared by tests/test_scaling.py (a few hundred stations, in CI) and bench/scale_failover.py
(1,000 stations and more, on demand). The stations speak raw OCPP-J over `websockets` rather
than the `ocpp` package's ChargePoint: a thousand of them must fit in one process next to three
replicas and HAProxy on two cores.
"""

from __future__ import annotations

import asyncio
import csv
import io
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import websockets
from websockets.asyncio.client import ClientConnection, connect

from tests.support.ports import free_port
from tests.support.scrape import fetch, samples
from tests.support.waiting import eventually

ROOT = Path(__file__).resolve().parents[2]
HAPROXY_CFG = ROOT / "deploy" / "haproxy" / "haproxy.cfg"


@dataclass
class Replica:
    name: str
    ocpp_port: int
    metrics_port: int
    config: Path | None = None
    proc: subprocess.Popen[bytes] | None = None

    @property
    def http_url(self) -> str:
        return f"http://127.0.0.1:{self.metrics_port}"

    def start(self, log_dir: Path) -> None:
        args = [
            sys.executable,
            "-m",
            "exporter",
            "serve",
            "--ocpp-listen",
            f"127.0.0.1:{self.ocpp_port}",
            "--metrics-listen",
            f"127.0.0.1:{self.metrics_port}",
            "--log-level",
            "warning",
        ]
        if self.config is not None:
            args += ["--config", str(self.config)]
        log = (log_dir / f"{self.name}.log").open("ab")
        self.proc = subprocess.Popen(
            args,
            cwd=ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
        )
        log.close()

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def signal(self, sig: int) -> None:
        assert self.proc is not None
        self.proc.send_signal(sig)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
        if self.proc is not None:
            self.proc.wait(10)

    async def connected(self, http: aiohttp.ClientSession) -> dict[str, float]:
        """station -> ocpp_station_connected, from the replica's real /metrics."""
        scrape = await fetch(self.http_url, http)
        return {
            labels["station"]: value for labels, value in samples(scrape, "ocpp_station_connected")
        }


@dataclass
class Cluster:
    """HAProxy (the shipped deploy/haproxy/haproxy.cfg, addresses through its environment
    variables) in front of `replicas`, each `python -m exporter serve` on free loopback ports."""

    size: int = 3
    config_text: str | None = None
    workdir: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="ocpp-scale-")))
    replicas: list[Replica] = field(default_factory=list)
    haproxy: subprocess.Popen[bytes] | None = None
    ocpp_port: int = 0
    stats_port: int = 0

    @property
    def ocpp_url(self) -> str:
        return f"ws://127.0.0.1:{self.ocpp_port}/ocpp"

    def haproxy_env(self) -> dict[str, str]:
        env = {
            "OCPP_BIND": f"127.0.0.1:{self.ocpp_port}",
            "STATS_BIND": f"127.0.0.1:{self.stats_port}",
            # Within the test machine's open-files limit.
            "HAPROXY_MAXCONN": "8000",
        }
        for i, replica in enumerate(self.replicas, start=1):
            env[f"EXPORTER_{i}_OCPP"] = f"127.0.0.1:{replica.ocpp_port}"
            env[f"EXPORTER_{i}_METRICS"] = str(replica.metrics_port)
        return env

    def write_haproxy_cfg(self) -> Path:
        """The shipped file, with server lines for `size` replicas (it ships three)."""
        lines = HAPROXY_CFG.read_text().splitlines()
        servers = [line for line in lines if line.strip().startswith("server exporter-")]
        template = servers[0]
        generated = [
            template.replace("exporter-1", f"exporter-{i}")
            .replace("_1_", f"_{i}_")
            .replace(" id 1 ", f" id {i} ")
            for i in range(1, self.size + 1)
        ]
        at = lines.index(servers[0])
        out = [line for line in lines if line not in servers]
        out[at:at] = generated
        path = self.workdir / "haproxy.cfg"
        path.write_text("\n".join(out) + "\n")
        return path

    async def start(self) -> None:
        haproxy = shutil.which("haproxy") or "/usr/sbin/haproxy"
        assert Path(haproxy).exists(), "haproxy is required (Debian package `haproxy`)"
        config: Path | None = None
        if self.config_text is not None:
            config = self.workdir / "exporter.yml"
            config.write_text(self.config_text)
        self.ocpp_port, self.stats_port = free_port(), free_port()
        for i in range(1, self.size + 1):
            replica = Replica(f"exporter-{i}", free_port(), free_port(), config)
            self.replicas.append(replica)
            replica.start(self.workdir)
        cfg = self.write_haproxy_cfg()
        log = (self.workdir / "haproxy.log").open("ab")
        self.haproxy = subprocess.Popen(
            [haproxy, "-f", str(cfg), "-db"],
            stdout=log,
            stderr=subprocess.STDOUT,
            env={**os.environ, **self.haproxy_env()},
        )
        log.close()
        await self.wait_backends({r.name for r in self.replicas})

    async def backend_status(self, http: aiohttp.ClientSession) -> dict[str, str]:
        """server name -> UP/DOWN/..., from HAProxy's stats CSV."""
        url = f"http://127.0.0.1:{self.stats_port}/stats;csv"
        async with http.get(url) as r:
            text = (await r.text()).lstrip("# ")
        return {
            row["svname"]: row["status"]
            for row in csv.DictReader(io.StringIO(text))
            if row["pxname"] == "exporters" and row["svname"] not in ("FRONTEND", "BACKEND")
        }

    async def wait_backends(self, up: set[str], timeout: float = 60.0) -> None:
        """Until HAProxy sees exactly `up` as UP."""
        async with aiohttp.ClientSession() as http:

            async def as_expected() -> None:
                if self.haproxy is None or self.haproxy.poll() is not None:
                    raise RuntimeError(self.log("haproxy"))
                for replica in self.replicas:
                    if replica.name in up and not replica.alive():
                        raise RuntimeError(self.log(replica.name))
                try:
                    status = await self.backend_status(http)
                except aiohttp.ClientError as exc:
                    raise AssertionError(f"HAProxy stats: {exc}") from None
                seen = {name for name, s in status.items() if s.startswith("UP")}
                assert seen == up, f"HAProxy backends never became {up}: {status}"

            await eventually(as_expected, timeout=timeout, interval=0.2)

    async def placement(self) -> dict[str, dict[str, float]]:
        """replica name -> {station: connected} for every live replica."""
        async with aiohttp.ClientSession() as http:
            live = [r for r in self.replicas if r.alive()]
            views = await asyncio.gather(*(r.connected(http) for r in live))
        return {r.name: v for r, v in zip(live, views, strict=True)}

    def log(self, name: str) -> str:
        path = self.workdir / f"{name}.log"
        return path.read_text(errors="replace")[-3000:] if path.exists() else ""

    def stop(self) -> None:
        for replica in self.replicas:
            replica.stop()
        if self.haproxy is not None:
            if self.haproxy.poll() is None:
                self.haproxy.terminate()
            try:
                self.haproxy.wait(10)
            except subprocess.TimeoutExpired:
                self.haproxy.kill()
                self.haproxy.wait(10)
        shutil.rmtree(self.workdir, ignore_errors=True)


def serving(placement: dict[str, dict[str, float]]) -> dict[str, list[str]]:
    """station -> the replicas that report it connected."""
    out: dict[str, list[str]] = {}
    for replica, view in placement.items():
        for station, value in view.items():
            out.setdefault(station, [])
            if value == 1:
                out[station].append(replica)
    return out


# -- stations ---------------------------------------------------------------------------------


@dataclass
class StationRecord:
    id: str
    sessions: int = 0
    connected: bool = False
    # Monotonic times: when the last session was lost, and when the next one booted.
    lost_at: float | None = None
    booted_at: float | None = None
    close_codes: list[int | None] = field(default_factory=list)
    refused: int = 0


class LightStation:
    """Connects, sends BootNotification and StatusNotification, answers the exporter's CALLs
    (TriggerMessage re-reports the status) and reconnects with jittered exponential backoff
    starting at `reconnect_interval` when the session ends. With `boot_every_session` False it
    boots only on its first session, as a station that reconnects without restarting does."""

    def __init__(
        self,
        url: str,
        station_id: str,
        reconnect_interval: float = 1.0,
        max_backoff: float = 8.0,
        error_code: str = "NoError",
        boot_every_session: bool = True,
    ) -> None:
        self.url = f"{url}/{station_id}"
        self.record = StationRecord(station_id)
        self.reconnect_interval = reconnect_interval
        self.max_backoff = max_backoff
        self.error_code = error_code
        self.boot_every_session = boot_every_session
        self._ids = 0
        self._pending: dict[str, asyncio.Future[object]] = {}
        self.ws: ClientConnection | None = None

    async def drop(self) -> None:
        """End the current session as a station does when its network blips; it reconnects."""
        if self.ws is not None:
            await self.ws.close()

    async def report(self, error_code: str) -> None:
        """The connector's error changes (NoError clears it): a StatusNotification now, and the
        same answer to every later TriggerMessage."""
        self.error_code = error_code
        assert self.ws is not None and self.record.connected, "not connected"
        await self._status(self.ws)

    def _next_id(self) -> str:
        self._ids += 1
        return str(self._ids)

    async def _call(self, ws: ClientConnection, action: str, payload: dict[str, object]) -> None:
        message_id = self._next_id()
        future: asyncio.Future[object] = asyncio.get_running_loop().create_future()
        self._pending[message_id] = future
        await ws.send(json.dumps([2, message_id, action, payload]))
        await asyncio.wait_for(future, 30)

    async def _status(self, ws: ClientConnection) -> None:
        await self._call(
            ws,
            "StatusNotification",
            {"connectorId": 1, "status": "Available", "errorCode": self.error_code},
        )

    async def _reader(self, ws: ClientConnection) -> None:
        async for raw in ws:
            frame = json.loads(raw)
            if frame[0] == 2:  # a CALL from the exporter
                await ws.send(json.dumps([3, frame[1], {"status": "Accepted"}]))
                if frame[2] == "TriggerMessage":
                    asyncio.get_running_loop().create_task(self._status(ws))
            elif frame[0] in (3, 4):
                future = self._pending.pop(frame[1], None)
                if future is not None and not future.done():
                    future.set_result(frame)

    async def _session(self) -> None:
        async with connect(
            self.url, subprotocols=["ocpp1.6"], open_timeout=30, ping_interval=None
        ) as ws:
            self.ws = ws
            reader = asyncio.get_running_loop().create_task(self._reader(ws))
            try:
                boot = self.boot_every_session or self.record.sessions == 0
                if boot:
                    await self._call(
                        ws,
                        "BootNotification",
                        {"chargePointVendor": "ACME", "chargePointModel": "Light"},
                    )
                self.record.sessions += 1
                self.record.connected = True
                self.record.booted_at = time.monotonic()
                if boot:
                    await self._status(ws)
                await reader
            finally:
                reader.cancel()
                self.record.connected = False
                self.record.close_codes.append(ws.close_code)

    async def run(self) -> None:
        backoff = self.reconnect_interval
        while True:
            try:
                await self._session()
                backoff = self.reconnect_interval
            except websockets.InvalidStatus:
                self.record.refused += 1
            except (OSError, TimeoutError, websockets.WebSocketException):
                pass
            for future in self._pending.values():
                future.cancel()
            self._pending.clear()
            self.record.connected = False
            self.record.lost_at = time.monotonic()
            # The scenario: real stations back off (with jitter) before they reconnect.
            await asyncio.sleep(backoff * random.uniform(0.5, 1.0))
            backoff = min(backoff * 2, self.max_backoff)


class Fleet:
    """Many LightStations as tasks of the running loop."""

    def __init__(self, url: str, ids: Iterable[str], **kwargs: Any) -> None:
        self.stations = {i: LightStation(url, i, **kwargs) for i in ids}
        self._tasks: list[asyncio.Task[None]] = []

    async def start(self, per_second: float = 400.0) -> None:
        # Ramp up like a fleet coming online rather than a synchronized storm.
        for station in self.stations.values():
            self._tasks.append(asyncio.get_running_loop().create_task(station.run()))
            await asyncio.sleep(1 / per_second)  # the ramp itself, not a wait

    def records(self) -> dict[str, StationRecord]:
        return {i: s.record for i, s in self.stations.items()}

    async def wait_connected(self, timeout: float) -> None:
        async def all_connected() -> None:
            missing = [i for i, s in self.stations.items() if not s.record.connected]
            assert not missing, f"{len(missing)} stations not connected: {missing[:5]}"

        await eventually(all_connected, timeout=timeout, interval=0.2)

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)


def station_ids(n: int) -> list[str]:
    return [f"CP-{i:05d}" for i in range(1, n + 1)]


async def failover(
    cluster: Cluster, fleet: Fleet, victim: Replica, sig: int, timeout: float
) -> tuple[float, set[str]]:
    """Signal `victim` (SIGKILL or SIGTERM), wait until each of its stations has booted again
    elsewhere; returns (seconds from the signal until the last one did, the moved stations)."""
    before = serving(await cluster.placement())
    moved = {s for s, where in before.items() if where == [victim.name]}
    assert moved, "the victim served no station"
    records = fleet.records()
    sessions = {s: records[s].sessions for s in moved}
    started = time.monotonic()
    victim.signal(sig)

    async def all_back() -> None:
        back = [s for s in moved if records[s].connected and records[s].sessions > sessions[s]]
        assert len(back) == len(moved), f"{len(moved) - len(back)} stations did not come back"

    # The figure is taken from the stations' boot times, not from when this poll noticed.
    await eventually(all_back, timeout=timeout, interval=0.05)
    last = max(records[s].booted_at or 0.0 for s in moved)
    return last - started, moved
