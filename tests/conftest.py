"""Shared fixtures: a real exporter on loopback ports, real OCPP 1.6 stations over websockets,
and scrapes of the real /metrics parsed with prometheus_client's parser."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, replace
from typing import Any

import aiohttp
import pytest
from prometheus_client.parser import text_string_to_metric_families

from exporter import service
from exporter.config import model as config_module
from exporter.config.model import Config, Listen, OcppSettings
from tests.support.ocpp_station import TestStation, connect_station


@dataclass
class Running:
    svc: service.Service
    ocpp_port: int
    metrics_port: int

    @property
    def ocpp_url(self) -> str:
        return f"ws://127.0.0.1:{self.ocpp_port}{self.svc.config.ocpp.path_prefix}"

    @property
    def http_url(self) -> str:
        return f"http://127.0.0.1:{self.metrics_port}"

    async def scrape(self) -> dict[str, list[tuple[dict[str, str], float]]]:
        """name -> [(labels, value)] from a real GET /metrics."""
        async with aiohttp.ClientSession() as http, http.get(self.http_url + "/metrics") as r:
            assert r.status == 200
            text = await r.text()
        out: dict[str, list[tuple[dict[str, str], float]]] = {}
        for family in text_string_to_metric_families(text):
            for sample in family.samples:
                out.setdefault(sample.name, []).append((sample.labels, sample.value))
        return out

    async def notifications(self, **query: str) -> list[dict[str, Any]]:
        async with (
            aiohttp.ClientSession() as http,
            http.get(self.http_url + "/api/v1/notifications", params=query) as r,
        ):
            assert r.status == 200
            return (await r.json())["notifications"]

    async def station(self, station_id: str, **kwargs: Any) -> TestStation:
        return await connect_station(self.ocpp_url, station_id, **kwargs)


def test_config(**ocpp: Any) -> Config:
    """Loopback, ephemeral ports, fast timers."""
    settings = replace(
        OcppSettings(),
        **{"resync_window": 0.5, "call_timeout": 2.0, **ocpp},
    )
    return replace(
        config_module.default(),
        ocpp_listen=Listen("127.0.0.1", 0),
        metrics_listen=Listen("127.0.0.1", 0),
        ocpp=settings,
    )


test_config.__test__ = False  # a helper, not a test


@pytest.fixture
async def exporter_factory() -> AsyncIterator[Callable[..., Any]]:
    started: list[tuple[service.Service, list[Any]]] = []

    async def start(config: Config | None = None) -> Running:
        svc = service.build(config or test_config())
        runners = await service.start(svc)
        started.append((svc, runners))
        return Running(svc, service.bound_port(runners[0]), service.bound_port(runners[1]))

    yield start
    for svc, runners in started:
        await service.stop(svc, runners)


@pytest.fixture
async def exporter(exporter_factory: Callable[..., Any]) -> Running:
    return await exporter_factory()


async def eventually(check: Callable[[], Any], timeout: float = 5.0, interval: float = 0.05) -> Any:
    """Retry an async assertion until it holds (state changes cross a network hop)."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        try:
            return await check()
        except AssertionError:
            if asyncio.get_running_loop().time() > deadline:
                raise
            await asyncio.sleep(interval)


def samples(scrape: dict[str, list[tuple[dict[str, str], float]]], name: str, **labels: str):
    return [
        (lab, val)
        for lab, val in scrape.get(name, [])
        if all(lab.get(k) == v for k, v in labels.items())
    ]


@contextlib.asynccontextmanager
async def stations(
    running: Running, ids: list[str], **kwargs: Any
) -> AsyncIterator[list[TestStation]]:
    connected = [await running.station(i, **kwargs) for i in ids]
    try:
        yield connected
    finally:
        for s in connected:
            await s.close()
