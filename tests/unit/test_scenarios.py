"""Simulator scenarios as read from YAML: the shipped demo, and errors that name the key
(scenarios played against a running exporter: tests/integration/test_simulator.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from exporter.simulator.fleet import (
    ScenarioError,
    load_scenario,
    parse_scenario,
)

ROOT = Path(__file__).resolve().parents[2]


def test_scenario_errors_name_the_key(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("events:\n  - {at: 1s, station: 1, error_code: Smoke}\n")
    with pytest.raises(ScenarioError, match=r"events\[0\]\.error_code"):
        load_scenario(str(bad))
    with pytest.raises(ScenarioError, match="exactly one"):
        parse_scenario({"events": [{"station": 1}]}, "<x>")
    with pytest.raises(ScenarioError, match="unknown key"):
        parse_scenario({"evnts": []}, "<x>")


def test_demo_scenario_loads():
    scenario = load_scenario(str(ROOT / "scenarios" / "demo.yaml"))
    kinds = {
        ("fault" if e.fault else "offline" if e.offline else "reboot") for e in scenario.events
    }
    assert kinds == {"fault", "offline", "reboot"}
    ground = [e for e in scenario.events if e.fault and e.fault.error_code == "GroundFailure"]
    assert ground[0].fault.status == "Available"
    assert scenario.random is not None and scenario.random.faults_per_hour > 0
    # the demo shows recognised codes over 1.6 and over 2.0.1
    coded = {
        (e.station, e.fault.vendor_error_code)
        for e in scenario.events
        if e.fault and e.fault.vendor_id == "https://chargex.inl.gov"
    }
    assert {("SIM-0005", "CX014"), ("SIM-0020", "CX019")} <= coded
    assert "SIM-0020" in scenario.ocpp201_stations
    # ... and 2.1 stations, one reporting statuses only as AvailabilityState events
    assert scenario.ocpp_version("SIM-0019") == "2.1"
    assert scenario.availability_state_stations == {"SIM-0019"}


def test_scheme_codes_in_scenarios_are_checked():
    with pytest.raises(ScenarioError, match=r"events\[0\]\.code: 'CX099' is not a chargex code"):
        parse_scenario({"events": [{"station": 1, "scheme": "chargex", "code": "CX099"}]}, "<x>")
    with pytest.raises(ScenarioError, match=r"events\[0\]\.code: unknown scheme 'mrec'"):
        parse_scenario({"events": [{"station": 1, "scheme": "mrec", "code": "CX001"}]}, "<x>")
    with pytest.raises(ScenarioError, match=r"events\[0\]\.scheme: required with code"):
        parse_scenario({"events": [{"station": 1, "code": "CX001"}]}, "<x>")
    fault = (
        parse_scenario(
            {"events": [{"station": 1, "scheme": "charin-uec", "code": "powermodulefault"}]}, "<x>"
        )
        .events[0]
        .fault
    )
    assert fault is not None
    assert (fault.error_code, fault.vendor_id, fault.vendor_error_code) == (
        "InternalError",
        "org.charin.uec.v1",
        "PowerModuleFault",
    )


def test_availability_state_stations_must_speak_2x():
    with pytest.raises(ScenarioError, match=r"availability_state_stations: only 2\.x"):
        parse_scenario({"availability_state_stations": [1]}, "<x>")
    with pytest.raises(ScenarioError, match=r"ocpp21_stations: also in ocpp201_stations"):
        parse_scenario({"ocpp201_stations": [1], "ocpp21_stations": ["SIM-0001"]}, "<x>")
