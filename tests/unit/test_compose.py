"""docker-compose.yml and the Dockerfile, checked without a Docker engine: the structure Compose
needs, every mounted file present in the repo, pinned images, and the services agreeing on
hostnames, ports and paths."""

from __future__ import annotations

import re
from pathlib import PurePosixPath
from typing import Any
from urllib.parse import urlparse

import yaml

from exporter.__main__ import parser
from exporter.config import model as config_module
from exporter.durations import parse_duration
from exporter.generate import dashboards as generator
from tests.support.grafana_dashboards import ROOT

COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text(encoding="utf-8"))
SERVICES: dict[str, Any] = COMPOSE["services"]
SERVICE_KEYS = {
    "build",
    "image",
    "command",
    "entrypoint",
    "environment",
    "volumes",
    "ports",
    "depends_on",
    "healthcheck",
    "restart",
}


def _mounts(service: str) -> list[tuple[str, str]]:
    """(host path, container path) of the service's bind mounts."""
    out = []
    for volume in SERVICES[service].get("volumes", []):
        host, container, *_ = volume.split(":")
        if host.startswith((".", "/")):
            out.append((host, container))
    return out


def _mounted(service: str, container_path: str) -> str:
    """The repo path a container path of the service comes from."""
    for host, container in _mounts(service):
        if container_path == container or container_path.startswith(container.rstrip("/") + "/"):
            return host + container_path[len(container) :]
    raise AssertionError(f"{service}: nothing mounted at {container_path}")


def _command(service: str) -> list[str]:
    command = SERVICES[service]["command"]
    assert isinstance(command, list), f"{service}: use the exec (list) form"
    return [str(c) for c in command]


def _flag(args: list[str], name: str) -> str:
    for i, arg in enumerate(args):
        if arg == name:
            return args[i + 1]
        if arg.startswith(name + "="):
            return arg.split("=", 1)[1]
    raise AssertionError(f"{name} not in {args}")


def test_the_stack_has_its_services():
    assert set(SERVICES) == {
        "exporter",
        "simulator",
        "site-devices",
        "prometheus",
        "alertmanager",
        "pager",
        "grafana",
    }
    for name, service in SERVICES.items():
        assert set(service) <= SERVICE_KEYS, (
            f"{name}: unexpected keys {set(service) - SERVICE_KEYS}"
        )
        assert "image" in service or "build" in service, name


def test_images_are_pinned():
    built_here = {s["image"] for s in SERVICES.values() if "build" in s}
    for name, service in SERVICES.items():
        if service["image"] in built_here:
            continue
        image = service["image"]
        repo, _, tag = image.rpartition(":")
        assert repo and tag and tag != "latest" and re.search(r"\d", tag), f"{name}: {image}"


def test_every_mounted_file_exists_in_the_repo():
    for name in SERVICES:
        for host, _ in _mounts(name):
            assert host.startswith("./"), f"{name}: {host} is not relative to the repo"
            assert (ROOT / host).exists(), f"{name} mounts {host}, which is not in the repo"


def test_named_volumes_are_declared():
    declared = set(COMPOSE.get("volumes") or {})
    for name, service in SERVICES.items():
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            if not source.startswith((".", "/")):
                assert source in declared, f"{name}: volume {source} not declared"


def test_depends_on_names_services():
    for name, service in SERVICES.items():
        for dep in service.get("depends_on", []):
            assert dep in SERVICES and dep != name


def test_exporter_config_is_valid_and_matches_the_published_ports():
    config_path = _mounted("exporter", _flag(_command("exporter"), "--config"))
    config = config_module.load(ROOT / config_path)
    published = {p.split(":")[-1] for p in SERVICES["exporter"]["ports"]}
    assert published == {str(config.ocpp_listen.port), str(config.metrics_listen.port)}
    assert {config.ocpp_listen.port, config.metrics_listen.port} == {9000, 9430}


def test_simulator_runs_a_fault_scenario_against_the_exporter():
    args = _command("simulator")
    assert args[0] == "simulate"
    url = urlparse(_flag(args, "--url"))
    exporter_config = config_module.load(
        ROOT / _mounted("exporter", _flag(_command("exporter"), "--config"))
    )
    assert (url.scheme, url.hostname, url.port) == (
        "ws",
        "exporter",
        exporter_config.ocpp_listen.port,
    )
    assert url.path == exporter_config.ocpp.path_prefix
    assert int(_flag(args, "--stations")) > 0
    scenario = ROOT / _mounted("simulator", _flag(args, "--scenario"))
    assert scenario.is_file()
    assert isinstance(yaml.safe_load(scenario.read_text(encoding="utf-8")), dict)
    # the demo inventory covers the simulated station ids (SIM-0001 ...)
    configured = {s for site in exporter_config.sites for s in site.stations}
    simulated = {f"SIM-{n:04d}" for n in range(1, int(_flag(args, "--stations")) + 1)}
    assert simulated <= configured


def test_grafana_is_provisioned_with_the_generated_dashboards():
    assert _mounted("grafana", "/etc/grafana/provisioning") == "./grafana/provisioning"
    assert _mounted("grafana", generator.DASHBOARDS_PATH) == "./grafana/dashboards"
    home = SERVICES["grafana"]["environment"]["GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH"]
    assert (ROOT / _mounted("grafana", home)).is_file()
    url = urlparse(generator.PROMETHEUS_URL)
    assert url.hostname in SERVICES
    assert any(p.endswith(f":{url.port}") for p in SERVICES[url.hostname]["ports"])


def test_prometheus_uses_the_shipped_config_and_rules_with_demo_intervals():
    args = _command("prometheus")
    config_file = _mounted("prometheus", _flag(args, "--config.file"))
    assert config_file == "./deploy/prometheus.yml"
    config = yaml.safe_load((ROOT / config_file).read_text(encoding="utf-8"))
    shipped = yaml.safe_load((ROOT / "alerting/prometheus.yml").read_text(encoding="utf-8"))
    # The demo's file is the shipped one with shorter intervals, nothing else.
    assert {k: v for k, v in config.items() if k != "global"} == {
        k: v for k, v in shipped.items() if k != "global"
    }
    container_dir = PurePosixPath(_flag(args, "--config.file")).parent
    rule_files = []
    for pattern in config.get("rule_files", []):
        in_container = container_dir / pattern
        in_repo = ROOT / _mounted("prometheus", str(in_container))
        rule_files += list(in_repo.parent.glob(in_repo.name))
    assert rule_files, "no rule file of the demo's prometheus.yml is mounted"
    assert {p.name for p in rule_files} == {p.name for p in (ROOT / "alerting/rules").glob("*.yml")}
    targets = {
        t
        for job in config["scrape_configs"]
        for static in job.get("static_configs", [])
        for t in static["targets"]
    }
    assert "exporter:9430" in targets
    am_targets = {
        t
        for am in config["alerting"]["alertmanagers"]
        for static in am["static_configs"]
        for t in static["targets"]
    }
    assert am_targets == {"alertmanager:9093"}
    am_args = _command("alertmanager")
    assert (
        _mounted("alertmanager", _flag(am_args, "--config.file")) == "./alerting/alertmanager.yml"
    )


def test_a_ground_fault_can_reach_the_pager_within_about_10_seconds():
    """Worst case of the demo's delays: a scrape, an evaluation (ground faults fire with
    `for: 0m`) and the pager route's group_wait."""
    prometheus = yaml.safe_load((ROOT / "deploy/prometheus.yml").read_text(encoding="utf-8"))
    alertmanager = yaml.safe_load((ROOT / "alerting/alertmanager.yml").read_text(encoding="utf-8"))
    (pager_route,) = [r for r in alertmanager["route"]["routes"] if r.get("receiver") == "pager"]
    worst = (
        parse_duration(prometheus["global"]["scrape_interval"])
        + parse_duration(prometheus["global"]["evaluation_interval"])
        + parse_duration(pager_route["group_wait"])
    )
    assert worst <= 10


def test_alertmanager_delivers_to_the_pager_service():
    args = _command("pager")
    assert args[0] == "pager"
    listen = config_module.parse_listen(_flag(args, "--listen"))
    assert listen.host == "0.0.0.0"
    assert any(p.endswith(f":{listen.port}") for p in SERVICES["pager"]["ports"])
    assert SERVICES["pager"]["image"] == SERVICES["exporter"]["image"]
    parser().parse_args(args)  # the CLI accepts the command as written
    alertmanager = yaml.safe_load((ROOT / "alerting/alertmanager.yml").read_text(encoding="utf-8"))
    for receiver in alertmanager["receivers"]:
        for hook in receiver["webhook_configs"]:
            url = urlparse(hook["url"])
            assert (url.hostname, url.port) == ("pager", listen.port), hook["url"]
            assert url.path == f"/alerts/{receiver['name']}"


def test_dockerfile_builds_the_package_and_runs_the_cli():
    lines = [
        line.strip()
        for line in (ROOT / "Dockerfile").read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.lstrip().startswith("#")
    ]
    base = next(line.split()[1] for line in lines if line.startswith("FROM "))
    assert re.fullmatch(r"python:3\.1[1-9][\w.-]*", base), base
    for line in lines:
        if line.startswith("COPY "):
            for source in line.split()[1:-1]:
                assert (ROOT / source).exists(), f"Dockerfile copies {source}, not in the repo"
    assert 'ENTRYPOINT ["ocpp-exporter"]' in lines
    assert any(line.startswith("USER ") and not line.endswith(" root") for line in lines)
    exposed = {p for line in lines if line.startswith("EXPOSE ") for p in line.split()[1:]}
    assert exposed == {"9000", "9430"}
    assert "image" in SERVICES["simulator"]
    assert SERVICES["simulator"]["image"] == SERVICES["exporter"]["image"]


def test_site_devices_push_to_devices_the_exporter_knows():
    script = "\n".join(SERVICES["site-devices"]["command"])
    exporter_config = config_module.load(
        ROOT / _mounted("exporter", _flag(_command("exporter"), "--config"))
    )
    controllers = {s.controller for s in exporter_config.sites if s.controller}
    ems = {s.ems for s in exporter_config.sites if s.ems}
    pushed_controllers = set(re.findall(r"/api/v1/controllers/([^/]+)/heartbeat", script))
    pushed_ems = set(re.findall(r"/api/v1/ems/([^/]+)/heartbeat", script))
    assert pushed_controllers and pushed_controllers <= controllers
    assert pushed_ems and pushed_ems <= ems
    # At least one site stays silent so the demo shows the offline notifications.
    assert controllers - pushed_controllers and ems - pushed_ems
