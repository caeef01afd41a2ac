"""What a replica behind a load balancer needs of its own state and of the requests it gets:
forgetting stations that moved away, and a proxy's client-certificate header believed only from
the configured proxy addresses."""

from __future__ import annotations

from dataclasses import replace

import pytest
import websockets

from exporter.config import model as config
from exporter.config.fields import parse_networks
from exporter.config.model import ConfigError, Limits
from exporter.endpoint.peer_identity import is_trusted
from exporter.state.fleet import ActiveError, Fleet, Placement
from tests.support.in_process import loopback_config
from tests.support.scrape import samples
from tests.support.waiting import eventually

# -- forgetting ---------------------------------------------------------------------------------


def test_forget_drops_unknown_stations_disconnected_long_enough():
    fleet = Fleet({"CP-INV": Placement("s1", "c1")})
    for station in ("CP-MOVED", "CP-RECENT", "CP-HERE"):
        token = fleet.connect(station, now=0)
        if station != "CP-HERE":
            fleet.disconnect(station, token, now=100 if station == "CP-MOVED" else 350)
    fleet.report_status(
        "CP-MOVED", "1", "Faulted", ActiveError("GroundFailure", 50, "Faulted"), now=50
    )
    assert fleet.forget(now=400, after=300) == ["CP-MOVED"]
    # Inventory stations stay whatever their offline time: their absence is what pages.
    assert sorted(fleet.stations) == ["CP-HERE", "CP-INV", "CP-RECENT"]
    assert fleet.forget(now=400, after=300) == []
    assert fleet.forget(now=10_000, after=300) == ["CP-RECENT"]
    assert fleet.stations["CP-HERE"].connected


def test_a_forgotten_station_that_comes_back_starts_afresh():
    fleet = Fleet()
    token = fleet.connect("CP", now=0)
    fleet.disconnect("CP", token, now=1)
    fleet.forget(now=100, after=10)
    assert fleet.disconnect("CP", token, now=101) is False  # a late close is harmless
    fleet.connect("CP", now=102)
    assert fleet.stations["CP"].connects == 1


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


def test_forget_unknown_after_is_read_and_validated():
    assert config.parse({}, "t").limits.forget_unknown_after is None
    parsed = config.parse({"limits": {"forget_unknown_after": "24h"}}, "t")
    assert parsed.limits.forget_unknown_after == 86400
    with pytest.raises(ConfigError, match=r"limits\.forget_unknown_after"):
        config.parse({"limits": {"forget_unknown_after": "0s"}}, "t")


# -- trusted proxies ----------------------------------------------------------------------------


def test_trusted_proxies_are_parsed_and_matched():
    parsed = config.parse({"ocpp": {"trusted_proxies": ["10.1.0.0/16", "127.0.0.1"]}}, "t")
    networks = parsed.ocpp.trusted_proxies
    assert is_trusted("10.1.2.3", networks)
    assert is_trusted("127.0.0.1", networks)
    assert not is_trusted("10.2.0.1", networks)
    assert not is_trusted("127.0.0.2", networks)
    assert not is_trusted(None, networks)
    assert not is_trusted("10.1.2.3", ())
    assert config.parse({}, "t").ocpp.client_cert_header == "X-Client-Cert-CN"
    with pytest.raises(ConfigError, match=r"ocpp\.trusted_proxies.*'10\.0\.0\.300'"):
        config.parse({"ocpp": {"trusted_proxies": ["10.0.0.300"]}}, "t")
    with pytest.raises(ConfigError, match=r"ocpp\.trusted_proxies"):
        config.parse({"ocpp": {"trusted_proxies": "10.0.0.0/8"}}, "t")
    assert parse_networks(["::1"])[0].version == 6


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
