"""The pure controller/EMS state: grace, staleness, fallback, transitions (no I/O, no clock)."""

from __future__ import annotations

import pytest

from exporter.config.model import Device, Site
from exporter.devices.probes import CheckFailed, json_path_value
from exporter.state.sites import CONTROLLER, EMS, CheckResult, Sites, UnknownDevice

START = 1_000_000.0


def make_sites() -> Sites:
    site = Site(
        name="north",
        stations=("CP-1",),
        controller="ctrl",
        ems="ems",
        controller_device=Device("ctrl", CONTROLLER, stale_after=60),
        ems_device=Device("ems", EMS, stale_after=60, fallback_limit_w=4000),
    )
    return Sites([site], now=START)


def test_before_the_first_signal_a_device_is_up_until_its_grace_runs_out():
    sites = make_sites()
    ctrl = sites.get(CONTROLLER, "ctrl")
    assert ctrl.is_up(START + 60)
    assert not ctrl.is_up(START + 60.5)
    assert ctrl.down_since(START + 100) == START + 60
    assert ctrl.last_seen == 0


def test_heartbeat_keeps_up_and_staleness_takes_it_down_at_a_stable_time():
    sites = make_sites()
    sites.heartbeat(CONTROLLER, "ctrl", START + 50)
    ctrl = sites.get(CONTROLLER, "ctrl")
    assert ctrl.is_up(START + 110)
    assert ctrl.down_since(START + 111) == START + 110
    assert ctrl.down_since(START + 500) == START + 110
    sites.heartbeat(CONTROLLER, "ctrl", START + 501)
    assert ctrl.is_up(START + 501)


def test_failed_check_is_no_signal_and_successful_check_is_one():
    sites = make_sites()
    failed = CheckResult("http", False, START + 70, 0.1, "HTTP status 503, expected 200")
    sites.check_result(CONTROLLER, "ctrl", failed)
    ctrl = sites.get(CONTROLLER, "ctrl")
    assert not ctrl.is_up(START + 70)
    assert ctrl.checks["http"].error.startswith("HTTP status 503")
    sites.check_result(CONTROLLER, "ctrl", CheckResult("http", True, START + 71, 0.01))
    assert ctrl.is_up(START + 71)
    # A slow result recorded after a newer push does not move last_seen backwards.
    sites.heartbeat(CONTROLLER, "ctrl", START + 80)
    sites.check_result(CONTROLLER, "ctrl", CheckResult("tcp", True, START + 75, 5.0))
    assert ctrl.last_seen == START + 80


def test_ems_limit_live_then_fallback_while_down_then_live_again():
    sites = make_sites()
    ems = sites.get(EMS, "ems")
    assert ems.limit_in_force(START) is None  # up (grace) but no live value yet
    assert not ems.fallback_active(START)
    sites.heartbeat(EMS, "ems", START + 10, power_limit_w=11000)
    assert ems.limit_in_force(START + 20) == 11000
    assert not ems.fallback_active(START + 20)
    assert ems.fallback_active(START + 71)
    assert ems.limit_in_force(START + 71) == 4000
    result = CheckResult("power_limit", True, START + 80, 0.02)
    sites.check_result(EMS, "ems", result, power_limit_w=9000)
    assert ems.limit_in_force(START + 80) == 9000
    assert not ems.fallback_active(START + 80)


def test_ems_up_without_a_fresh_live_value_shows_no_limit():
    sites = make_sites()
    sites.heartbeat(EMS, "ems", START + 10, power_limit_w=11000)
    for t in range(40, 200, 30):
        sites.heartbeat(EMS, "ems", START + t)
    ems = sites.get(EMS, "ems")
    assert ems.is_up(START + 190)
    assert ems.limit_in_force(START + 190) is None


def test_ems_without_a_configured_fallback_reports_fallback_active_but_no_limit():
    site = Site("s", ems="e", ems_device=Device("e", EMS, stale_after=10))
    sites = Sites([site], now=START)
    ems = sites.get(EMS, "e")
    assert ems.fallback_active(START + 11)
    assert ems.limit_in_force(START + 11) is None


def test_evaluate_reports_each_transition_once():
    sites = make_sites()
    assert sites.evaluate(START + 30) == []
    changes = sites.evaluate(START + 61)
    assert {(c.kind, c.up, c.at) for c in changes} == {
        (CONTROLLER, False, START + 60),
        (EMS, False, START + 60),
    }
    assert sites.evaluate(START + 62) == []
    sites.heartbeat(CONTROLLER, "ctrl", START + 63)
    [change] = sites.evaluate(START + 63)
    assert change.up and change.id == "ctrl" and change.site == "north"
    assert sites.evaluate(START + 64) == []


def test_unknown_devices_and_a_controller_power_limit_are_refused():
    sites = make_sites()
    with pytest.raises(UnknownDevice):
        sites.heartbeat(CONTROLLER, "nope", START)
    with pytest.raises(UnknownDevice):
        sites.get(EMS, "ctrl")  # ids are per kind
    with pytest.raises(ValueError):
        sites.heartbeat(CONTROLLER, "ctrl", START, power_limit_w=10)


@pytest.mark.parametrize(
    ("document", "path", "value"),
    [
        ({"limit_w": 11000}, "limit_w", 11000.0),
        ({"site": {"limits": [{"w": 5}, {"w": 7.5}]}}, "site.limits.1.w", 7.5),
        ([{"w": 0}], "0.w", 0.0),
    ],
)
def test_json_path_finds_the_number(document, path, value):
    assert json_path_value(document, path) == value


@pytest.mark.parametrize(
    ("document", "path", "problem"),
    [
        ({"limit_w": 1}, "limit", "nothing at 'limit'"),
        ({"a": [1]}, "a.3", "nothing at 'a.3'"),
        ({"a": {"b": "11kW"}}, "a.b", "not a number"),
        ({"a": True}, "a", "not a number"),
        ({"a": -5}, "a", "0 or more"),
    ],
)
def test_json_path_names_what_is_wrong(document, path, problem):
    with pytest.raises(CheckFailed, match=problem):
        json_path_value(document, path)
