"""The fleet's change hook (what the state store writes) and its two lookups: `get` reads,
`get_or_create` creates. No store and no I/O: the hook is the store's own ChangeLog."""

from __future__ import annotations

import pytest

from exporter.persistence.store import ChangeLog
from exporter.state.fleet import (
    ActiveError,
    ChangeHooks,
    Fleet,
    FleetFull,
    Placement,
    StationInfo,
)

INVENTORY = {"CP-1": Placement("depot", "ctl-1")}


def tracked(**kwargs: float) -> tuple[Fleet, ChangeLog]:
    changes = ChangeLog()
    return Fleet(INVENTORY, changes=changes, **kwargs), changes


def reported(fleet: Fleet) -> None:
    token = fleet.connect("CP-1", 1.0)
    fleet.boot("CP-1", StationInfo(vendor="ACME"), 2.0)
    fleet.report_status("CP-1", "1", "Faulted", ActiveError("GroundFailure", 3.0, "Faulted"), 3.0)
    fleet.disconnect("CP-1", token, 4.0)


def test_reads_never_mark_a_station_changed():
    fleet, changes = tracked()
    reported(fleet)
    changes.dirty.clear()
    changes.urgent.clear()
    station = fleet.get("CP-1")
    assert station is not None and station.connectors["1"].errors
    assert fleet.get_or_create("CP-1") is station
    assert [s.id for s in fleet] == ["CP-1"] and len(fleet) == 1
    assert fleet.get("CP-unknown") is None
    assert not changes.dirty and not changes.urgent.is_set()


def test_get_does_not_create_and_get_or_create_does():
    fleet, changes = tracked(max_stations=2)
    assert fleet.get("CP-new") is None
    assert "CP-new" not in fleet.stations and not changes.dirty
    created = fleet.get_or_create("CP-new")
    assert (created.id, created.site, created.configured) == ("CP-new", "unassigned", False)
    assert fleet.get("CP-new") is created
    # A new station is a change the store must write.
    assert changes.dirty == {"CP-new"} and changes.urgent.is_set()
    with pytest.raises(FleetFull):
        fleet.get_or_create("CP-one-too-many")
    assert fleet.get("CP-one-too-many") is None and changes.dirty == {"CP-new"}


def test_each_mutator_marks_only_the_station_it_changes():
    fleet, changes = tracked()
    token = fleet.connect("CP-2", 0.0)
    steps = {
        "connect": lambda: fleet.connect("CP-1", 1.0),
        "boot": lambda: fleet.boot("CP-1", StationInfo(vendor="ACME"), 2.0),
        "registration": lambda: fleet.registration("CP-1", "Accepted", 3.0),
        "firmware_status": lambda: fleet.firmware_status("CP-1", "Installing", 4.0),
        "report_status": lambda: fleet.report_status(
            "CP-1", "1", "Faulted", ActiveError("GroundFailure", 5.0, "Faulted"), 5.0
        ),
        "report_connector_status": lambda: fleet.report_connector_status(
            "CP-1", "2", "Occupied", 6.0
        ),
        "raise_from": lambda: fleet.raise_from(
            "CP-1", "2", "Door", ActiveError("OtherError", 7.0, ""), 7.0
        ),
        "clear_from": lambda: fleet.clear_from("CP-1", "2", "Door"),
        "resolve_codes": lambda: fleet.resolve_codes(
            "CP-1", "1", "Faulted", "chargex", ("CX014",), True, 8.0
        ),
        "start_resync": lambda: fleet.start_resync("CP-1", 100.0),
        "finish_resync": lambda: fleet.finish_resync("CP-1", 5.0),
        "abandon_resync": lambda: fleet.abandon_resync("CP-1"),
        "finish_source_resync": lambda: fleet.finish_source_resync("CP-1", "Faulted", 5.0),
        "seen": lambda: fleet.seen("CP-1", 9.0),
        "disconnect": lambda: fleet.disconnect("CP-1", 999, 10.0),
    }
    # Every public method is a mutator above, a read, or `forget` (below): a new mutator must
    # be added here, or the store would silently not persist it.
    public = {name for name in dir(Fleet) if not name.startswith("_")}
    assert set(steps) == public - {"get", "get_or_create", "forget"}
    for name, step in steps.items():
        changes.dirty.clear()
        changes.urgent.clear()
        step()
        assert changes.dirty == {"CP-1"}, name
        # last_seen alone rides along with the next write.
        assert changes.urgent.is_set() == (name != "seen"), name
    assert fleet.stations["CP-2"].session == token


def test_mutators_of_unknown_stations_mark_nothing():
    fleet, changes = tracked()
    assert fleet.disconnect("CP-unknown", 1, 1.0) is False
    assert fleet.clear_from("CP-unknown", "1", "Door") is None
    assert fleet.finish_resync("CP-unknown", 5.0) == 0
    assert fleet.finish_source_resync("CP-unknown", "Faulted", 5.0) == 0
    fleet.abandon_resync("CP-unknown")
    fleet.seen("CP-unknown", 2.0)
    assert not changes.dirty and not changes.urgent.is_set()
    assert fleet.get("CP-unknown") is None


def test_a_refused_new_station_marks_nothing():
    fleet, changes = tracked(max_stations=1)
    with pytest.raises(FleetFull):
        fleet.connect("CP-X", 1.0)
    assert not changes.dirty and not changes.urgent.is_set()


def test_forgotten_stations_are_deleted_unless_they_come_back():
    fleet, changes = tracked()
    for station_id in ("CP-A", "CP-B"):
        fleet.disconnect(station_id, fleet.connect(station_id, 1.0), 2.0)
    changes.dirty.clear()
    changes.urgent.clear()
    assert fleet.forget(now=100.0, after=50.0) == ["CP-A", "CP-B"]
    assert changes.deleted == {"CP-A", "CP-B"} and changes.urgent.is_set()
    fleet.connect("CP-B", 101.0)
    assert changes.deleted == {"CP-A"} and changes.dirty == {"CP-B"}
    # Nothing to forget: nothing reported.
    changes.urgent.clear()
    assert fleet.forget(now=102.0, after=50.0) == []
    assert not changes.urgent.is_set()


def test_a_fleet_without_a_hook_still_works():
    fleet = Fleet(INVENTORY)
    reported(fleet)
    assert fleet.forget(now=1000.0, after=1.0) == []  # inventory stations are never forgotten
    assert fleet.stations["CP-1"].connectors["1"].errors


def test_several_hooks_are_told_the_same_changes():
    store, page = ChangeLog(), ChangeLog()
    fleet = Fleet(changes=ChangeHooks(store, page))
    fleet.connect("CP-1", 1.0)
    error = ActiveError("GroundFailure", 2.0, "Available")
    fleet.report_status("CP-2", "1", "Available", error, 2.0)
    assert store.dirty == page.dirty == {"CP-1", "CP-2"}
    assert fleet.forget(now=100.0, after=1.0) == ["CP-2"]  # never connected, not configured
    assert store.deleted == page.deleted == {"CP-2"}
