"""The recording rules for replicated deployments (deploy/replica-rules.yml), checked by the real
promtool against series shaped as three replicas emit them."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
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


def test_replica_rules_only_record_and_names_say_so() -> None:
    """Recording rules only (the alerts are generated from the catalog), each named
    level:metric:operation so a deduplicated series is told apart from a raw per-replica one."""
    groups = yaml.safe_load(RULES.read_text())["groups"]
    rules = [rule for group in groups for rule in group["rules"]]
    assert rules and all("alert" not in rule for rule in rules)
    assert all(len(rule["record"].split(":")) in (2, 3) for rule in rules)
