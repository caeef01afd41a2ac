"""Who may open an OCPP session: the security profile's identity check (Basic auth or client
certificate), the policy for station ids nobody configured, and the connection limit.

Runs before the websocket upgrade, so every refusal is a plain HTTP status the station's log
shows: 401 (no or wrong credentials), 403 (authenticated, but not as this station id, or the
id is not allowed), 503 (a capacity limit; try again later). Passwords are never logged.
"""

from __future__ import annotations

import hmac
import logging
from collections.abc import Callable
from dataclasses import dataclass

from aiohttp import web

from exporter.config.model import Limits
from exporter.config.security import OcppSecurity
from exporter.endpoint.peer_identity import PEER_IDENTITY
from exporter.security.login_gate import LoginsOverloaded
from exporter.security.passwords import Verifier, parse_basic
from exporter.security.tls import peer_common_name
from exporter.state.counters import Stats
from exporter.state.fleet import Fleet

log = logging.getLogger("exporter.ocpp.auth")


@dataclass(frozen=True)
class Refusal:
    status: int
    reason: str
    text: str
    # Refusals of the identity (as opposed to capacity limits) count as failed attempts.
    auth: bool = True


class Admission:
    def __init__(
        self,
        security: OcppSecurity,
        inventory: frozenset[str],
        limits: Limits,
        fleet: Fleet,
        stats: Stats,
        verifier: Verifier | None = None,
    ) -> None:
        self.security = security
        self.inventory = inventory
        self.known = inventory | frozenset(security.passwords)
        self.limits = limits
        self.fleet = fleet
        self.stats = stats
        self.verifier = verifier or Verifier()

    async def check(self, request: web.Request, station_id: str) -> web.Response | None:
        """None to admit, else the response that refuses the upgrade (already counted)."""
        refusal = self._capacity() or await self._identity(request, station_id)
        if refusal is None:
            refusal = self._policy(station_id)
        if refusal is None:
            return None
        self.stats.connections_rejected[refusal.reason] += 1
        if refusal.auth:
            self.stats.auth_failures["ocpp", refusal.reason] += 1
        else:
            self.stats.limit_breaches[refusal.reason] += 1
        log.warning("refused station %r from %s: %s", station_id, request.remote, refusal.reason)
        headers = {}
        if refusal.status == 401:
            headers["WWW-Authenticate"] = 'Basic realm="ocpp", charset="UTF-8"'
        if refusal.status == 503:
            headers["Retry-After"] = "30"
        return web.Response(status=refusal.status, text=refusal.text + "\n", headers=headers)

    def _capacity(self) -> Refusal | None:
        if self.stats.open_connections >= self.limits.max_connections:
            return Refusal(503, "too_many_connections", "connection limit reached", auth=False)
        return None

    async def _identity(self, request: web.Request, station_id: str) -> Refusal | None:
        profile = self.security.profile
        if profile == 3:
            peer = request.get(PEER_IDENTITY)
            if peer is not None and peer.via_trusted_proxy:
                # TLS ended at a trusted proxy, which verified the certificate and passed its CN.
                cn = peer.client_cert_cn
            else:
                cn = peer_common_name(request.transport)
            if cn is None:
                return Refusal(401, "no_client_certificate", "a client certificate is required")
            if not hmac.compare_digest(cn.encode(), station_id.encode()):
                return Refusal(
                    403, "certificate_mismatch", "the certificate was not issued to this station"
                )
            return None
        if profile in (1, 2):
            credentials = parse_basic(request.headers.get("Authorization", ""))
            if credentials is None:
                return Refusal(401, "missing_credentials", "HTTP Basic credentials are required")
            user, password = credentials
            stored = self.security.passwords.get(station_id)
            if (
                stored is None
                and station_id not in self.known
                and self.security.unknown_stations == "admit"
            ):
                stored = self.security.unknown_password_hash or None
            same_user = hmac.compare_digest(user.encode(), station_id.encode())
            peer = request.get(PEER_IDENTITY)
            # The station's own address (behind a trusted proxy: the one it forwarded), so the
            # login gate backs off a failing address, not the proxy all stations come through.
            source = (peer.station_address if peer is not None else "") or request.remote or ""
            try:
                ok = await self.verifier.check(
                    station_id, password, stored if same_user else None, source, _alive(request)
                )
            except LoginsOverloaded:
                return Refusal(
                    503, "login_overload", "too many logins being checked; retry", auth=False
                )
            if not same_user:
                return Refusal(401, "user_mismatch", "invalid credentials")
            if not ok:
                reason = "bad_password" if station_id in self.known else "unknown_station"
                return Refusal(401, reason, "invalid credentials")
        return None

    def _policy(self, station_id: str) -> Refusal | None:
        if station_id in self.known:
            return None
        if self.security.unknown_stations == "reject":
            return Refusal(403, "unknown_station", "station id is not in the configuration")
        cap = self.security.max_unknown_stations
        if cap is not None and station_id not in self.fleet.stations:
            # Only a new unconfigured station pays for this count; reconnects do not.
            tracked = sum(1 for s in self.fleet.stations if s not in self.known)
            if tracked >= cap:
                return Refusal(
                    503, "unknown_station_cap", "too many unconfigured stations", auth=False
                )
        return None


def _alive(request: web.Request) -> Callable[[], bool]:
    """Whether the client that sent `request` is still connected (a queued password check for
    a client that gave up is skipped)."""

    def alive() -> bool:
        transport = request.transport
        return transport is not None and not transport.is_closing()

    return alive
