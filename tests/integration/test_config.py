"""The configuration on the command line: check-config, serve and hash-password (real
subprocesses). The reader itself is tested without processes in tests/unit/test_config_file.py,
test_relay_config.py, test_security_config.py and test_sites_config.py."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from exporter.config.model import parse
from exporter.security.passwords import verify_password
from tests.unit.test_config_file import GOOD

ROOT = Path(__file__).resolve().parents[2]


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "exporter.yml"
    path.write_text(text)
    return path


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "exporter", *args], cwd=ROOT, capture_output=True, text=True
    )


def test_check_config_exit_codes(tmp_path):
    ok = run_cli("check-config", str(write(tmp_path, GOOD)))
    assert ok.returncode == 0, ok.stderr
    assert "valid (2 sites, 3 stations)" in ok.stdout
    bad = run_cli("check-config", str(write(tmp_path, "ocpp:\n  ping_timeout: 0s\n")))
    assert bad.returncode == 1
    assert "ocpp.ping_timeout: must be greater than zero" in bad.stderr


def test_serve_rejects_a_bad_listen_flag_with_a_clear_message():
    result = run_cli("serve", "--ocpp-listen", "nowhere")
    assert result.returncode == 1
    assert "--ocpp-listen" in result.stderr and "HOST:PORT" in result.stderr


def test_the_shipped_example_configuration_is_valid():
    result = run_cli("check-config", "examples/exporter.yml")
    assert result.returncode == 0, result.stderr


def test_check_config_loads_the_certificates_it_names(tmp_path):
    (tmp_path / "server.crt").write_text("not a certificate")
    (tmp_path / "server.key").write_text("not a key")
    text = (
        "ocpp:\n  security:\n    profile: 2\n    tls:\n"
        "      cert_file: server.crt\n      key_file: server.key\n"
    )
    path = write(tmp_path, text)
    result = run_cli("check-config", str(path))
    assert result.returncode == 1
    assert f"{path}:5: ocpp.security.tls.cert_file: cannot load certificate/key" in result.stderr


def test_check_config_reports_a_relay_mistake(tmp_path):
    bad = run_cli(
        "check-config",
        str(write(tmp_path, "mode: relay\nrelay:\n  upstream_url: https://csms/ocpp\n")),
    )
    assert bad.returncode == 1
    assert "relay.upstream_url" in bad.stderr + bad.stdout
    good = run_cli(
        "check-config",
        str(write(tmp_path, "mode: relay\nrelay:\n  upstream_url: wss://csms/ocpp\n")),
    )
    assert good.returncode == 0, good.stderr


def test_check_config_reports_a_bad_probe(tmp_path):
    text = (
        "inventory:\n  sites:\n    - name: depot\n      stations: [CP-1]\n"
        "      ems: {id: e, probe: {type: tcp, target: 'x:0'}}\n"
    )
    result = run_cli("check-config", str(write(tmp_path, text)))
    assert result.returncode == 1
    assert "inventory.sites[0].ems.probe.target" in result.stderr
    assert "port from 1 to 65535" in result.stderr


def test_hash_password_cli_output_verifies_and_is_accepted_by_the_config():
    result = subprocess.run(
        [sys.executable, "-m", "exporter", "hash-password"],
        input="s3cret pass\n",
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=True,
    )
    stored = result.stdout.strip()
    assert "s3cret" not in stored
    assert verify_password("s3cret pass", stored)
    assert not verify_password("s3cret pas", stored)
    parsed = parse(
        {"ocpp": {"security": {"profile": 1, "stations": {"CP-1": {"password_hash": stored}}}}},
        "exporter.yml",
    )
    assert parsed.ocpp_security.passwords == {"CP-1": stored}
