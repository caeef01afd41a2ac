"""SSL contexts for the two listeners and the station identity carried by a client certificate."""

from __future__ import annotations

import ssl
from typing import Any

from exporter.config.model import ConfigError
from exporter.config.security import TlsFiles


def server_context(
    tls: TlsFiles, require_client_cert: bool, source: str, key: str
) -> ssl.SSLContext:
    """A TLS 1.2+ server context; a bad certificate or key is a ConfigError naming `key`."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    try:
        context.load_cert_chain(tls.cert_file, tls.key_file)
    except (ssl.SSLError, OSError) as exc:
        raise ConfigError(
            source, f"{key}.cert_file", f"cannot load certificate/key: {exc}"
        ) from None
    if require_client_cert:
        try:
            context.load_verify_locations(cafile=tls.client_ca_file)
        except (ssl.SSLError, OSError) as exc:
            raise ConfigError(source, f"{key}.client_ca_file", f"cannot load CA: {exc}") from None
        # The handshake itself fails without a certificate signed by the configured CA.
        context.verify_mode = ssl.CERT_REQUIRED
    return context


def peer_common_name(transport: Any) -> str | None:
    """The subject CN of the verified client certificate, or None."""
    if transport is None:
        return None
    cert = transport.get_extra_info("peercert")
    if not cert:
        return None
    for rdn in cert.get("subject", ()):
        for name, value in rdn:
            if name == "commonName":
                return value
    return None
