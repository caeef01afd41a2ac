"""Real Prometheus-project binaries for tests (Debian's prometheus and prometheus-alertmanager,
installed by scripts/test), on loopback ports, with a small client for Prometheus' query API."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import yaml

from tests.support.ports import free_port
from tests.support.waiting import eventually


@dataclass
class Server:
    url: str
    process: asyncio.subprocess.Process
    log: Path

    @property
    def port(self) -> int:
        return int(self.url.rsplit(":", 1)[1])

    def tail(self) -> str:
        return self.log.read_text(errors="replace")[-3000:]


async def _wait_ready(server: Server, timeout: float) -> None:
    async with aiohttp.ClientSession() as http:

        async def ready() -> None:
            if server.process.returncode is not None:
                raise RuntimeError(f"{server.url} exited early:\n{server.tail()}")
            try:
                async with http.get(server.url + "/-/ready") as r:
                    assert r.status == 200, f"{server.url}/-/ready: {r.status}"
            except aiohttp.ClientError as exc:
                raise AssertionError(f"{server.url}/-/ready: {exc}") from None

        try:
            await eventually(ready, timeout=timeout, interval=0.1)
        except AssertionError as exc:
            raise TimeoutError(f"{server.url} not ready:\n{server.tail()}") from exc


@contextlib.asynccontextmanager
async def run_binary(
    name: str, args: list[str], port: int, workdir: Path, ready_timeout: float = 60.0
) -> AsyncIterator[Server]:
    """Run `name` (which serves /-/ready on `port`) until the block ends; output goes to
    workdir/<name>.log, quoted when the binary fails to come up."""
    workdir.mkdir(parents=True, exist_ok=True)
    log = workdir / f"{name}.log"
    with log.open("wb") as out:
        process = await asyncio.create_subprocess_exec(
            name, *args, stdout=out, stderr=asyncio.subprocess.STDOUT
        )
    server = Server(f"http://127.0.0.1:{port}", process, log)
    try:
        await _wait_ready(server, ready_timeout)
        yield server
    finally:
        if process.returncode is None:
            process.terminate()
            try:
                await asyncio.wait_for(process.wait(), 15)
            except TimeoutError:
                process.kill()
                await process.wait()


@dataclass
class Prometheus:
    server: Server
    http: aiohttp.ClientSession

    @property
    def url(self) -> str:
        return self.server.url

    async def api(self, path: str, **params: Any) -> Any:
        async with self.http.post(f"{self.url}/api/v1/{path}", data=params) as r:
            body = await r.json()
        assert body["status"] == "success", f"{path} {params.get('query')!r}: {body}"
        return body["data"]

    async def query(self, expr: str) -> list[dict[str, Any]]:
        """An instant query; a scalar result comes back as one row."""
        data = await self.api("query", query=expr)
        assert data["resultType"] in {"vector", "scalar"}
        return data["result"] if data["resultType"] == "vector" else [{"value": data["result"]}]

    async def query_range(self, expr: str, start: float, step: float = 1) -> list[dict[str, Any]]:
        data = await self.api(
            "query_range", query=expr, start=f"{start:.3f}", end=f"{time.time():.3f}", step=step
        )
        assert data["resultType"] == "matrix"
        return data["result"]


def scrape_only(*targets: str) -> dict[str, Any]:
    """A Prometheus configuration that scrapes `targets` every second, without rules."""
    return {
        "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
        "scrape_configs": [
            {"job_name": "ocpp-exporter", "static_configs": [{"targets": list(targets)}]}
        ],
    }


@contextlib.asynccontextmanager
async def prometheus(workdir: Path, config: dict[str, Any]) -> AsyncIterator[Prometheus]:
    """A real Prometheus with `config` (a parsed prometheus.yml), its TSDB under `workdir`."""
    workdir.mkdir(parents=True, exist_ok=True)
    config_file = workdir / "prometheus.yml"
    config_file.write_text(yaml.safe_dump(config))
    port = free_port()
    args = [
        f"--config.file={config_file}",
        f"--storage.tsdb.path={workdir / 'data'}",
        f"--web.listen-address=127.0.0.1:{port}",
    ]
    async with (
        run_binary("prometheus", args, port, workdir) as server,
        aiohttp.ClientSession() as http,
    ):
        yield Prometheus(server, http)
