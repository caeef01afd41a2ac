"""The configuration file reader: errors name the file, the line, the key path and the problem;
duplicate keys are refused; relative paths are the config file's; the published JSON Schema
agrees with the reader. No sockets, no subprocesses."""

from __future__ import annotations

import json
from pathlib import Path

import fastjsonschema
import pytest
import yaml

from exporter.config import model as config
from exporter.config.model import ConfigError
from exporter.generate import config_schema
from exporter.security.protections import tls_contexts
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


def write(tmp_path: Path, text: str, name: str = "exporter.yml") -> Path:
    path = tmp_path / name
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
    ("text", "line", "key", "problem"),
    [
        ("ocpp:\n  heartbeat_interval: soon\n", 2, "ocpp.heartbeat_interval", "duration"),
        (
            "ocpp:\n  heartbeat_interval: 10m\n  heartbeat_timeout: 5m\n",
            3,
            "ocpp.heartbeat_timeout",
            "longer than heartbeat_interval (600s)",
        ),
        ("ocpp:\n  path_prefix: ocpp/\n", 2, "ocpp.path_prefix", "must start with"),
        ("listen:\n  ocpp: localhost\n", 2, "listen.ocpp", "HOST:PORT"),
        ("limits:\n  max_label_length: -3\n", 2, "limits.max_label_length", "greater than zero"),
        ("limits:\n\n  burst: many\n", 3, "limits.burst", "expected an integer, got 'many'"),
        ("limits:\n  burst: true\n", 2, "limits.burst", "expected an integer, got True"),
        ("logging:\n  level: loud\n", 2, "logging.level", "expected one of debug, info"),
        ("mode: relay\nrelay:\n  connect_timeout: 3s\n", 2, "relay.upstream_url", "required"),
        ("colour: blue\n", 1, "colour", "unknown key (known keys: catalog, inventory, limits"),
        (
            "ocpp:\n  ping_interval: 5s\n  heartbeat_intervall: 5s\n",
            3,
            "ocpp.heartbeat_intervall",
            "unknown key (known keys: call_timeout, client_cert_header, heartbeat_interval",
        ),
        ("ocpp:\n  ping_timeout: [1]\n", 2, "ocpp.ping_timeout", "expected a duration"),
        ("ocpp: 5\n", 1, "ocpp", "expected a mapping, got 5"),
        (
            "inventory:\n  sites:\n    - name: a\n      stations: [CP-1]\n"
            "    - name: b\n      stations: [CP-2,\n        CP-1]\n",
            7,
            "inventory.sites[1].stations[1]",
            "already listed in site 'a'",
        ),
        (
            "inventory:\n  sites:\n    - name: a\n      stations: [a/b]\n",
            4,
            "inventory.sites[0].stations[0]",
            "1 to 48 printable characters",
        ),
        (
            "catalog:\n  overrides:\n    GroundFailure:\n      severity: urgent\n",
            4,
            "catalog.overrides.GroundFailure.severity",
            "expected one of critical, warning, info, got 'urgent'",
        ),
        (
            "catalog:\n  overrides:\n    GroundFault:\n      severity: info\n",
            3,
            "catalog.overrides.GroundFault",
            "not in the catalog",
        ),
        (
            "inventory:\n  sites:\n    - name: a\n      stations: CP-001\n",
            4,
            "inventory.sites[0].stations",
            "expected a list of station ids",
        ),
        (
            "inventory:\n  sites:\n    - name: a\n      ems:\n        id: e\n"
            "        probe: {type: tcp, target: 'x:0'}\n",
            6,
            "inventory.sites[0].ems.probe.target",
            "port from 1 to 65535",
        ),
        (
            "ocpp:\n  security:\n    profile: 1\n    stations:\n      CP-1: {password_hash: pw}\n",
            5,
            "ocpp.security.stations.CP-1.password_hash",
            "never a plain password",
        ),
    ],
)
def test_errors_name_file_line_key_and_problem(tmp_path, text, line, key, problem):
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as exc:
        config.load(path)
    assert (exc.value.source, exc.value.line, exc.value.key) == (str(path), line, key)
    assert problem in exc.value.problem
    assert str(exc.value).startswith(f"{path}:{line}: {key}: ")


def test_a_key_written_twice_is_refused_naming_both_lines(tmp_path):
    text = "ocpp:\n  heartbeat_interval: 30s\n  ping_interval: 5s\n  heartbeat_interval: 5m\n"
    with pytest.raises(ConfigError) as exc:
        config.load(write(tmp_path, text))
    assert (exc.value.line, exc.value.key) == (4, "ocpp.heartbeat_interval")
    assert exc.value.problem == "duplicate key (first at line 2)"


def test_a_site_listed_twice_is_refused_too(tmp_path):
    text = "inventory:\n  sites:\n    - name: a\n      name: b\n"
    with pytest.raises(ConfigError) as exc:
        config.load(write(tmp_path, text))
    assert (exc.value.line, exc.value.key) == (4, "inventory.sites[0].name")


def test_yaml_merge_keys_are_not_duplicates(tmp_path):
    text = (
        "inventory:\n  sites:\n    - &north {name: north, controller: c1}\n"
        "    - <<: *north\n      name: south\n      controller: c2\n"
    )
    cfg = config.load(write(tmp_path, text))
    assert [(s.name, s.controller) for s in cfg.sites] == [("north", "c1"), ("south", "c2")]


def test_heartbeat_interval_alone_derives_the_timeout(tmp_path):
    cfg = config.load(write(tmp_path, "ocpp:\n  heartbeat_interval: 5m\n"))
    assert cfg.ocpp.heartbeat_interval == 300
    assert cfg.ocpp.heartbeat_timeout == 300 * config.HEARTBEAT_TIMEOUT_INTERVALS
    assert config.default().ocpp.heartbeat_timeout == 180  # the documented default, unchanged


def test_an_empty_key_takes_its_default(tmp_path):
    cfg = config.load(write(tmp_path, "ocpp:\nlimits:\n  burst:\ninventory:\n"))
    assert cfg.ocpp == config.OcppSettings() and cfg.limits.burst == config.Limits.burst


def test_broken_yaml_names_the_line(tmp_path):
    with pytest.raises(ConfigError) as exc:
        config.load(write(tmp_path, "ocpp:\n  path_prefix: [unclosed\n"))
    assert exc.value.line == 3 and "not valid YAML" in exc.value.problem


def test_a_missing_file_is_named(tmp_path):
    with pytest.raises(ConfigError, match="cannot read the file"):
        config.load(tmp_path / "nope.yml")


def test_a_document_that_is_not_a_mapping_is_refused(tmp_path):
    with pytest.raises(ConfigError) as exc:
        config.load(write(tmp_path, "- just\n- a list\n"))
    assert exc.value.key == "(top level)" and "expected a mapping" in exc.value.problem


def test_the_embedded_default_needs_no_file():
    cfg = config.default()
    assert cfg.sites == () and cfg.state_dir is None
    assert str(cfg.ocpp_listen) == "0.0.0.0:9000" and str(cfg.metrics_listen) == "0.0.0.0:9430"


def test_a_certificate_that_does_not_load_is_named_with_its_line(tmp_path):
    (tmp_path / "w.crt").write_text("not a certificate")
    (tmp_path / "w.key").write_text("not a key")
    text = "logging:\n  level: info\nweb:\n  tls_server_config:\n    key_file: w.key\n"
    cfg = config.load(write(tmp_path, text + "    cert_file: w.crt\n"))
    with pytest.raises(ConfigError) as exc:
        tls_contexts(cfg)
    assert (exc.value.line, exc.value.key) == (6, "web.tls_server_config.cert_file")
    assert "cannot load certificate/key" in exc.value.problem


# -- relative paths: always the config file's folder, never the working directory ------------


@pytest.fixture
def elsewhere(tmp_path, monkeypatch):
    """The config lives in tmp/etc; the process runs in tmp/cwd, where none of the files are."""
    etc = tmp_path / "etc"
    (etc / "certs").mkdir(parents=True)
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    monkeypatch.chdir(cwd)
    return etc


def test_relay_ca_file_is_relative_to_the_config_file(elsewhere):
    # Regression: it used to be resolved against the working directory.
    (elsewhere / "certs" / "csms-ca.pem").write_text("-----BEGIN CERTIFICATE-----\n")
    path = write(
        elsewhere,
        "mode: relay\nrelay:\n  upstream_url: wss://csms/ocpp\n  tls:\n"
        "    ca_file: certs/csms-ca.pem\n",
    )
    cfg = config.load(path)
    assert cfg.relay.tls.ca_file == str(elsewhere / "certs" / "csms-ca.pem")


def test_a_relative_ca_file_next_to_the_working_directory_is_not_found(elsewhere):
    Path("ca.pem").write_text("in the working directory, not next to the config\n")
    path = write(
        elsewhere, "mode: relay\nrelay:\n  upstream_url: wss://c\n  tls: {ca_file: ca.pem}\n"
    )
    with pytest.raises(ConfigError) as exc:
        config.load(path)
    assert exc.value.key == "relay.tls.ca_file" and str(elsewhere / "ca.pem") in exc.value.problem


def test_every_relative_path_is_relative_to_the_config_file(elsewhere):
    for name in ("s.crt", "s.key", "ca.pem", "w.crt", "w.key"):
        (elsewhere / "certs" / name).write_text("x")
    (elsewhere / "ems.token").write_text("t0ken\n")
    (elsewhere / "site.token").write_text("s1te\n")
    text = """
state_dir: state
ocpp:
  security:
    profile: 3
    tls: {cert_file: certs/s.crt, key_file: certs/s.key, client_ca_file: certs/ca.pem}
web:
  tls_server_config: {cert_file: certs/w.crt, key_file: certs/w.key}
inventory:
  sites:
    - name: a
      token_file: site.token
      ems: {id: e, token_file: ems.token}
      controller: c
"""
    cfg = config.load(write(elsewhere, text))
    assert cfg.state_dir == str(elsewhere / "state")
    tls = cfg.ocpp_security.tls
    assert tls is not None and cfg.web.tls is not None
    assert (tls.cert_file, tls.key_file, tls.client_ca_file) == tuple(
        str(elsewhere / "certs" / n) for n in ("s.crt", "s.key", "ca.pem")
    )
    assert cfg.web.tls.cert_file == str(elsewhere / "certs" / "w.crt")
    ems, controller = cfg.sites[0].ems_device, cfg.sites[0].controller_device
    assert ems is not None and ems.token == "t0ken"
    assert controller is not None and controller.token == "s1te"


# -- the JSON Schema -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def validate():
    schema = json.loads((ROOT / config_schema.PATH).read_text(encoding="utf-8"))
    return fastjsonschema.compile(schema)


def test_the_committed_schema_is_the_generated_one():
    [(path, text)] = config_schema.files(None).items()  # type: ignore[arg-type]
    assert (ROOT / path).read_text(encoding="utf-8") == text


def shipped_configurations() -> dict[str, str]:
    manifests = yaml.safe_load_all((ROOT / "deploy/kubernetes/exporter.yaml").read_text())
    [config_map] = [m for m in manifests if m and m["kind"] == "ConfigMap"]
    return {
        "examples/exporter.yml": (ROOT / "examples/exporter.yml").read_text(),
        "deploy/exporter.yaml": (ROOT / "deploy/exporter.yaml").read_text(),
        "deploy/kubernetes/exporter.yaml": config_map["data"]["config.yaml"],
        "GOOD": GOOD,
    }


@pytest.mark.parametrize("name", sorted(shipped_configurations()))
def test_shipped_configurations_satisfy_the_schema(validate, name):
    validate(yaml.safe_load(shipped_configurations()[name]))


@pytest.mark.parametrize(
    "text",
    [
        "colour: blue\n",
        "ocpp:\n  heartbeat_intervall: 5s\n",
        "ocpp:\n  heartbeat_interval: soon\n",
        "limits:\n  burst: many\n",
        "logging:\n  level: loud\n",
        "listen:\n  ocpp: localhost\n",
        "inventory:\n  sites:\n    - stations: [CP-1]\n",
        "inventory:\n  sites:\n    - {name: a, controller: {stale_after: 1m}}\n",
    ],
)
def test_the_schema_refuses_what_the_reader_refuses(tmp_path, validate, text):
    with pytest.raises(ConfigError):
        config.load(write(tmp_path, text))
    with pytest.raises(fastjsonschema.JsonSchemaException):
        validate(yaml.safe_load(text))


def test_the_example_points_editors_at_the_schema():
    first = (ROOT / "examples" / "exporter.yml").read_text(encoding="utf-8").splitlines()[0]
    assert first.startswith("# yaml-language-server: $schema=")
    target = (ROOT / "examples" / first.split("=", 1)[1]).resolve()
    assert target == (ROOT / config_schema.PATH).resolve()
