"""State that survives restarts: the SQLite store in --state-dir, driven through the fleet's
change hook without a server (restarts of a running exporter: tests/integration/
test_store_restart.py)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import sqlite3
from pathlib import Path

from exporter.persistence.store import FILENAME, ChangeLog, StateStore, encode
from exporter.state.counters import Stats
from exporter.state.fleet import ActiveError, Fleet, Placement, StationInfo
from tests.support.waiting import eventually

ROOT = Path(__file__).resolve().parents[2]


def tracked(inventory: dict[str, Placement], **kwargs: float) -> tuple[Fleet, ChangeLog]:
    """A fleet with the change log a store writes from, as service.build makes it."""
    changes = ChangeLog()
    return Fleet(inventory, changes=changes, **kwargs), changes


async def test_round_trip_keeps_errors_since_and_statuses(tmp_path):
    fleet, fleet_changes = tracked({"CP-1": Placement("depot", "ctl-1")}, now=100.0)
    store = StateStore(tmp_path, fleet, fleet_changes, Stats())
    store.open()
    fleet.connect("CP-1", 110.0)
    fleet.boot("CP-1", StationInfo(vendor="ACME", model="W1", ocpp_version="1.6"), 111.0)
    fleet.report_status(
        "CP-1", "1", "Faulted", ActiveError("GroundFailure", 112.0, "Faulted"), 112.0
    )
    fleet.report_status("CP-1", "2", "Available", None, 113.0)
    fleet.connect("CP-X", 114.0)  # not in the inventory
    fleet.seen("CP-1", 120.0)
    assert await store.flush() == 2
    assert await store.flush() == 0  # nothing changed since
    store.close()

    restored, restored_changes = tracked(
        {"CP-1": Placement("depot", "ctl-1"), "CP-2": Placement("depot", "")}, now=500.0
    )
    again = StateStore(tmp_path, restored, restored_changes, Stats())
    again.open()
    assert again.restore() == 2
    cp1 = restored.stations["CP-1"]
    assert not cp1.connected and cp1.site == "depot" and cp1.controller == "ctl-1"
    assert cp1.last_seen == 120.0
    assert cp1.offline_since == 120.0  # it was connected when the store was last written
    assert cp1.info.vendor == "ACME"
    assert cp1.connectors["1"].errors["GroundFailure"].since == 112.0
    assert cp1.connectors["1"].status == "Faulted"
    assert cp1.connectors["2"].status == "Available" and not cp1.connectors["2"].errors
    assert restored.stations["CP-X"].site == "unassigned"
    assert restored.stations["CP-2"].offline_since == 500.0
    # the same code reported again after the restart keeps its first `since`
    restored.report_status(
        "CP-1", "1", "Faulted", ActiveError("GroundFailure", 600.0, "Faulted"), 600.0
    )
    assert cp1.connectors["1"].errors["GroundFailure"].since == 112.0
    again.close()


async def test_station_removed_from_inventory_is_not_restored(tmp_path):
    fleet, fleet_changes = tracked({"CP-1": Placement("depot", "")})
    store = StateStore(tmp_path, fleet, fleet_changes, Stats())
    store.open()
    fleet.connect("CP-1", 1.0)
    await store.flush()
    store.close()
    restored, restored_changes = tracked({})
    again = StateStore(tmp_path, restored, restored_changes, Stats())
    again.open()
    assert again.restore() == 0 and "CP-1" not in restored.stations
    again.close()


async def test_unreadable_store_is_moved_aside(tmp_path):
    (tmp_path / FILENAME).write_bytes(b"this is not a database" * 100)
    fleet, fleet_changes = tracked({})
    store = StateStore(tmp_path, fleet, fleet_changes, Stats())
    store.open()
    assert store.restore() == 0
    assert list(tmp_path.glob(f"{FILENAME}.unreadable-*"))
    store.close()


def reopen(tmp_path, fleet: Fleet, changes: ChangeLog) -> StateStore:
    store = StateStore(tmp_path, fleet, changes, Stats())
    store.open()
    store.restore()
    return store


def stored_ids(state_dir: Path) -> set[str]:
    db = sqlite3.connect(f"file:{state_dir / FILENAME}?mode=ro", uri=True)
    try:
        return {row[0] for row in db.execute("SELECT id FROM stations")}
    finally:
        db.close()


async def test_v201_sources_survive_a_restart_and_clear_independently(tmp_path):
    fleet, fleet_changes = tracked({"CP-1": Placement("depot", "")})
    store = reopen(tmp_path, fleet, fleet_changes)
    fleet.connect("CP-1", 10.0)
    fleet.raise_from("CP-1", "1", "Cable.Temp", ActiveError("HighTemperature", 11.0, ""), 11.0)
    fleet.raise_from("CP-1", "1", "Board.Temp", ActiveError("HighTemperature", 12.0, ""), 12.0)
    fleet.raise_from("CP-1", "2", "Ground.Fault", ActiveError("GroundFailure", 13.0, ""), 13.0)
    await store.flush()
    store.close()

    restored, restored_changes = tracked({"CP-1": Placement("depot", "")})
    again = reopen(tmp_path, restored, restored_changes)
    c1 = restored.stations["CP-1"].connectors["1"]
    assert set(c1.sources) == {"Cable.Temp", "Board.Temp"}
    assert c1.errors["HighTemperature"].since == 11.0
    # a clear after the restart finds the source that raised it ...
    assert restored.clear_from("CP-1", "2", "Ground.Fault") is not None
    assert not restored.stations["CP-1"].connectors["2"].errors
    # ... two sources behind one code still clear independently, the code keeping its since ...
    restored.clear_from("CP-1", "1", "Cable.Temp")
    assert set(c1.sources) == {"Board.Temp"}
    assert c1.errors["HighTemperature"].since == 11.0
    # ... and a new source raised on the connector keeps what was restored
    restored.raise_from("CP-1", "1", "Door.Open", ActiveError("OtherError", 20.0, ""), 20.0)
    assert set(c1.errors) == {"HighTemperature", "OtherError"}
    await again.flush()
    again.close()

    third, third_changes = tracked({"CP-1": Placement("depot", "")})
    reopen(tmp_path, third, third_changes).close()
    assert set(third.stations["CP-1"].connectors["1"].sources) == {"Board.Temp", "Door.Open"}
    # the code's since outlives the source that set it, across a restart too
    assert third.stations["CP-1"].connectors["1"].errors["HighTemperature"].since == 11.0
    assert not third.stations["CP-1"].connectors["2"].errors


async def test_how_a_station_reports_and_a_station_set_severity_survive_a_restart(tmp_path):
    fleet, fleet_changes = tracked({"CP-1": Placement("depot", "")})
    store = reopen(tmp_path, fleet, fleet_changes)
    fleet.report_connector_status("CP-1", "1", "Faulted", 10.0, via="AvailabilityState")
    error = ActiveError("OtherError", 11.0, "Faulted", severity="critical")
    fleet.raise_from("CP-1", "1", "EmergencyStop.Tripped", error, 11.0)
    await store.flush()
    store.close()

    restored, restored_changes = tracked({"CP-1": Placement("depot", "")})
    reopen(tmp_path, restored, restored_changes).close()
    station = restored.stations["CP-1"]
    # the first re-sync after the restart asks by GetVariables, not by a trigger it would refuse
    assert station.status_via == "AvailabilityState"
    assert station.connectors["1"].errors["OtherError"].severity == "critical"


async def test_rows_written_without_sources_restore_their_errors(tmp_path):
    fleet, fleet_changes = tracked({"CP-1": Placement("depot", "")})
    store = reopen(tmp_path, fleet, fleet_changes)
    fleet.raise_from("CP-1", "1", "Cable.Temp", ActiveError("HighTemperature", 11.0, ""), 11.0)
    await store.flush()
    store.close()
    # rewrite the row the way the store wrote it before sources were stored
    db = sqlite3.connect(tmp_path / FILENAME)
    state = json.loads(db.execute("SELECT state FROM stations").fetchone()[0])
    for connector in state["connectors"].values():
        del connector["sources"]
    db.execute("UPDATE stations SET state = ?", (json.dumps(state),))
    db.commit()
    db.close()

    restored, restored_changes = tracked({"CP-1": Placement("depot", "")})
    reopen(tmp_path, restored, restored_changes).close()
    connector = restored.stations["CP-1"].connectors["1"]
    assert connector.errors["HighTemperature"].since == 11.0 and not connector.sources


async def test_forgotten_stations_are_deleted_and_not_restored(tmp_path):
    fleet, fleet_changes = tracked({"CP-1": Placement("depot", "")}, max_stations=3)
    store = reopen(tmp_path, fleet, fleet_changes)
    for sid in ("CP-A", "CP-B"):
        fleet.disconnect(sid, fleet.connect(sid, 1.0), 2.0)
    fleet.disconnect("CP-1", fleet.connect("CP-1", 1.0), 2.0)
    await store.flush()
    assert stored_ids(tmp_path) == {"CP-1", "CP-A", "CP-B"}
    assert fleet.forget(now=100.0, after=50.0) == ["CP-A", "CP-B"]
    fleet.connect("CP-B", 101.0)  # came back before the flush: rewritten, not deleted
    fleet.seen("CP-1", 102.0)
    assert await store.flush() == 3
    assert stored_ids(tmp_path) == {"CP-1", "CP-B"}
    store.close()

    restored, restored_changes = tracked({"CP-1": Placement("depot", "")}, max_stations=3)
    again = reopen(tmp_path, restored, restored_changes)
    assert set(restored.stations) == {"CP-1", "CP-B"}
    restored.connect("CP-C", 200.0)  # the forgotten station no longer takes a slot
    again.close()


async def test_every_mutator_marks_its_station_and_reaches_the_store(tmp_path):
    fleet, fleet_changes = tracked({"CP-1": Placement("depot", "")})
    store = reopen(tmp_path, fleet, fleet_changes)
    error = ActiveError("GroundFailure", 5.0, "Faulted")
    token = 0

    def connect():
        nonlocal token
        token = fleet.connect("CP-1", 1.0)

    steps = {
        "connect": connect,
        "boot": lambda: fleet.boot("CP-1", StationInfo(vendor="ACME"), 2.0),
        "registration": lambda: fleet.registration("CP-1", "Accepted", 3.0),
        "firmware_status": lambda: fleet.firmware_status("CP-1", "Installing", 4.0),
        "report_status": lambda: fleet.report_status("CP-1", "1", "Faulted", error, 5.0),
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
        "disconnect": lambda: fleet.disconnect("CP-1", token, 10.0),
    }
    # Every mutator of one station. The other public methods: the reads (pinned in
    # tests/unit/test_fleet_changes.py) and `forget` (test_forgotten_stations_are_deleted...).
    public = {name for name in dir(Fleet) if not name.startswith("_")}
    assert set(steps) == public - {"get", "get_or_create", "forget"}
    for name, step in steps.items():
        await store.flush()
        assert not fleet_changes.dirty
        step()
        assert fleet_changes.dirty == {"CP-1"}, name
        # last_seen alone waits for the next periodic flush; everything else is written soon
        assert fleet_changes.urgent.is_set() == (name != "seen"), name
        assert await store.flush() == 1, name
        db = sqlite3.connect(tmp_path / FILENAME)
        stored = db.execute("SELECT state FROM stations WHERE id = 'CP-1'").fetchone()[0]
        db.close()
        assert stored == encode(fleet.stations["CP-1"]), name
    store.close()


async def test_unreadable_store_moves_aside_with_its_wal_and_shm(tmp_path):
    path = tmp_path / FILENAME
    path.write_bytes(b"this is not a database" * 100)
    Path(f"{path}-wal").write_bytes(b"stale wal" * 100)
    Path(f"{path}-shm").write_bytes(b"stale shm" * 100)
    fleet, fleet_changes = tracked({})
    store = reopen(tmp_path, fleet, fleet_changes)
    [aside] = tmp_path.glob(f"{FILENAME}.unreadable-*[0-9]")
    assert Path(f"{aside}-wal").read_bytes() == b"stale wal" * 100
    assert Path(f"{aside}-shm").exists()  # an index SQLite rebuilds: moved, content irrelevant
    assert not Path(f"{tmp_path / FILENAME}-wal").read_bytes().startswith(b"stale")
    fleet.connect("CP-X", 1.0)
    assert await store.flush() == 1
    store.close()
    assert stored_ids(tmp_path) == {"CP-X"}


async def test_flush_loop_survives_unexpected_errors(tmp_path, monkeypatch):
    fleet, fleet_changes = tracked({})
    stats = Stats()
    store = StateStore(tmp_path, fleet, fleet_changes, stats, min_interval=0.01, max_interval=0.05)
    store.open()
    real_write = store._write
    failures = iter([RuntimeError("disk said no"), MemoryError("sort of")])

    def flaky_write(*args):
        failure = next(failures, None)
        if failure is not None:
            raise failure
        return real_write(*args)

    monkeypatch.setattr(store, "_write", flaky_write)
    real_flush = store.flush
    broken_once = [False]

    async def flush_raising_once():
        if not broken_once[0]:
            broken_once[0] = True
            raise KeyError("a bug outside the write")
        return await real_flush()

    monkeypatch.setattr(store, "flush", flush_raising_once)
    task = asyncio.create_task(store._flush_forever())
    try:
        fleet.connect("CP-1", 1.0)

        async def written():
            assert stored_ids(tmp_path) == {"CP-1"}

        await eventually(written, timeout=20)
        # the station stayed dirty through the failed writes and was written once they stopped
        assert stats.store_flushes["error"] == 3 and stats.store_flushes["ok"] >= 1
        fleet.connect("CP-2", 2.0)

        async def written_again():
            assert stored_ids(tmp_path) == {"CP-1", "CP-2"}

        await eventually(written_again, timeout=20)
        assert not task.done()
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        store.close()


async def test_recognised_scheme_codes_survive_a_restart(tmp_path):
    fleet, fleet_changes = tracked({"CP-1": Placement("depot", "")})
    store = reopen(tmp_path, fleet, fleet_changes)
    compound = ActiveError(
        "OtherError",
        5.0,
        "Finishing",
        vendor_id="com.evgo.mrec",
        vendor_error_code="F000,F002",
        info="1.95,6.90",
        scheme="evgo",
        codes=("F000", "F002"),
        readings=("1.95", "6.90"),
    )
    fleet.report_status("CP-1", "1", "Finishing", compound, 5.0)
    await store.flush()
    store.close()
    restored, restored_changes = tracked({"CP-1": Placement("depot", "")})
    reopen(tmp_path, restored, restored_changes).close()
    error = restored.stations["CP-1"].connectors["1"].errors["OtherError"]
    assert (error.scheme, error.codes, error.readings) == (
        "evgo",
        ("F000", "F002"),
        ("1.95", "6.90"),
    )
    # The restored code still clears by itself.
    restored.resolve_codes("CP-1", "1", "Finishing", "evgo", ("F000",), True, 6.0)
    assert restored.stations["CP-1"].connectors["1"].errors["OtherError"].codes == ("F002",)
