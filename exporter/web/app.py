"""The metrics-side HTTP listener: /metrics, /-/healthy, /-/ready, the live notifications page,
the JSON API and its event stream. Separate from the OCPP listener so that each can be exposed
(and secured) on its own."""

from __future__ import annotations

import html
import importlib.resources
import time
from collections.abc import Iterable

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

from exporter import __version__
from exporter.render.exposition import FleetExposition
from exporter.render.metrics import StatsCollector
from exporter.render.notifications import Notification, ordered
from exporter.web.stream import NotificationStream

# The page is plain files in the package: no build step, nothing fetched from another host.
STATIC = importlib.resources.files("exporter.web") / "static"
STATIC_TYPES = {"live.js": "text/javascript", "live.css": "text/css"}
PAGE_HEADERS = {
    # Only this listener's own scripts, styles and stream; station-sent text can never run.
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; "
        "img-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-cache",
}


def _page(ocpp_prefix: str) -> str:
    template = (STATIC / "index.html").read_text(encoding="utf-8")
    return template.replace("{{version}}", html.escape(__version__)).replace(
        "{{ocpp_prefix}}", html.escape(ocpp_prefix)
    )


class MetricsSide:
    def __init__(
        self,
        registry: CollectorRegistry,
        stats_collector: StatsCollector,
        stream: NotificationStream,
        ocpp_prefix: str,
        fleet_exposition: FleetExposition | None = None,
    ) -> None:
        self.registry = registry
        # Renders the fleet-sized families without blocking the loop; the registry the rest.
        self.fleet_exposition = fleet_exposition
        self.stats_collector = stats_collector
        self.ocpp_prefix = ocpp_prefix
        self.ready = False
        # The live page's stream; its sources are what /api/v1/notifications lists too.
        self.stream = stream
        self.page = _page(ocpp_prefix)
        self.static = {name: (STATIC / name).read_bytes() for name in STATIC_TYPES}

    def add_routes(self, app: web.Application) -> None:
        app.router.add_get("/", self.live_page)
        app.router.add_get("/static/{name}", self.static_file)
        app.router.add_get("/api/v1/notifications/stream", self.stream.handle)
        app.on_shutdown.append(self.stream.close)
        app.router.add_get("/metrics", self.metrics)
        app.router.add_get("/-/healthy", self.healthy)
        app.router.add_get("/-/ready", self.readiness)
        app.router.add_get("/api/v1/notifications", self.notifications)

    def current_notifications(self) -> Iterable[Notification]:
        return (n for source in self.stream.sources for n in source())

    async def live_page(self, request: web.Request) -> web.Response:
        return web.Response(text=self.page, content_type="text/html", headers=PAGE_HEADERS)

    async def static_file(self, request: web.Request) -> web.Response:
        name = request.match_info["name"]
        if name not in self.static:
            raise web.HTTPNotFound()
        return web.Response(
            body=self.static[name],
            headers={**PAGE_HEADERS, "Content-Type": f"{STATIC_TYPES[name]}; charset=utf-8"},
        )

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
        items = [n.as_json() for n in ordered(self.current_notifications())]
        if wanted:
            items = [n for n in items if all(n.get(k) == v for k, v in wanted.items())]
        return web.json_response({"notifications": items})
