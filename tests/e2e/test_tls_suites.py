"""Security profiles 2 and 3 as OCPP specifies TLS: the real `openssl s_client` negotiates each of
the four TLS 1.2 suites OCPP requires of a central system, and TLS 1.3, against an exporter holding
an RSA and an ECDSA certificate side by side; a TLS 1.2 suite outside the list is refused; the
start-up log names the listener wss://."""

from __future__ import annotations

import asyncio
import logging
import shutil
from dataclasses import replace
from pathlib import Path

import pytest

from exporter import service as service_module
from exporter.config.model import Listen, Site
from exporter.config.security import OcppSecurity, TlsFiles
from exporter.security.passwords import hash_password
from exporter.security.tls import OCPP_TLS12_SUITES
from tests.support.certs import CertificateAuthority
from tests.support.in_process import loopback_config as make_config
from tests.support.ports import free_port


@pytest.fixture
def both_certificates(tmp_path: Path) -> TlsFiles:
    ca = CertificateAuthority(tmp_path, "csms-ca")
    ecdsa = ca.issue("127.0.0.1", server=True)
    rsa = ca.issue("127.0.0.1", server=True, rsa_key=True)
    return TlsFiles(
        ecdsa.cert_file, ecdsa.key_file, extra_cert_file=rsa.cert_file, extra_key_file=rsa.key_file
    )


def profile2(tls: TlsFiles):
    security = OcppSecurity(profile=2, passwords={"CP-1": hash_password("pw")}, tls=tls)
    sites = (Site("depot", stations=("CP-1",)),)
    return replace(make_config(), ocpp_security=security, sites=sites)


async def s_client(port: int, *args: str) -> tuple[int, str]:
    openssl = shutil.which("openssl")
    assert openssl, "openssl is required (Debian package `openssl`)"
    process = await asyncio.create_subprocess_exec(
        openssl,
        "s_client",
        "-connect",
        f"127.0.0.1:{port}",
        "-servername",
        "localhost",
        *args,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    out, _ = await asyncio.wait_for(process.communicate(), 30)
    assert process.returncode is not None
    return process.returncode, out.decode(errors="replace")


def negotiated(output: str) -> str:
    """The suite s_client reports, or "" when no handshake completed."""
    for line in output.splitlines():
        if "Cipher is" in line:
            suite = line.rsplit("Cipher is", 1)[1].strip()
            return "" if suite == "(NONE)" else suite
    return ""


async def test_ocpp_tls12_suites_exactly_and_tls13_with_rsa_and_ecdsa_certificates(
    exporter_factory, both_certificates
):
    running = await exporter_factory(profile2(both_certificates))
    for suite in OCPP_TLS12_SUITES:
        code, output = await s_client(running.ocpp_port, "-tls1_2", "-cipher", suite)
        assert negotiated(output) == suite, output[-1500:]
        # ECDSA suites were served by the ECDSA certificate, the RSA ones by the RSA certificate.
        bits = 256 if "ECDSA" in suite else 2048
        assert f"Server public key is {bits} bit" in output, output[-1500:]
    # A TLS 1.2 suite OCPP does not list (forward-secret, but not in the specification).
    code, output = await s_client(
        running.ocpp_port, "-tls1_2", "-cipher", "ECDHE-RSA-AES128-GCM-SHA256"
    )
    assert code != 0 and negotiated(output) == "", output[-1500:]
    _, output = await s_client(running.ocpp_port, "-tls1_3")
    assert negotiated(output).startswith("TLS_"), output[-1500:]


async def test_with_one_ecdsa_certificate_the_rsa_suites_cannot_be_negotiated(
    exporter_factory, both_certificates
):
    """Why the second certificate: an ECDSA certificate alone serves only the ECDHE-ECDSA
    suites (what main did with any certificate: no TLS_RSA_* suite at all)."""
    ecdsa_only = replace(both_certificates, extra_cert_file="", extra_key_file="")
    running = await exporter_factory(profile2(ecdsa_only))
    _, output = await s_client(running.ocpp_port, "-tls1_2", "-cipher", "AES128-GCM-SHA256")
    assert negotiated(output) == "", output[-1500:]
    _, output = await s_client(
        running.ocpp_port, "-tls1_2", "-cipher", "ECDHE-ECDSA-AES256-GCM-SHA384"
    )
    assert negotiated(output) == "ECDHE-ECDSA-AES256-GCM-SHA384", output[-1500:]


async def test_start_up_log_says_wss_when_tls_is_on(
    both_certificates, caplog: pytest.LogCaptureFixture
):
    config = replace(
        profile2(both_certificates),
        ocpp_listen=Listen("127.0.0.1", free_port()),
        metrics_listen=Listen("127.0.0.1", free_port()),
    )
    service = service_module.build(config)
    stop = asyncio.Event()
    stop.set()  # serve, log, and stop at once
    with caplog.at_level(logging.INFO):
        await service_module.run(service, stop)
    lines = [r.getMessage() for r in caplog.records if r.getMessage().startswith("listening")]
    assert lines and lines[0].startswith(f"listening: OCPP on wss://{config.ocpp_listen}/"), lines
    assert "metrics on http://" in lines[0], lines
