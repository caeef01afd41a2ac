"""Configuration: errors name the file, the key path and the problem."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from exporter.config import model as config
from exporter.config.model import ConfigError
from exporter.service import build_catalog

ROOT = Path(__file__).resolve().parents[2]

GOOD = """
listen:
  ocpp: 127.0.0.1:9100
  metrics: "[::1]:9101"
ocpp:
  path_prefix: /steve/websocket
  heartbeat_interval: 5m
  heartbeat_timeout: 12m
limits:
  max_label_length: 80
inventory:
  sites:
    - name: depot-north
      controller: ctrl-north
      ems: ems-north
      stations: [CP-001, CP-002]
    - name: depot-south
      stations: [CP-101]
catalog:
  runbook_base_url: https://wiki.example.com/ev/alerts
  overrides:
    WeakSignal:
      severity: info
      for: 1h
    GroundFailure:
      resolution: [Call the site electrician on +1 555 0100.]
logging:
  format: json
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "exporter.yml"
    path.write_text(text)
    return path


def test_a_full_configuration_loads(tmp_path):
    cfg = config.load(write(tmp_path, GOOD))
    assert cfg.ocpp_listen == config.Listen("127.0.0.1", 9100)
    assert cfg.metrics_listen == config.Listen("::1", 9101)
    assert cfg.ocpp.heartbeat_interval == 300 and cfg.ocpp.heartbeat_timeout == 720
    assert cfg.site_of()["CP-101"].name == "depot-south"
    catalog = build_catalog(cfg)
    assert catalog.errors["WeakSignal"].severity == "info"
    assert catalog.errors["WeakSignal"].alert_for == "1h"
    assert catalog.errors["GroundFailure"].resolution == (
        "Call the site electrician on +1 555 0100.",
    )
    assert catalog.errors["GroundFailure"].runbook_url.startswith("https://wiki.example.com/ev/")


@pytest.mark.parametrize(
    ("text", "key", "problem"),
    [
        ("ocpp:\n  heartbeat_interval: soon\n", "ocpp.heartbeat_interval", "duration"),
        ("ocpp:\n  heartbeat_interval: 10m\n", "ocpp.heartbeat_timeout", "longer than"),
        ("ocpp:\n  path_prefix: ocpp/\n", "ocpp.path_prefix", "must start with"),
        ("listen:\n  ocpp: localhost\n", "listen.ocpp", "HOST:PORT"),
        ("limits:\n  max_label_length: -3\n", "limits.max_label_length", "greater than zero"),
        ("logging:\n  level: loud\n", "logging.level", "expected one of"),
        ("colour: blue\n", "colour", "unknown key"),
        ("ocpp:\n  heartbeat_intervall: 5s\n", "ocpp.heartbeat_intervall", "unknown key"),
        (
            "inventory:\n  sites:\n    - name: a\n      stations: [CP-1]\n"
            "    - name: b\n      stations: [CP-1]\n",
            "inventory.sites[1].stations[0]",
            "already listed in site 'a'",
        ),
        (
            "inventory:\n  sites:\n    - name: a\n      stations: [a/b]\n",
            "inventory.sites[0].stations[0]",
            "1 to 48 printable characters",
        ),
        (
            "catalog:\n  overrides:\n    GroundFailure:\n      severity: urgent\n",
            "catalog.overrides.GroundFailure.severity",
            "expected one of",
        ),
        ("- just\n- a list\n", "(top level)", "expected a mapping"),
        (
            "inventory:\n  sites:\n    - name: a\n      stations: CP-001\n",
            "inventory.sites[0].stations",
            "expected a list of station ids",
        ),
    ],
)
def test_errors_name_file_key_and_problem(tmp_path, text, key, problem):
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as exc:
        build_catalog(config.load(path))
    assert exc.value.source == str(path)
    assert exc.value.key == key
    assert problem in exc.value.problem
    assert str(exc.value).startswith(f"{path}: {key}: ")


def test_an_override_for_a_code_not_in_the_catalog_is_an_error(tmp_path):
    path = write(tmp_path, "catalog:\n  overrides:\n    GroundFault:\n      severity: info\n")
    with pytest.raises(ConfigError) as exc:
        build_catalog(config.load(path))
    assert exc.value.key == "catalog.overrides.GroundFault"
    assert "not in the catalog" in exc.value.problem


def test_broken_yaml_names_the_line(tmp_path):
    with pytest.raises(ConfigError) as exc:
        config.load(write(tmp_path, "ocpp:\n  path_prefix: [unclosed\n"))
    assert "line 3" in str(exc.value) or "line 2" in str(exc.value)


def test_a_missing_file_is_named(tmp_path):
    with pytest.raises(ConfigError, match="cannot read the file"):
        config.load(tmp_path / "nope.yml")


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


def test_the_embedded_default_needs_no_file():
    cfg = config.default()
    assert cfg.sites == () and cfg.state_dir is None
    assert str(cfg.ocpp_listen) == "0.0.0.0:9000" and str(cfg.metrics_listen) == "0.0.0.0:9430"


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
    result = run_cli("check-config", str(write(tmp_path, text)))
    assert result.returncode == 1
    assert "ocpp.security.tls" in result.stderr
