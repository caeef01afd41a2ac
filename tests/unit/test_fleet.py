"""The fleet state semantics, pinned without any I/O."""

from __future__ import annotations

import pytest

from exporter.state.fleet import ActiveError, Fleet, FleetFull, Placement, StationInfo


def err(code: str, status: str = "Available", now: float = 0.0) -> ActiveError:
    return ActiveError(code=code, since=now, status=status)


def codes(fleet: Fleet, station: str = "CP") -> dict[str, list[str]]:
    return {c.id: sorted(c.errors) for c in fleet.stations[station].connectors.values()}


def test_error_is_active_whatever_the_status():
    fleet = Fleet()
    fleet.report_status("CP", "1", "Available", err("GroundFailure"), now=10)
    assert codes(fleet) == {"1": ["GroundFailure"]}
    assert fleet.stations["CP"].connectors["1"].status == "Available"


def test_no_error_clears_and_another_code_replaces():
    fleet = Fleet()
    fleet.report_status("CP", "1", "Faulted", err("GroundFailure"), now=10)
    fleet.report_status("CP", "1", "Faulted", err("HighTemperature", "Faulted", 11), now=11)
    assert codes(fleet) == {"1": ["HighTemperature"]}
    fleet.report_status("CP", "1", "Available", None, now=12)
    assert codes(fleet) == {"1": []}


def test_repeating_the_same_code_keeps_its_first_since():
    fleet = Fleet()
    fleet.report_status("CP", "1", "Available", err("GroundFailure", now=10), now=10)
    fleet.report_status("CP", "1", "Faulted", err("GroundFailure", "Faulted", 50), now=50)
    error = fleet.stations["CP"].connectors["1"].errors["GroundFailure"]
    assert error.since == 10
    assert error.status == "Faulted"


def test_boot_forgets_statuses_and_errors():
    fleet = Fleet()
    fleet.report_status("CP", "1", "Faulted", err("InternalError"), now=10)
    fleet.boot("CP", StationInfo(vendor="ACME"), now=20)
    assert codes(fleet) == {}
    assert fleet.stations["CP"].info.vendor == "ACME"
    assert fleet.stations["CP"].boots == 1


def test_resync_clears_errors_of_connectors_that_did_not_report_again():
    fleet = Fleet()
    fleet.report_status("CP", "1", "Available", err("GroundFailure"), now=10)
    fleet.report_status("CP", "2", "Faulted", err("HighTemperature", now=10), now=10)
    fleet.start_resync("CP", now=20)
    fleet.report_status("CP", "2", "Faulted", err("HighTemperature", now=21), now=21)
    assert fleet.finish_resync("CP", now=30) == 1
    assert codes(fleet) == {"1": [], "2": ["HighTemperature"]}
    assert fleet.stations["CP"].connectors["2"].errors["HighTemperature"].since == 10


def test_abandoned_resync_keeps_last_known_state():
    fleet = Fleet()
    fleet.report_status("CP", "1", "Available", err("GroundFailure"), now=10)
    fleet.start_resync("CP", now=20)
    fleet.abandon_resync("CP")
    assert fleet.finish_resync("CP", now=30) == 0
    assert codes(fleet) == {"1": ["GroundFailure"]}


def test_disconnect_keeps_errors_and_marks_offline():
    fleet = Fleet()
    token = fleet.connect("CP", now=5)
    fleet.report_status("CP", "1", "Available", err("GroundFailure"), now=10)
    assert fleet.disconnect("CP", token, now=30)
    station = fleet.stations["CP"]
    assert not station.connected and station.offline_since == 30
    assert codes(fleet) == {"1": ["GroundFailure"]}


def test_a_newer_session_replaces_the_old_one_without_a_gap():
    fleet = Fleet()
    old = fleet.connect("CP", now=1)
    new = fleet.connect("CP", now=2)
    assert not fleet.disconnect("CP", old, now=3)  # the old session's late close is ignored
    assert fleet.stations["CP"].connected
    assert fleet.disconnect("CP", new, now=4)
    assert fleet.stations["CP"].connects == 2


def test_inventory_stations_exist_before_they_connect_and_unknown_ones_are_unassigned():
    fleet = Fleet({"CP-A": Placement("north", "ctrl-1")}, now=100)
    assert fleet.stations["CP-A"].site == "north"
    assert not fleet.stations["CP-A"].connected
    fleet.connect("CP-X", now=101)
    assert fleet.stations["CP-X"].site == "unassigned"
    assert fleet.stations["CP-X"].controller == ""


def test_the_number_of_stations_is_bounded():
    fleet = Fleet(max_stations=2)
    fleet.connect("A", now=1)
    fleet.connect("B", now=1)
    with pytest.raises(FleetFull):
        fleet.connect("C", now=1)
    fleet.connect("A", now=2)  # known stations still reconnect


def test_several_errors_per_connector_for_event_based_protocols():
    fleet = Fleet()
    fleet.raise_from("CP", "1", "RCD.Tripped", err("GroundFailure", now=1), now=1)
    fleet.raise_from("CP", "1", "Temp.Alert", err("HighTemperature", now=2), now=2)
    fleet.raise_from("CP", "1", "Leak.Problem", err("GroundFailure", now=3), now=3)
    assert codes(fleet) == {"1": ["GroundFailure", "HighTemperature"]}
    fleet.clear_from("CP", "1", "RCD.Tripped")
    # Another source still reports a ground fault: the code stays, with its first since.
    assert fleet.stations["CP"].connectors["1"].errors["GroundFailure"].since == 1
    fleet.clear_from("CP", "1", "Leak.Problem")
    assert codes(fleet) == {"1": ["HighTemperature"]}


def test_a_code_keeps_its_first_since_until_every_source_behind_it_clears():
    # Regression: the code's since used to move to the second source's time when the first
    # source cleared (docs/ocpp201.md promises the first since until both clear).
    fleet = Fleet()
    fleet.raise_from("CP", "1", "RCD.Tripped", err("GroundFailure", now=10), now=10)
    fleet.raise_from(
        "CP", "1", "GroundIsolationProtection.Problem", err("GroundFailure", now=20), now=20
    )
    fleet.clear_from("CP", "1", "RCD.Tripped")
    error = fleet.stations["CP"].connectors["1"].errors["GroundFailure"]
    assert error.since == 10
    # The remaining source's details are shown, and its own since is untouched.
    assert (
        error
        is not fleet.stations["CP"].connectors["1"].sources["GroundIsolationProtection.Problem"]
    )
    assert (
        fleet.stations["CP"].connectors["1"].sources["GroundIsolationProtection.Problem"].since
        == 20
    )
    # The same source raising again, and a third source joining, keep the code's since.
    fleet.raise_from(
        "CP", "1", "GroundIsolationProtection.Problem", err("GroundFailure", now=30), now=30
    )
    fleet.raise_from("CP", "1", "RCD.Tripped", err("GroundFailure", now=40), now=40)
    fleet.clear_from("CP", "1", "GroundIsolationProtection.Problem")
    assert fleet.stations["CP"].connectors["1"].errors["GroundFailure"].since == 10
    # Once every source has cleared, the code is gone; raised again, it starts anew.
    fleet.clear_from("CP", "1", "RCD.Tripped")
    assert codes(fleet) == {"1": []}
    fleet.raise_from("CP", "1", "RCD.Tripped", err("GroundFailure", now=50), now=50)
    assert fleet.stations["CP"].connectors["1"].errors["GroundFailure"].since == 50


def test_a_replica_view_of_a_connector_is_dated_by_reports_boots_and_resyncs():
    """Behind a load balancer the newest view of a connector counts (docs/scaling.md): a report
    dates the connector, a boot or the end of a re-sync dates the whole station."""
    fleet = Fleet()
    fleet.report_status("CP", "1", "Faulted", err("GroundFailure"), now=10)
    fleet.report_status("CP", "2", "Available", None, now=12)
    station = fleet.stations["CP"]
    assert [station.connectors[c].updated_at for c in ("1", "2")] == [10, 12]
    assert station.synced_at == 0
    fleet.start_resync("CP", now=20)
    fleet.report_status("CP", "1", "Faulted", err("GroundFailure"), now=21)
    fleet.finish_resync("CP", now=30)
    assert station.synced_at == 30
    assert station.connectors["1"].updated_at == 30
    fleet.boot("CP", StationInfo(), now=40)
    assert station.synced_at == 40
    fleet.raise_from("CP", "3", "RCD.Tripped", err("GroundFailure", now=50), now=50)
    assert station.connectors["3"].updated_at == 50
