"""The recording rules for replicated deployments (deploy/replica-rules.yml), checked by the real
promtool against series shaped as three replicas emit them."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
RULES = ROOT / "deploy" / "replica-rules.yml"
TESTS = ROOT / "deploy" / "tests" / "replica_rules_test.yml"


def promtool(*args: str) -> subprocess.CompletedProcess[str]:
    binary = shutil.which("promtool")
    assert binary, "promtool is required (scripts/test installs Debian's prometheus package)"
    return subprocess.run(
        [binary, *args], cwd=TESTS.parent, capture_output=True, text=True, timeout=120
    )


def test_replica_rules_are_valid() -> None:
    result = promtool("check", "rules", str(RULES))
    assert result.returncode == 0, result.stdout + result.stderr


def test_replica_rules_count_each_station_once_across_replicas() -> None:
    result = promtool("test", "rules", TESTS.name)
    assert result.returncode == 0, result.stdout + result.stderr


def test_fleet_views_read_only_recording_rules_or_their_inputs() -> None:
    """Every rule records an `ocpp:`-style name (level:metric:operation), so dashboards can tell
    a deduplicated fleet series from a raw per-replica one."""
    groups = yaml.safe_load(RULES.read_text())["groups"]
    records = [rule["record"] for group in groups for rule in group["rules"]]
    assert records and all(r.count(":") >= 1 and "record" not in r for r in records)
    assert "ocpp:station_connected:max" in records
    assert "ocpp:connector_error:owner" in records
