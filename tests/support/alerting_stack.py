"""The real alerting pipeline for tests: Prometheus and Alertmanager binaries on loopback ports,
configured from the shipped alerting/ files, and a webhook server standing in for the pager."""

from __future__ import annotations

import contextlib
import glob
import time
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from aiohttp import web

from tests.support.ports import free_port
from tests.support.prometheus import Prometheus, Server, run_binary
from tests.support.prometheus import prometheus as prometheus_server

ROOT = Path(__file__).resolve().parents[2]
ALERTING = ROOT / "alerting"


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


def prometheus_config(metrics_port: int | Sequence[int], alertmanager_port: int) -> dict[str, Any]:
    """The shipped prometheus.yml with 1s intervals and the test's ports (several exporter
    replicas: one target each)."""
    config = yaml.safe_load((ALERTING / "prometheus.yml").read_text())
    config["global"].update(scrape_interval="1s", evaluation_interval="1s")
    config["rule_files"] = sorted(glob.glob(str(ALERTING / "rules" / "*.yml")))
    config["alerting"]["alertmanagers"][0]["static_configs"] = [
        {"targets": [f"127.0.0.1:{alertmanager_port}"]}
    ]
    (job,) = config["scrape_configs"]
    ports = [metrics_port] if isinstance(metrics_port, int) else list(metrics_port)
    job["static_configs"] = [{"targets": [f"127.0.0.1:{port}" for port in ports]}]
    return config


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
    workdir: Path, metrics_port: int | Sequence[int], alertmanager_port: int
) -> AsyncIterator[Prometheus]:
    """Prometheus with the shipped configuration and rules, pointed at the test's ports."""
    async with prometheus_server(workdir, prometheus_config(metrics_port, alertmanager_port)) as p:
        yield p
