"""SSL contexts for the two listeners and the station identity carried by a client certificate."""

from __future__ import annotations

import ssl
from typing import Any

from exporter.config.model import ConfigError
from exporter.config.security import TlsFiles

#: The TLS 1.2 cipher suites OCPP requires of a central system (2.0.1 A00.FR.318, the 1.6
#: security whitepaper), in OpenSSL's names: TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
#: TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384, TLS_RSA_WITH_AES_128_GCM_SHA256 and
#: TLS_RSA_WITH_AES_256_GCM_SHA384. Exactly these, so that a conformance test finds what the
#: specification lists (TLS 1.3 keeps OpenSSL's own suites: set_ciphers does not touch them).
OCPP_TLS12_SUITES = (
    "ECDHE-ECDSA-AES128-GCM-SHA256",
    "ECDHE-ECDSA-AES256-GCM-SHA384",
    "AES128-GCM-SHA256",
    "AES256-GCM-SHA384",
)


def server_context(
    tls: TlsFiles, require_client_cert: bool, source: str, key: str, ocpp: bool = False
) -> ssl.SSLContext:
    """A TLS 1.2+ server context; a bad certificate or key is a ConfigError naming `key`. With
    `ocpp`, TLS 1.2 offers exactly OCPP_TLS12_SUITES. An extra certificate (the other key type)
    is loaded next to the first: OpenSSL keeps one per key type and picks by the suite."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    if ocpp:
        context.set_ciphers(":".join(OCPP_TLS12_SUITES))
    chains = [("cert_file", tls.cert_file, tls.key_file)]
    if tls.extra_cert_file:
        chains.append(("extra_cert_file", tls.extra_cert_file, tls.extra_key_file))
    for name, cert_file, key_file in chains:
        try:
            context.load_cert_chain(cert_file, key_file)
        except (ssl.SSLError, OSError) as exc:
            raise ConfigError(
                source, f"{key}.{name}", f"cannot load certificate/key: {exc}"
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
