"""Identity passed by a TLS-terminating load balancer (docs/scaling.md, "TLS").

When HAProxy terminates TLS, the exporter never sees the station's client certificate (security
profile 3). HAProxy verifies it and puts its subject CN in a request header instead. A header is
only as trustworthy as whoever set it, so it is read only when the TCP peer is one of the
configured proxy addresses (`ocpp.trusted_proxies`); from anyone else it is ignored, whatever it
says. The same holds for X-Forwarded-For, used for the station's real address in logs.

Deciding what to do with the identity (e.g. refusing a station whose id differs from its
certificate) belongs to the security profile code; this module only says what was presented.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

from aiohttp import web

from exporter.config.fields import IPNetwork


@dataclass(frozen=True)
class PeerIdentity:
    # The TCP peer: the proxy when there is one, else the station.
    remote: str
    via_trusted_proxy: bool = False
    # The station's address as the trusted proxy saw it (X-Forwarded-For), else `remote`.
    station_address: str = ""
    # Subject CN of the client certificate the trusted proxy verified; None without one.
    client_cert_cn: str | None = None


# Where the handler leaves the identity for whoever decides on it (request[PEER_IDENTITY]).
PEER_IDENTITY: web.RequestKey[PeerIdentity] = web.RequestKey("ocpp_peer_identity", PeerIdentity)


def is_trusted(remote: str | None, networks: tuple[IPNetwork, ...]) -> bool:
    if not remote or not networks:
        return False
    try:
        address = ipaddress.ip_address(remote)
    except ValueError:  # a unix socket peer, or none
        return False
    return any(address in network for network in networks)


def identify(
    request: web.Request, networks: tuple[IPNetwork, ...], client_cert_header: str
) -> PeerIdentity:
    remote = request.remote or ""
    if not is_trusted(remote, networks):
        return PeerIdentity(remote=remote, station_address=remote)
    # HAProxy appends the peer it saw; the last entry is the one our trusted proxy added.
    forwarded = request.headers.get("X-Forwarded-For", "")
    station_address = forwarded.rsplit(",", 1)[-1].strip() or remote
    cn = request.headers.get(client_cert_header, "").strip() or None
    return PeerIdentity(
        remote=remote,
        via_trusted_proxy=True,
        station_address=station_address,
        client_cert_cn=cn,
    )
