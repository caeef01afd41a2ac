"""The listeners' transport protections: TLS contexts for both listeners, the OCPP listener's
accept backlog, and warnings about configurations that weaken security. The composition root
(service.build) wires them, with OCPP admission, rate limits and metrics-side Basic auth."""

from __future__ import annotations

import logging
import ssl
from dataclasses import dataclass

from exporter.config.model import Config, ConfigError
from exporter.security.tls import server_context

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
    try:
        return _tls_contexts(config)
    except ConfigError as exc:
        raise config.located(exc) from None


def _tls_contexts(config: Config) -> tuple[ssl.SSLContext | None, ssl.SSLContext | None]:
    sec = config.ocpp_security
    ocpp_ssl = None
    if sec.tls is not None and sec.profile in (2, 3):
        # Behind a TLS-terminating proxy (profile 3 without a CA) no client certificate is asked.
        require = sec.profile == 3 and bool(sec.tls.client_ca_file)
        ocpp_ssl = server_context(sec.tls, require, config.source, "ocpp.security.tls", ocpp=True)
    web_ssl = None
    if config.web.tls is not None:
        web_ssl = server_context(
            config.web.tls,
            config.web.tls.client_auth_type == "RequireAndVerifyClientCert",
            config.source,
            "web.tls_server_config",
        )
    return ocpp_ssl, web_ssl


def listener_security(config: Config) -> Security:
    """Both listeners' TLS and the OCPP backlog; logs what weakens the configured security."""
    sec = config.ocpp_security
    ocpp_ssl, web_ssl = tls_contexts(config)
    if sec.tls is not None and sec.profile not in (2, 3):
        log.warning("ocpp.security.tls is set but profile %d does not use TLS", sec.profile)
    if sec.profile == 1:
        log.warning(
            "OCPP security profile 1 sends passwords in clear text: use it only behind a "
            "TLS-terminating proxy or on a trusted network"
        )
    return Security(ocpp_ssl, web_ssl, min(config.limits.max_connections, MAX_BACKLOG))
