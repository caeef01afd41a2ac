"""Fleet state that survives a restart: SQLite in the state directory, one row per station.

- Writes are SQLite transactions in WAL mode: a `kill -9` in the middle of one leaves the last
  committed state readable (the half-written transaction is rolled back on the next open).
- What changed is known exactly: `TrackedFleet` notes the station id on every mutation, and the
  flush loop writes only those stations, soon after a change (errors, statuses, connects) and at
  least every few seconds for `last_seen`.
- Restored stations are offline until they reconnect; their errors keep their `since`. The
  normal re-sync after the reconnect (or a BootNotification) clears what no longer holds.
- Counters such as connects and boots are "since the exporter started" and are not restored.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import sqlite3
import time
from dataclasses import asdict, fields
from pathlib import Path
from typing import Any

from .fleet import ActiveError, Connector, Fleet, FleetFull, Station, StationInfo
from .stats import Stats

log = logging.getLogger("exporter.store")

FILENAME = "fleet-state.sqlite3"
SCHEMA_VERSION = 1


class TrackedFleet(Fleet):
    """A Fleet that remembers which stations changed since the last flush. Every mutator reaches
    a station through `station()` or one of the overridden methods below."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.dirty: set[str] = set()
        self.changed = asyncio.Event()
        super().__init__(*args, **kwargs)

    def _mark(self, station_id: str) -> None:
        self.dirty.add(station_id)
        self.changed.set()

    def station(self, station_id: str) -> Station:
        station = super().station(station_id)
        self._mark(station_id)
        return station

    def disconnect(self, station_id: str, session: int, now: float) -> bool:
        self._mark(station_id)
        return super().disconnect(station_id, session, now)

    def seen(self, station_id: str, now: float) -> None:
        # last_seen alone is not worth an immediate write: it rides along with the next flush.
        super().seen(station_id, now)
        if station_id in self.stations:
            self.dirty.add(station_id)

    def finish_resync(self, station_id: str) -> int:
        self._mark(station_id)
        return super().finish_resync(station_id)


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
        try:
            self._db = self._connect()
            self._db.execute("SELECT count(*) FROM stations").fetchone()
        except sqlite3.DatabaseError as exc:
            # Not a database we can read (never from a kill -9: SQLite recovers those). Keep
            # it for inspection and start empty rather than refusing to serve.
            aside = self.path.with_name(f"{self.path.name}.unreadable-{int(time.time())}")
            log.error("state store %s is unreadable (%s); moved to %s", self.path, exc, aside)
            if self._db is not None:
                self._db.close()
            self.path.rename(aside)
            self._db = self._connect()

    def _connect(self) -> sqlite3.Connection:
        db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
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
        return db

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
        """Write the stations changed since the last flush in one transaction."""
        async with self._lock:
            ids, self.fleet.dirty = self.fleet.dirty, set()
            self.fleet.changed.clear()
            if not ids or self._db is None:
                return 0
            now = time.time()
            # Encoded on the loop thread: the fleet is only ever touched from there.
            rows = [
                (sid, encode(self.fleet.stations[sid]), now)
                for sid in ids
                if sid in self.fleet.stations
            ]
            try:
                await asyncio.to_thread(self._write, rows)
            except sqlite3.Error as exc:
                self.stats.store_flushes["error"] += 1
                self.fleet.dirty |= ids
                log.error("state store: write failed: %s", exc)
                return 0
            self.stats.store_flushes["ok"] += 1
            return len(rows)

    def _write(self, rows: list[tuple[str, str, float]]) -> None:
        assert self._db is not None
        self._db.execute("BEGIN IMMEDIATE")
        try:
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
            await self.flush()
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
