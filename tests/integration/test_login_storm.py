"""A storm of wrong passwords from one address does not starve other stations' logins, and a
correct password from that same address (a station behind the same NAT) is still admitted
(docs/security.md, "Failed logins")."""

from __future__ import annotations

import asyncio
import base64
from dataclasses import replace

import aiohttp

from exporter.config import model as config_module
from exporter.security.passwords import hash_password
from tests.support.in_process import loopback_config as make_config
from tests.support.waiting import eventually

ATTACKER = "203.0.113.66"
PASSWORD = "right horse battery"


def profile1_behind_proxy():
    digest = hash_password(PASSWORD)
    parsed = config_module.parse(
        {
            "ocpp": {
                "trusted_proxies": ["127.0.0.1/32"],
                "security": {
                    "profile": 1,
                    "stations": {
                        s: {"password_hash": digest} for s in ("CP-TARGET", "CP-NEW", "CP-NAT")
                    },
                },
            }
        },
        "test.yml",
    )
    base = make_config()
    return replace(
        parsed,
        ocpp_listen=base.ocpp_listen,
        metrics_listen=base.metrics_listen,
        ocpp=replace(parsed.ocpp, resync_window=base.ocpp.resync_window),
    )


async def login(http, running, station: str, password: str, address: str) -> int:
    token = base64.b64encode(f"{station}:{password}".encode()).decode()
    headers = {"Authorization": f"Basic {token}", "X-Forwarded-For": address}
    try:
        ws = await http.ws_connect(
            f"{running.ocpp_url}/{station}", protocols=["ocpp1.6"], headers=headers
        )
    except aiohttp.WSServerHandshakeError as exc:
        return exc.status
    await ws.close()
    return 101


async def test_a_first_login_is_checked_ahead_of_a_wrong_password_storm(exporter_factory):
    running = await exporter_factory(profile1_behind_proxy())
    answered: list[int] = []
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as http:

        async def guess(n: int) -> None:
            answered.append(await login(http, running, "CP-TARGET", f"guess-{n}", ATTACKER))

        storm = [asyncio.create_task(guess(n)) for n in range(60)]

        async def storm_is_in() -> None:
            assert answered, "no wrong password checked yet"

        # The storm is in: its first wrong password has been checked.
        await eventually(storm_is_in, interval=0.01)
        assert await login(http, running, "CP-NEW", PASSWORD, "10.0.2.1") == 101
        # Checked ahead of the guesses still waiting: only those already under way went first.
        guesses_before_legit = len(answered)
        assert await login(http, running, "CP-NAT", PASSWORD, ATTACKER) == 101
        for task in storm:
            task.cancel()
        await asyncio.gather(*storm, return_exceptions=True)
    assert guesses_before_legit <= 3, guesses_before_legit
    assert set(answered) <= {401}
    gate = running.svc.ocpp.admission.verifier.gate
    # The guesses were backed off: far fewer than 60 scrypt runs for them.
    assert gate.checks < 20, gate.checks
