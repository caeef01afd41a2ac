"""Prometheus rendering of fleet state, the catalog and the exporter's own counters.

A custom collector builds fresh metric families on every scrape from the current state, so a
cleared error or a forgotten connector simply has no series any more: nothing to remove by hand.
"""

from __future__ import annotations

import asyncio
import platform
from collections.abc import Iterator

from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector

from exporter import __version__
from exporter.knowledge.catalog import Catalog
from exporter.state.counters import Stats
from exporter.state.fleet import Fleet

# FirmwareStatusNotification values (1.6 core and security extension) during which a station is
# expected to restart and go briefly offline.
FIRMWARE_UPDATE_STATES = frozenset(
    {
        "Downloading",
        "Downloaded",
        "DownloadScheduled",
        "Installing",
        "InstallScheduled",
        "InstallRebooting",
        "SignatureVerified",
    }
)


class FleetCollector(Collector):
    def __init__(self, fleet: Fleet, catalog: Catalog, max_error_info_series: int) -> None:
        self.fleet = fleet
        self.catalog = catalog
        self.max_error_info_series = max_error_info_series

    def collect(self) -> Iterator[Metric]:
        station_labels = ["station", "site"]
        connector_labels = ["station", "site", "connector"]
        error_labels = [*connector_labels, "error_code"]
        connected = GaugeMetricFamily(
            "ocpp_station_connected",
            "1 while the station's OCPP session is open and alive, else 0.",
            labels=["station", "site", "controller"],
        )
        info = GaugeMetricFamily(
            "ocpp_station_info",
            "Station identity as reported in its last BootNotification; always 1.",
            labels=[
                "station",
                "site",
                "vendor",
                "model",
                "firmware_version",
                "serial_number",
                "ocpp_version",
            ],
        )
        last_seen = GaugeMetricFamily(
            "ocpp_station_last_seen_timestamp_seconds",
            "Unix time of the last frame or pong received from the station.",
            labels=station_labels,
        )
        connects = CounterMetricFamily(
            "ocpp_station_connects",
            "OCPP sessions the station opened since the exporter started.",
            labels=station_labels,
        )
        boots = CounterMetricFamily(
            "ocpp_station_boots",
            "BootNotifications the station sent since the exporter started.",
            labels=station_labels,
        )
        firmware = GaugeMetricFamily(
            "ocpp_station_firmware_update_in_progress",
            "1 while the station's last FirmwareStatusNotification says an update is under way.",
            labels=station_labels,
        )
        firmware_ts = GaugeMetricFamily(
            "ocpp_station_firmware_status_timestamp_seconds",
            "Unix time of the station's last FirmwareStatusNotification.",
            labels=station_labels,
        )
        status = GaugeMetricFamily(
            "ocpp_connector_status",
            "1 for the connector's current status; connector 0 is the station itself.",
            labels=[*connector_labels, "status"],
        )
        status_since = GaugeMetricFamily(
            "ocpp_connector_status_since_timestamp_seconds",
            "Unix time the connector entered its current status.",
            labels=connector_labels,
        )
        error = GaugeMetricFamily(
            "ocpp_connector_error",
            "1 while the error code is active on the connector, whatever its status.",
            labels=error_labels,
        )
        error_since = GaugeMetricFamily(
            "ocpp_connector_error_since_timestamp_seconds",
            "Unix time the active error was first reported.",
            labels=error_labels,
        )
        error_info = GaugeMetricFamily(
            "ocpp_connector_error_info",
            "Details of the active error as the station sent them (bounded length); always 1.",
            labels=[*error_labels, "status", "vendor_id", "vendor_error_code", "info"],
        )
        info_budget = self.max_error_info_series
        dropped = 0
        for station in self.fleet:
            sl = [station.id, station.site]
            connected.add_metric([station.id, station.site, station.controller], station.connected)
            i = station.info
            info.add_metric(
                [*sl, i.vendor, i.model, i.firmware_version, i.serial_number, i.ocpp_version], 1
            )
            if station.last_seen:
                last_seen.add_metric(sl, station.last_seen)
            connects.add_metric(sl, station.connects)
            boots.add_metric(sl, station.boots)
            if station.firmware_status:
                firmware.add_metric(sl, station.firmware_status in FIRMWARE_UPDATE_STATES)
                firmware_ts.add_metric(sl, station.firmware_status_at)
            for connector in station.connectors.values():
                cl = [*sl, connector.id]
                if connector.status:
                    status.add_metric([*cl, connector.status], 1)
                    status_since.add_metric(cl, connector.status_since)
                for e in connector.errors.values():
                    el = [*cl, e.code]
                    error.add_metric(el, 1)
                    error_since.add_metric(el, e.since)
                    if info_budget > 0:
                        info_budget -= 1
                        error_info.add_metric(
                            [*el, e.status, e.vendor_id, e.vendor_error_code, e.info], 1
                        )
                    else:
                        dropped += 1
        yield from (connected, info, last_seen, connects, boots, firmware, firmware_ts)
        yield from (status, status_since, error, error_since, error_info)
        truncated = GaugeMetricFamily(
            "ocpp_exporter_error_info_series_dropped",
            "ocpp_connector_error_info series left out of this scrape by "
            "limits.max_error_info_series.",
        )
        truncated.add_metric([], dropped)
        yield truncated
        yield from self._catalog()

    def _catalog(self) -> Iterator[Metric]:
        codes = GaugeMetricFamily(
            "ocpp_error_code_info",
            "The catalog's text for each error code: what it means and what to do; always 1.",
            labels=["error_code", "severity", "title", "description", "resolution", "runbook_url"],
        )
        for entry in self.catalog.errors.values():
            codes.add_metric(
                [
                    entry.key,
                    entry.severity,
                    entry.title,
                    entry.description,
                    entry.resolution_text(),
                    entry.runbook_url,
                ],
                1,
            )
        notes = GaugeMetricFamily(
            "ocpp_notification_info",
            "The catalog's text for each connectivity notification; always 1.",
            labels=["kind", "alertname", "severity", "title", "description", "resolution"],
        )
        for entry in self.catalog.notifications.values():
            notes.add_metric(
                [
                    entry.key,
                    entry.alert,
                    entry.severity,
                    entry.title,
                    entry.description,
                    entry.resolution_text(),
                ],
                1,
            )
        yield codes
        yield notes


class StatsCollector(Collector):
    """The exporter's own health: traffic, protocol errors, connections, handling latency."""

    def __init__(self, stats: Stats, fleet: Fleet) -> None:
        self.stats = stats
        self.fleet = fleet
        self.last_scrape_seconds = 0.0

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


def counter_family(
    name: str, doc: str, labels: list[str], values: dict[tuple[str, ...], int]
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
    tasks = GaugeMetricFamily(
        "ocpp_exporter_asyncio_tasks", "asyncio tasks alive in the exporter's event loop."
    )
    try:
        tasks.add_metric([], len(asyncio.all_tasks()))
    except RuntimeError:  # collected outside the loop (e.g. a test calling collect())
        tasks.add_metric([], 0)
    yield tasks
