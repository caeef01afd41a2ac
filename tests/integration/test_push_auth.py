"""Device pushes on an exporter configured with authentication: no unauthenticated write
(docs/sites.md, "Authentication")."""

from __future__ import annotations

import base64
from dataclasses import replace

import aiohttp

from exporter.config import model as config_module
from exporter.config.security import WebSecurity
from exporter.security.passwords import hash_password
from tests.support.in_process import loopback_config as make_config


def basic(user: str, password: str) -> dict[str, str]:
    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


def config(web_users: dict[str, str]):
    parsed = config_module.parse(
        {
            "inventory": {
                "sites": [
                    {"name": "depot", "controller": {"id": "ctl-open"}},
                    {"name": "yard", "controller": {"id": "ctl-token", "token": "t0ken"}},
                ]
            }
        },
        "test.yml",
    )
    base = make_config()
    return replace(
        parsed,
        ocpp_listen=base.ocpp_listen,
        metrics_listen=base.metrics_listen,
        ocpp=base.ocpp,
        web=WebSecurity(basic_auth_users=web_users),
    )


async def push(running, device: str, headers: dict[str, str] | None = None) -> tuple[int, str]:
    url = f"http://127.0.0.1:{running.metrics_port}/api/v1/controllers/{device}/heartbeat"
    async with aiohttp.ClientSession() as http, http.post(url, headers=headers or {}) as r:
        return r.status, await r.text()


async def test_with_web_auth_a_device_without_token_needs_the_web_credentials(exporter_factory):
    running = await exporter_factory(config({"prometheus": hash_password("scrape-me")}))
    status, body = await push(running, "ctl-open")
    assert status == 401 and "missing_credentials" in body
    assert (await push(running, "ctl-open", basic("prometheus", "wrong")))[0] == 401
    assert (await push(running, "ctl-open", basic("prometheus", "scrape-me")))[0] == 200
    # A device with a token: its token, or the web credentials; nothing else.
    assert (await push(running, "ctl-token"))[0] == 401
    assert (await push(running, "ctl-token", {"Authorization": "Bearer t0ken"}))[0] == 200
    assert (await push(running, "ctl-token", {"Authorization": "Bearer nope"}))[0] == 401
    assert (await push(running, "ctl-token", basic("prometheus", "scrape-me")))[0] == 200
    assert running.svc.sites.get("controller", "ctl-open").last_seen > 0


async def test_without_any_authentication_configured_pushes_stay_open(exporter_factory):
    running = await exporter_factory(config({}))
    assert (await push(running, "ctl-open"))[0] == 200
    assert (await push(running, "ctl-token"))[0] == 401
