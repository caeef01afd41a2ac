"""What a replica behind a load balancer needs of its own state and of the requests it gets:
forgetting stations that moved away, and a proxy's client-certificate header believed only from
the configured proxy addresses."""

from __future__ import annotations

from dataclasses import replace

import websockets

from exporter.config.fields import parse_networks
from exporter.config.model import Limits
from tests.support.in_process import loopback_config
from tests.support.scrape import samples
from tests.support.waiting import eventually

# -- forgetting ---------------------------------------------------------------------------------


async def test_the_exporter_forgets_a_station_that_left(exporter_factory):
    cfg = loopback_config(ping_interval=0.5, ping_timeout=0.5)
    cfg = replace(cfg, limits=replace(Limits(), forget_unknown_after=1.0))
    running = await exporter_factory(cfg)
    station = await running.station("CP-LEFT")
    await station.boot()

    async def connected() -> None:
        assert samples(await running.scrape(), "ocpp_station_connected", station="CP-LEFT") == [
            ({"station": "CP-LEFT", "site": "unassigned", "controller": ""}, 1.0)
        ]

    await eventually(connected)
    await station.close()

    async def forgotten() -> None:
        scrape = await running.scrape()
        assert not samples(scrape, "ocpp_station_connected", station="CP-LEFT")
        assert not samples(scrape, "ocpp_station_info", station="CP-LEFT")

    await eventually(forgotten, timeout=15)


# -- trusted proxies ----------------------------------------------------------------------------


async def session_peer(exporter_factory, trusted: list[str], headers: dict[str, str]):
    cfg = loopback_config(trusted_proxies=parse_networks(trusted))
    running = await exporter_factory(cfg)
    async with websockets.connect(
        f"{running.ocpp_url}/CP-CERT", subprotocols=["ocpp1.6"], additional_headers=headers
    ) as ws:

        async def opened() -> None:
            assert "CP-CERT" in running.svc.ocpp.sessions

        await eventually(opened)
        peer = running.svc.ocpp.sessions["CP-CERT"].peer
        await ws.close()
    return peer


async def test_client_cert_header_is_read_from_a_trusted_proxy(exporter_factory):
    peer = await session_peer(
        exporter_factory,
        ["127.0.0.0/8"],
        {"X-Client-Cert-CN": "CP-CERT", "X-Forwarded-For": "198.51.100.7"},
    )
    assert peer.via_trusted_proxy
    assert peer.client_cert_cn == "CP-CERT"
    assert peer.station_address == "198.51.100.7"


async def test_client_cert_header_from_anyone_else_is_ignored(exporter_factory):
    peer = await session_peer(
        exporter_factory,
        ["192.0.2.0/24"],
        {"X-Client-Cert-CN": "CP-CERT", "X-Forwarded-For": "198.51.100.7"},
    )
    assert not peer.via_trusted_proxy
    assert peer.client_cert_cn is None
    assert peer.station_address == "127.0.0.1"
