"""Wiring: builds the fleet, catalog, OCPP endpoint and metrics listener from a Config and runs
them until SIGTERM/SIGINT. The only place where the parts meet."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import time
from dataclasses import dataclass

from aiohttp import web
from prometheus_client import CollectorRegistry

from exporter.config.model import Config
from exporter.devices.probes import Prober
from exporter.devices.push_api import SitesApi
from exporter.endpoint.server import OcppServer
from exporter.knowledge import catalog as catalog_module
from exporter.knowledge.catalog import Catalog
from exporter.persistence.store import StateStore, fleet_class, open_store
from exporter.render.exposition import FleetExposition
from exporter.render.metrics import StatsCollector
from exporter.render.notifications import fleet_notifications
from exporter.render.relay_metrics import RelayCollector
from exporter.render.site_metrics import SitesCollector
from exporter.render.site_notifications import site_notifications
from exporter.security.protections import Security
from exporter.security.protections import install as install_security
from exporter.state.counters import Stats
from exporter.state.fleet import Fleet, Placement
from exporter.state.sites import Sites
from exporter.web.app import MetricsSide

log = logging.getLogger("exporter")


def build_catalog(config: Config) -> Catalog:
    base = catalog_module.load(config.runbook_base_url)
    return base.with_overrides(config.catalog_overrides, config.source)


@dataclass
class Service:
    config: Config
    catalog: Catalog
    fleet: Fleet
    stats: Stats
    ocpp: OcppServer
    metrics_side: MetricsSide
    ocpp_app: web.Application
    metrics_app: web.Application
    sites: Sites | None = None
    prober: Prober | None = None
    security: Security | None = None
    store: StateStore | None = None


def build(config: Config) -> Service:
    catalog = build_catalog(config)
    inventory = {
        station: Placement(site.name, site.controller)
        for site in config.sites
        for station in site.stations
    }
    fleet = fleet_class(config)(inventory, max_stations=config.limits.max_stations, now=time.time())
    stats = Stats()
    registry = CollectorRegistry(auto_describe=False)
    # The fleet families (render/families.py) are written by FleetExposition (fast, yields to
    # the loop), not through the registry.
    fleet_exposition = FleetExposition(fleet, catalog, config.limits.max_error_info_series)
    stats_collector = StatsCollector(stats, fleet)
    registry.register(stats_collector)
    # Controller/EMS liveness: the grace period before a first signal starts now.
    sites = Sites(config.sites, now=time.time())
    registry.register(SitesCollector(sites))
    stations_of = {site.name: site.stations for site in config.sites}
    ocpp = OcppServer(config, fleet, stats, codes=catalog.codes)
    if config.mode == "relay":
        registry.register(RelayCollector(ocpp.upstream_legs, fleet))
    ocpp_app = web.Application()
    ocpp.add_routes(ocpp_app)
    metrics_side = MetricsSide(
        registry,
        stats_collector,
        [
            lambda: fleet_notifications(fleet, catalog),
            lambda: site_notifications(sites, catalog, stations_of),
        ],
        config.ocpp.path_prefix,
        fleet_exposition,
    )
    metrics_app = web.Application()
    metrics_side.add_routes(metrics_app)
    SitesApi(sites).add_routes(metrics_app)
    security = install_security(config, fleet, stats, ocpp, ocpp_app, metrics_app)
    store = open_store(config, fleet, stats, ocpp_app)
    return Service(
        config,
        catalog,
        fleet,
        stats,
        ocpp,
        metrics_side,
        ocpp_app,
        metrics_app,
        sites=sites,
        prober=Prober(sites),
        security=security,
        store=store,
    )


async def start(service: Service) -> list[web.AppRunner]:
    """Bind both listeners; returns the runners (their sockets tell the bound ports)."""
    config = service.config
    runners: list[web.AppRunner] = []
    try:
        sec = service.security
        for app, listen, ssl_context in (
            (service.ocpp_app, config.ocpp_listen, sec.ocpp_ssl if sec else None),
            (service.metrics_app, config.metrics_listen, sec.web_ssl if sec else None),
        ):
            runner = web.AppRunner(app, access_log=None, handle_signals=False)
            await runner.setup()
            runners.append(runner)
            backlog = sec.backlog if sec else 128
            site = web.TCPSite(
                runner, listen.host, listen.port, ssl_context=ssl_context, backlog=backlog
            )
            await site.start()
    except BaseException:
        await stop(service, runners)
        raise
    if service.prober is not None:
        service.prober.start()
    service.metrics_side.ready = True
    return runners


def bound_port(runner: web.AppRunner) -> int:
    return runner.addresses[0][1]


async def stop(service: Service, runners: list[web.AppRunner]) -> None:
    """Close station sessions with 1001 (the OCPP app's shutdown hook), then the listeners."""
    service.metrics_side.ready = False
    if service.prober is not None:
        await service.prober.stop()
    for runner in runners:
        await runner.cleanup()


async def run(service: Service, stop_event: asyncio.Event | None = None) -> None:
    """Serve until `stop_event` is set or SIGTERM/SIGINT arrives."""
    stop_event = stop_event or asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop_event.set)
    runners = await start(service)
    try:
        config = service.config
        log.info(
            "listening: OCPP on ws://%s%s/{station_id}, metrics on http://%s/metrics",
            config.ocpp_listen,
            config.ocpp.path_prefix,
            config.metrics_listen,
        )
        await stop_event.wait()
        log.info("shutting down: closing station sessions with 1001")
    finally:
        await stop(service, runners)
