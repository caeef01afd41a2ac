"""A real exporter in the test's own event loop, on loopback ports the kernel picks: its
configuration, its addresses, and real OCPP 1.6 stations connected to it."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from typing import Any

import aiohttp

from exporter import service
from exporter.config import model as config_module
from exporter.config.model import Config, Listen, OcppSettings
from tests.support import scrape as scrape_module
from tests.support.ocpp_station import TestStation, connect_station
from tests.support.ports import bound_port


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

    async def scrape(self) -> scrape_module.Scrape:
        """name -> [(labels, value)] from a real GET /metrics."""
        return await scrape_module.fetch(self.http_url)

    async def notifications(self, **query: str) -> list[dict[str, Any]]:
        async with (
            aiohttp.ClientSession() as http,
            http.get(self.http_url + "/api/v1/notifications", params=query) as r,
        ):
            assert r.status == 200
            return (await r.json())["notifications"]

    async def station(self, station_id: str, **kwargs: Any) -> TestStation:
        return await connect_station(self.ocpp_url, station_id, **kwargs)


def loopback_config(**ocpp: Any) -> Config:
    """Defaults, on loopback ephemeral ports, with timers short enough for tests; keyword
    arguments override `OcppSettings` fields."""
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


async def start(config: Config | None = None) -> tuple[Running, list[Any]]:
    """Start the exporter; stop it with `stop(running, runners)`."""
    svc = service.build(config or loopback_config())
    runners = await service.start(svc)
    return Running(svc, bound_port(runners[0]), bound_port(runners[1])), runners


async def stop(running: Running, runners: list[Any]) -> None:
    await service.stop(running.svc, runners)


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
