"""Configuration of site controllers and EMSs: the plain-id form, the mapping form, and errors
that name the file, the key path and the problem."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from exporter.config.model import DEFAULT_STALE_AFTER, ConfigError, load, parse


def site_config(**site: Any) -> dict[str, Any]:
    return {"inventory": {"sites": [{"name": "north", "stations": ["CP-1"], **site}]}}


def test_plain_ids_stay_valid_and_mean_push_only_with_default_staleness():
    [site] = parse(site_config(controller="ctrl-1", ems="ems-1"), "test.yml").sites
    assert (site.controller, site.ems) == ("ctrl-1", "ems-1")
    assert site.controller_device is not None and site.ems_device is not None
    assert site.controller_device.kind == "controller"
    assert site.controller_device.stale_after == DEFAULT_STALE_AFTER
    assert site.controller_device.probe is None
    assert site.controller_device.token == ""
    assert site.ems_device.fallback_limit_w is None


def test_a_site_without_devices_has_none():
    [site] = parse(site_config(), "test.yml").sites
    assert site.controller_device is None and site.controller == ""


def test_full_mapping_form(tmp_path: Path):
    (tmp_path / "ems.token").write_text("  s3cret-ems \n")
    config_file = tmp_path / "exporter.yml"
    config_file.write_text(
        yaml.safe_dump(
            site_config(
                token="site-token",
                controller={
                    "id": "ctrl-1",
                    "stale_after": "2m",
                    "probe": {
                        "type": "http",
                        "url": "https://10.1.2.3/health",
                        "interval": "15s",
                        "timeout": "3s",
                        "expect_status": [200, 204],
                        "tls_verify": False,
                    },
                },
                ems={
                    "id": "ems-1",
                    "token_file": "ems.token",
                    "fallback_limit_w": 43000,
                    "probe": {"type": "tcp", "target": "10.1.2.4:502"},
                    "power_limit": {
                        "url": "http://10.1.2.4/api/limit",
                        "json_path": "site.limit.w",
                        "interval": "10s",
                        "timeout": "2s",
                    },
                },
            )
        )
    )
    [site] = load(config_file).sites
    ctrl, ems = site.controller_device, site.ems_device
    assert ctrl is not None and ems is not None
    assert ctrl.token == "site-token"  # inherited from the site
    assert ctrl.stale_after == 120
    assert ctrl.probe is not None
    assert (ctrl.probe.type, ctrl.probe.target, ctrl.probe.interval) == (
        "http",
        "https://10.1.2.3/health",
        15,
    )
    assert ctrl.probe.expect_status == (200, 204) and ctrl.probe.tls_verify is False
    assert ems.token == "s3cret-ems"  # token_file, relative to the config file, stripped
    assert ems.fallback_limit_w == 43000
    assert ems.probe is not None and ems.probe.target == "10.1.2.4:502"
    assert ems.power_limit is not None and ems.power_limit.json_path == "site.limit.w"
    assert "s3cret" not in repr(ems)  # tokens stay out of logs


@pytest.mark.parametrize(
    ("site", "key", "problem"),
    [
        ({"controller": 5}, "inventory.sites[0].controller", "expected an id or a mapping"),
        ({"controller": "a/b"}, "inventory.sites[0].controller", "without '/'"),
        ({"controller": {"stale_after": "1m"}}, "inventory.sites[0].controller.id", "required"),
        (
            {"controller": {"id": "c", "fallback_limit_w": 5}},
            "inventory.sites[0].controller.fallback_limit_w",
            "only for an ems",
        ),
        (
            {"controller": {"id": "c", "stale": "1m"}},
            "inventory.sites[0].controller.stale",
            "unknown key",
        ),
        (
            {"controller": {"id": "c", "probe": {"url": "http://x/"}}},
            "inventory.sites[0].controller.probe.type",
            "required",
        ),
        (
            {"controller": {"id": "c", "probe": {"type": "icmp"}}},
            "inventory.sites[0].controller.probe.type",
            "expected one of tcp, http",
        ),
        (
            {"controller": {"id": "c", "probe": {"type": "tcp", "url": "http://x/"}}},
            "inventory.sites[0].controller.probe.url",
            "only for probes of type http",
        ),
        (
            {"controller": {"id": "c", "probe": {"type": "tcp", "target": "host"}}},
            "inventory.sites[0].controller.probe.target",
            "HOST:PORT",
        ),
        (
            {"controller": {"id": "c", "probe": {"type": "http", "url": "ftp://x/"}}},
            "inventory.sites[0].controller.probe.url",
            "http:// or https://",
        ),
        (
            {
                "controller": {
                    "id": "c",
                    "probe": {"type": "http", "url": "http://x/", "expect_status": 700},
                }
            },
            "inventory.sites[0].controller.probe.expect_status",
            "100-599",
        ),
        (
            {
                "controller": {
                    "id": "c",
                    "probe": {"type": "tcp", "target": "x:1", "interval": "5s", "timeout": "10s"},
                }
            },
            "inventory.sites[0].controller.probe.timeout",
            "must not be longer than interval",
        ),
        (
            {
                "controller": {
                    "id": "c",
                    "stale_after": "30s",
                    "probe": {"type": "tcp", "target": "x:1", "interval": "30s"},
                }
            },
            "inventory.sites[0].controller.stale_after",
            "must be longer than probe.interval",
        ),
        (
            {"controller": {"id": "c", "stale_after": "soon"}},
            "inventory.sites[0].controller.stale_after",
            "expected a duration",
        ),
        (
            {"ems": {"id": "e", "fallback_limit_w": -1}},
            "inventory.sites[0].ems.fallback_limit_w",
            "0 or more",
        ),
        (
            {"ems": {"id": "e", "power_limit": {"url": "http://x/"}}},
            "inventory.sites[0].ems.power_limit.json_path",
            "required",
        ),
        (
            {"ems": {"id": "e", "power_limit": {"url": "http://x/", "json_path": "a..b"}}},
            "inventory.sites[0].ems.power_limit.json_path",
            "dotted path",
        ),
        (
            {"ems": {"id": "e", "token": "x", "token_file": "/etc/t"}},
            "inventory.sites[0].ems.token_file",
            "not both",
        ),
        (
            {"ems": {"id": "e", "token_file": "/nonexistent/ems.token"}},
            "inventory.sites[0].ems.token_file",
            "cannot read",
        ),
        ({"token": " "}, "inventory.sites[0].token", "must not be empty"),
    ],
)
def test_errors_name_the_key_path_and_the_problem(site, key, problem):
    with pytest.raises(ConfigError) as caught:
        parse(site_config(**site), "exporter.yml")
    assert caught.value.source == "exporter.yml"
    assert caught.value.key == key
    assert problem in caught.value.problem


def test_a_device_id_is_used_once_per_kind():
    data = {
        "inventory": {
            "sites": [
                {"name": "a", "controller": "ctrl", "ems": "ctrl"},  # kinds are separate
                {"name": "b", "controller": {"id": "ctrl"}},
            ]
        }
    }
    with pytest.raises(ConfigError) as caught:
        parse(data, "exporter.yml")
    assert caught.value.key == "inventory.sites[1].controller"
    assert "already used by inventory.sites[0].controller" in caught.value.problem
