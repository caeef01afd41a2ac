"""The relay alert rules pass the real promtool: syntax, and their unit tests."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
RULES = ROOT / "alerting" / "relay-rules.yml"
RULE_TESTS = ROOT / "alerting" / "tests" / "relay_test.yml"


def promtool(*args: str) -> subprocess.CompletedProcess[str]:
    binary = shutil.which("promtool")
    if binary is None:
        pytest.fail("promtool is required (scripts/test installs the prometheus package)")
    return subprocess.run(
        [binary, *args], cwd=ROOT, capture_output=True, text=True, timeout=60, check=False
    )


def test_relay_rules_are_valid():
    result = promtool("check", "rules", str(RULES))
    assert result.returncode == 0, result.stdout + result.stderr


def test_relay_rules_unit_tests_pass():
    result = promtool("test", "rules", str(RULE_TESTS))
    assert result.returncode == 0, result.stdout + result.stderr


def test_upstream_alert_carries_the_contract_annotations():
    rules = yaml.safe_load(RULES.read_text())["groups"][0]["rules"]
    alert = next(r for r in rules if r.get("alert") == "OcppUpstreamDown")
    assert alert["labels"]["severity"] in ("critical", "warning", "info")
    assert {"summary", "description", "resolution", "runbook_url"} <= set(alert["annotations"])
    assert "ocpp_upstream_connected" in alert["expr"]
