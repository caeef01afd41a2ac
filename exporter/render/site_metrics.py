"""Prometheus rendering of controller and EMS liveness, built fresh on every scrape from the pure
`Sites` state."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator

from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from exporter.render.metrics import counter_family
from exporter.state.sites import CONTROLLER, EMS, Sites


class SitesCollector(Collector):
    def __init__(self, sites: Sites, clock: Callable[[], float] = time.time) -> None:
        self.sites = sites
        self.clock = clock

    def collect(self) -> Iterator[Metric]:
        now = self.clock()
        controller_up = GaugeMetricFamily(
            "ocpp_controller_up",
            "1 when the site controller is reachable (a liveness signal within stale_after).",
            labels=["controller", "site"],
        )
        controller_seen = GaugeMetricFamily(
            "ocpp_controller_last_seen_timestamp_seconds",
            "Unix time of the controller's last liveness signal (heartbeat or successful probe).",
            labels=["controller", "site"],
        )
        ems_up = GaugeMetricFamily(
            "ocpp_ems_up",
            "1 when the energy management system is reachable (a signal within stale_after).",
            labels=["ems", "site"],
        )
        ems_seen = GaugeMetricFamily(
            "ocpp_ems_last_seen_timestamp_seconds",
            "Unix time of the EMS's last liveness signal (heartbeat, probe or power limit read).",
            labels=["ems", "site"],
        )
        fallback = GaugeMetricFamily(
            "ocpp_ems_fallback_active",
            "1 while the EMS is down and the site runs on its fallback power limit.",
            labels=["ems", "site"],
        )
        limit = GaugeMetricFamily(
            "ocpp_ems_power_limit_watts",
            "The power limit in force: the EMS's live value, or the configured fallback while "
            "the EMS is down.",
            labels=["ems", "site"],
        )
        fallback_limit = GaugeMetricFamily(
            "ocpp_ems_fallback_limit_watts",
            "The configured fallback power limit of the site (applied while the EMS is down).",
            labels=["ems", "site"],
        )
        stale_after = GaugeMetricFamily(
            "ocpp_site_device_stale_after_seconds",
            "How long without a liveness signal before a controller or EMS counts as down.",
            labels=["target_kind", "id", "site"],
        )
        duration = GaugeMetricFamily(
            "ocpp_probe_duration_seconds",
            "How long the last run of the check took (tcp, http or power_limit).",
            labels=["target_kind", "id", "probe"],
        )
        success = GaugeMetricFamily(
            "ocpp_probe_success",
            "1 if the last run of the check succeeded, else 0.",
            labels=["target_kind", "id", "probe"],
        )
        probe_ts = GaugeMetricFamily(
            "ocpp_probe_last_run_timestamp_seconds",
            "Unix time the last run of the check finished.",
            labels=["target_kind", "id", "probe"],
        )
        for state in self.sites:
            labels = [state.id, state.site]
            up = state.is_up(now)
            if state.kind == CONTROLLER:
                controller_up.add_metric(labels, up)
                if state.last_seen:
                    controller_seen.add_metric(labels, state.last_seen)
            elif state.kind == EMS:
                ems_up.add_metric(labels, up)
                if state.last_seen:
                    ems_seen.add_metric(labels, state.last_seen)
                fallback.add_metric(labels, state.fallback_active(now))
                in_force = state.limit_in_force(now)
                if in_force is not None:
                    limit.add_metric(labels, in_force)
                if state.device.fallback_limit_w is not None:
                    fallback_limit.add_metric(labels, state.device.fallback_limit_w)
            stale_after.add_metric([state.kind, state.id, state.site], state.device.stale_after)
            for result in state.checks.values():
                check_labels = [state.kind, state.id, result.probe]
                duration.add_metric(check_labels, result.duration)
                success.add_metric(check_labels, result.ok)
                probe_ts.add_metric(check_labels, result.at)
        yield from (controller_up, controller_seen, ems_up, ems_seen, fallback, limit)
        yield from (fallback_limit, stale_after, duration, success, probe_ts)
        yield counter_family(
            "ocpp_exporter_heartbeat_rejected",
            "Controller/EMS heartbeat pushes refused, by reason.",
            ["reason"],
            {(reason,): count for reason, count in self.sites.rejected.items()},
        )
