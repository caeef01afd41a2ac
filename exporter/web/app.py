"""The metrics-side HTTP listener: /metrics, /-/healthy, /-/ready, the landing page and the JSON
API. Separate from the OCPP listener so that each can be exposed (and secured) on its own."""

from __future__ import annotations

import html
import time
from collections.abc import Callable, Iterable

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

from exporter import __version__
from exporter.render.exposition import FleetExposition
from exporter.render.metrics import StatsCollector
from exporter.render.notifications import Notification, ordered

NotificationSource = Callable[[], Iterable[Notification]]

LANDING = """<!doctype html>
<html><head><meta charset="utf-8"><title>ocpp-exporter</title></head>
<body><h1>ocpp-exporter {version}</h1>
<p>OCPP stations connect to <code>ws://HOST:PORT{prefix}/{{station_id}}</code>.</p>
<ul>
<li><a href="metrics">/metrics</a> Prometheus metrics</li>
<li><a href="api/v1/notifications">/api/v1/notifications</a> active notifications (JSON)</li>
<li><a href="-/healthy">/-/healthy</a> and <a href="-/ready">/-/ready</a></li>
</ul></body></html>
"""


class MetricsSide:
    def __init__(
        self,
        registry: CollectorRegistry,
        stats_collector: StatsCollector,
        sources: list[NotificationSource],
        ocpp_prefix: str,
        fleet_exposition: FleetExposition | None = None,
    ) -> None:
        self.registry = registry
        # Renders the fleet-sized families without blocking the loop; the registry the rest.
        self.fleet_exposition = fleet_exposition
        self.stats_collector = stats_collector
        self.sources = sources
        self.ocpp_prefix = ocpp_prefix
        self.ready = False

    def add_routes(self, app: web.Application) -> None:
        app.router.add_get("/", self.landing)
        app.router.add_get("/metrics", self.metrics)
        app.router.add_get("/-/healthy", self.healthy)
        app.router.add_get("/-/ready", self.readiness)
        app.router.add_get("/api/v1/notifications", self.notifications)

    async def landing(self, request: web.Request) -> web.Response:
        body = LANDING.format(version=__version__, prefix=html.escape(self.ocpp_prefix))
        return web.Response(text=body, content_type="text/html")

    async def metrics(self, request: web.Request) -> web.Response:
        started = time.perf_counter()
        body = generate_latest(self.registry)
        if self.fleet_exposition is not None:
            body = (await self.fleet_exposition.render()).encode() + body
        self.stats_collector.last_scrape_seconds = time.perf_counter() - started
        return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})

    async def healthy(self, request: web.Request) -> web.Response:
        return web.Response(text="OK\n")

    async def readiness(self, request: web.Request) -> web.Response:
        if not self.ready:
            return web.Response(status=503, text="not ready: listeners are starting\n")
        return web.Response(text="OK\n")

    async def notifications(self, request: web.Request) -> web.Response:
        wanted = {
            k: request.query[k]
            for k in ("kind", "site", "station", "severity")
            if k in request.query
        }
        items = [n.as_json() for n in ordered(n for source in self.sources for n in source())]
        if wanted:
            items = [n for n in items if all(n.get(k) == v for k, v in wanted.items())]
        return web.json_response({"notifications": items})
