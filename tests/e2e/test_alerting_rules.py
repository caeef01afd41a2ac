"""The shipped alerting/ files with the real promtool and amtool: rules, unit tests, routing."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from exporter.durations import parse_duration
from exporter.knowledge import catalog as catalog_module

ROOT = Path(__file__).resolve().parents[2]
ALERTING = ROOT / "alerting"
RECEIVERS = {"critical": "pager", "warning": "ticket", "info": "chat"}
ANNOTATIONS = {"summary", "description", "resolution", "runbook_url"}


def run(*args: str | Path, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(a) for a in args], cwd=cwd, capture_output=True, text=True, timeout=120
    )


def rule_files(root: Path = ROOT) -> list[Path]:
    return sorted((root / "alerting" / "rules").glob("*.yml"))


#: One alert for every recognised code, with one rule per severity (each with its own `for:`).
VENDOR_ALERT = "OcppConnectorVendorCode"


def all_rules(root: Path = ROOT) -> list[dict[str, Any]]:
    return [
        rule
        for path in rule_files(root)
        for group in yaml.safe_load(path.read_text())["groups"]
        for rule in group["rules"]
        if "alert" in rule
    ]


def alert_rules(root: Path = ROOT) -> dict[str, dict[str, Any]]:
    out = {}
    for rule in all_rules(root):
        if rule["alert"] == VENDOR_ALERT:
            continue
        assert rule["alert"] not in out, f"{rule['alert']} defined twice"
        out[rule["alert"]] = rule
    return out


def vendor_rules(root: Path = ROOT) -> dict[str, dict[str, Any]]:
    """severity -> the OcppConnectorVendorCode rule for codes of that severity."""
    out = {}
    for rule in all_rules(root):
        if rule["alert"] == VENDOR_ALERT:
            assert rule["labels"]["severity"] not in out
            out[rule["labels"]["severity"]] = rule
    return out


def test_generated_files_are_committed_and_current() -> None:
    result = run(sys.executable, "-m", "exporter", "generate", "--check")
    assert result.returncode == 0, result.stderr
    assert "alerting/rules/ocpp-connector-errors.yml" not in result.stderr


def test_generate_check_names_a_stale_file(tmp_path: Path) -> None:
    assert run(sys.executable, "-m", "exporter", "generate", "--root", tmp_path).returncode == 0
    target = tmp_path / "alerting" / "rules" / "ocpp-connector-errors.yml"
    target.write_text(target.read_text().replace("for: 0m", "for: 1m"))
    result = run(sys.executable, "-m", "exporter", "generate", "--check", "--root", tmp_path)
    assert result.returncode == 1
    assert "alerting/rules/ocpp-connector-errors.yml" in result.stderr


def test_promtool_accepts_the_rules_and_the_prometheus_config() -> None:
    result = run("promtool", "check", "rules", *rule_files())
    assert result.returncode == 0, result.stdout + result.stderr
    result = run("promtool", "check", "config", ALERTING / "prometheus.yml")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "3 rule files found" in result.stdout


def test_promtool_accepts_the_config_docker_compose_mounts(tmp_path: Path) -> None:
    # laid out as in the container: the config file with the generated rules next to it
    shutil.copy(ROOT / "deploy" / "prometheus.yml", tmp_path / "prometheus.yml")
    shutil.copytree(ALERTING / "rules", tmp_path / "rules")
    result = run("promtool", "check", "config", tmp_path / "prometheus.yml")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout + result.stderr


def test_promtool_unit_tests_pass() -> None:
    tests = sorted((ALERTING / "tests").glob("*.yml"))
    assert {"ocpp-connectivity.test.yml", "ocpp-connector-errors.test.yml"} <= {
        t.name for t in tests
    }
    result = run("promtool", "test", "rules", *tests)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.count("SUCCESS") == len(tests)


def test_promtool_unit_tests_catch_a_wrong_rule(tmp_path: Path) -> None:
    """The unit tests are able to fail: a rule that pages too early, or with the wrong steps."""
    shutil.copytree(ALERTING, tmp_path / "alerting")
    errors = tmp_path / "alerting" / "rules" / "ocpp-connector-errors.yml"
    text = errors.read_text()
    text = text.replace("for: 5m", "for: 3m", 1).replace("1. Read the vendorErrorCode", "1. Ask")
    errors.write_text(text)
    result = run("promtool", "test", "rules", *(tmp_path / "alerting" / "tests").glob("*.yml"))
    assert result.returncode != 0
    report = result.stdout + result.stderr
    assert "alertname: OcppConnectorGroundFailure, time: 1m" in report  # the steps changed
    assert "alertname: OcppConnectorInternalError, time: 5m" in report  # fired 2m early


def test_every_alert_has_unit_tests_that_fire_and_stay_silent() -> None:
    fired: set[str] = set()
    silent: set[str] = set()
    for path in (ALERTING / "tests").glob("*.yml"):
        for group in yaml.safe_load(path.read_text())["tests"]:
            for check in group.get("alert_rule_test", []):
                (fired if check["exp_alerts"] else silent).add(check["alertname"])
    alerts = {*alert_rules(), VENDOR_ALERT}
    assert fired == alerts
    assert silent == alerts


def test_one_rule_per_catalog_entry_with_its_severity_for_and_steps() -> None:
    catalog = catalog_module.load()
    rules = alert_rules()
    assert set(rules) == {entry.alert for entry in catalog.entries()}
    for entry in catalog.entries():
        rule = rules[entry.alert]
        assert re.fullmatch(r"Ocpp[A-Z][A-Za-z]+", entry.alert)
        expected_labels = {"severity": entry.severity}
        if entry.key in catalog.errors:
            expected_labels["responsible"] = entry.responsible_text()
        assert rule["labels"] == expected_labels
        assert rule["for"] == entry.alert_for
        assert set(rule["annotations"]) == ANNOTATIONS
        assert rule["annotations"]["resolution"] == entry.resolution_text()
        assert rule["annotations"]["runbook_url"] == entry.runbook_url
    for code in catalog_module.ERROR_CODES:
        expr = rules[f"OcppConnector{code}"]["expr"]
        assert " ".join(expr.split()) == ERROR_EXPR.replace("GroundFailure", code)


#: A connector error alert, written out: the error, counted once per connector from the replica
#: with the newest view of that connector (unless a replica took the whole station afresh later),
#: with the view of a replica that went away held for the failover bound, and no `instance` in
#: the labels (docs/scaling.md, "Across a failover": ocpp:connector_owner).
ERROR_EXPR = (
    "max by (station, site, connector, error_code) ( ( "
    'ocpp_connector_error{error_code="GroundFailure"} '
    "or "
    '(last_over_time(ocpp_connector_error{error_code="GroundFailure"}[5m]) '
    "unless on (instance, station, connector) ocpp_connector_report_timestamp_seconds) "
    ") and on (instance, station, connector) ( "
    "last_over_time(ocpp_connector_report_timestamp_seconds[5m]) "
    "== on (station, connector) group_left () "
    "max by (station, connector) (last_over_time(ocpp_connector_report_timestamp_seconds[5m])) "
    "unless on (instance, station, connector) "
    "last_over_time(ocpp_connector_report_timestamp_seconds[5m]) "
    "< on (station) group_left () "
    "max by (station) (last_over_time(ocpp_station_synced_timestamp_seconds[5m])) "
    ") )"
)


def test_vendor_code_alert_joins_the_codes_text_and_who_must_act() -> None:
    by_severity = vendor_rules()
    assert {s: r["for"] for s, r in by_severity.items()} == {
        "critical": "0m",
        "warning": "2m",
        "info": "10m",
    }
    for severity, rule in by_severity.items():
        assert rule["expr"].endswith(
            "* on (scheme, code) group_left (responsible)\n"
            f'topk by (scheme, code) (1, ocpp_vendor_code_info{{severity="{severity}"}})'
        )
        assert "    ocpp_connector_vendor_code\n" in rule["expr"]
        for name in ANNOTATIONS - {"description"}:
            label = {"summary": "title"}.get(name, name)
            assert f'label "{label}"' in rule["annotations"][name]
    # In the same group as the general alerts it inhibits (sent to Alertmanager together).
    (group,) = yaml.safe_load((ALERTING / "rules" / "ocpp-connector-errors.yml").read_text())[
        "groups"
    ]
    names = [r["alert"] for r in group["rules"]]
    assert names.count(VENDOR_ALERT) == 3 and "OcppConnectorOtherError" in names


def test_runbook_urls_land_on_a_section_of_docs_alerts_md() -> None:
    docs = (ROOT / "docs" / "alerts.md").read_text()
    assert f"\n### {VENDOR_ALERT}\n" in docs
    headings = {line[4:].strip().lower() for line in docs.splitlines() if line.startswith("### ")}
    for name, rule in alert_rules().items():
        anchor = rule["annotations"]["runbook_url"].rsplit("#", 1)[1]
        assert anchor in headings, name
        section = docs.split(f"### {name}\n", 1)[1].split("\n### ", 1)[0]
        assert rule["annotations"]["resolution"] in section


def test_station_offline_waits_out_restarts_and_firmware_updates() -> None:
    rule = alert_rules()["OcppChargingStationOffline"]
    assert parse_duration(rule["for"]) >= 600
    assert "ocpp_station_firmware_update_in_progress == 1" in rule["expr"]
    # docs/alerts.md: silent "for at most 60 minutes after its last FirmwareStatusNotification"
    assert "time() - ocpp_station_firmware_status_timestamp_seconds < 3600" in rule["expr"]


def test_catalog_overrides_reach_the_rules_and_their_tests(tmp_path: Path) -> None:
    config = tmp_path / "config.yml"
    config.write_text(
        "catalog:\n"
        "  runbook_base_url: https://wiki.example.org/ocpp\n"
        "  overrides:\n"
        "    GroundFailure: {severity: warning, for: 90s}\n"
        "    station_offline: {for: 20m}\n"
    )
    result = run(
        sys.executable, "-m", "exporter", "generate", "--config", config, "--root", tmp_path
    )
    assert result.returncode == 0, result.stderr
    rules = alert_rules(tmp_path)
    ground = rules["OcppConnectorGroundFailure"]
    assert (ground["labels"]["severity"], ground["for"]) == ("warning", "90s")
    assert ground["annotations"]["runbook_url"] == (
        "https://wiki.example.org/ocpp#ocppconnectorgroundfailure"
    )
    assert rules["OcppChargingStationOffline"]["for"] == "20m"
    tests = sorted((tmp_path / "alerting" / "tests").glob("*.yml"))
    result = run("promtool", "test", "rules", *tests)
    assert result.returncode == 0, result.stdout + result.stderr


def test_amtool_accepts_the_alertmanager_config() -> None:
    result = run("amtool", "check-config", ALERTING / "alertmanager.yml")
    assert result.returncode == 0, result.stdout + result.stderr
    assert " - 3 inhibit rules" in result.stdout
    assert " - 3 receivers" in result.stdout


def route(*labels: str) -> str:
    result = run(
        "amtool",
        "config",
        "routes",
        "test",
        f"--config.file={ALERTING / 'alertmanager.yml'}",
        *labels,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout.strip()


@pytest.mark.parametrize(("severity", "receiver"), sorted(RECEIVERS.items()))
def test_each_severity_routes_to_its_receiver(severity: str, receiver: str) -> None:
    assert route(f"severity={severity}", "alertname=OcppSomething", "site=depot") == receiver


def test_an_alert_without_severity_still_reaches_a_human() -> None:
    assert route("alertname=Watchdog") == "ticket"


def test_every_generated_alert_routes_by_its_severity() -> None:
    for name, rule in alert_rules().items():
        severity = rule["labels"]["severity"]
        responsible = [f"responsible={r}" for r in [rule["labels"].get("responsible")] if r]
        receiver = route(f"alertname={name}", f"severity={severity}", "site=s", *responsible)
        driver_side = responsible and responsible[0].split("=")[1].split(",")[0] in (
            "ev_driver",
            "vehicle",
        )
        expected = RECEIVERS[severity]
        if driver_side and expected == "pager":
            expected = "ticket"
        assert receiver == expected, name


@pytest.mark.parametrize(
    ("responsible", "severity", "receiver"),
    [
        ("maintenance,vehicle", "critical", "pager"),
        ("operator", "critical", "pager"),
        ("ev_driver", "critical", "ticket"),
        ("vehicle", "critical", "ticket"),
        ("ev_driver,operator", "warning", "ticket"),
        ("vehicle,maintenance", "info", "chat"),
        ("ev_driver", "info", "chat"),
        ("maintenance", "warning", "ticket"),
    ],
)
def test_driver_and_vehicle_side_faults_never_page(
    responsible: str, severity: str, receiver: str
) -> None:
    labels = (f"alertname={VENDOR_ALERT}", f"severity={severity}", f"responsible={responsible}")
    assert route(*labels, "site=s") == receiver


def test_every_recognised_code_routes_by_who_must_act() -> None:
    """Each code of the knowledge base as its alert labels it: only operator- or
    maintenance-first critical codes reach pager (CX014 does, CX010 does not)."""
    book = catalog_module.load().codes
    paged = set()
    for entry in book.entries():
        receiver = route(
            f"alertname={VENDOR_ALERT}",
            f"severity={entry.severity}",
            f"responsible={entry.responsible_text()}",
            "site=s",
        )
        if receiver == "pager":
            paged.add(f"{entry.scheme}/{entry.code}")
        assert (receiver == "pager") == (entry.pages() and entry.severity == "critical"), entry
        if entry.responsible[0] in ("ev_driver", "vehicle"):
            assert receiver == ("chat" if entry.severity == "info" else "ticket"), entry
    assert "chargex/CX014" in paged and "chargex/CX010" not in paged


def test_inhibit_rules_match_the_labels_the_alerts_carry() -> None:
    config = yaml.safe_load((ALERTING / "alertmanager.yml").read_text())
    inhibit = {
        (tuple(r["source_matchers"]), tuple(r["target_matchers"])): r["equal"]
        for r in config["inhibit_rules"]
    }
    controller = ('alertname="OcppControllerOffline"',)
    station = ('alertname="OcppChargingStationOffline"',)
    assert set(inhibit[controller, station]) == {"site", "controller"}
    assert set(inhibit[station, ('alertname=~"OcppConnector.+"',)]) == {"site", "station"}
    vendor = (f'alertname="{VENDOR_ALERT}"',)
    general = ('alertname=~"OcppConnector.+"', f'alertname!="{VENDOR_ALERT}"')
    assert set(inhibit[vendor, general]) == {"station", "site", "connector", "error_code"}
    # The matched labels come from the expressions' series (see the promtool tests for the
    # exact label sets): station offline carries controller, connector errors carry station.
    rules = alert_rules()
    assert rules["OcppChargingStationOffline"]["expr"].startswith(
        "max by (station, site, controller) (\n    ocpp_station_connected\n"
    )
    assert rules["OcppControllerOffline"]["expr"].startswith(
        "max by (controller, site) (ocpp_controller_up)"
    )
    assert config["route"]["group_by"] == ["alertname", "site"]
