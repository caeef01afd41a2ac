"""The exporter's own counters, kept as plain numbers so that protocol code stays free of
Prometheus; `metrics.py` renders them at scrape time."""

from __future__ import annotations

from bisect import bisect_left
from collections import Counter
from dataclasses import dataclass, field

HANDLING_BUCKETS = (0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25)


@dataclass
class Histogram:
    buckets: tuple[float, ...] = HANDLING_BUCKETS
    counts: list[int] = field(default_factory=lambda: [0] * (len(HANDLING_BUCKETS) + 1))
    total: float = 0.0
    count: int = 0

    def observe(self, value: float) -> None:
        self.counts[bisect_left(self.buckets, value)] += 1
        self.total += value
        self.count += 1

    def cumulative(self) -> list[tuple[str, int]]:
        running = 0
        out = []
        for bound, n in zip((*map(str, self.buckets), "+Inf"), self.counts, strict=True):
            running += n
            out.append((bound, running))
        return out


@dataclass
class Stats:
    # (action, result) where result is accepted | callerror | internal_error
    frames: Counter[tuple[str, str]] = field(default_factory=Counter)
    protocol_errors: Counter[str] = field(default_factory=Counter)
    schema_violations: Counter[tuple[str, str]] = field(default_factory=Counter)
    # (reason) for upgrades refused before a session exists
    connections_rejected: Counter[str] = field(default_factory=Counter)
    # (reason) why sessions ended
    disconnects: Counter[str] = field(default_factory=Counter)
    open_connections: int = 0
    handling: Histogram = field(default_factory=Histogram)
    resyncs: Counter[str] = field(default_factory=Counter)
    # (type) of OCPP 2.0.1 SecurityEventNotifications, bounded by the handler
    security_events: Counter[str] = field(default_factory=Counter)
    # (reason) 2.0.1 NotifyEvent events that were not problems (periodic reports, value deltas)
    events_ignored: Counter[str] = field(default_factory=Counter)
    # (listener, reason): refused credentials or identities on the ocpp or web listener
    auth_failures: Counter[tuple[str, str]] = field(default_factory=Counter)
    # (limit) breached: message_rate, too_many_connections, unknown_station_cap, ...
    limit_breaches: Counter[str] = field(default_factory=Counter)
    # (result) of state store flushes: ok | error
    store_flushes: Counter[str] = field(default_factory=Counter)
