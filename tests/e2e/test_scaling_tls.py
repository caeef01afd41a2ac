"""TLS terminated at HAProxy (the shipped configuration with its `ssl` bind line): the station's
verified client certificate CN reaches the exporter in X-Client-Cert-CN, and a header a station
forges itself never does."""

from __future__ import annotations

import os
import shutil
import ssl
import subprocess
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import websockets

from exporter.config.fields import parse_networks
from tests.support.in_process import Running, loopback_config
from tests.support.ports import free_port
from tests.support.replica_cluster import HAPROXY_CFG
from tests.support.waiting import eventually


def openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True, timeout=60)


def make_pki(d: Path) -> None:
    """A stations' CA, the load balancer's certificate for 127.0.0.1, a station certificate."""
    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj",
            "/CN=test stations CA", "-keyout", "ca.key", "-out", "ca.pem", cwd=d)  # fmt: skip
    for name, subject, ext in (
        ("lb", "/CN=127.0.0.1", "subjectAltName=IP:127.0.0.1"),
        ("station", "/O=ACME/CN=CP-TLS", "extendedKeyUsage=clientAuth"),
    ):
        (d / f"{name}.ext").write_text(ext + "\n")
        openssl("req", "-newkey", "rsa:2048", "-nodes", "-subj", subject,
                "-keyout", f"{name}.key", "-out", f"{name}.csr", cwd=d)  # fmt: skip
        openssl("x509", "-req", "-in", f"{name}.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
                "-CAcreateserial", "-days", "2", "-extfile", f"{name}.ext",
                "-out", f"{name}.pem", cwd=d)  # fmt: skip
    (d / "lb-bundle.pem").write_text((d / "lb.pem").read_text() + (d / "lb.key").read_text())


def tls_haproxy_cfg(d: Path) -> Path:
    """The shipped file with the commented TLS bind line in force, pointing at our PKI."""
    lines = HAPROXY_CFG.read_text().splitlines()
    plain = next(i for i, line in enumerate(lines) if line.strip() == 'bind "${OCPP_BIND}"')
    tls = next(
        i for i, line in enumerate(lines) if line.strip().startswith('# bind "${OCPP_BIND}" ssl')
    )
    lines[plain] = (
        lines[tls]
        .replace("# bind", "bind", 1)
        .replace("/etc/haproxy/certs/csms.pem", str(d / "lb-bundle.pem"))
        .replace("/etc/haproxy/certs/stations-ca.pem", str(d / "ca.pem"))
    )
    # One replica is enough here: keep the first server line only.
    lines = [
        line
        for line in lines
        if not line.strip().startswith(("server exporter-2", "server exporter-3"))
    ]
    path = d / "haproxy.cfg"
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.fixture
async def behind_tls(exporter_factory, tmp_path) -> AsyncIterator[tuple[Running, int, Path]]:
    make_pki(tmp_path)
    running = await exporter_factory(loopback_config(trusted_proxies=parse_networks(["127.0.0.1"])))
    port = free_port()
    env = {
        **os.environ,
        "OCPP_BIND": f"127.0.0.1:{port}",
        "STATS_BIND": f"127.0.0.1:{free_port()}",
        "HAPROXY_MAXCONN": "1000",
        "EXPORTER_1_OCPP": f"127.0.0.1:{running.ocpp_port}",
        "EXPORTER_1_METRICS": str(running.metrics_port),
    }
    haproxy = shutil.which("haproxy") or "/usr/sbin/haproxy"
    proc = subprocess.Popen(
        [haproxy, "-f", str(tls_haproxy_cfg(tmp_path)), "-db"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        yield running, port, tmp_path
    finally:
        proc.terminate()
        proc.wait(10)


def client_context(d: Path, with_certificate: bool) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=str(d / "ca.pem"))
    if with_certificate:
        context.load_cert_chain(str(d / "station.pem"), str(d / "station.key"))
    return context


async def peer_of(running: Running, port: int, context: ssl.SSLContext, headers: dict[str, str]):
    url = f"wss://127.0.0.1:{port}/ocpp/CP-TLS"

    async def through_haproxy() -> websockets.ClientConnection:
        # HAProxy needs a moment to bind and to see the exporter ready.
        try:
            return await websockets.connect(
                url, subprotocols=["ocpp1.6"], ssl=context, additional_headers=headers
            )
        except (OSError, websockets.InvalidStatus) as exc:
            raise AssertionError(f"no websocket through HAProxy: {exc!r}") from None

    ws = await eventually(through_haproxy, timeout=20, interval=0.2)
    try:

        async def opened() -> None:
            assert "CP-TLS" in running.svc.ocpp.sessions

        await eventually(opened)
        return running.svc.ocpp.sessions["CP-TLS"].peer
    finally:
        await ws.close()


async def test_client_certificate_cn_reaches_the_exporter_and_forgeries_do_not(behind_tls):
    running, port, d = behind_tls
    forged = {"X-Client-Cert-CN": "CP-SOMEONE-ELSE"}
    peer = await peer_of(running, port, client_context(d, True), forged)
    assert peer.via_trusted_proxy
    assert peer.client_cert_cn == "CP-TLS"
    assert peer.station_address == "127.0.0.1"

    async def gone() -> None:
        assert "CP-TLS" not in running.svc.ocpp.sessions

    await eventually(gone)
    # Without a client certificate (security profile 2) the forged header is dropped too.
    peer = await peer_of(running, port, client_context(d, False), forged)
    assert peer.via_trusted_proxy
    assert peer.client_cert_cn is None


@pytest.mark.parametrize("name", ["haproxy.cfg", "haproxy-tls-passthrough.cfg"])
def test_shipped_haproxy_configurations_are_valid(name):
    env = {
        **os.environ,
        "OCPP_BIND": "127.0.0.1:9000",
        "STATS_BIND": "127.0.0.1:8404",
        "HAPROXY_MAXCONN": "1000",
        **{f"EXPORTER_{i}_OCPP": f"127.0.0.1:900{i}" for i in (1, 2, 3)},
        **{f"EXPORTER_{i}_METRICS": f"943{i}" for i in (1, 2, 3)},
    }
    haproxy = shutil.which("haproxy") or "/usr/sbin/haproxy"
    path = HAPROXY_CFG.parent / name
    result = subprocess.run(
        [haproxy, "-c", "-f", str(path)], env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
