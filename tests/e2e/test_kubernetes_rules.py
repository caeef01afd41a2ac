"""deploy/kubernetes/prometheusrule.yaml: the generated rule files as a PrometheusRule, checked by
the real promtool."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
RULE = ROOT / "deploy" / "kubernetes" / "prometheusrule.yaml"


def shipped_groups() -> list[dict]:
    files = [
        *sorted((ROOT / "alerting" / "rules").glob("*.yml")),
        ROOT / "deploy/replica-rules.yml",
    ]
    return [group for path in files for group in yaml.safe_load(path.read_text())["groups"]]


def by_name(groups: list[dict]) -> dict[str, dict]:
    return {group["name"]: group for group in groups}


def test_prometheusrule_carries_exactly_the_generated_rule_files() -> None:
    rule = yaml.safe_load(RULE.read_text())
    assert (rule["apiVersion"], rule["kind"]) == ("monitoring.coreos.com/v1", "PrometheusRule")
    assert rule["metadata"]["name"] == "ocpp-exporter"
    assert {"prometheus": "k8s", "role": "alert-rules"}.items() <= rule["metadata"][
        "labels"
    ].items()
    assert by_name(rule["spec"]["groups"]) == by_name(shipped_groups())
    assert len(rule["spec"]["groups"]) == len(shipped_groups())


def test_promtool_accepts_the_prometheusrule_groups(tmp_path: Path) -> None:
    rule = yaml.safe_load(RULE.read_text())
    rules_file = tmp_path / "prometheusrule-groups.yml"
    rules_file.write_text(yaml.safe_dump({"groups": rule["spec"]["groups"]}))
    binary = shutil.which("promtool")
    assert binary, "promtool is required (scripts/test installs Debian's prometheus package)"
    result = subprocess.run(
        [binary, "check", "rules", str(rules_file)], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stdout + result.stderr
    records = [r for g in rule["spec"]["groups"] for r in g["rules"]]
    assert f"SUCCESS: {len(records)} rules found" in result.stdout
    # No two rules write the same series (they would overwrite each other's samples).
    names = [r["record"] for r in records if "record" in r]
    assert len(names) == len(set(names))
