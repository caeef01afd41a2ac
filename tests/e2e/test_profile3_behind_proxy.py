"""Security profile 3 with TLS terminated at a trusted proxy (deploy/haproxy): the verified
certificate's CN arrives in a header, believed only from the configured proxy addresses."""

from __future__ import annotations

import aiohttp
import pytest

from exporter.config import model as config_module
from tests.support.in_process import loopback_config


def proxied_config(trusted: str):
    parsed = config_module.parse(
        {
            "ocpp": {
                "trusted_proxies": [trusted],
                "security": {"profile": 3, "unknown_stations": "admit"},
            }
        },
        "test.yml",
    )
    base = loopback_config()
    return config_module.Config(
        **{
            **parsed.__dict__,
            "ocpp_listen": base.ocpp_listen,
            "metrics_listen": base.metrics_listen,
        }
    )


async def upgrade_status(running, station: str, headers: dict[str, str]) -> int:
    async with aiohttp.ClientSession() as http:
        try:
            ws = await http.ws_connect(
                f"{running.ocpp_url}/{station}", protocols=("ocpp1.6",), headers=headers
            )
        except aiohttp.WSServerHandshakeError as exc:
            return exc.status
        await ws.close()
        return 101


@pytest.mark.parametrize(
    ("trusted", "headers", "status"),
    [
        ("127.0.0.1/32", {"X-Client-Cert-CN": "CP-7"}, 101),
        ("127.0.0.1/32", {"X-Client-Cert-CN": "CP-8"}, 403),
        ("127.0.0.1/32", {}, 401),
        # From an address that is not a trusted proxy the header is ignored: no certificate.
        ("10.9.9.9/32", {"X-Client-Cert-CN": "CP-7"}, 401),
    ],
)
async def test_the_proxy_header_identifies_the_station_only_from_trusted_peers(
    exporter_factory, trusted, headers, status
):
    running = await exporter_factory(proxied_config(trusted))
    assert await upgrade_status(running, "CP-7", headers) == status
