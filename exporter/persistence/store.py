"""Fleet state that survives a restart: SQLite in the state directory, one row per station.

- Writes are SQLite transactions in WAL mode: a `kill -9` in the middle of one leaves the last
  committed state readable (the half-written transaction is rolled back on the next open).
- What changed is known exactly: `TrackedFleet` notes the station id on every mutation (and the
  stations `forget` drops), and the flush loop writes (deletes) only those, soon after a change
  (errors, statuses, connects) and at least every few seconds for `last_seen`.
- 2.0.1 connectors are stored with their `sources`; `errors` is derived from them on restore.
- Restored stations are offline until they reconnect; their errors keep their `since`. The
  normal re-sync after the reconnect (or a BootNotification) clears what no longer holds.
- Counters such as connects and boots are "since the exporter started" and are not restored.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import inspect
import json
import logging
import sqlite3
import time
from collections.abc import Callable
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


# Public Fleet methods that change no persisted state. A public method that is neither here, nor
# takes `station_id` first (wrapped generically below), nor is overridden in TrackedFleet makes
# this module fail at import: a new mutator cannot silently go unpersisted.
READ_ONLY: frozenset[str] = frozenset()
# last_seen alone is not worth an immediate write: it rides along with the next flush.
QUIET = frozenset({"seen"})


def _takes_station_id(method: Callable[..., Any]) -> bool:
    params = list(inspect.signature(method).parameters)
    return len(params) > 1 and params[1] == "station_id"


def _public_methods(cls: type) -> dict[str, Callable[..., Any]]:
    return {
        name: value
        for klass in reversed(cls.__mro__)
        if klass is not object
        for name, value in vars(klass).items()
        if not name.startswith("_") and inspect.isfunction(value)
    }


def station_mutators() -> list[str]:
    """The Fleet methods TrackedFleet wraps to mark the station they touch."""
    return [
        name
        for name, method in _public_methods(Fleet).items()
        if name not in READ_ONLY and _takes_station_id(method)
    ]


def _tracking(name: str, method: Callable[..., Any]) -> Callable[..., Any]:
    quiet = name in QUIET

    @functools.wraps(method)
    def tracked(self: TrackedFleet, *args: Any, **kwargs: Any) -> Any:
        station_id = args[0] if args else kwargs["station_id"]
        try:
            return method(self, *args, **kwargs)
        finally:
            # Also after an exception: whatever changed before it must reach the store.
            if station_id in self.stations:
                self._mark(station_id, quiet)

    return tracked


class TrackedFleet(Fleet):
    """A Fleet that remembers which stations changed since the last flush, and which were
    forgotten. Every public `Fleet` method taking a `station_id` is wrapped (see the loop after
    the class); the others are overridden here or listed in READ_ONLY."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.dirty: set[str] = set()
        self.deleted: set[str] = set()
        self.changed = asyncio.Event()
        super().__init__(*args, **kwargs)

    def _mark(self, station_id: str, quiet: bool = False) -> None:
        self.dirty.add(station_id)
        self.deleted.discard(station_id)
        if not quiet:
            self.changed.set()

    def forget(self, now: float, after: float) -> list[str]:
        gone = super().forget(now, after)
        if gone:
            self.dirty.difference_update(gone)
            self.deleted.update(gone)
            self.changed.set()
        return gone


for _name in station_mutators():
    setattr(TrackedFleet, _name, _tracking(_name, getattr(Fleet, _name)))

_untracked = sorted(
    name
    for name in _public_methods(Fleet)
    if name not in READ_ONLY
    and name not in vars(TrackedFleet)
    and not _takes_station_id(getattr(Fleet, name))
)
if _untracked:
    raise TypeError(f"TrackedFleet does not track Fleet.{', Fleet.'.join(_untracked)}")


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
            "info": asdict(station.info),
            "firmware_status": station.firmware_status,
            "firmware_status_at": station.firmware_status_at,
            "connectors": {
                cid: {
                    "status": c.status,
                    "status_since": c.status_since,
                    "reported_at": c.reported_at,
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
    station = Fleet.station(fleet, station_id)  # no dirty mark: it is what the store holds
    station.last_seen = float(data.get("last_seen", 0.0))
    # A station that was connected when the exporter stopped went offline no later than that.
    station.offline_since = (
        station.last_seen if data.get("connected") else float(data.get("offline_since", 0.0))
    ) or station.offline_since
    station.info = StationInfo(**_pick(StationInfo, data.get("info", {})))
    station.firmware_status = data.get("firmware_status", "")
    station.firmware_status_at = float(data.get("firmware_status_at", 0.0))
    station.connectors = {}
    for cid, c in data.get("connectors", {}).items():
        connector = Connector(
            cid,
            status=c.get("status", ""),
            status_since=float(c.get("status_since", 0.0)),
            reported_at=float(c.get("reported_at", 0.0)),
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


class StateStore:
    def __init__(
        self,
        state_dir: str | Path,
        fleet: TrackedFleet,
        stats: Stats,
        min_interval: float = 0.2,
        max_interval: float = 5.0,
    ) -> None:
        self.path = Path(state_dir) / FILENAME
        self.fleet = fleet
        self.stats = stats
        self.min_interval = min_interval
        self.max_interval = max_interval
        self._db: sqlite3.Connection | None = None
        self._task: asyncio.Task[None] | None = None
        self._lock = asyncio.Lock()

    # -- open and restore -----------------------------------------------------------

    def open(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
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
        self.fleet.dirty.clear()
        log.info("restored %d stations from %s", restored, self.path)
        return restored

    # -- writing --------------------------------------------------------------------

    async def flush(self) -> int:
        """Write the stations changed since the last flush, and delete the forgotten ones, in
        one transaction; returns how many rows were written or deleted."""
        async with self._lock:
            ids, self.fleet.dirty = self.fleet.dirty, set()
            # A forgotten station that came back since is dirty again and simply rewritten.
            gone = {sid for sid in self.fleet.deleted if sid not in self.fleet.stations}
            self.fleet.deleted = set()
            self.fleet.changed.clear()
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
                self.fleet.dirty |= ids
                self.fleet.deleted |= gone
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
                    await self.fleet.changed.wait()
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


def fleet_class(config: Config) -> type[Fleet]:
    """With a state directory the fleet records what changed, for the store to write."""
    return TrackedFleet if config.state_dir else Fleet


def open_store(config: Config, fleet: Fleet, stats: Stats, app: Any) -> StateStore | None:
    """With a state directory: open the store, restore the fleet from it (before the listeners
    open) and flush it from `app`'s lifecycle (after its sessions closed on shutdown)."""
    if not config.state_dir:
        return None
    assert isinstance(fleet, TrackedFleet)
    store = StateStore(config.state_dir, fleet, stats)
    store.open()
    store.restore()
    store.attach(app)
    return store
