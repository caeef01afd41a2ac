"""Fleet state: stations, connectors and their active errors. Pure: no I/O, no clock of its own.

This is the one place that decides what an error *is*; metrics, the JSON API, alerts and
dashboards only render it. The rules (pinned by tests/unit/test_fleet.py):

- an error code is active whatever the connector status (GroundFailure while Available counts);
- a 1.6 StatusNotification reports the connector's *current* error: NoError clears it, another
  code replaces it, the same code again keeps its first `since`;
- a recognised scheme code (ChargeX, EVgo, UEC, an operator catalog) rides on its error:
  EVerest's "<code> resolved" clears that code only (`resolve_codes`), and a code raised while
  the connector was Faulted goes when the connector leaves Faulted;
- a BootNotification means the station restarted: statuses and errors are forgotten, the
  station re-reports them;
- after a (re)connect the exporter asks for a re-sync; connectors that do not re-report within
  the window lose their errors (`finish_resync`);
- a disconnect keeps last-known errors (the offline notification is the more important one).

Callers pass `now` (Unix seconds) so that tests and replays are deterministic.

Every mutator tells the fleet's change hook which station it changes (the state store writes
those); reads (`get`, iteration) never do.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Protocol

UNASSIGNED_SITE = "unassigned"
FAULTED = "Faulted"


class FleetFull(Exception):
    """Tracking one more station would exceed the configured bound on stations."""


@dataclass(slots=True)
class ActiveError:
    code: str
    since: float
    status: str
    vendor_id: str = ""
    vendor_error_code: str = ""
    info: str = ""
    #: The recognised scheme (`chargex`, `evgo`, `charin-uec` or an operator catalog's name), and
    #: its codes with the reading paired with each; empty when no code was recognised.
    scheme: str = ""
    codes: tuple[str, ...] = ()
    readings: tuple[str, ...] = ()
    # The notification severity the station gave (2.1 event severity) where the code leaves it
    # open; "" means the catalog's severity for the code.
    severity: str = ""

    def __post_init__(self) -> None:
        # The state store hands lists back from JSON.
        self.codes = tuple(self.codes)
        self.readings = tuple(self.readings) + ("",) * (len(self.codes) - len(self.readings))


@dataclass(slots=True)
class Connector:
    id: str
    status: str = ""
    status_since: float = 0.0
    reported_at: float = 0.0
    # When this exporter last learned the connector's state from the station (a status report, a
    # problem raised or cleared). Behind a load balancer the replica with the newest such view
    # is the one whose errors count (docs/scaling.md).
    updated_at: float = 0.0
    # 1.6 carries one current error per connector; 2.0.1 may raise several at once.
    errors: dict[str, ActiveError] = field(default_factory=dict)
    # 2.0.1: the problem each monitored source (component.variable) raised; `errors` is derived
    # from it, so two sources behind one code clear independently.
    sources: dict[str, ActiveError] = field(default_factory=dict)


@dataclass(slots=True)
class StationInfo:
    vendor: str = ""
    model: str = ""
    firmware_version: str = ""
    serial_number: str = ""
    ocpp_version: str = ""


@dataclass(slots=True)
class Station:
    id: str
    site: str
    controller: str
    configured: bool
    connected: bool = False
    session: int = 0
    connected_since: float = 0.0
    offline_since: float = 0.0
    last_seen: float = 0.0
    info: StationInfo = field(default_factory=StationInfo)
    connectors: dict[str, Connector] = field(default_factory=dict)
    firmware_status: str = ""
    firmware_status_at: float = 0.0
    connects: int = 0
    boots: int = 0
    resync_started: float | None = None
    # When this exporter last took the station's whole state afresh: its BootNotification, or
    # the end of the re-sync after a connect. A connector not re-reported by then has no error
    # here, whatever another replica remembers from before.
    synced_at: float = 0.0
    # 2.x: how the station reports connector statuses (StatusNotification, or AvailabilityState
    # device-model events), so that the re-sync after a reconnect asks for what it uses.
    status_via: str = ""
    # Relay mode: the CSMS's answer to the last BootNotification (Accepted, Pending, Rejected).
    registration_status: str = ""

    def connector(self, connector_id: str, now: float) -> Connector:
        connector = self.connectors.get(connector_id)
        if connector is None:
            connector = self.connectors[connector_id] = Connector(connector_id, status_since=now)
        return connector

    def active_errors(self) -> Iterator[tuple[Connector, ActiveError]]:
        for connector in self.connectors.values():
            for error in connector.errors.values():
                yield connector, error


@dataclass(frozen=True)
class Placement:
    site: str
    controller: str


class ChangeHook(Protocol):
    """Told by the fleet's mutators what they change (persistence/store.py keeps a log)."""

    def station_changed(self, station_id: str, urgent: bool) -> None:
        """`station_id` changes now; not `urgent` when only `last_seen` moves."""

    def stations_forgotten(self, station_ids: Sequence[str]) -> None:
        """These stations were dropped from the fleet."""


class NoChangeHook:
    """For a fleet that nothing persists."""

    def station_changed(self, station_id: str, urgent: bool) -> None:
        pass

    def stations_forgotten(self, station_ids: Sequence[str]) -> None:
        pass


class ChangeHooks:
    """Several hooks told the same changes (the cached exposition, the live page's stream, the
    state store)."""

    def __init__(self, *hooks: ChangeHook) -> None:
        self.hooks = hooks

    def station_changed(self, station_id: str, urgent: bool) -> None:
        for hook in self.hooks:
            hook.station_changed(station_id, urgent)

    def stations_forgotten(self, station_ids: Sequence[str]) -> None:
        for hook in self.hooks:
            hook.stations_forgotten(station_ids)


class Fleet:
    """All stations the exporter knows: configured in the inventory or seen on the wire."""

    def __init__(
        self,
        inventory: Mapping[str, Placement] | None = None,
        *,
        max_stations: int = 100_000,
        now: float = 0.0,
        changes: ChangeHook | None = None,
    ) -> None:
        self._changes = changes if changes is not None else NoChangeHook()
        self._inventory = dict(inventory or {})
        self._max_stations = max(max_stations, len(self._inventory))
        self.stations: dict[str, Station] = {}
        for station_id, placement in self._inventory.items():
            self.stations[station_id] = Station(
                station_id,
                placement.site,
                placement.controller,
                configured=True,
                offline_since=now,
            )
        self._sessions = 0

    # -- connectivity -------------------------------------------------------------------

    def get(self, station_id: str) -> Station | None:
        """The station, if the fleet knows it. A read: changes nothing."""
        return self.stations.get(station_id)

    def get_or_create(self, station_id: str) -> Station:
        """The station, tracked from now on (outside any site) if it is new. Raises FleetFull
        when a new station would exceed limits.max_stations."""
        station = self.stations.get(station_id)
        if station is None:
            if len(self.stations) >= self._max_stations:
                raise FleetFull(f"already tracking {len(self.stations)} stations")
            station = self.stations[station_id] = Station(
                station_id, UNASSIGNED_SITE, "", configured=False
            )
            self._changes.station_changed(station_id, True)
        return station

    def _change(self, station_id: str) -> Station:
        """The station a mutator is about to change (created if new), told to the change hook.
        Told before the change is made: nothing reads the hook's log until the mutator is done,
        and a mutator that stops half-way (an exception) still gets what it changed written."""
        station = self.get_or_create(station_id)
        self._changes.station_changed(station_id, True)
        return station

    def _change_known(self, station_id: str) -> Station | None:
        """Like `_change` for mutators that ignore stations the fleet does not know."""
        station = self.stations.get(station_id)
        if station is not None:
            self._changes.station_changed(station_id, True)
        return station

    def connect(self, station_id: str, now: float, ocpp_version: str = "") -> int:
        """A session opened; returns its token. A newer session replaces an older one in place,
        so the station never shows disconnected in between. The negotiated version is known
        before any BootNotification (a station that reconnects need not send one)."""
        station = self._change(station_id)
        if ocpp_version:
            station.info.ocpp_version = ocpp_version
        self._sessions += 1
        station.session = self._sessions
        station.connected = True
        station.connected_since = now
        station.last_seen = now
        station.connects += 1
        return station.session

    def disconnect(self, station_id: str, session: int, now: float) -> bool:
        """A session closed. Ignored (False) when a newer session already replaced it."""
        station = self._change_known(station_id)
        if station is None or station.session != session or not station.connected:
            return False
        station.connected = False
        station.offline_since = now
        station.resync_started = None
        return True

    def seen(self, station_id: str, now: float) -> None:
        station = self.stations.get(station_id)
        if station is not None:
            # Written along with the next change or flush, not on its own.
            self._changes.station_changed(station_id, False)
            station.last_seen = now

    # -- what stations report -----------------------------------------------------------

    def boot(self, station_id: str, info: StationInfo, now: float) -> None:
        """The station (re)started: what it reported before no longer holds."""
        station = self._change(station_id)
        station.info = info
        station.boots += 1
        station.connectors.clear()
        station.firmware_status = ""
        station.last_seen = now
        station.synced_at = now

    def registration(self, station_id: str, status: str, now: float) -> None:
        """The station's central system answered its BootNotification (relay mode)."""
        station = self._change(station_id)
        station.registration_status = status

    def report_status(
        self,
        station_id: str,
        connector_id: str,
        status: str,
        error: ActiveError | None,
        now: float,
    ) -> None:
        """A 1.6 StatusNotification: `error` is the connector's one current error, or None for
        NoError."""
        station = self._change(station_id)
        connector = station.connector(connector_id, now)
        _set_status(connector, status, now)
        if error is None:
            connector.errors.clear()
            return
        previous = connector.errors.get(error.code)
        if previous is not None:
            error.since = previous.since
        connector.errors = {error.code: error}

    def resolve_codes(
        self,
        station_id: str,
        connector_id: str,
        status: str,
        scheme: str,
        codes: tuple[str, ...],
        still_active: bool,
        now: float,
    ) -> None:
        """EVerest's "<code> resolved" (1.6): those codes of `scheme` clear, other errors stay;
        `still_active` False (the message's errorCode is NoError) clears everything."""
        connector = self._change(station_id).connector(connector_id, now)
        _set_status(connector, status, now)
        if not still_active:
            connector.errors.clear()
            return
        gone = {code.casefold() for code in codes}
        for key, error in list(connector.errors.items()):
            if error.scheme != scheme or not error.codes:
                continue
            pairs = zip(error.codes, error.readings, strict=False)
            kept = [(c, r) for c, r in pairs if c.casefold() not in gone]
            if not kept:
                del connector.errors[key]
            elif len(kept) < len(error.codes):
                error.codes = tuple(c for c, _ in kept)
                error.readings = tuple(r for _, r in kept)
                error.vendor_error_code = ",".join(error.codes)
        if status != FAULTED:
            _drop_raised_while_faulted(connector)

    def report_connector_status(
        self, station_id: str, connector_id: str, status: str, now: float, via: str = ""
    ) -> None:
        """A status without error semantics (2.x): errors are managed by raise/clear, except
        that scheme codes raised while Faulted go when the connector leaves Faulted. `via` names
        the message that carried it (kept for the next re-sync)."""
        station = self._change(station_id)
        if via:
            station.status_via = via
        connector = station.connector(connector_id, now)
        _set_status(connector, status, now)
        if status != FAULTED:
            _drop_raised_while_faulted(connector)

    def raise_from(
        self, station_id: str, connector_id: str, source: str, error: ActiveError, now: float
    ) -> None:
        """A monitored source (2.0.1 component.variable) reports a problem. The same source
        again keeps its first `since`; a source whose problem changes code moves to the new one."""
        connector = self._change(station_id).connector(connector_id, now)
        previous = connector.sources.get(source)
        if previous is not None and previous.code == error.code:
            error.since = previous.since
        connector.sources[source] = error
        connector.updated_at = now
        _derive_errors(connector)

    def clear_from(self, station_id: str, connector_id: str, source: str) -> ActiveError | None:
        """The source returned to normal; returns what it had raised, if anything."""
        station = self._change_known(station_id)
        connector = station.connectors.get(connector_id) if station is not None else None
        if connector is None:
            return None
        cleared = connector.sources.pop(source, None)
        if cleared is not None:
            _derive_errors(connector)
        return cleared

    def finish_source_resync(self, station_id: str, transient_source: str, now: float) -> int:
        """2.0.1 end of re-sync: only `transient_source` (what a status report raised) goes on
        connectors that did not re-report; problems raised by events stay until cleared."""
        ended = self._end_resync(station_id, now)
        if ended is None:
            return 0
        station, started = ended
        cleared = 0
        for connector in station.connectors.values():
            if connector.reported_at < started and transient_source in connector.sources:
                del connector.sources[transient_source]
                _derive_errors(connector)
                cleared += 1
        return cleared

    def _end_resync(self, station_id: str, now: float) -> tuple[Station, float] | None:
        """What both ends of a re-sync share: the station and when its re-sync started, or None
        when none is under way. What the station did not re-report by now has no error here:
        from now on this view of every connector is current."""
        station = self._change_known(station_id)
        if station is None or station.resync_started is None:
            return None
        started, station.resync_started = station.resync_started, None
        station.synced_at = now
        for connector in station.connectors.values():
            connector.updated_at = now
        return station, started

    def firmware_status(self, station_id: str, status: str, now: float) -> None:
        station = self._change(station_id)
        station.firmware_status = status
        station.firmware_status_at = now

    def start_resync(self, station_id: str, now: float) -> None:
        self._change(station_id).resync_started = now

    def finish_resync(self, station_id: str, now: float) -> int:
        """Clears errors on connectors that did not re-report since the re-sync started; returns
        how many errors were cleared."""
        ended = self._end_resync(station_id, now)
        if ended is None:
            return 0
        station, started = ended
        cleared = 0
        for connector in station.connectors.values():
            if connector.reported_at < started and connector.errors:
                cleared += len(connector.errors)
                connector.errors.clear()
        return cleared

    def abandon_resync(self, station_id: str) -> None:
        """The station refused the re-sync: keep its last-known state."""
        station = self._change_known(station_id)
        if station is not None:
            station.resync_started = None

    # -- forgetting ----------------------------------------------------------------------

    def forget(self, now: float, after: float) -> list[str]:
        """Drops stations that are not in the inventory and have been disconnected for at
        least `after` seconds; returns their ids. Behind a load balancer a station that moved to
        another replica would otherwise linger here, disconnected, for good. Inventory stations
        are never forgotten: their absence is what the offline alert is for."""
        gone = [
            s.id
            for s in self.stations.values()
            if not s.configured and not s.connected and now - s.offline_since >= after
        ]
        for station_id in gone:
            del self.stations[station_id]
        if gone:
            self._changes.stations_forgotten(gone)
        return gone

    # -- reading ------------------------------------------------------------------------

    def __iter__(self) -> Iterator[Station]:
        return iter(list(self.stations.values()))

    def __len__(self) -> int:
        return len(self.stations)


def _set_status(connector: Connector, status: str, now: float) -> None:
    if connector.status != status:
        connector.status = status
        connector.status_since = now
    connector.reported_at = connector.updated_at = now


def _drop_raised_while_faulted(connector: Connector) -> None:
    """EVerest (default settings) never clears a code that went away while the connector was
    Faulted: such codes end with the Faulted state."""
    stale = [k for k, e in connector.sources.items() if e.scheme and e.status == FAULTED]
    for key in stale:
        del connector.sources[key]
    if stale:
        _derive_errors(connector)
    for key, error in list(connector.errors.items()):
        if error.scheme and error.status == FAULTED and not connector.sources:
            del connector.errors[key]


def _derive_errors(connector: Connector) -> None:
    """One active error per code: the earliest-raised of the sources behind it, carrying the
    code's `since`. A code stays active (with its first `since`) as long as any source still
    raises it, even after the source that raised it first has cleared."""
    errors: dict[str, ActiveError] = {}
    for error in connector.sources.values():
        current = errors.get(error.code)
        if current is None or error.since < current.since:
            errors[error.code] = error
    for code, error in errors.items():
        before = connector.errors.get(code)
        if before is not None and before.since < error.since:
            # A copy: the source keeps its own `since` for when it alone is left.
            errors[code] = replace(error, since=before.since)
    connector.errors = errors


def rebuild_errors(connector: Connector) -> None:
    """Sets a 2.x connector's `errors` from its `sources`, e.g. after loading them from the
    state store (with the stored `errors` already in place, codes keep their stored `since`)."""
    _derive_errors(connector)
