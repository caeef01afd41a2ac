"""Basic auth on the metrics listener (/metrics, the JSON API, health endpoints), as Prometheus'
exporter-toolkit web config does: every path is protected once a user is configured."""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Callable, Mapping

from aiohttp import web
from aiohttp.typedefs import Middleware

from exporter.security.login_gate import LoginsOverloaded
from exporter.security.passwords import Verifier, parse_basic
from exporter.state.counters import Stats

log = logging.getLogger("exporter.web")

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


HEARTBEAT_PATH = re.compile(r"/api/v1/(controllers|ems)/[^/]+/heartbeat")
#: Set on a request whose web Basic credentials were verified (the heartbeat handler reads it).
WEB_USER = "ocpp_exporter.web_user"


def basic_auth_middleware(
    users: Mapping[str, str], stats: Stats, verifier: Verifier | None = None
) -> Middleware:
    verifier = verifier or Verifier()
    challenge = {"WWW-Authenticate": 'Basic realm="ocpp-exporter", charset="UTF-8"'}
    retry = {"Retry-After": "5"}

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        credentials = parse_basic(request.headers.get("Authorization", ""))
        if (
            credentials is None
            and request.method == "POST"
            and HEARTBEAT_PATH.fullmatch(request.path)
        ):
            # Controllers and EMSs may authenticate with their own bearer tokens instead, in the
            # same header: the push API decides (a device without a token needs these
            # credentials once they are configured: devices/push_api.py).
            return await handler(request)
        if credentials is None:
            reason = "missing_credentials"
        else:
            user, password = credentials
            try:
                ok = await verifier.check(user, password, users.get(user), request.remote or "")
            except LoginsOverloaded:
                stats.limit_breaches["login_overload"] += 1
                return web.Response(
                    status=503, text="too many logins being checked; retry\n", headers=retry
                )
            if ok:
                request[WEB_USER] = user
                return await handler(request)
            reason = "bad_credentials"
        stats.auth_failures["web", reason] += 1
        log.warning(
            "refused %s %s from %s: %s", request.method, request.path, request.remote, reason
        )
        return web.Response(status=401, text="Unauthorized\n", headers=challenge)

    return middleware
