"""The exporter's own health: OCPP traffic, protocol errors, connections, frame handling latency
and the cost of a scrape."""

from __future__ import annotations

from exporter.generate.dashboards.toolkit import (
    DATASOURCE_VAR,
    Board,
    Height,
    Width,
    query_var,
    target,
    timeseries,
)


def board() -> Board:
    inst = '{instance=~"$instance"}'
    b = Board(
        "exporter",
        "OCPP exporter",
        "The exporter's own health: OCPP traffic, protocol errors, connections, frame handling "
        "latency and the cost of a scrape.",
        [
            DATASOURCE_VAR,
            query_var(
                "instance",
                "Instance",
                "label_values(ocpp_exporter_build_info, instance)",
                multi=True,
                include_all=True,
            ),
        ],
    )
    rate = "[$__rate_interval]"
    b.add(
        timeseries(
            "Frames per second by action",
            "CALLs received from stations.",
            [
                target(
                    f"sum by (action) (rate(ocpp_exporter_frames_total{inst}{rate}))",
                    legend="{{action}}",
                )
            ],
            unit="reqps",
            stack=True,
        ),
        width=Width.HALF,
        height=Height.CHART,
    )
    b.add(
        timeseries(
            "Frames per second by result",
            "CALLs by how the exporter answered them.",
            [
                target(
                    f"sum by (result) (rate(ocpp_exporter_frames_total{inst}{rate}))",
                    legend="{{result}}",
                )
            ],
            unit="reqps",
            stack=True,
        ),
        width=Width.HALF,
        height=Height.CHART,
    )
    b.add(
        timeseries(
            "Protocol errors and schema violations",
            "Frames or sessions that broke the OCPP-J rules, and payload fields outside the "
            "schema that were recorded leniently.",
            [
                target(
                    f"sum by (reason) (rate(ocpp_exporter_protocol_errors_total{inst}{rate}))",
                    legend="{{reason}}",
                ),
                target(
                    f"sum(rate(ocpp_exporter_schema_violations_total{inst}{rate}))",
                    legend="schema violations",
                    ref="B",
                ),
            ],
            unit="ops",
        ),
        width=Width.HALF,
        height=Height.CHART,
    )
    b.add(
        timeseries(
            "Open connections and stations tracked",
            "Open station websocket sessions, and stations known to the exporter.",
            [
                target(f"sum(ocpp_exporter_open_connections{inst})", legend="open connections"),
                target(
                    f"sum(ocpp_exporter_stations_tracked{inst})",
                    legend="stations tracked",
                    ref="B",
                ),
            ],
        ),
        width=Width.HALF,
        height=Height.CHART,
    )
    b.add(
        timeseries(
            "Connections rejected and disconnects",
            "Websocket upgrades refused before a session started, and sessions that ended, by "
            "reason.",
            [
                target(
                    f"sum by (reason) (rate(ocpp_exporter_connections_rejected_total{inst}{rate}))",
                    legend="rejected: {{reason}}",
                ),
                target(
                    f"sum by (reason) (rate(ocpp_exporter_disconnects_total{inst}{rate}))",
                    legend="disconnect: {{reason}}",
                    ref="B",
                ),
            ],
            unit="ops",
        ),
        width=Width.HALF,
        height=Height.CHART,
    )
    b.add(
        timeseries(
            "Frame handling latency",
            "Time to handle one frame from a station, reply included.",
            [
                target(
                    f"histogram_quantile({q}, sum by (le) "
                    f"(rate(ocpp_exporter_frame_handling_seconds_bucket{inst}{rate})))",
                    legend=f"p{round(q * 100)}",
                    ref=ref,
                )
                for q, ref in ((0.5, "A"), (0.9, "B"), (0.99, "C"))
            ],
            unit="s",
        ),
        width=Width.HALF,
        height=Height.CHART,
    )
    b.add(
        timeseries(
            "Scrape cost",
            "Time the exporter took to render /metrics, and Prometheus' own view of the scrape.",
            [
                target(
                    f"ocpp_exporter_last_scrape_duration_seconds{inst}",
                    legend="render {{instance}}",
                ),
                target(f"scrape_duration_seconds{inst}", legend="scrape {{instance}}", ref="B"),
            ],
            unit="s",
        ),
        width=Width.HALF,
        height=Height.CHART,
    )
    b.add(
        timeseries(
            "Samples per scrape",
            "Series the exporter exposes; grows with stations, connectors and active errors.",
            [target(f"scrape_samples_scraped{inst}", legend="{{instance}}")],
        ),
        width=Width.HALF,
        height=Height.CHART,
    )
    return b
