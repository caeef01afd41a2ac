"""Prometheus rendering of the exporter's own counters (the fleet's families are in
`families`, written by `exposition`).

A custom collector builds fresh metric families on every scrape from the current state, so a
reset counter or a forgotten station simply has no series any more: nothing to remove by hand.
"""

from __future__ import annotations

import asyncio
import platform
import time
from collections.abc import Iterator, Mapping
from typing import TypeVar

from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector

from exporter import __version__
from exporter.state.counters import Stats
from exporter.state.fleet import Fleet

TASK_COUNT_INTERVAL = 15.0


class StatsCollector(Collector):
    """The exporter's own health: traffic, protocol errors, connections, handling latency."""

    def __init__(self, stats: Stats, fleet: Fleet) -> None:
        self.stats = stats
        self.fleet = fleet
        self.last_scrape_seconds = 0.0
        # asyncio.all_tasks() walks every task (one or more per station): counted at most once
        # per TASK_COUNT_INTERVAL, so that a scrape's cost does not grow with the fleet.
        self._tasks = 0
        self._tasks_counted_at = -TASK_COUNT_INTERVAL

    def collect(self) -> Iterator[Metric]:
        s = self.stats
        build = GaugeMetricFamily(
            "ocpp_exporter_build_info",
            "Version of the exporter; always 1.",
            labels=["version", "python_version"],
        )
        build.add_metric([__version__, platform.python_version()], 1)
        yield build
        yield counter_family(
            "ocpp_exporter_frames",
            "CALLs received from stations, by action and result.",
            ["action", "result"],
            s.frames,
        )
        yield counter_family(
            "ocpp_exporter_protocol_errors",
            "Frames or sessions that broke the OCPP-J rules, by reason.",
            ["reason"],
            {(k,): v for k, v in s.protocol_errors.items()},
        )
        yield counter_family(
            "ocpp_exporter_schema_violations",
            "Payload fields outside the OCPP schema that were recorded leniently.",
            ["action", "field"],
            s.schema_violations,
        )
        yield counter_family(
            "ocpp_exporter_connections_rejected",
            "Websocket upgrades refused before a session started, by reason.",
            ["reason"],
            {(k,): v for k, v in s.connections_rejected.items()},
        )
        yield counter_family(
            "ocpp_exporter_disconnects",
            "Station sessions that ended, by reason.",
            ["reason"],
            {(k,): v for k, v in s.disconnects.items()},
        )
        yield counter_family(
            "ocpp_exporter_resyncs",
            "State re-syncs (TriggerMessage StatusNotification) after connect, by result.",
            ["result"],
            {(k,): v for k, v in s.resyncs.items()},
        )
        yield counter_family(
            "ocpp_exporter_security_events",
            "SecurityEventNotifications received from stations, by type.",
            ["type"],
            {(k,): v for k, v in s.security_events.items()},
        )
        yield counter_family(
            "ocpp_exporter_events_ignored",
            "OCPP 2.0.1 NotifyEvent events that reported no problem, by reason.",
            ["reason"],
            {(k,): v for k, v in s.events_ignored.items()},
        )
        yield from _security_families(s)
        tasks = GaugeMetricFamily(
            "ocpp_exporter_asyncio_tasks",
            "asyncio tasks alive in the exporter's event loop (counted at most every 15 s).",
        )
        tasks.add_metric([], self._task_count())
        yield tasks
        connections = GaugeMetricFamily(
            "ocpp_exporter_open_connections", "Open station websocket sessions."
        )
        connections.add_metric([], s.open_connections)
        yield connections
        tracked = GaugeMetricFamily(
            "ocpp_exporter_stations_tracked", "Stations known to the exporter (configured or seen)."
        )
        tracked.add_metric([], len(self.fleet))
        yield tracked
        hist = HistogramMetricFamily(
            "ocpp_exporter_frame_handling_seconds",
            "Time to handle one frame from a station, reply included.",
        )
        hist.add_metric([], s.handling.cumulative(), sum_value=s.handling.total)
        yield hist
        scrape = GaugeMetricFamily(
            "ocpp_exporter_last_scrape_duration_seconds",
            "Time the previous /metrics scrape took to render.",
        )
        scrape.add_metric([], self.last_scrape_seconds)
        yield scrape

    def _task_count(self) -> int:
        now = time.monotonic()
        if now - self._tasks_counted_at >= TASK_COUNT_INTERVAL:
            try:
                self._tasks = len(asyncio.all_tasks())
            except RuntimeError:  # collected outside the loop (e.g. a test calling collect())
                self._tasks = 0
            self._tasks_counted_at = now
        return self._tasks


#: One label value per label of a family (a Counter's key).
LabelValues = TypeVar("LabelValues", bound=tuple[str, ...])


def counter_family(
    name: str, doc: str, labels: list[str], values: Mapping[LabelValues, int]
) -> CounterMetricFamily:
    """A counter family from a {label values: count} mapping, in a stable order."""
    family = CounterMetricFamily(name, doc, labels=labels)
    for key, value in sorted(values.items()):
        family.add_metric(list(key), value)
    return family


def _security_families(s: Stats) -> Iterator[Metric]:
    yield counter_family(
        "ocpp_exporter_auth_failures",
        "Refused credentials or identities, by listener (ocpp, web) and reason.",
        ["listener", "reason"],
        s.auth_failures,
    )
    yield counter_family(
        "ocpp_exporter_limit_breaches",
        "Frames or connections refused by a configured limit, by limit.",
        ["limit"],
        {(k,): v for k, v in s.limit_breaches.items()},
    )
    yield counter_family(
        "ocpp_exporter_state_store_flushes",
        "Writes of the fleet state to the state store, by result.",
        ["result"],
        {(k,): v for k, v in s.store_flushes.items()},
    )
