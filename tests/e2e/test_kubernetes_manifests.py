"""deploy/kubernetes/exporter.yaml: the example manifests hang together and carry a valid config."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
MANIFESTS = ROOT / "deploy" / "kubernetes" / "exporter.yaml"


def objects() -> dict[str, dict[str, Any]]:
    return {doc["kind"]: doc for doc in yaml.safe_load_all(MANIFESTS.read_text())}


def test_the_configmap_holds_a_config_the_exporter_accepts(tmp_path: Path) -> None:
    config = tmp_path / "config.yaml"
    config.write_text(objects()["ConfigMap"]["data"]["config.yaml"])
    result = subprocess.run(
        [sys.executable, "-m", "exporter", "check-config", str(config)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_replicas_are_probed_on_ready_and_scraped_one_by_one() -> None:
    kinds = objects()
    deployment, monitor = kinds["Deployment"], kinds["PodMonitor"]
    assert deployment["spec"]["replicas"] == 3
    pod = deployment["spec"]["template"]
    (container,) = pod["spec"]["containers"]
    ports = {port["name"]: port["containerPort"] for port in container["ports"]}
    assert ports == {"ocpp": 9000, "metrics": 9430}
    assert container["readinessProbe"]["httpGet"] == {"path": "/-/ready", "port": "metrics"}
    assert container["livenessProbe"]["httpGet"]["path"] == "/-/healthy"
    labels = pod["metadata"]["labels"].items()
    assert deployment["spec"]["selector"]["matchLabels"].items() <= labels
    # Every pod its own target (`instance`), as the replica-aware alerts need.
    assert monitor["spec"]["selector"]["matchLabels"].items() <= labels
    assert [e["port"] for e in monitor["spec"]["podMetricsEndpoints"]] == ["metrics"]
    assert kinds["Service"]["spec"]["clusterIP"] == "None"
    assert kinds["Service"]["spec"]["selector"].items() <= labels
