"""Wiring: builds the fleet, catalog, OCPP endpoint and metrics listener from a Config and runs
them until SIGTERM/SIGINT. The only place where the parts meet."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace

from aiohttp import web
from prometheus_client import CollectorRegistry

from exporter.config.model import Config, ConfigError, Limits, Listen
from exporter.devices.probes import Prober
from exporter.devices.push_api import SitesApi
from exporter.endpoint.admission import Admission
from exporter.endpoint.relay import UpstreamConnector
from exporter.endpoint.server import OcppServer
from exporter.endpoint.token_bucket import StationBuckets, TokenBucket
from exporter.knowledge import catalog as catalog_module
from exporter.knowledge.catalog import Catalog
from exporter.persistence.store import ChangeLog, StateStore, open_store
from exporter.render.exposition import FleetExposition, RenderedStations
from exporter.render.metrics import StatsCollector
from exporter.render.notifications import Notification, fleet_notifications
from exporter.render.relay_metrics import RelayCollector
from exporter.render.site_metrics import SitesCollector
from exporter.render.site_notifications import site_notifications
from exporter.security.passwords import Verifier
from exporter.security.protections import Security, listener_security
from exporter.security.web_auth import basic_auth_middleware
from exporter.state.counters import Stats
from exporter.state.fleet import ChangeHooks, Fleet, Placement
from exporter.state.relay_legs import UpstreamLegs
from exporter.state.sites import Sites
from exporter.web.app import MetricsSide
from exporter.web.stream import NotificationStream

log = logging.getLogger("exporter")


def build_catalog(config: Config) -> Catalog:
    base = catalog_module.load(config.runbook_base_url)
    try:
        catalog = base.with_overrides(config.catalog_overrides)
    except catalog_module.UnknownEntry as exc:
        raise ConfigError(config.source, f"catalog.overrides.{exc.key}", str(exc)) from None
    # Operator catalogs come first when a station's code is recognised (code_schemes.py).
    return replace(catalog, codes=catalog.codes.with_operator(config.vendor_catalogs))


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
    sites: Sites
    prober: Prober
    security: Security
    # Only with a state directory (--state-dir).
    store: StateStore | None


def build(config: Config) -> Service:
    catalog = build_catalog(config)
    inventory = {
        station: Placement(site.name, site.controller)
        for site in config.sites
        for station in site.stations
    }
    # With a state directory, the store writes what the fleet's mutators report changed.
    changes = ChangeLog() if config.state_dir else None
    # Each station's /metrics lines are rendered again only when the fleet says it changed;
    # the live page's stream refreshes on the same changes (added below, once it exists).
    rendered = RenderedStations()

    # The notifications' sources read `fleet` and `sites`, bound below before anything reads
    # them; the live page's stream recomputes the fleet's only after the fleet tells it of a
    # change.
    def fleet_source() -> Iterable[Notification]:
        return fleet_notifications(fleet, catalog)

    def site_source() -> Iterable[Notification]:
        return site_notifications(sites, catalog, stations_of)

    stream = NotificationStream([fleet_source, site_source])
    hooks = ChangeHooks(rendered, stream.follow(fleet_source), *([changes] if changes else []))
    fleet = Fleet(
        inventory, max_stations=config.limits.max_stations, now=time.time(), changes=hooks
    )
    stats = Stats()
    registry = CollectorRegistry(auto_describe=False)
    # The fleet families (render/families.py) are written by FleetExposition (fast, yields to
    # the loop), not through the registry.
    fleet_exposition = FleetExposition(
        fleet, catalog, config.limits.max_error_info_series, rendered
    )
    stats_collector = StatsCollector(stats, fleet)
    registry.register(stats_collector)
    # Controller/EMS liveness: the grace period before a first signal starts now.
    sites = Sites(config.sites, now=time.time())
    registry.register(SitesCollector(sites))
    stations_of = {site.name: site.stations for site in config.sites}
    # One verifier for both listeners: its cache of checked passwords is shared.
    verifier = Verifier()
    admission = Admission(
        config.ocpp_security, frozenset(inventory), config.limits, fleet, stats, verifier
    )
    legs = UpstreamLegs(known=lambda station_id: station_id in fleet.stations)
    ocpp = OcppServer(
        config,
        fleet,
        stats,
        admission,
        upstream_legs=legs,
        relay=UpstreamConnector(config, legs, time.time) if config.mode == "relay" else None,
        new_bucket=message_rate_limit(config.limits),
        codes=catalog.codes,
    )
    if config.mode == "relay":
        registry.register(RelayCollector(ocpp.upstream_legs, fleet))
    ocpp_app = web.Application()
    ocpp.add_routes(ocpp_app)

    metrics_side = MetricsSide(
        registry,
        stats_collector,
        stream,
        config.ocpp.path_prefix,
        fleet_exposition,
    )
    web_users = config.web.basic_auth_users
    metrics_app = web.Application(
        middlewares=[basic_auth_middleware(web_users, stats, verifier)] if web_users else []
    )
    metrics_side.add_routes(metrics_app)
    SitesApi(sites, web_auth=bool(web_users)).add_routes(metrics_app)
    store = open_store(config, fleet, changes, stats, ocpp_app)
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
        security=listener_security(config),
        store=store,
    )


def message_rate_limit(limits: Limits) -> Callable[[str], TokenBucket] | None:
    """Each station's token bucket, the same across its sessions (a reconnect does not refill
    it), at most one per station the fleet may track; None without a rate limit."""
    rate, burst = limits.max_messages_per_second, limits.burst
    if rate <= 0:
        return None
    return StationBuckets(rate, burst, capacity=limits.max_stations).get


class ListenError(Exception):
    """A listener cannot bind its address (in use, not this host's, not permitted)."""

    def __init__(self, listener: str, listen: Listen, exc: OSError) -> None:
        # asyncio's message repeats the address in Python's notation; the errno says it plainly.
        reason = os.strerror(exc.errno) if exc.errno else str(exc)
        super().__init__(
            f"cannot listen for {listener} on {listen}: {reason[:1].lower()}{reason[1:]}"
        )


async def start(service: Service) -> list[web.AppRunner]:
    """Bind both listeners; returns the runners (their sockets tell the bound ports)."""
    config = service.config
    runners: list[web.AppRunner] = []
    try:
        sec = service.security
        for name, app, listen, ssl_context in (
            ("OCPP", service.ocpp_app, config.ocpp_listen, sec.ocpp_ssl),
            ("metrics", service.metrics_app, config.metrics_listen, sec.web_ssl),
        ):
            runner = web.AppRunner(app, access_log=None, handle_signals=False)
            await runner.setup()
            runners.append(runner)
            site = web.TCPSite(
                runner, listen.host, listen.port, ssl_context=ssl_context, backlog=sec.backlog
            )
            try:
                await site.start()
            except OSError as exc:
                raise ListenError(name, listen, exc) from None
    except BaseException:
        await stop(service, runners)
        raise
    service.prober.start()
    service.metrics_side.ready = True
    return runners


async def stop(service: Service, runners: list[web.AppRunner]) -> None:
    """Close station sessions with 1001 (the OCPP app's shutdown hook), then the listeners."""
    service.metrics_side.ready = False
    # Waiting password checks answer "try again later" now rather than hold the shutdown.
    service.ocpp.admission.verifier.gate.close()
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
            "listening: OCPP on %s://%s%s/{station_id}, metrics on %s://%s/metrics",
            "wss" if service.security.ocpp_ssl is not None else "ws",
            config.ocpp_listen,
            config.ocpp.path_prefix,
            "https" if service.security.web_ssl is not None else "http",
            config.metrics_listen,
        )
        await stop_event.wait()
        log.info("shutting down: closing station sessions with 1001")
    finally:
        await stop(service, runners)
