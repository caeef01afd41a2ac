"""The real alerting pipeline for tests: Prometheus and Alertmanager binaries on loopback ports,
configured from the shipped alerting/ files, and a webhook server standing in for the pager."""

from __future__ import annotations

import asyncio
import contextlib
import glob
import socket
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import yaml
from aiohttp import web

ROOT = Path(__file__).resolve().parents[2]
ALERTING = ROOT / "alerting"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Notification:
    received: float  # time.monotonic()
    receiver: str
    payload: dict[str, Any]

    def alerts(self, status: str | None = None, **labels: str) -> list[dict[str, Any]]:
        return [
            a
            for a in self.payload["alerts"]
            if (status is None or a["status"] == status)
            and all(a["labels"].get(k) == v for k, v in labels.items())
        ]


@dataclass
class Webhook:
    """Receives Alertmanager webhook notifications at /alerts/{receiver}."""

    url: str = ""
    received: list[Notification] = field(default_factory=list)

    def find(self, receiver: str, status: str, **labels: str) -> list[Notification]:
        return [n for n in self.received if n.receiver == receiver and n.alerts(status, **labels)]


@contextlib.asynccontextmanager
async def webhook_server() -> AsyncIterator[Webhook]:
    hook = Webhook()

    async def receive(request: web.Request) -> web.Response:
        hook.received.append(
            Notification(time.monotonic(), request.match_info["receiver"], await request.json())
        )
        return web.Response(text="ok")

    app = web.Application()
    app.router.add_post("/alerts/{receiver}", receive)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    hook.url = f"http://127.0.0.1:{runner.addresses[0][1]}/alerts"
    try:
        yield hook
    finally:
        await runner.cleanup()


def alertmanager_config(webhook_url: str) -> dict[str, Any]:
    """The shipped alertmanager.yml with receivers pointed at the test's webhook and batching
    delays cut to a second; routes, matchers and inhibit rules stay as shipped."""
    config = yaml.safe_load((ALERTING / "alertmanager.yml").read_text())
    for receiver in config["receivers"]:
        for hook in receiver.get("webhook_configs", []):
            hook["url"] = f"{webhook_url}/{receiver['name']}"
            hook["send_resolved"] = True

    def shorten(route: dict[str, Any]) -> None:
        for key in ("group_wait", "group_interval"):
            if key in route or route is config["route"]:
                route[key] = "1s"
        for child in route.get("routes", []):
            shorten(child)

    shorten(config["route"])
    return config


def prometheus_config(metrics_port: int, alertmanager_port: int) -> dict[str, Any]:
    """The shipped prometheus.yml with 1s intervals and the test's ports."""
    config = yaml.safe_load((ALERTING / "prometheus.yml").read_text())
    config["global"].update(scrape_interval="1s", evaluation_interval="1s")
    config["rule_files"] = sorted(glob.glob(str(ALERTING / "rules" / "*.yml")))
    config["alerting"]["alertmanagers"][0]["static_configs"] = [
        {"targets": [f"127.0.0.1:{alertmanager_port}"]}
    ]
    (job,) = config["scrape_configs"]
    job["static_configs"] = [{"targets": [f"127.0.0.1:{metrics_port}"]}]
    return config


@dataclass
class Server:
    url: str
    process: asyncio.subprocess.Process
    log: Path


async def _wait_ready(server: Server, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    async with aiohttp.ClientSession() as http:
        while True:
            if server.process.returncode is not None:
                raise RuntimeError(f"exited early:\n{server.log.read_text()[-3000:]}")
            with contextlib.suppress(aiohttp.ClientError):
                async with http.get(server.url + "/-/ready") as r:
                    if r.status == 200:
                        return
            if time.monotonic() > deadline:
                raise TimeoutError(f"{server.url} not ready:\n{server.log.read_text()[-3000:]}")
            await asyncio.sleep(0.1)


@contextlib.asynccontextmanager
async def run_binary(name: str, args: list[str], port: int, workdir: Path) -> AsyncIterator[Server]:
    log = workdir / f"{name}.log"
    with log.open("wb") as out:
        process = await asyncio.create_subprocess_exec(
            name, *args, stdout=out, stderr=asyncio.subprocess.STDOUT
        )
    server = Server(f"http://127.0.0.1:{port}", process, log)
    try:
        await _wait_ready(server)
        yield server
    finally:
        if process.returncode is None:
            process.terminate()
            try:
                await asyncio.wait_for(process.wait(), 15)
            except TimeoutError:
                process.kill()
                await process.wait()


@contextlib.asynccontextmanager
async def alertmanager(workdir: Path, webhook_url: str) -> AsyncIterator[Server]:
    workdir.mkdir(parents=True, exist_ok=True)
    config = workdir / "alertmanager.yml"
    config.write_text(yaml.safe_dump(alertmanager_config(webhook_url)))
    port = free_port()
    args = [
        f"--config.file={config}",
        f"--storage.path={workdir / 'data'}",
        f"--web.listen-address=127.0.0.1:{port}",
        "--cluster.listen-address=",
    ]
    async with run_binary("prometheus-alertmanager", args, port, workdir) as server:
        yield server


@contextlib.asynccontextmanager
async def prometheus(
    workdir: Path, metrics_port: int, alertmanager_port: int
) -> AsyncIterator[Server]:
    workdir.mkdir(parents=True, exist_ok=True)
    config = workdir / "prometheus.yml"
    config.write_text(yaml.safe_dump(prometheus_config(metrics_port, alertmanager_port)))
    port = free_port()
    args = [
        f"--config.file={config}",
        f"--storage.tsdb.path={workdir / 'data'}",
        f"--web.listen-address=127.0.0.1:{port}",
    ]
    async with run_binary("prometheus", args, port, workdir) as server:
        yield server


async def query(server: Server, promql: str) -> list[dict[str, Any]]:
    async with (
        aiohttp.ClientSession() as http,
        http.get(server.url + "/api/v1/query", params={"query": promql}) as r,
    ):
        body = await r.json()
    assert body["status"] == "success", body
    return body["data"]["result"]


def port_of(server: Server) -> int:
    return int(server.url.rsplit(":", 1)[1])
