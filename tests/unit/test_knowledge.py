"""The shared OCPP vocabulary and the severity routing, checked against what others hold."""

from __future__ import annotations

from pathlib import Path

import yaml

from exporter.knowledge import ocpp_enums
from exporter.knowledge.catalog import load
from exporter.knowledge.severity import RECEIVER, RECEIVER_PURPOSE, SEVERITIES
from exporter.knowledge.vendor_codes import NEVER_PAGES_MATCHER

ROOT = Path(__file__).resolve().parents[2]


def test_alertmanager_routes_each_severity_to_its_receiver():
    config = yaml.safe_load((ROOT / "alerting" / "alertmanager.yml").read_text())
    routed = {
        matcher: route["receiver"]
        for route in config["route"]["routes"]
        for matcher in route.get("matchers", [])
    }
    # Who must act is routed first: driver- and vehicle-side faults never page.
    never_pages = routed.pop(NEVER_PAGES_MATCHER)
    assert never_pages == RECEIVER["warning"]
    (first, *_) = config["route"]["routes"]
    assert first["matchers"] == [NEVER_PAGES_MATCHER]
    assert {m: r["receiver"] for r in first["routes"] for m in r["matchers"]} == {
        'severity="info"': RECEIVER["info"]
    }
    assert routed == {f'severity="{s}"': RECEIVER[s] for s in SEVERITIES}
    receivers = {r["name"] for r in config["receivers"]}
    assert set(RECEIVER.values()) == receivers == set(RECEIVER_PURPOSE)


def test_error_codes_are_the_15_of_ocpp16_besides_no_error_then_unknown():
    codes = ocpp_enums.ERROR_CODES
    assert len(codes) == 16
    assert codes[-1] == "Unknown"
    assert "NoError" not in codes and "NoError" in ocpp_enums.OCPP16_ERROR_CODES
    assert {"GroundFailure", "WeakSignal", "ConnectorLockFailure"} <= set(codes)
    assert list(load().errors) == list(codes)


def test_connector_statuses_are_the_16_ones_then_the_201_addition():
    statuses = ocpp_enums.CONNECTOR_STATUSES
    assert statuses[:3] == ("Available", "Preparing", "Charging")
    assert statuses[-1] == "Occupied"
    assert len(statuses) == len(set(statuses)) == 10


def test_a_firmware_download_counts_as_an_update_and_a_finished_install_does_not():
    assert {"Downloading", "Installing", "InstallRebooting"} <= ocpp_enums.FIRMWARE_UPDATE_STATES
    assert not {"Installed", "Idle", "InstallationFailed"} & ocpp_enums.FIRMWARE_UPDATE_STATES
