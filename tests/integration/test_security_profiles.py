"""OCPP security profiles 1-3 and the metrics listener's TLS + Basic auth, each with real TLS
(certificates generated here) and the real `ocpp` ChargePoint over `websockets`."""

from __future__ import annotations

import asyncio
import base64
import logging
import ssl
from dataclasses import replace
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import websockets
from websockets.exceptions import InvalidStatus

from exporter.config.model import Site
from exporter.config.security import OcppSecurity, TlsFiles, WebSecurity
from exporter.security.passwords import hash_password
from tests.support.certs import CertificateAuthority
from tests.support.in_process import loopback_config as make_config
from tests.support.ocpp_station import TestStation
from tests.support.scrape import samples
from tests.support.waiting import eventually

PASSWORDS = {"CP-1": "correct horse battery", "CP-2": "staple"}


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    directory: Path = tmp_path_factory.mktemp("pki")
    ca = CertificateAuthority(directory, "stations-ca")
    rogue = CertificateAuthority(directory, "rogue-ca")
    return {
        "ca": ca,
        "server": ca.issue("127.0.0.1", server=True),
        "CP-1": ca.issue("CP-1"),
        "CP-2": ca.issue("CP-2"),
        "rogue CP-1": rogue.issue("CP-1"),
    }


@pytest.fixture(scope="module")
def hashes() -> dict[str, str]:
    return {station: hash_password(pw) for station, pw in PASSWORDS.items()}


def basic(user: str, password: str) -> dict[str, str]:
    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


def client_ssl(pki: dict[str, Any], cert: str | None = None) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=pki["ca"].ca_file)
    if cert is not None:
        context.load_cert_chain(pki[cert].cert_file, pki[cert].key_file)
    return context


def security_config(security: OcppSecurity, stations: tuple[str, ...] = ("CP-1", "CP-2")):
    return replace(make_config(), ocpp_security=security, sites=(Site("depot", stations=stations),))


async def connect(
    running: Any, station_id: str, *, tls: ssl.SSLContext | None = None, headers=None
) -> TestStation:
    scheme = "wss" if tls else "ws"
    url = f"{scheme}://127.0.0.1:{running.ocpp_port}/ocpp/{station_id}"
    ws = await websockets.connect(
        url, subprotocols=["ocpp1.6"], ssl=tls, additional_headers=headers, proxy=None
    )
    station = TestStation(station_id, ws)
    station._task = asyncio.create_task(station.start())
    return station


async def refused_status(running: Any, station_id: str, **kwargs: Any) -> int:
    with pytest.raises(InvalidStatus) as info:
        station = await connect(running, station_id, **kwargs)
        await station.close()
    return info.value.response.status_code


async def booted(station: TestStation) -> None:
    try:
        answer = await station.boot()
        assert answer.status == "Accepted"
    finally:
        await station.close()


async def failures(running: Any) -> dict[str, float]:
    scrape = await running.scrape()
    return {
        lab["reason"]: val
        for lab, val in samples(scrape, "ocpp_exporter_auth_failures_total", listener="ocpp")
    }


async def test_profile1_basic_auth(exporter_factory, hashes, caplog):
    caplog.set_level(logging.DEBUG)
    running = await exporter_factory(security_config(OcppSecurity(profile=1, passwords=hashes)))
    await booted(await connect(running, "CP-1", headers=basic("CP-1", PASSWORDS["CP-1"])))
    # the cached success path still checks: same station, second connection
    await booted(await connect(running, "CP-1", headers=basic("CP-1", PASSWORDS["CP-1"])))

    assert await refused_status(running, "CP-1") == 401
    assert await refused_status(running, "CP-1", headers=basic("CP-1", "wrong")) == 401
    # CP-2's valid credentials do not open CP-1's session
    assert await refused_status(running, "CP-1", headers=basic("CP-2", PASSWORDS["CP-2"])) == 401
    assert await refused_status(running, "CP-9", headers=basic("CP-9", "guess")) == 401

    counted = await failures(running)
    assert counted == {
        "missing_credentials": 1,
        "bad_password": 1,
        "user_mismatch": 1,
        "unknown_station": 1,
    }
    assert "wrong" not in caplog.text and "guess" not in caplog.text
    assert PASSWORDS["CP-2"] not in caplog.text


async def test_profile2_tls_and_basic_auth(exporter_factory, hashes, pki):
    tls = TlsFiles(pki["server"].cert_file, pki["server"].key_file)
    running = await exporter_factory(
        security_config(OcppSecurity(profile=2, passwords=hashes, tls=tls))
    )
    await booted(
        await connect(running, "CP-2", tls=client_ssl(pki), headers=basic("CP-2", "staple"))
    )
    assert await refused_status(running, "CP-2", tls=client_ssl(pki)) == 401
    assert (
        await refused_status(running, "CP-2", tls=client_ssl(pki), headers=basic("CP-2", "x"))
        == 401
    )
    # plain ws:// is not spoken on a TLS listener
    with pytest.raises((OSError, websockets.exceptions.InvalidHandshake, asyncio.TimeoutError)):
        station = await connect(running, "CP-2", headers=basic("CP-2", "staple"))
        await station.close()


async def test_profile3_client_certificates(exporter_factory, pki):
    tls = TlsFiles(pki["server"].cert_file, pki["server"].key_file, pki["ca"].ca_file)
    running = await exporter_factory(security_config(OcppSecurity(profile=3, tls=tls)))
    await booted(await connect(running, "CP-1", tls=client_ssl(pki, "CP-1")))

    # a valid certificate of another station: TLS succeeds, the id does not match -> 403
    assert await refused_status(running, "CP-1", tls=client_ssl(pki, "CP-2")) == 403

    # no certificate, or one from another CA: the TLS handshake itself fails
    for cert in (None, "rogue CP-1"):
        context = client_ssl(pki, cert)
        # TLS 1.2 reports the server's refusal during the handshake (1.3 only at first read).
        context.maximum_version = ssl.TLSVersion.TLSv1_2
        # (the server aborts the handshake: an SSL alert or a reset, depending on timing)
        with pytest.raises((ssl.SSLError, ConnectionResetError)):
            station = await connect(running, "CP-1", tls=context)
            await station.close()
    for cert in (None, "rogue CP-1"):
        with pytest.raises((OSError, websockets.exceptions.WebSocketException)):
            station = await connect(running, "CP-1", tls=client_ssl(pki, cert))
            await station.close()
    assert await failures(running) == {"certificate_mismatch": 1}
    assert running.svc.stats.frames["BootNotification", "accepted"] == 1


async def test_unknown_stations_rejected_with_an_inventory(exporter_factory):
    running = await exporter_factory(security_config(OcppSecurity(unknown_stations="reject")))
    await booted(await connect(running, "CP-1"))
    assert await refused_status(running, "STRANGER") == 403
    assert "STRANGER" not in running.svc.fleet.stations


async def test_unknown_stations_admitted_up_to_the_cap(exporter_factory):
    running = await exporter_factory(
        security_config(OcppSecurity(unknown_stations="admit", max_unknown_stations=2))
    )
    for station_id in ("U-1", "U-2"):
        await booted(await connect(running, station_id))
    assert await refused_status(running, "U-3") == 503
    # already tracked unknown stations and configured ones still get in
    await booted(await connect(running, "U-1"))
    await booted(await connect(running, "CP-2"))
    scrape = await running.scrape()
    assert (
        samples(scrape, "ocpp_exporter_limit_breaches_total", limit="unknown_station_cap")[0][1]
        == 1
    )
    assert samples(scrape, "ocpp_station_connected", station="U-1", site="unassigned")


async def test_metrics_listener_tls_and_basic_auth(exporter_factory, pki):
    web = WebSecurity(
        tls=TlsFiles(pki["server"].cert_file, pki["server"].key_file),
        basic_auth_users={"prometheus": hash_password("scrape-me")},
    )
    running = await exporter_factory(replace(make_config(), web=web))
    url = f"https://127.0.0.1:{running.metrics_port}"
    context = client_ssl(pki)
    async with aiohttp.ClientSession() as http:
        for path in ("/metrics", "/api/v1/notifications", "/-/healthy"):
            async with http.get(url + path, ssl=context) as r:
                assert r.status == 401
                assert r.headers["WWW-Authenticate"].startswith("Basic")
        bad = basic("prometheus", "nope")
        async with http.get(url + "/metrics", ssl=context, headers=bad) as r:
            assert r.status == 401
        good = basic("prometheus", "scrape-me")
        async with http.get(url + "/metrics", ssl=context, headers=good) as r:
            assert r.status == 200
            text = await r.text()
        assert 'ocpp_exporter_auth_failures_total{listener="web",reason="bad_credentials"} 1.0' in (
            text
        )
        with pytest.raises(aiohttp.ClientError):
            async with http.get(f"http://127.0.0.1:{running.metrics_port}/metrics", headers=good):
                pass


async def test_metrics_basic_auth_leaves_device_heartbeats_to_their_bearer_tokens(
    exporter_factory,
):
    from exporter.config import model as config_module

    parsed = config_module.parse(
        {
            "inventory": {
                "sites": [{"name": "depot", "controller": {"id": "ctl-1", "token": "t0ken"}}]
            }
        },
        "test.yml",
    )
    base = make_config()
    web = WebSecurity(basic_auth_users={"prometheus": hash_password("scrape-me")})
    running = await exporter_factory(
        replace(
            parsed,
            ocpp_listen=base.ocpp_listen,
            metrics_listen=base.metrics_listen,
            ocpp=base.ocpp,
            web=web,
        )
    )
    url = f"http://127.0.0.1:{running.metrics_port}"
    async with aiohttp.ClientSession() as http:
        push = url + "/api/v1/controllers/ctl-1/heartbeat"
        async with http.post(push, headers={"Authorization": "Bearer t0ken"}) as r:
            assert r.status in (200, 204)
        async with http.post(push, headers={"Authorization": "Bearer wrong"}) as r:
            assert r.status == 401
        async with http.get(url + "/metrics", headers={"Authorization": "Bearer t0ken"}) as r:
            assert r.status == 401  # the device token opens nothing else


async def test_password_cache_does_not_outlive_a_changed_password(exporter_factory, hashes):
    running = await exporter_factory(security_config(OcppSecurity(profile=1, passwords=hashes)))
    await booted(await connect(running, "CP-1", headers=basic("CP-1", PASSWORDS["CP-1"])))
    admission = running.svc.ocpp.admission
    admission.security = replace(
        admission.security, passwords={**hashes, "CP-1": hash_password("rotated")}
    )
    assert await refused_status(running, "CP-1", headers=basic("CP-1", PASSWORDS["CP-1"])) == 401
    await booted(await connect(running, "CP-1", headers=basic("CP-1", "rotated")))

    async def connected_count():
        assert running.svc.stats.open_connections == 0

    await eventually(connected_count)
