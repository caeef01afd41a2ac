"""Prometheus rendering of relay mode: the upstream legs to the stations' central system, why
they failed, the frames passed through, and what the CSMS answered to each BootNotification.
Registered by service.py only when `mode: relay`."""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from exporter.render.metrics import counter_family
from exporter.state.fleet import UNASSIGNED_SITE, Fleet
from exporter.state.relay_legs import UpstreamLegs


class RelayCollector(Collector):
    def __init__(self, legs: UpstreamLegs, fleet: Fleet) -> None:
        self.legs = legs
        self.fleet = fleet

    def collect(self) -> Iterator[Metric]:
        connected = GaugeMetricFamily(
            "ocpp_upstream_connected",
            "1 while the station's relayed connection to its central system is open; 0 after "
            "the central system refused, was unreachable or dropped it (until the next success).",
            labels=["station", "site"],
        )
        since = GaugeMetricFamily(
            "ocpp_upstream_state_since_timestamp_seconds",
            "Unix time the upstream leg last opened or failed.",
            labels=["station", "site"],
        )
        for station_id, leg in sorted(self.legs.legs.items()):
            station = self.fleet.stations.get(station_id)
            labels = [station_id, station.site if station else UNASSIGNED_SITE]
            connected.add_metric(labels, 1 if leg.connected else 0)
            since.add_metric(labels, leg.since)
        yield connected
        yield since
        yield counter_family(
            "ocpp_exporter_upstream_failures",
            "Upstream legs refused at connect time or ended by the central system, by reason.",
            ["reason"],
            {(reason,): count for reason, count in self.legs.failures.items()},
        )
        yield counter_family(
            "ocpp_exporter_relay_frames",
            "Websocket messages passed through unchanged, by direction.",
            ["direction"],
            {(direction,): count for direction, count in self.legs.frames.items()},
        )
        yield counter_family(
            "ocpp_exporter_relay_unobserved_frames",
            "Messages forwarded that the exporter could not interpret, by direction and reason.",
            ["direction", "reason"],
            self.legs.unobserved,
        )
        registration = GaugeMetricFamily(
            "ocpp_station_registration_status",
            "1 for the central system's answer to the station's last BootNotification "
            "(Accepted, Pending, Rejected); relay mode only.",
            labels=["station", "site", "status"],
        )
        for station in self.fleet:
            if station.registration_status:
                registration.add_metric([station.id, station.site, station.registration_status], 1)
        yield registration
