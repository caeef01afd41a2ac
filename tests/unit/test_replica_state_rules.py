"""Rules that let several replicas share a fleet, without a server: forgetting stations that
left, and which proxies may tell a station's identity (the same over real connections:
tests/integration/test_replica_state.py)."""

from __future__ import annotations

import pytest

from exporter.config import model as config
from exporter.config.fields import parse_networks
from exporter.config.model import ConfigError
from exporter.endpoint.peer_identity import is_trusted
from exporter.state.fleet import ActiveError, Fleet, Placement


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


def test_forget_unknown_after_is_read_and_validated():
    assert config.parse({}, "t").limits.forget_unknown_after is None
    parsed = config.parse({"limits": {"forget_unknown_after": "24h"}}, "t")
    assert parsed.limits.forget_unknown_after == 86400
    with pytest.raises(ConfigError, match=r"limits\.forget_unknown_after"):
        config.parse({"limits": {"forget_unknown_after": "0s"}}, "t")


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
