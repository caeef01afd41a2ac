"""What the 1.6 and 2.0.1 handlers share: routing with schema checks, bounded labels, the
answers that carry no state, and the re-sync after a (re)connect."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, ClassVar, Protocol

from exporter.config.model import Limits, OcppSettings
from exporter.knowledge.vendor_codes import CodeBook
from exporter.protocol.code_schemes import Station
from exporter.protocol.not_supported import declined
from exporter.protocol.rpc import CallFailed, RpcError, Schemas
from exporter.protocol.untrusted import clean
from exporter.state.counters import Stats
from exporter.state.fleet import Fleet, StationInfo

#: A handler method answering one action: (handler, payload, now) -> the CALLRESULT payload.
Route = Callable[[Any, dict[str, Any], float], dict[str, Any]]


def now_iso(now: float) -> str:
    return datetime.fromtimestamp(now, UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


class StationLink(Protocol):
    """What a handler needs from the session it serves: the protocol layer sits below the
    endpoint and never imports it."""

    @property
    def station_id(self) -> str: ...

    async def call(self, action: str, payload: dict[str, Any]) -> dict[str, Any]:
        """Send a CALL to the station; its CALLRESULT payload, or CallFailed/TimeoutError."""
        ...


@dataclass(frozen=True)
class HandlerContext:
    """What every handler of the endpoint shares."""

    fleet: Fleet
    stats: Stats
    settings: OcppSettings
    limits: Limits
    clock: Callable[[], float]
    # One sequence for the whole endpoint: ids stay unique across stations and reconnects.
    transaction_ids: itertools.count[int]
    codes: CodeBook


class VersionHandler:
    """One per connection; every state it changes lives in the fleet, so a reconnect loses
    nothing. Subclasses give their version's schemas, known actions and routes."""

    # One handler per connection: slots keep each a few hundred bytes smaller.
    __slots__ = (
        "_transaction_ids",
        "clock",
        "codes",
        "fleet",
        "limits",
        "settings",
        "station_id",
        "stats",
    )

    version: str
    schemas: Schemas
    known_actions: frozenset[str]
    #: `routes()` of the class, built once when the class is defined: a table of plain
    #: functions, not bound methods made for every connection (they cost 1.5 KiB a station).
    route_table: ClassVar[dict[str, Route]] = {}

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls.route_table = cls.routes()

    def __init__(self, station_id: str, context: HandlerContext) -> None:
        self.station_id = station_id
        self.fleet = context.fleet
        self.stats = context.stats
        self.settings = context.settings
        self.limits = context.limits
        self.clock = context.clock
        self._transaction_ids = context.transaction_ids
        #: Standard schemes and operator catalogs the station's codes are recognised against.
        self.codes = context.codes

    @classmethod
    def routes(cls) -> dict[str, Route]:
        """Action -> the method answering it (`cls._method`, called with the handler)."""
        return {}

    def handle_call(self, action: str, payload: dict[str, Any]) -> dict[str, Any]:
        reason = declined(action)
        if reason is not None and action in self.known_actions:
            raise RpcError("NotSupported", f"{action}: {reason}")
        route = self.route_table.get(action)
        if route is None:
            if action in self.known_actions:
                # An action of this version that a station does not send (e.g. Reset).
                raise RpcError("NotSupported", f"{action} is sent by a central system, not to it")
            raise RpcError("NotImplemented", f"unknown action {clean(action, 40)!r}")
        self.schemas.validate(action, payload)
        return route(self, payload, self.clock())

    def _station(self) -> Station:
        """What operator catalogs may be restricted to (from the last BootNotification)."""
        known = self.fleet.get(self.station_id)
        info = known.info if known is not None else StationInfo()
        return Station(vendor=info.vendor, model=info.model)

    def handle_send(self, action: str, payload: dict[str, Any]) -> None:
        """An unconfirmed message (2.1 SEND); versions without SEND never get here."""
        raise RpcError("MessageTypeNotSupported", f"{self.version} has no SEND messages")

    def _label(self, value: Any) -> str:
        return clean(value, self.limits.max_label_length) if value is not None else ""

    # -- answers that carry no state ---------------------------------------------------

    def _heartbeat(self, payload: dict[str, Any], now: float) -> dict[str, Any]:
        return {"currentTime": now_iso(now)}

    def _empty(self, payload: dict[str, Any], now: float) -> dict[str, Any]:
        return {}

    def _data_transfer(self, payload: dict[str, Any], now: float) -> dict[str, Any]:
        return {"status": "UnknownVendorId"}

    def _firmware_status(self, payload: dict[str, Any], now: float) -> dict[str, Any]:
        self.fleet.firmware_status(self.station_id, self._label(payload["status"]), now)
        return {}

    # -- after connect ----------------------------------------------------------------

    async def resync(self, session: StationLink) -> None:
        """Ask the station to re-report every connector; what it no longer reports goes
        (`finish_resync`). A station that refuses keeps its last-known state."""
        self.fleet.start_resync(self.station_id, self.clock())
        try:
            accepted = await self.request_resync(session)
        except (CallFailed, TimeoutError, ConnectionError, RuntimeError):
            # RuntimeError/ConnectionError: the socket closed while the CALL was being sent.
            self.fleet.abandon_resync(self.station_id)
            self.stats.resyncs["failed"] += 1
            return
        if accepted is False:
            self.fleet.abandon_resync(self.station_id)
            self.stats.resyncs["rejected"] += 1
            return
        if accepted is True:
            # The re-reports arrive as CALLs of their own, within the window.
            await asyncio.sleep(self.settings.resync_window)
        self.finish_resync()
        self.stats.resyncs["completed"] += 1

    async def request_resync(self, session: StationLink) -> bool | None:
        """Ask the station to re-report its connectors: True when it agreed to (the reports
        follow), False when it refused, None when the answer itself was the re-report."""
        answer = await session.call("TriggerMessage", {"requestedMessage": "StatusNotification"})
        return answer.get("status") == "Accepted"

    def finish_resync(self) -> None:
        self.fleet.finish_resync(self.station_id, self.clock())
