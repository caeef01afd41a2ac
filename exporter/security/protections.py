"""Wiring of the protections into both listeners: OCPP admission (profiles, unknown stations,
connection limit), per-station rate limits, TLS contexts and metrics-side Basic auth. Called once
by service.build; keeps the listeners' own modules free of policy. (The state store is wired by
service.build through store.open_store.)"""

from __future__ import annotations

import logging
import ssl
from dataclasses import dataclass

from aiohttp import web

from exporter.config.model import Config
from exporter.endpoint.admission import Admission
from exporter.endpoint.server import OcppServer
from exporter.endpoint.token_bucket import TokenBucket
from exporter.security.passwords import Verifier
from exporter.security.tls import server_context
from exporter.security.web_auth import basic_auth_middleware
from exporter.state.counters import Stats
from exporter.state.fleet import Fleet

log = logging.getLogger("exporter.security")

# Kernel accept queue for the OCPP listener: a reconnect storm of thousands of stations arrives
# within a second; the default of 128 would drop SYNs and stretch the storm into retries.
MAX_BACKLOG = 4096


@dataclass
class Security:
    ocpp_ssl: ssl.SSLContext | None
    web_ssl: ssl.SSLContext | None
    backlog: int


def tls_contexts(config: Config) -> tuple[ssl.SSLContext | None, ssl.SSLContext | None]:
    """Both listeners' TLS contexts; loading the files here is what makes `check-config` catch
    a missing or mismatched certificate before a rollout."""
    sec = config.ocpp_security
    ocpp_ssl = None
    if sec.tls is not None and sec.profile in (2, 3):
        # Behind a TLS-terminating proxy (profile 3 without a CA) no client certificate is asked.
        require = sec.profile == 3 and bool(sec.tls.client_ca_file)
        ocpp_ssl = server_context(sec.tls, require, config.source, "ocpp.security.tls")
    web_ssl = None
    if config.web.tls is not None:
        web_ssl = server_context(
            config.web.tls,
            config.web.tls.client_auth_type == "RequireAndVerifyClientCert",
            config.source,
            "web.tls_server_config",
        )
    return ocpp_ssl, web_ssl


def install(
    config: Config,
    fleet: Fleet,
    stats: Stats,
    ocpp: OcppServer,
    ocpp_app: web.Application,
    metrics_app: web.Application,
) -> Security:
    sec = config.ocpp_security
    inventory = frozenset(station for site in config.sites for station in site.stations)
    verifier = Verifier()
    ocpp.admission = Admission(sec, inventory, config.limits, fleet, stats, verifier)
    limits = config.limits
    if limits.max_messages_per_second > 0:
        ocpp.new_bucket = lambda: TokenBucket(limits.max_messages_per_second, limits.burst)
    ocpp_ssl, web_ssl = tls_contexts(config)
    if sec.tls is not None and sec.profile not in (2, 3):
        log.warning("ocpp.security.tls is set but profile %d does not use TLS", sec.profile)
    if sec.profile == 1:
        log.warning(
            "OCPP security profile 1 sends passwords in clear text: use it only behind a "
            "TLS-terminating proxy or on a trusted network"
        )
    if config.web.basic_auth_users:
        metrics_app.middlewares.append(
            basic_auth_middleware(config.web.basic_auth_users, stats, verifier)
        )
    return Security(ocpp_ssl, web_ssl, min(limits.max_connections, MAX_BACKLOG))
