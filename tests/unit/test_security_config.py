"""The security keys: validation naming file, key and problem; hash-password CLI; defaults."""

from __future__ import annotations

import pytest

from exporter.config import model as config
from exporter.config.model import ConfigError


def parse(data: dict) -> config.Config:
    return config.parse(data, "exporter.yaml")


@pytest.mark.parametrize(
    ("data", "key", "problem"),
    [
        (
            {"ocpp": {"security": {"profile": 1, "stations": {"CP-1": {"password_hash": "pw"}}}}},
            "ocpp.security.stations.CP-1.password_hash",
            "never a plain password",
        ),
        ({"ocpp": {"security": {"profile": 2}}}, "ocpp.security.tls", "profile 2 needs"),
        ({"ocpp": {"security": {"profile": 4}}}, "ocpp.security.profile", "expected one of"),
        (
            {"ocpp": {"security": {"profile": 3, "tls": {"cert_file": "/nope.crt"}}}},
            "ocpp.security.tls.cert_file",
            "does not exist",
        ),
        (
            {"ocpp": {"security": {"unknown_stations": "maybe"}}},
            "ocpp.security.unknown_stations",
            "reject, admit",
        ),
        ({"limits": {"burst": 0}}, "limits.burst", "greater than zero"),
        ({"limits": {"max_messages_per_second": -1}}, "limits.max_messages_per_second", ">= 0"),
        ({"web": {"basic_auth_users": {"prom": "secret"}}}, "web.basic_auth_users.prom", "hash"),
        ({"web": {"tls_server_config": {"certfile": "x"}}}, "web.tls_server_config.certfile", ""),
    ],
)
def test_invalid_security_config_names_the_key(data, key, problem):
    with pytest.raises(ConfigError) as info:
        parse(data)
    assert info.value.source == "exporter.yaml"
    assert info.value.key == key
    assert problem in info.value.problem


def test_profile3_needs_a_client_ca(tmp_path):
    for name in ("s.crt", "s.key"):
        (tmp_path / name).write_text("x")
    source = tmp_path / "exporter.yaml"
    source.write_text(
        "ocpp:\n  security:\n    profile: 3\n    tls: {cert_file: s.crt, key_file: s.key}\n"
    )
    with pytest.raises(ConfigError) as info:
        config.load(source)
    assert info.value.key == "ocpp.security.tls.client_ca_file"


def test_unknown_station_policy_defaults():
    assert parse({}).ocpp_security.unknown_stations == "admit"
    with_inventory = {"inventory": {"sites": [{"name": "depot", "stations": ["CP-1"]}]}}
    # Without authentication any station could claim an inventory id: admit (the contract's
    # site="unassigned"); once stations authenticate, the inventory says who belongs.
    assert parse(with_inventory).ocpp_security.unknown_stations == "admit"
    behind_proxy = {"trusted_proxies": ["127.0.0.1/32"], "security": {"profile": 3}}
    authenticated = {**with_inventory, "ocpp": behind_proxy}
    assert parse(authenticated).ocpp_security.unknown_stations == "reject"
    explicit = {**with_inventory, "ocpp": {"security": {"unknown_stations": "reject"}}}
    assert parse(explicit).ocpp_security.unknown_stations == "reject"


def test_an_extra_certificate_needs_its_key(tmp_path):
    for name in ("s.crt", "s.key", "rsa.crt"):
        (tmp_path / name).write_text("x")
    source = tmp_path / "exporter.yaml"
    source.write_text(
        "ocpp:\n  security:\n    profile: 2\n"
        "    tls: {cert_file: s.crt, key_file: s.key, extra_cert_file: rsa.crt}\n"
    )
    with pytest.raises(ConfigError) as info:
        config.load(str(source))
    assert info.value.key == "ocpp.security.tls.extra_key_file"
    assert "both extra_cert_file and extra_key_file" in info.value.problem
