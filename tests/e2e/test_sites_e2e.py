"""Controllers and EMSs end to end: real loopback targets the exporter probes (HTTP, TCP, a JSON
power limit), push heartbeats over the real HTTP listener, and the real /metrics and
/api/v1/notifications over up/down transitions. Timers are short: checks every 0.25s, a device
goes down after 1.5s without a signal."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import replace
from typing import Any

import aiohttp
import pytest

from exporter.config.model import Device, PowerLimitSource, Probe, Site, parse
from exporter.devices.probes import Prober, check_http, check_tcp, fetch_power_limit
from exporter.state.sites import EMS, Sites
from tests.support.in_process import Running
from tests.support.in_process import loopback_config as exporter_config
from tests.support.scrape import samples
from tests.support.site_targets import Target
from tests.support.waiting import eventually

STALE = 1.5
CHECK = {"interval": 0.25, "timeout": 0.25}
WAIT = 15.0  # generous: the machine is shared


def config_with(sites: list[dict[str, Any]]):
    return replace(exporter_config(), sites=parse({"inventory": {"sites": sites}}, "<test>").sites)


@pytest.fixture
async def target() -> AsyncIterator[Target]:
    t = Target()
    await t.start()
    yield t
    await t.stop()


def value(scrape, name: str, **labels: str) -> float | None:
    found = samples(scrape, name, **labels)
    assert len(found) <= 1, found
    return found[0][1] if found else None


async def post(running: Running, path: str, token: str | None = None, **kwargs: Any):
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    headers.update(kwargs.pop("headers", {}))
    async with (
        aiohttp.ClientSession() as http,
        http.post(running.http_url + path, headers=headers, **kwargs) as r,
    ):
        return r.status, await r.json(), dict(r.headers)


async def test_probed_controller_over_http_and_tcp_goes_down_and_comes_back(
    exporter_factory, target: Target
):
    running = await exporter_factory(
        config_with(
            [
                {
                    "name": "north",
                    "stations": ["CP-1"],
                    "controller": {
                        "id": "ctrl-http",
                        "stale_after": STALE,
                        "probe": {"type": "http", "url": target.base_url + "/health", **CHECK},
                    },
                },
                {
                    "name": "south",
                    "stations": ["CP-2"],
                    "controller": {
                        "id": "ctrl-tcp",
                        "stale_after": STALE,
                        "probe": {"type": "tcp", "target": f"127.0.0.1:{target.port}", **CHECK},
                    },
                },
            ]
        )
    )
    catalog_text = running.svc.catalog.notifications["controller_offline"].description

    async def state(http_up: float, tcp_up: float):
        scrape = await running.scrape()
        assert value(scrape, "ocpp_controller_up", controller="ctrl-http", site="north") == http_up
        assert value(scrape, "ocpp_controller_up", controller="ctrl-tcp", site="south") == tcp_up
        return scrape

    async def all_up():
        scrape = await state(1, 1)
        for kind, probe in (("ctrl-http", "http"), ("ctrl-tcp", "tcp")):
            assert value(scrape, "ocpp_probe_success", id=kind, probe=probe) == 1
            assert value(scrape, "ocpp_probe_duration_seconds", id=kind, probe=probe) is not None
            assert value(scrape, "ocpp_controller_last_seen_timestamp_seconds", controller=kind)
        assert await running.notifications(kind="controller_offline") == []
        return scrape

    scrape = await eventually(all_up, WAIT)
    # The stations behind a controller carry its id, for Alertmanager's inhibition.
    assert samples(scrape, "ocpp_station_connected", station="CP-1", controller="ctrl-http")

    # A wrong status fails the HTTP probe; TCP still connects.
    target.status = 503

    async def http_down():
        scrape = await state(0, 1)
        assert value(scrape, "ocpp_probe_success", id="ctrl-http", probe="http") == 0
        [note] = await running.notifications(kind="controller_offline")
        return note

    note = await eventually(http_down, WAIT)
    assert note["controller"] == "ctrl-http" and note["site"] == "north"
    assert note["stations"] == ["CP-1"]
    assert note["description"] == catalog_text
    assert note["severity"] == "warning" and note["resolution"]
    assert note["since"].endswith("Z")

    target.status = 200
    await eventually(all_up, WAIT)

    # The controller goes away entirely: both probes fail, both notifications appear.
    await target.stop()

    async def both_down():
        await state(0, 0)
        notes = await running.notifications(kind="controller_offline")
        assert sorted(n["controller"] for n in notes) == ["ctrl-http", "ctrl-tcp"]

    await eventually(both_down, WAIT)

    await target.start()  # same port
    await eventually(all_up, WAIT)


async def test_a_hanging_target_times_out_without_delaying_other_checks(exporter_factory):
    silent, healthy = Target(), Target()
    silent.hang = True
    await silent.start()
    await healthy.start()
    try:
        running = await exporter_factory(
            config_with(
                [
                    {
                        "name": "a",
                        "controller": {
                            "id": "ctrl-silent",
                            "stale_after": STALE,
                            "probe": {"type": "http", "url": silent.base_url + "/health", **CHECK},
                        },
                    },
                    {
                        "name": "b",
                        "controller": {
                            "id": "ctrl-ok",
                            "stale_after": STALE,
                            "probe": {"type": "http", "url": healthy.base_url + "/health", **CHECK},
                        },
                    },
                ]
            )
        )

        async def silent_is_down_ok_is_up():
            scrape = await running.scrape()
            assert value(scrape, "ocpp_controller_up", controller="ctrl-silent") == 0
            assert value(scrape, "ocpp_controller_up", controller="ctrl-ok") == 1
            assert value(scrape, "ocpp_probe_success", id="ctrl-silent") == 0
            return scrape

        scrape = await eventually(silent_is_down_ok_is_up, WAIT)
        # The silent target's checks end at their timeout, not whenever it answers.
        duration = value(scrape, "ocpp_probe_duration_seconds", id="ctrl-silent")
        assert duration is not None and duration >= 0.2
        assert silent.requests >= 2
        # Meanwhile the healthy target is checked again and again.
        before = healthy.requests

        async def healthy_keeps_being_checked():
            assert healthy.requests >= before + 3

        await eventually(healthy_keeps_being_checked, WAIT)
    finally:
        await silent.stop()
        await healthy.stop()


async def test_push_heartbeats_keep_a_controller_up_until_they_stop(exporter_factory):
    running = await exporter_factory(
        config_with(
            [
                {
                    "name": "depot",
                    "stations": ["CP-7"],
                    "controller": {"id": "ctrl-push", "token": "c-secret", "stale_after": STALE},
                }
            ]
        )
    )

    async def beat_forever():
        while True:
            status, body, _ = await post(
                running, "/api/v1/controllers/ctrl-push/heartbeat", "c-secret"
            )
            assert status == 200 and body["up"] is True
            await asyncio.sleep(0.2)  # the scenario: the controller's heartbeat period

    async def up(expected: float):
        scrape = await running.scrape()
        assert value(scrape, "ocpp_controller_up", controller="ctrl-push") == expected
        return scrape

    async def seen():
        scrape = await up(1)
        assert value(scrape, "ocpp_controller_last_seen_timestamp_seconds", controller="ctrl-push")

    beats = asyncio.create_task(beat_forever())
    try:
        await eventually(seen, WAIT)
        # The scenario: longer than stale_after with heartbeats flowing: still up, no
        # notification.
        await asyncio.sleep(STALE + 0.5)
        await up(1)
        assert await running.notifications(kind="controller_offline") == []
    finally:
        beats.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await beats

    async def down_with_notification():
        await up(0)
        [note] = await running.notifications(kind="controller_offline")
        assert note["controller"] == "ctrl-push" and note["stations"] == ["CP-7"]
        assert note["last_seen"].endswith("Z")

    await eventually(down_with_notification, WAIT)
    # One heartbeat brings it straight back.
    status, body, _ = await post(running, "/api/v1/controllers/ctrl-push/heartbeat", "c-secret")
    assert status == 200 and body["up"] is True
    await up(1)
    assert await running.notifications(kind="controller_offline") == []


async def test_ems_live_limit_then_fallback_while_silent_then_live_again(
    exporter_factory, target: Target
):
    running = await exporter_factory(
        config_with(
            [
                {
                    "name": "plant",
                    "stations": ["CP-9"],
                    "token": "site-secret",
                    "ems": {
                        "id": "ems-1",
                        "stale_after": STALE,
                        "fallback_limit_w": 4000,
                        "power_limit": {
                            "url": target.base_url + "/limit",
                            "json_path": "site.limit.w",
                            **CHECK,
                        },
                    },
                }
            ]
        )
    )
    labels = {"ems": "ems-1", "site": "plant"}

    async def live(watts: float):
        scrape = await running.scrape()
        assert value(scrape, "ocpp_ems_up", **labels) == 1
        assert value(scrape, "ocpp_ems_fallback_active", **labels) == 0
        assert value(scrape, "ocpp_ems_power_limit_watts", **labels) == watts
        assert value(scrape, "ocpp_probe_success", id="ems-1", probe="power_limit") == 1
        assert await running.notifications(kind="ems_offline") == []
        return scrape

    scrape = await eventually(lambda: live(11000), WAIT)
    assert value(scrape, "ocpp_ems_last_seen_timestamp_seconds", **labels)
    assert value(scrape, "ocpp_ems_fallback_limit_watts", **labels) == 4000
    target.limit_w = 12500
    await eventually(lambda: live(12500), WAIT)

    # The EMS goes silent: reads time out, and after stale_after the fallback is in force.
    target.hang = True

    async def on_fallback():
        scrape = await running.scrape()
        assert value(scrape, "ocpp_ems_up", **labels) == 0
        assert value(scrape, "ocpp_ems_fallback_active", **labels) == 1
        assert value(scrape, "ocpp_ems_power_limit_watts", **labels) == 4000
        assert value(scrape, "ocpp_probe_success", id="ems-1", probe="power_limit") == 0
        [note] = await running.notifications(kind="ems_offline")
        return note

    note = await eventually(on_fallback, WAIT)
    assert note["ems"] == "ems-1" and note["site"] == "plant"
    assert note["fallback_limit_w"] == 4000 and note["fallback_active"] is True
    assert note["description"] == running.svc.catalog.notifications["ems_offline"].description
    assert note["stations"] == ["CP-9"]

    # A pushed heartbeat with a limit (site token) counts as live until it is stale in turn.
    status, body, _ = await post(
        running, "/api/v1/ems/ems-1/heartbeat", "site-secret", json={"power_limit_w": 7000}
    )
    assert status == 200
    assert body["power_limit_w"] == 7000 and body["fallback_active"] is False
    scrape = await running.scrape()
    assert value(scrape, "ocpp_ems_power_limit_watts", **labels) == 7000
    await eventually(on_fallback, WAIT)

    # The EMS answers again: the live value replaces the fallback.
    target.hang = False
    await target.stop()  # releases the hung requests
    await target.start()
    await eventually(lambda: live(12500), WAIT)


async def test_push_api_refuses_bad_input_and_counts_it(exporter_factory):
    running = await exporter_factory(
        config_with(
            [
                {
                    "name": "a",
                    "token": "site-secret",
                    "controller": {"id": "c1", "token": "c1-secret"},
                    "ems": "e1",  # plain id: push only, the site's token
                },
                {"name": "open", "controller": "c-open"},  # no token anywhere: push is open
            ]
        )
    )
    c1, e1 = "/api/v1/controllers/c1/heartbeat", "/api/v1/ems/e1/heartbeat"

    status, body, _ = await post(running, "/api/v1/controllers/nope/heartbeat", "c1-secret")
    assert status == 404 and "nope" in body["error"]
    status, _, _ = await post(running, "/api/v1/ems/c1/heartbeat", "c1-secret")  # ids per kind
    assert status == 404

    status, body, headers = await post(running, c1)
    assert status == 401 and body["reason"] == "missing_token"
    assert headers["WWW-Authenticate"] == "Bearer"
    status, body, _ = await post(running, c1, headers={"Authorization": "Basic YTpi"})
    assert status == 401 and body["reason"] == "missing_token"
    status, body, _ = await post(running, c1, "site-secret")  # the device's own token wins
    assert status == 401 and body["reason"] == "bad_token"

    bad_bodies = [
        (b"{", "not valid JSON"),
        (b"[1]", "JSON object"),
        (b'{"power_limit_kw": 5}', "'power_limit_kw'"),
        (b'{"power_limit_w": -1}', "0 or more"),
        (b'{"power_limit_w": "5000"}', "number of watts"),
        (b'{"power_limit_w": true}', "number of watts"),
        (b" " * 5000, "larger than"),
    ]
    for raw, problem in bad_bodies:
        status, body, _ = await post(running, e1, "site-secret", data=raw)
        assert status == 400 and problem in body["error"], (raw, body)
    status, body, _ = await post(running, c1, "c1-secret", json={"power_limit_w": 5})
    assert status == 400 and "'power_limit_w'" in body["error"]

    scrape = await running.scrape()
    # Refused requests are not heartbeats.
    assert value(scrape, "ocpp_ems_last_seen_timestamp_seconds", ems="e1") is None
    assert value(scrape, "ocpp_controller_last_seen_timestamp_seconds", controller="c1") is None
    rejected = {
        lab["reason"]: v for lab, v in samples(scrape, "ocpp_exporter_heartbeat_rejected_total")
    }
    assert rejected == {"unknown_device": 2, "missing_token": 2, "bad_token": 1, "bad_body": 8}

    status, body, _ = await post(running, e1, "site-secret", json={"power_limit_w": 5000})
    assert status == 200 and body["power_limit_w"] == 5000
    status, body, _ = await post(running, c1, "c1-secret", data=b"")
    assert status == 200 and body == {
        "kind": "controller",
        "id": "c1",
        "site": "a",
        "up": True,
        "stale_after_seconds": 90.0,
    }
    status, _, _ = await post(running, "/api/v1/controllers/c-open/heartbeat")
    assert status == 200
    scrape = await running.scrape()
    assert value(scrape, "ocpp_ems_power_limit_watts", ems="e1") == 5000
    assert value(scrape, "ocpp_controller_last_seen_timestamp_seconds", controller="c-open")


async def test_failed_checks_say_why(target: Target):
    source = PowerLimitSource(target.base_url + "/limit", "site.limit.w")
    site = Site("s", ems="e", ems_device=Device("e", EMS, power_limit=source))
    sites = Sites([site], now=0.0)
    prober = Prober(sites)
    state = sites.get(EMS, "e")
    async with aiohttp.ClientSession() as http:

        def read():
            return fetch_power_limit(http, source)

        target.limit_w = "11kW"
        result = await prober.run_once(state, "power_limit", 2.0, read)
        assert not result.ok and "not a number of watts" in result.error
        target.limit_w = 9000
        target.status = 500
        result = await prober.run_once(state, "power_limit", 2.0, read)
        assert not result.ok and "HTTP status 500, expected 200" in result.error
        target.status = 200
        result = await prober.run_once(state, "power_limit", 2.0, read)
        assert result.ok and state.live_limit_w == 9000

        probe = Probe("http", target.base_url + "/health", expect_status=(204,))
        result = await prober.run_once(state, "http", 2.0, lambda: check_http(http, probe))
        assert not result.ok and "HTTP status 200, expected 204" in result.error
    await target.stop()
    result = await prober.run_once(state, "tcp", 2.0, lambda: check_tcp(f"127.0.0.1:{target.port}"))
    assert not result.ok and result.error
    await target.start()
