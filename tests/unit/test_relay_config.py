"""Relay mode configuration: parsing, defaults, and errors that name file, key and problem."""

from __future__ import annotations

import pytest

from exporter.config import model as config


def test_standalone_is_the_default():
    parsed = config.parse({}, "t.yaml")
    assert parsed.mode == "standalone"
    assert parsed.relay.upstream_url == ""


def test_relay_settings_and_per_site_override(tmp_path):
    ca = tmp_path / "ca.pem"
    ca.write_text("not checked here, only that it exists\n")
    parsed = config.parse(
        {
            "mode": "relay",
            "relay": {
                "upstream_url": "wss://csms.example.net/ocpp/",
                "tls": {"ca_file": str(ca), "insecure_skip_verify": False},
                "connect_timeout": "3s",
            },
            "inventory": {
                "sites": [
                    {
                        "name": "depot",
                        "stations": ["CP-1"],
                        "upstream_url": "ws://other-csms:9000/ws",
                    },
                    {"name": "mall", "stations": ["CP-2"]},
                ]
            },
        },
        "t.yaml",
    )
    assert parsed.relay.upstream_url == "wss://csms.example.net/ocpp"
    assert parsed.relay.tls.ca_file == str(ca)
    assert parsed.relay.connect_timeout == 3.0
    assert parsed.upstream_url_of("CP-1") == "ws://other-csms:9000/ws"
    assert parsed.upstream_url_of("CP-2") == "wss://csms.example.net/ocpp"
    assert parsed.upstream_url_of("not-in-inventory") == "wss://csms.example.net/ocpp"


@pytest.mark.parametrize(
    ("document", "key", "problem"),
    [
        ({"mode": "proxy"}, "mode", "expected one of standalone, relay"),
        ({"mode": "relay"}, "relay.upstream_url", "required in relay mode"),
        (
            {"mode": "relay", "relay": {"upstream_url": "http://csms/ocpp"}},
            "relay.upstream_url",
            "ws:// or wss://",
        ),
        (
            {"mode": "relay", "relay": {"upstream_url": "ws://csms/ocpp?x=1"}},
            "relay.upstream_url",
            "no query",
        ),
        (
            {"mode": "relay", "relay": {"upstream_url": "ws://c", "connect_timeout": "0s"}},
            "relay.connect_timeout",
            "greater than zero",
        ),
        (
            {"mode": "relay", "relay": {"upstream_url": "ws://c", "tls": {"ca_file": "/nope"}}},
            "relay.tls.ca_file",
            "does not exist",
        ),
        (
            {"mode": "relay", "relay": {"upstream_url": "ws://c", "tls": {"verify": False}}},
            "relay.tls.verify",
            "unknown key",
        ),
        (
            {"inventory": {"sites": [{"name": "a", "upstream_url": "ws://c"}]}},
            "mode",
            "set mode: relay",
        ),
        (
            {
                "mode": "relay",
                "relay": {"upstream_url": "ws://c"},
                "inventory": {"sites": [{"name": "a", "upstream_url": "ftp://c"}]},
            },
            "inventory.sites[0].upstream_url",
            "ws:// or wss://",
        ),
    ],
)
def test_errors_name_the_key_and_the_problem(document, key, problem):
    with pytest.raises(config.ConfigError) as error:
        config.parse(document, "fleet.yaml")
    assert error.value.source == "fleet.yaml"
    assert error.value.key == key
    assert problem in error.value.problem
