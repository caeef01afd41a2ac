"""Push heartbeats from site controllers and EMSs, on the metrics-side HTTP listener:

    POST /api/v1/controllers/{id}/heartbeat
    POST /api/v1/ems/{id}/heartbeat          (body may be {"power_limit_w": N})

Checked in this order: unknown id -> 404, missing or wrong bearer token -> 401 (with web Basic
auth configured, a device without a token must send the web credentials instead, and any
device may), malformed body -> 400 naming the problem. Every refusal is counted by reason
(`ocpp_exporter_heartbeat_rejected_total`), so a device with a rotated token shows up on a graph
before it shows up as an outage.
"""

from __future__ import annotations

import hmac
import json
import math
import time
from collections.abc import Callable
from typing import Any

from aiohttp import web

from exporter.security.web_auth import WEB_USER
from exporter.state.sites import CONTROLLER, EMS, DeviceState, Sites, UnknownDevice

# A heartbeat body is tiny; refuse anything bigger before parsing it.
MAX_BODY_BYTES = 4096


class BadBody(ValueError):
    """The heartbeat body is not what the API accepts; the message says why."""


def parse_body(raw: bytes, kind: str) -> float | None:
    """Empty body or a JSON object; an EMS may carry power_limit_w. Returns the limit, if any."""
    if not raw.strip():
        return None
    try:
        body = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise BadBody(f"the body is not valid JSON ({exc})") from None
    if not isinstance(body, dict):
        raise BadBody("the body must be a JSON object")
    allowed = {"power_limit_w"} if kind == EMS else set()
    unknown = sorted(set(body) - allowed)
    if unknown:
        known = ", ".join(sorted(allowed)) or "none"
        raise BadBody(f"unknown field {unknown[0]!r} (known fields: {known})")
    if "power_limit_w" not in body:
        return None
    value = body["power_limit_w"]
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or not math.isfinite(value)
        or value < 0
    ):
        raise BadBody(f"power_limit_w must be a number of watts (0 or more), got {value!r}")
    return float(value)


class SitesApi:
    """`web_auth`: the metrics listener has Basic auth users. Then every push must authenticate:
    with the device's bearer token, or, for a device without one, with web credentials."""

    def __init__(
        self, sites: Sites, clock: Callable[[], float] = time.time, web_auth: bool = False
    ) -> None:
        self.sites = sites
        self.clock = clock
        self.web_auth = web_auth

    def add_routes(self, app: web.Application) -> None:
        app.router.add_post("/api/v1/controllers/{id}/heartbeat", self.controller_heartbeat)
        app.router.add_post("/api/v1/ems/{id}/heartbeat", self.ems_heartbeat)

    async def controller_heartbeat(self, request: web.Request) -> web.Response:
        return await self._heartbeat(request, CONTROLLER)

    async def ems_heartbeat(self, request: web.Request) -> web.Response:
        return await self._heartbeat(request, EMS)

    def _refuse(self, status: int, reason: str, message: str, **headers: str) -> web.Response:
        self.sites.reject(reason)
        return web.json_response(
            {"error": message, "reason": reason}, status=status, headers=headers or None
        )

    async def _heartbeat(self, request: web.Request, kind: str) -> web.Response:
        device_id = request.match_info["id"]
        try:
            state = self.sites.get(kind, device_id)
        except UnknownDevice as exc:
            return self._refuse(404, "unknown_device", str(exc.args[0]))
        problem = self._auth_problem(request, state)
        if problem:
            reason, message = problem
            challenge = 'Bearer, Basic realm="ocpp-exporter"' if self.web_auth else "Bearer"
            return self._refuse(401, reason, message, **{"WWW-Authenticate": challenge})
        if request.content_length is not None and request.content_length > MAX_BODY_BYTES:
            return self._refuse(400, "bad_body", f"the body is larger than {MAX_BODY_BYTES} bytes")
        raw = await request.content.read(MAX_BODY_BYTES + 1)
        if len(raw) > MAX_BODY_BYTES:
            return self._refuse(400, "bad_body", f"the body is larger than {MAX_BODY_BYTES} bytes")
        try:
            limit = parse_body(raw, kind)
        except BadBody as exc:
            return self._refuse(400, "bad_body", str(exc))
        now = self.clock()
        state = self.sites.heartbeat(kind, device_id, now, power_limit_w=limit)
        return web.json_response(_status(state, now))

    def _auth_problem(self, request: web.Request, state: DeviceState) -> tuple[str, str] | None:
        if request.get(WEB_USER):
            return None  # the web credentials, verified by the Basic auth middleware
        expected = state.device.token
        if not expected:
            if self.web_auth:
                # An exporter configured with authentication accepts no unauthenticated write.
                return (
                    "missing_credentials",
                    "this device has no token: authenticate with the web credentials (Basic)",
                )
            # No authentication configured at all: push is open (documented).
            return None
        header = request.headers.get("Authorization", "")
        scheme, _, token = header.partition(" ")
        if not header or scheme.lower() != "bearer" or not token.strip():
            return "missing_token", "an Authorization: Bearer <token> header is required"
        if not hmac.compare_digest(
            token.strip().encode("utf-8", "surrogateescape"), expected.encode("utf-8")
        ):
            return "bad_token", "the bearer token is not valid for this device"
        return None


def _status(state: DeviceState, now: float) -> dict[str, Any]:
    body: dict[str, Any] = {
        "kind": state.kind,
        "id": state.id,
        "site": state.site,
        "up": state.is_up(now),
        "stale_after_seconds": state.device.stale_after,
    }
    if state.kind == EMS:
        body["power_limit_w"] = state.limit_in_force(now)
        body["fallback_active"] = state.fallback_active(now)
    return body
