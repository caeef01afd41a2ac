"""Fleet state that survives a restart: SQLite in the state directory, one row per station.

- Writes are SQLite transactions in WAL mode: a `kill -9` in the middle of one leaves the last
  committed state readable (the half-written transaction is rolled back on the next open).
- What changed is known exactly: the fleet's mutators tell a `ChangeLog` (the fleet's change
  hook) which station they change and which stations `forget` drops, and the flush loop writes
  (deletes) only those, soon after a change (errors, statuses, connects) and at least every few
  seconds for `last_seen`. Reads never mark a station changed.
- 2.0.1 connectors are stored with their `sources`; `errors` is derived from them on restore.
- Restored stations are offline until they reconnect; their errors keep their `since`. The
  normal re-sync after the reconnect (or a BootNotification) clears what no longer holds.
- Counters such as connects and boots are "since the exporter started" and are not restored.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import sqlite3
import time
from collections.abc import Sequence
from dataclasses import asdict, fields
from pathlib import Path
from typing import Any

from exporter.config.model import Config
from exporter.state.counters import Stats
from exporter.state.fleet import (
    ActiveError,
    Connector,
    Fleet,
    FleetFull,
    Station,
    StationInfo,
    rebuild_errors,
)

log = logging.getLogger("exporter.store")

FILENAME = "fleet-state.sqlite3"
SCHEMA_VERSION = 1


class ChangeLog:
    """The fleet's change hook when a state store persists it: which stations changed since the
    last flush and which were forgotten, and an event that wakes the flush loop."""

    def __init__(self) -> None:
        self.dirty: set[str] = set()
        self.deleted: set[str] = set()
        self.urgent = asyncio.Event()

    def station_changed(self, station_id: str, urgent: bool) -> None:
        self.dirty.add(station_id)
        self.deleted.discard(station_id)
        if urgent:
            self.urgent.set()

    def stations_forgotten(self, station_ids: Sequence[str]) -> None:
        self.dirty.difference_update(station_ids)
        self.deleted.update(station_ids)
        self.urgent.set()


def _pick(cls: type, data: dict[str, Any]) -> dict[str, Any]:
    names = {f.name for f in fields(cls)}
    return {k: v for k, v in data.items() if k in names}


def encode(station: Station) -> str:
    return json.dumps(
        {
            "id": station.id,
            "configured": station.configured,
            "connected": station.connected,
            "connected_since": station.connected_since,
            "offline_since": station.offline_since,
            "last_seen": station.last_seen,
            "synced_at": station.synced_at,
            "info": asdict(station.info),
            "firmware_status": station.firmware_status,
            "firmware_status_at": station.firmware_status_at,
            "status_via": station.status_via,
            "connectors": {
                cid: {
                    "status": c.status,
                    "status_since": c.status_since,
                    "reported_at": c.reported_at,
                    "updated_at": c.updated_at,
                    "errors": [asdict(e) for e in c.errors.values()],
                    # 2.0.1: `errors` is derived from these; without them a clear after the
                    # restart would find nothing to clear.
                    "sources": {key: asdict(e) for key, e in c.sources.items()},
                }
                for cid, c in station.connectors.items()
            },
        },
        separators=(",", ":"),
    )


def restore_station(fleet: Fleet, data: dict[str, Any]) -> bool:
    """Put one stored station back into `fleet`; False when it no longer belongs there."""
    station_id = data["id"]
    current = fleet.stations.get(station_id)
    if data.get("configured") and (current is None or not current.configured):
        return False  # removed from the inventory since: forget it
    station = fleet.get_or_create(station_id)
    station.last_seen = float(data.get("last_seen", 0.0))
    station.synced_at = float(data.get("synced_at", 0.0))
    # A station that was connected when the exporter stopped went offline no later than that.
    station.offline_since = (
        station.last_seen if data.get("connected") else float(data.get("offline_since", 0.0))
    ) or station.offline_since
    station.info = StationInfo(**_pick(StationInfo, data.get("info", {})))
    station.firmware_status = data.get("firmware_status", "")
    station.firmware_status_at = float(data.get("firmware_status_at", 0.0))
    station.status_via = str(data.get("status_via", ""))
    station.connectors = {}
    for cid, c in data.get("connectors", {}).items():
        connector = Connector(
            cid,
            status=c.get("status", ""),
            status_since=float(c.get("status_since", 0.0)),
            reported_at=float(c.get("reported_at", 0.0)),
            updated_at=float(c.get("updated_at", c.get("reported_at", 0.0))),
        )
        for e in c.get("errors", []):
            error = ActiveError(**_pick(ActiveError, e))
            connector.errors[error.code] = error
        for key, e in c.get("sources", {}).items():
            connector.sources[key] = ActiveError(**_pick(ActiveError, e))
        if connector.sources:
            # 2.x: derived from the sources; a code keeps the `since` stored with it.
            rebuild_errors(connector)
        station.connectors[cid] = connector
    return True


class StateDirError(Exception):
    """The state directory cannot hold the store: it is a file, or cannot be created or
    written. `serve` ends with this one line instead of a traceback."""

    def __init__(self, directory: Path, problem: str) -> None:
        super().__init__(f"state directory {directory}: {problem}")


def _reason(exc: OSError) -> str:
    reason = os.strerror(exc.errno) if exc.errno else str(exc)
    return reason[:1].lower() + reason[1:]


class StateStore:
    def __init__(
        self,
        state_dir: str | Path,
        fleet: Fleet,
        changes: ChangeLog,
        stats: Stats,
        min_interval: float = 0.2,
        max_interval: float = 5.0,
    ) -> None:
        self.path = Path(state_dir) / FILENAME
        self.fleet = fleet
        # Must be the fleet's change hook.
        self.changes = changes
        self.stats = stats
        self.min_interval = min_interval
        self.max_interval = max_interval
        self._db: sqlite3.Connection | None = None
        self._task: asyncio.Task[None] | None = None
        self._lock = asyncio.Lock()

    # -- open and restore -----------------------------------------------------------

    def open(self) -> None:
        self._check_directory()
        db = self._connect()
        try:
            self._prepare(db)
            db.execute("SELECT count(*) FROM stations").fetchone()
        except sqlite3.DatabaseError as exc:
            # Not a database we can read (never from a kill -9: SQLite recovers those). Keep
            # it for inspection and start empty rather than refusing to serve.
            aside = self.path.with_name(f"{self.path.name}.unreadable-{int(time.time())}")
            log.error("state store %s is unreadable (%s); moved to %s", self.path, exc, aside)
            # Its WAL and shared-memory index go along: a stale -wal next to the new file would
            # be read as part of it. Renamed while still open, as SQLite deletes a -wal it
            # cannot use when the connection closes.
            for suffix in ("", "-wal", "-shm"):
                companion = self.path.with_name(self.path.name + suffix)
                if companion.exists():
                    companion.rename(aside.with_name(aside.name + suffix))
            db.close()
            db = self._connect()
            self._prepare(db)
        self._db = db

    def _check_directory(self) -> None:
        """The state directory exists (created if need be) and a file can be made in it; else
        one StateDirError that names it, before SQLite fails in less helpful words."""
        directory = self.path.parent
        try:
            directory.mkdir(parents=True, exist_ok=True)
        except FileExistsError:
            raise StateDirError(directory, "exists and is not a directory") from None
        except OSError as exc:
            raise StateDirError(directory, f"cannot create it ({_reason(exc)})") from None
        if self.path.exists() and not self.path.is_file():
            raise StateDirError(directory, f"{self.path.name} in it is not a file")
        # Trying is the only sure test: os.access says yes to root on a read-only mount.
        probe = directory / f".{self.path.name}.{os.getpid()}.probe"
        try:
            probe.touch()
            probe.unlink()
        except OSError as exc:
            raise StateDirError(directory, f"cannot be written ({_reason(exc)})") from None

    def _connect(self) -> sqlite3.Connection:
        return sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)

    @staticmethod
    def _prepare(db: sqlite3.Connection) -> None:
        db.execute("PRAGMA journal_mode=WAL")
        # WAL + NORMAL: a process crash loses nothing committed; only power loss may lose the
        # last transactions, never consistency.
        db.execute("PRAGMA synchronous=NORMAL")
        db.execute(
            "CREATE TABLE IF NOT EXISTS stations "
            "(id TEXT PRIMARY KEY, state TEXT NOT NULL, updated REAL NOT NULL)"
        )
        db.execute("CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
        db.execute(
            "INSERT OR IGNORE INTO meta VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),)
        )

    def restore(self) -> int:
        """Load every stored station into the fleet; returns how many were restored."""
        assert self._db is not None
        restored = 0
        for station_id, state in self._db.execute("SELECT id, state FROM stations ORDER BY id"):
            try:
                if restore_station(self.fleet, json.loads(state)):
                    restored += 1
            except FleetFull:
                log.warning("state store: limits.max_stations reached, not restoring the rest")
                break
            except (ValueError, TypeError, KeyError) as exc:
                log.warning("state store: skipping unreadable row for %r: %s", station_id, exc)
        # What was just loaded is what the store holds.
        self.changes.dirty.clear()
        self.changes.urgent.clear()
        log.info("restored %d stations from %s", restored, self.path)
        return restored

    # -- writing --------------------------------------------------------------------

    async def flush(self) -> int:
        """Write the stations changed since the last flush, and delete the forgotten ones, in
        one transaction; returns how many rows were written or deleted."""
        async with self._lock:
            changes = self.changes
            ids, changes.dirty = changes.dirty, set()
            # A forgotten station that came back since is dirty again and simply rewritten.
            gone = {sid for sid in changes.deleted if sid not in self.fleet.stations}
            changes.deleted = set()
            changes.urgent.clear()
            if (not ids and not gone) or self._db is None:
                return 0
            now = time.time()
            # Encoded on the loop thread: the fleet is only ever touched from there.
            rows = []
            for sid in ids:
                station = self.fleet.stations.get(sid)
                if station is None:
                    continue
                try:
                    rows.append((sid, encode(station), now))
                except (TypeError, ValueError) as exc:
                    # One station that cannot be encoded must not keep the others unwritten;
                    # it is retried on its next change.
                    self.stats.store_flushes["error"] += 1
                    log.error("state store: cannot encode station %r: %s", sid, exc)
            try:
                await asyncio.to_thread(self._write, rows, sorted(gone))
            except Exception as exc:
                self.stats.store_flushes["error"] += 1
                self.changes.dirty |= ids
                self.changes.deleted |= gone
                log.error("state store: write failed: %s", exc)
                return 0
            self.stats.store_flushes["ok"] += 1
            return len(rows) + len(gone)

    def _write(self, rows: list[tuple[str, str, float]], gone: list[str]) -> None:
        assert self._db is not None
        self._db.execute("BEGIN IMMEDIATE")
        try:
            self._db.executemany("DELETE FROM stations WHERE id = ?", [(sid,) for sid in gone])
            self._db.executemany("INSERT OR REPLACE INTO stations VALUES (?, ?, ?)", rows)
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")

    async def _flush_forever(self) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self.max_interval):
                    await self.changes.urgent.wait()
            try:
                await self.flush()
            except Exception:
                # Whatever went wrong, stopping here would silently end persistence for good.
                self.stats.store_flushes["error"] += 1
                log.exception("state store: flush failed")
            await asyncio.sleep(self.min_interval)

    # -- lifecycle (hooks of the OCPP app: sessions close on shutdown, then we flush) ----

    def attach(self, app: Any) -> None:
        app.on_startup.append(self._start)
        app.on_cleanup.append(self._stop)

    async def _start(self, app: Any) -> None:
        self._task = asyncio.create_task(self._flush_forever())

    async def _stop(self, app: Any) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self.flush()
        self.close()

    def close(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None


# -- wiring (called by service.build) -------------------------------------------------------


def open_store(
    config: Config, fleet: Fleet, changes: ChangeLog | None, stats: Stats, app: Any
) -> StateStore | None:
    """With a state directory: open the store, restore the fleet from it (before the listeners
    open) and flush it from `app`'s lifecycle (after its sessions closed on shutdown). `changes`
    must be the fleet's change hook."""
    if not config.state_dir or changes is None:
        return None
    store = StateStore(config.state_dir, fleet, changes, stats)
    store.open()
    store.restore()
    store.attach(app)
    return store
