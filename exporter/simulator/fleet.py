"""A fleet of simulated OCPP charging stations for demos, end-to-end tests and load.

Each station is the `ocpp` package's own v16 ChargePoint over `websockets` (the station side a
vendor would write), so the exporter is exercised by a real peer, not by our own framing code;
stations a scenario lists under `ocpp201_stations` or `ocpp21_stations` speak OCPP 2.0.1 or 2.1
(station201.py), those also under `availability_state_stations` report statuses only as
Connector.AvailabilityState events.
A station boots, heartbeats at the interval the exporter gives, runs charging sessions
(Preparing, Charging, Finishing, Available), answers TriggerMessage and Reset, and plays the
faults, offline periods and reboots a scenario file scripts (see docs/simulator.md).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import random
import signal
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Annotated, Any

import websockets
from ocpp.exceptions import OCPPError
from ocpp.routing import after, on
from ocpp.v16 import ChargePoint, call, call_result
from ocpp.v16.enums import Action, ResetStatus, TriggerMessageStatus
from pydantic import PlainValidator, StrictInt, WithJsonSchema
from websockets.typing import Subprotocol

from exporter import yaml_reader
from exporter.durations import parse_duration
from exporter.knowledge import vendor_codes
from exporter.knowledge.ocpp_enums import NO_ERROR, OCPP16_ERROR_CODES, OCPP16_STATUSES
from exporter.simulator import station201
from exporter.yaml_reader import (
    Document,
    DocumentError,
    Duration,
    Flag,
    Loc,
    NonNegative,
    PositiveInt,
    Section,
    Text,
)

log = logging.getLogger("exporter.simulator")

# How long a simulated connector lingers in the short steps of a charging session.
SESSION_STEP_SECONDS = 2.0


class ScenarioError(DocumentError):
    """A scenario file that cannot be played, located by file, line and key path."""


# -- scenario model --------------------------------------------------------------------------


@dataclass(frozen=True)
class Fault:
    connector: int
    error_code: str
    status: str = "Faulted"
    vendor_id: str = ""
    vendor_error_code: str = ""
    info: str = ""
    # None: the fault stays until the scenario ends; else it clears (NoError) after this long.
    duration: float | None = None
    clear_status: str = "Available"


@dataclass(frozen=True)
class Event:
    at: float
    station: str
    fault: Fault | None = None
    offline: float | None = None
    reboot: bool = False


@dataclass(frozen=True)
class RandomMode:
    """Rates are per station per hour; each event picks a random station (and connector)."""

    seed: int | None = None
    faults_per_hour: float = 0.0
    offline_per_hour: float = 0.0
    reboots_per_hour: float = 0.0
    sessions_per_hour: float = 0.0
    error_codes: tuple[str, ...] = ("GroundFailure", "OverCurrentFailure", "ConnectorLockFailure")
    fault_duration: tuple[float, float] = (30.0, 120.0)
    offline_duration: tuple[float, float] = (20.0, 90.0)
    session_duration: tuple[float, float] = (60.0, 300.0)


@dataclass(frozen=True)
class Scenario:
    events: tuple[Event, ...] = ()
    random: RandomMode | None = None
    # Replay the timeline every `repeat` seconds (0: play it once).
    repeat: float = 0.0
    vendor: str = "SimCharge"
    model: str = "SC-22"
    firmware_version: str = "1.4.2"
    #: Stations (by id) that speak OCPP 2.0.1 or 2.1; the others speak 1.6.
    ocpp201_stations: frozenset[str] = frozenset()
    ocpp21_stations: frozenset[str] = frozenset()
    #: 2.x stations (by id) that report statuses only as AvailabilityState events.
    availability_state_stations: frozenset[str] = frozenset()

    def ocpp_version(self, station: str) -> str:
        if station in self.ocpp21_stations:
            return "2.1"
        return "2.0.1" if station in self.ocpp201_stations else "1.6"


def station_id(prefix: str, number: int) -> str:
    return f"{prefix}{number:04d}"


def _fault_code(value: Any) -> str:
    if value not in OCPP16_ERROR_CODES or value == NO_ERROR:
        raise ValueError(f"not a 1.6 error: {value!r}")
    return str(value)


def _status(value: Any) -> str:
    if value not in OCPP16_STATUSES:
        raise ValueError(f"unknown 1.6 status {value!r}")
    return str(value)


def _label(value: Any) -> str:
    # `vendor_error_code: 17` is a code, not a number: any scalar is taken as its text.
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise ValueError(f"expected a string, got {value!r}")
    return str(value)


def _station_ref(value: Any) -> int | str:
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise ValueError(f"expected a station number or id, got {value!r}")
    return value


def _range(value: Any) -> tuple[float, float]:
    if isinstance(value, list) and len(value) == 2:
        low, high = (parse_duration(v) for v in value)
    else:
        low = high = parse_duration(value)
    if high < low:
        raise ValueError("the upper bound is below the lower bound")
    return low, high


FaultCode = Annotated[
    str,
    PlainValidator(_fault_code),
    WithJsonSchema({"enum": [c for c in OCPP16_ERROR_CODES if c != NO_ERROR]}),
]
Status = Annotated[str, PlainValidator(_status), WithJsonSchema({"enum": list(OCPP16_STATUSES)})]
Label = Annotated[str, PlainValidator(_label), WithJsonSchema({"type": ["string", "number"]})]
DurationRange = Annotated[
    tuple[float, float],
    PlainValidator(_range),
    WithJsonSchema({"description": "a duration, or [shortest, longest]"}),
]


def scheme_fault(scheme: str, code: str) -> tuple[str, str, str]:
    """A scenario fault given as a standard scheme's code (`scheme: chargex, code: CX014`; EVgo
    may name several, comma-separated) -> (OCPP error code, vendorId, vendorErrorCode) as such
    a station sends them. ValueError naming what is unknown."""
    book = vendor_codes.load("")
    known = book.schemes.get(scheme)
    if known is None:
        raise ValueError(f"unknown scheme {scheme!r} (one of {', '.join(book.schemes)})")
    entries = []
    for part in code.split(","):
        entry = known.find(part)
        if entry is None:
            raise ValueError(f"{part.strip()!r} is not a {scheme} code (see docs/error-codes.md)")
        entries.append(entry)
    return (
        entries[0].ocpp_error_code,
        known.vendor_ids[0],
        ",".join(entry.code for entry in entries),
    )


@dataclass(frozen=True)
class _EventSection(Section):
    station: Annotated[int | str, PlainValidator(_station_ref)]
    at: Duration = 0.0
    error_code: FaultCode | None = None
    # A standard scheme's code instead of (or on top of) error_code: `scheme: chargex`,
    # `code: CX014` (EVgo may name several, comma-separated).
    scheme: Text | None = None
    code: Label | None = None
    offline: Duration | None = None
    reboot: Flag | None = None
    connector: PositiveInt = 1
    status: Status = Fault.status
    vendor_id: Label = ""
    vendor_error_code: Label = ""
    info: Label = ""
    duration: Duration | None = None
    clear_status: Status = Fault.clear_status


@dataclass(frozen=True)
class _RandomSection(Section):
    seed: StrictInt | None = None
    faults_per_hour: NonNegative = 0.0
    offline_per_hour: NonNegative = 0.0
    reboots_per_hour: NonNegative = 0.0
    sessions_per_hour: NonNegative = 0.0
    error_codes: tuple[FaultCode, ...] = RandomMode.error_codes
    fault_duration: DurationRange = RandomMode.fault_duration
    offline_duration: DurationRange = RandomMode.offline_duration
    session_duration: DurationRange = RandomMode.session_duration


@dataclass(frozen=True)
class _ScenarioFile(Section):
    events: tuple[_EventSection, ...] = ()
    random: _RandomSection | None = None
    repeat: Duration = Scenario.repeat
    vendor: Label = Scenario.vendor
    model: Label = Scenario.model
    firmware_version: Label = Scenario.firmware_version
    ocpp201_stations: tuple[Annotated[int | str, PlainValidator(_station_ref)], ...] = ()
    ocpp21_stations: tuple[Annotated[int | str, PlainValidator(_station_ref)], ...] = ()
    availability_state_stations: tuple[Annotated[int | str, PlainValidator(_station_ref)], ...] = ()


def _event(doc: Document, index: int, raw: _EventSection, prefix: str) -> Event:
    at: Loc = ("events", index)
    station = raw.station
    sid = station_id(prefix, station) if isinstance(station, int) else station
    kinds = [k for k in ("code", "offline", "reboot") if getattr(raw, k) is not None]
    if raw.error_code is not None and raw.code is None:
        kinds.append("error_code")
    if len(kinds) != 1:
        raise doc.error(at, "give exactly one of error_code, scheme and code, offline or reboot")
    if raw.offline is not None:
        return Event(raw.at, sid, offline=raw.offline)
    if raw.reboot is not None:
        return Event(raw.at, sid, reboot=raw.reboot)
    code, vendor_id, vendor_error_code = raw.error_code, raw.vendor_id, raw.vendor_error_code
    if raw.code is not None:
        if raw.scheme is None:
            raise doc.error((*at, "scheme"), "required with code")
        try:
            implied, vendor_id, vendor_error_code = scheme_fault(raw.scheme, raw.code)
        except ValueError as exc:
            raise doc.error((*at, "code"), str(exc)) from None
        code = code or implied
    assert code is not None  # one of error_code or code, checked above
    fault = Fault(
        connector=raw.connector,
        error_code=code,
        status=raw.status,
        vendor_id=vendor_id,
        vendor_error_code=vendor_error_code,
        info=raw.info,
        duration=raw.duration,
        clear_status=raw.clear_status,
    )
    return Event(raw.at, sid, fault=fault)


def _scenario(doc: Document, prefix: str) -> Scenario:
    data = doc.read(_ScenarioFile)
    events = [_event(doc, index, raw, prefix) for index, raw in enumerate(data.events)]
    mode = None
    if data.random is not None:
        r = data.random
        mode = RandomMode(
            seed=r.seed,
            faults_per_hour=r.faults_per_hour,
            offline_per_hour=r.offline_per_hour,
            reboots_per_hour=r.reboots_per_hour,
            sessions_per_hour=r.sessions_per_hour,
            error_codes=r.error_codes,
            fault_duration=r.fault_duration,
            offline_duration=r.offline_duration,
            session_duration=r.session_duration,
        )

    def ids(stations: tuple[int | str, ...]) -> frozenset[str]:
        return frozenset(station_id(prefix, n) if isinstance(n, int) else n for n in stations)

    v201, v21 = ids(data.ocpp201_stations), ids(data.ocpp21_stations)
    if v201 & v21:
        raise doc.error(("ocpp21_stations",), f"also in ocpp201_stations: {sorted(v201 & v21)}")
    by_events = ids(data.availability_state_stations)
    if by_events - v201 - v21:
        raise doc.error(
            ("availability_state_stations",),
            "only 2.x stations report AvailabilityState events; not in ocpp201_stations or "
            f"ocpp21_stations: {sorted(by_events - v201 - v21)}",
        )
    return Scenario(
        events=tuple(sorted(events, key=lambda e: e.at)),
        random=mode,
        repeat=data.repeat,
        vendor=data.vendor,
        model=data.model,
        firmware_version=data.firmware_version,
        ocpp201_stations=v201,
        ocpp21_stations=v21,
        availability_state_stations=by_events,
    )


def parse_scenario(data: Any, source: str, prefix: str = "SIM-") -> Scenario:
    """The YAML document -> a Scenario; `station: 3` means the third simulated station."""
    return _scenario(Document(source, data, error_type=ScenarioError), prefix)


def load_scenario(path: str, prefix: str = "SIM-") -> Scenario:
    return _scenario(yaml_reader.load(path, ScenarioError), prefix)


# -- one station -----------------------------------------------------------------------------


@dataclass
class Counters:
    frames_sent: int = 0
    frames_received: int = 0
    connected: int = 0
    boots: int = 0
    triggers: int = 0


class CountingConnection:
    """The websocket as the ChargePoint sees it, counting frames for the progress line."""

    def __init__(self, ws: Any, counters: Counters) -> None:
        self._ws = ws
        self._counters = counters

    async def send(self, message: str) -> None:
        self._counters.frames_sent += 1
        await self._ws.send(message)

    async def recv(self) -> str:
        message = await self._ws.recv()
        self._counters.frames_received += 1
        return message

    async def close(self) -> None:
        await self._ws.close()


@dataclass
class ConnectorState:
    status: str = "Available"
    error_code: str = NO_ERROR
    vendor_id: str = ""
    vendor_error_code: str = ""
    info: str = ""


class SimulatedChargePoint(ChargePoint):
    """The protocol side of one station: answers the exporter's CALLs."""

    def __init__(self, station: SimStation, connection: CountingConnection) -> None:
        super().__init__(station.id, connection, response_timeout=30)
        self.station = station

    @on(Action.trigger_message)
    def on_trigger_message(
        self, requested_message: str, connector_id: int | None = None
    ) -> call_result.TriggerMessage:
        self.station.counters.triggers += 1
        if requested_message in ("StatusNotification", "BootNotification", "Heartbeat"):
            return call_result.TriggerMessage(status=TriggerMessageStatus.accepted)
        return call_result.TriggerMessage(status=TriggerMessageStatus.not_implemented)

    @after(Action.trigger_message)  # the requested message follows the answer, as 1.6 says
    async def after_trigger_message(
        self, requested_message: str, connector_id: int | None = None
    ) -> None:
        with contextlib.suppress(*_SEND_ERRORS):
            if requested_message == "StatusNotification":
                await self.station.report(connector_id)
            elif requested_message == "BootNotification":
                await self.station.boot_notification()
            elif requested_message == "Heartbeat":
                await self.call(call.Heartbeat())

    @on(Action.reset)
    def on_reset(self, type: str) -> call_result.Reset:
        return call_result.Reset(status=ResetStatus.accepted)

    @after(Action.reset)
    def after_reset(self, type: str) -> None:
        self.station.request_reboot()


_SEND_ERRORS = (websockets.ConnectionClosed, OCPPError, TimeoutError, ConnectionError)


class SimStation:
    """One station's life: connect, boot, report, heartbeat; reconnect after a loss."""

    def __init__(
        self,
        station_id: str,
        url: str,
        connectors: int,
        scenario: Scenario,
        counters: Counters,
        rng: random.Random,
        reconnect_delay: float = 2.0,
        ocpp_version: str = "1.6",
        status_via: str = station201.STATUS_NOTIFICATION,
    ) -> None:
        self.id = station_id
        self.ocpp_version = ocpp_version
        self.reporter201 = (
            station201.Reporter201(ocpp_version, status_via) if ocpp_version != "1.6" else None
        )
        self.url = url
        self.scenario = scenario
        self.counters = counters
        self.rng = rng
        self.reconnect_delay = reconnect_delay
        # Connector 0 is the station itself.
        self.connectors = {n: ConnectorState() for n in range(connectors + 1)}
        self.cp: Any = None
        self.heartbeat_interval = 60.0
        self._offline_until = 0.0
        self._wake = asyncio.Event()
        self._reboot = False
        self.connected = False

    # -- what the scenario does to the station ---------------------------------------------

    async def set_connector(self, connector: int, state: ConnectorState) -> None:
        self.connectors[connector] = state
        if self.reporter201 is not None:
            self.reporter201.remember(connector, state.status)
        with contextlib.suppress(*_SEND_ERRORS):
            await self.report(connector)

    def go_offline(self, seconds: float) -> None:
        self._offline_until = time.monotonic() + seconds
        self._wake.set()

    def request_reboot(self) -> None:
        self._reboot = True
        self._wake.set()

    # -- protocol ------------------------------------------------------------------------

    async def boot_notification(self) -> None:
        assert self.cp is not None
        s = self.scenario
        if self.reporter201 is not None:
            # A rebooted station has no problem raised: report its faults afresh.
            self.reporter201.forget()
            answer = await self.reporter201.boot(
                self.cp, s.vendor, s.model, s.firmware_version, f"SN-{self.id}"
            )
            self.counters.boots += 1
            if answer.interval and answer.interval > 0:
                self.heartbeat_interval = float(answer.interval)
            return
        answer = await self.cp.call(
            call.BootNotification(
                charge_point_vendor=s.vendor,
                charge_point_model=s.model,
                firmware_version=s.firmware_version,
                charge_point_serial_number=f"SN-{self.id}",
            )
        )
        self.counters.boots += 1
        if answer.interval and answer.interval > 0:
            self.heartbeat_interval = float(answer.interval)

    async def report(self, connector: int | None = None) -> None:
        """StatusNotification for one connector, or all (None), while connected."""
        cp = self.cp
        if cp is None or not self.connected:
            return
        targets = list(self.connectors) if connector is None else [connector]
        for n in targets:
            state = self.connectors.get(n)
            if state is None:
                continue
            if self.reporter201 is not None:
                code = state.vendor_error_code or (
                    state.error_code if state.error_code != NO_ERROR else ""
                )
                await self.reporter201.report(cp, n, state.status, code, state.info)
                continue
            await cp.call(
                call.StatusNotification(
                    connector_id=n,
                    error_code=state.error_code,
                    status=state.status,
                    info=state.info or None,
                    vendor_id=state.vendor_id or None,
                    vendor_error_code=state.vendor_error_code or None,
                )
            )

    # -- the connection loop -------------------------------------------------------------

    async def run(self) -> None:
        first = True
        while True:
            wait = self._offline_until - time.monotonic()
            if wait > 0:
                await asyncio.sleep(wait)
            elif not first:
                await asyncio.sleep(self.reconnect_delay * (0.5 + self.rng.random()))
            try:
                await self._session(boot=first or self._reboot)
                first = False
            except (OSError, websockets.InvalidHandshake, websockets.InvalidURI) as exc:
                log.debug("station %s: cannot connect: %s", self.id, exc)
            except _SEND_ERRORS as exc:
                log.debug("station %s: session ended: %s", self.id, exc)
                first = False

    async def _session(self, boot: bool) -> None:
        subprotocol = "ocpp1.6" if self.reporter201 is None else self.reporter201.subprotocol
        async with websockets.connect(
            f"{self.url}/{self.id}", subprotocols=[Subprotocol(subprotocol)], open_timeout=30
        ) as ws:
            connection = CountingConnection(ws, self.counters)
            cp = self.cp = (
                SimulatedChargePoint(self, connection)
                if self.reporter201 is None
                else self.reporter201.charge_point(
                    self.id,
                    connection,
                    report=self.report,
                    boot=self.boot_notification,
                    reboot=self.request_reboot,
                    send_errors=_SEND_ERRORS,
                )
            )
            reader = asyncio.create_task(cp.start())
            self.connected = True
            self.counters.connected += 1
            self._wake.clear()
            try:
                if boot:
                    self._reboot = False
                    await self.boot_notification()
                    await self.report()
                await self._live(reader)
            finally:
                self.connected = False
                self.counters.connected -= 1
                reader.cancel()
                with contextlib.suppress(asyncio.CancelledError, *_SEND_ERRORS):
                    await reader

    async def _live(self, reader: asyncio.Task[None]) -> None:
        """Heartbeats until the connection drops, an offline period starts or a reboot."""
        assert self.cp is not None
        while not reader.done():
            wake = asyncio.create_task(self._wake.wait())
            done, _ = await asyncio.wait(
                {reader, wake}, timeout=self.heartbeat_interval, return_when="FIRST_COMPLETED"
            )
            wake.cancel()
            if reader in done:
                reader.result()  # raises ConnectionClosed: reconnect
                return
            if self._reboot or self._offline_until > time.monotonic():
                self._wake.clear()
                return  # leaving the `async with` closes the socket
            if not done:
                await self.cp.call(
                    call.Heartbeat()
                    if self.reporter201 is None
                    else self.reporter201.call.Heartbeat()
                )


# -- the fleet ---------------------------------------------------------------------------------


@dataclass
class Simulator:
    url: str
    stations: int
    connectors: int = 2
    scenario: Scenario = field(default_factory=Scenario)
    prefix: str = "SIM-"
    connect_rate: float = 200.0
    reconnect_delay: float = 2.0
    counters: Counters = field(default_factory=Counters)

    def __post_init__(self) -> None:
        mode = self.scenario.random
        self.rng = random.Random(mode.seed if mode else None)
        self.fleet = {
            station_id(self.prefix, n): SimStation(
                station_id(self.prefix, n),
                self.url.rstrip("/"),
                self.connectors,
                self.scenario,
                self.counters,
                random.Random(self.rng.random()),
                self.reconnect_delay,
                self.scenario.ocpp_version(station_id(self.prefix, n)),
                station201.AVAILABILITY_STATE
                if station_id(self.prefix, n) in self.scenario.availability_state_stations
                else station201.STATUS_NOTIFICATION,
            )
            for n in range(1, self.stations + 1)
        }
        self._tasks: set[asyncio.Task[Any]] = set()

    def _spawn(self, coro: Any) -> asyncio.Task[Any]:
        task = asyncio.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def run(self, stop: asyncio.Event) -> None:
        """Run until `stop` is set, then close every connection."""
        started = time.monotonic()
        try:
            for i, station in enumerate(self.fleet.values()):
                if stop.is_set():
                    break
                self._spawn(station.run())
                if self.connect_rate > 0 and i % 10 == 9:
                    await asyncio.sleep(10 / self.connect_rate)
            self._spawn(self._timeline(started))
            if self.scenario.random is not None:
                self._spawn(self._random(self.scenario.random))
            await stop.wait()
        finally:
            tasks = list(self._tasks)
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    async def _timeline(self, started: float) -> None:
        scenario = self.scenario
        if not scenario.events:
            return
        offset = 0.0
        while True:
            for event in scenario.events:
                delay = started + offset + event.at - time.monotonic()
                if delay > 0:
                    await asyncio.sleep(delay)
                self.apply(event)
            if scenario.repeat <= 0:
                return
            offset += scenario.repeat
            await asyncio.sleep(max(0.0, started + offset - time.monotonic()))

    def apply(self, event: Event) -> None:
        station = self.fleet.get(event.station)
        if station is None:
            log.warning("scenario names station %s, which is not simulated", event.station)
            return
        if event.fault is not None:
            self._spawn(self._fault(station, event.fault))
        elif event.offline is not None:
            station.go_offline(event.offline)
        elif event.reboot:
            station.request_reboot()

    async def _fault(self, station: SimStation, fault: Fault) -> None:
        if fault.connector not in station.connectors:
            log.warning("station %s has no connector %d", station.id, fault.connector)
            return
        await station.set_connector(
            fault.connector,
            ConnectorState(
                fault.status, fault.error_code, fault.vendor_id, fault.vendor_error_code, fault.info
            ),
        )
        if fault.duration is not None:
            await asyncio.sleep(fault.duration)
            await station.set_connector(fault.connector, ConnectorState(fault.clear_status))

    async def _session(self, station: SimStation, connector: int, seconds: float) -> None:
        """One charging session on an idle, healthy connector."""
        if station.connectors[connector] != ConnectorState():
            return
        for status, hold in (
            ("Preparing", SESSION_STEP_SECONDS),
            ("Charging", seconds),
            ("Finishing", SESSION_STEP_SECONDS),
        ):
            if station.connectors[connector].error_code != NO_ERROR:
                return  # a fault took over the connector
            await station.set_connector(connector, ConnectorState(status))
            await asyncio.sleep(hold)
        if station.connectors[connector].error_code == NO_ERROR:
            await station.set_connector(connector, ConnectorState())

    async def _random(self, mode: RandomMode) -> None:
        """Poisson arrivals over the whole fleet: one timer, whatever the fleet size."""
        kinds: list[tuple[float, Callable[[SimStation], None]]] = [
            (mode.faults_per_hour, self._random_fault),
            (mode.offline_per_hour, self._random_offline),
            (mode.reboots_per_hour, lambda s: s.request_reboot()),
            (mode.sessions_per_hour, self._random_session),
        ]
        kinds = [(rate, act) for rate, act in kinds if rate > 0]
        total = sum(rate for rate, _ in kinds) * len(self.fleet) / 3600
        if total <= 0:
            return
        rng = self.rng
        stations = list(self.fleet.values())
        while True:
            await asyncio.sleep(rng.expovariate(total))
            station = rng.choice(stations)
            if not station.connected:
                continue
            pick = rng.random() * sum(rate for rate, _ in kinds)
            for rate, act in kinds:
                pick -= rate
                if pick <= 0:
                    act(station)
                    break

    def _random_fault(self, station: SimStation) -> None:
        mode = self.scenario.random
        assert mode is not None
        code = self.rng.choice(mode.error_codes)
        fault = Fault(
            connector=self.rng.randint(1, self.connectors),
            error_code=code,
            status=self.rng.choice(("Faulted", "Available")),
            vendor_id="SimCharge",
            vendor_error_code=f"E{self.rng.randint(100, 999)}",
            duration=self.rng.uniform(*mode.fault_duration),
        )
        self._spawn(self._fault(station, fault))

    def _random_offline(self, station: SimStation) -> None:
        mode = self.scenario.random
        assert mode is not None
        station.go_offline(self.rng.uniform(*mode.offline_duration))

    def _random_session(self, station: SimStation) -> None:
        mode = self.scenario.random
        assert mode is not None
        connector = self.rng.randint(1, self.connectors)
        self._spawn(self._session(station, connector, self.rng.uniform(*mode.session_duration)))


# -- command line ------------------------------------------------------------------------------


async def _progress(sim: Simulator, period: float, out: Any) -> None:
    c = sim.counters
    last_frames, last_time = 0, time.monotonic()
    while True:
        await asyncio.sleep(period)
        now = time.monotonic()
        frames = c.frames_sent + c.frames_received
        rate = (frames - last_frames) / (now - last_time)
        last_frames, last_time = frames, now
        print(
            f"simulate: {c.connected}/{sim.stations} stations connected, "
            f"{rate:.1f} frames/s, {c.boots} boots, {c.triggers} triggers answered",
            file=out,
            flush=True,
        )


async def run_cli(args: argparse.Namespace, stop: asyncio.Event | None = None) -> None:
    scenario = Scenario()
    if args.scenario:
        scenario = load_scenario(args.scenario, args.id_prefix)
    sim = Simulator(
        url=args.url,
        stations=args.stations,
        connectors=args.connectors,
        scenario=scenario,
        prefix=args.id_prefix,
        connect_rate=getattr(args, "connect_rate", 200.0),
    )
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)
    if args.duration > 0:
        loop.call_later(args.duration, stop.set)
    progress = asyncio.create_task(_progress(sim, getattr(args, "progress", 5.0), sys.stderr))
    try:
        await sim.run(stop)
    finally:
        progress.cancel()
        c = sim.counters
        print(
            f"simulate: stopped; {c.frames_sent} frames sent, {c.frames_received} received",
            file=sys.stderr,
            flush=True,
        )


def main(args: argparse.Namespace) -> int:
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    try:
        asyncio.run(run_cli(args))
    except ScenarioError as exc:
        print(f"ocpp-exporter simulate: scenario error: {exc}", file=sys.stderr)
        return 1
    return 0
