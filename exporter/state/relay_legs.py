"""Relay mode's own state: the upstream legs (exporter -> the stations' central system), why
they failed, and how many frames passed through. Pure, like fleet.py: no I/O, callers pass `now`.

A station's entry exists while its leg is open (connected) or after the *upstream* side ended
or refused it (not connected, with the reason): that is what `ocpp_upstream_connected` shows and
what the OcppUpstreamDown alert fires on. When the station itself leaves, the entry goes: the
station's own offline alert covers that, and the upstream was not at fault.

Refusals happen before fleet admission, so anyone can make the CSMS refuse any number of made-up
station ids: a refusal leg is stored for a station the fleet knows (`known`), for one that
already has a leg, or while there are fewer than `cap` legs; beyond that only the failure is
counted. Stations the fleet forgets lose their leg too (`forget`).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

TO_UPSTREAM = "station_to_upstream"
TO_STATION = "upstream_to_station"


@dataclass
class Leg:
    connected: bool
    since: float
    # Why the last leg ended or was refused on the upstream's side ("" while connected).
    reason: str = ""
    token: int = 0


@dataclass
class UpstreamLegs:
    legs: dict[str, Leg] = field(default_factory=dict)
    # reason -> count: unreachable, timeout, tls, handshake_rejected, subprotocol_mismatch,
    # closed (the upstream closed an open leg), lost (no close frame: network or dead peer)
    failures: Counter[str] = field(default_factory=Counter)
    # direction -> frames forwarded
    frames: Counter[str] = field(default_factory=Counter)
    # (direction, reason) -> frames forwarded that the exporter could not interpret
    unobserved: Counter[tuple[str, str]] = field(default_factory=Counter)
    # Whether the fleet tracks a station (inventory or admitted): its refusals are always kept.
    known: Callable[[str], bool] | None = None
    _tokens: int = 0

    def opened(self, station_id: str, now: float) -> int:
        """A leg is open; returns its token (a later leg replaces an earlier one in place)."""
        self._tokens += 1
        self.legs[station_id] = Leg(True, now, token=self._tokens)
        return self._tokens

    def refused(self, station_id: str, reason: str, now: float, cap: int) -> None:
        """The upstream could not be reached or refused the leg at connect time. Unknown
        station ids get a leg (an `ocpp_upstream_connected` series) only while fewer than
        `cap` legs exist, so made-up ids cannot grow the series without bound."""
        self.failures[reason] += 1
        leg = self.legs.get(station_id)
        if leg is not None and leg.connected:
            # Another session of this station still has a working leg: it stays the truth.
            return
        if (
            leg is None
            and len(self.legs) >= cap
            and not (self.known is not None and self.known(station_id))
        ):
            return
        self.legs[station_id] = Leg(False, now, reason)

    def upstream_ended(self, station_id: str, token: int, reason: str, now: float) -> None:
        """The upstream side ended an open leg."""
        self.failures[reason] += 1
        leg = self.legs.get(station_id)
        if leg is not None and leg.token == token:
            self.legs[station_id] = Leg(False, now, reason)

    def station_ended(self, station_id: str, token: int) -> None:
        """The station side ended the session; its leg was closed by us, nobody's fault."""
        leg = self.legs.get(station_id)
        if leg is not None and leg.token == token:
            del self.legs[station_id]

    def forget(self, station_ids: Iterable[str]) -> None:
        """The fleet forgot these stations (`Fleet.forget`): their legs go with them."""
        for station_id in station_ids:
            leg = self.legs.get(station_id)
            # Fleet.forget only drops disconnected stations; a live leg is never stale.
            if leg is not None and not leg.connected:
                del self.legs[station_id]
