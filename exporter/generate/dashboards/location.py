"""One site: the charge point details table (every connector with its status and a marker while
an error is active), the site's stations, its controller and its EMS."""

from __future__ import annotations

from exporter.generate import promql
from exporter.generate.dashboards.errors import error_annotation, error_table
from exporter.generate.dashboards.mappings import (
    ERROR_MARKER,
    ONLINE_MAPPINGS,
    SEVERITY_MAPPINGS,
    STATUS_MAPPINGS,
    UP_MAPPINGS,
)
from exporter.generate.dashboards.queries import owner_errors, owner_status
from exporter.generate.dashboards.toolkit import (
    DATASOURCE_VAR,
    Board,
    Height,
    Width,
    colored_background,
    colored_text,
    link,
    override,
    selector,
    site_var,
    station_var,
    table,
    target,
    timeseries,
    value_mappings,
)
from exporter.generate.promql import from_owner


def charge_point_table_expr(sel: str) -> str:
    """One row per connector (one per active error when several are active on it): value = 1
    with the error code and its severity when an error is active, whatever the status, else 0."""
    errors = owner_errors(sel)
    status = owner_status(sel)
    # one identity per station, as for owner_status
    info = (
        "topk by (station, site) (1,\n"
        + from_owner(
            f"ocpp_station_info{sel}", "station, site, vendor, model, firmware_version", sel
        )
        + "\n)"
    )
    return (
        "(\n"
        f"  {errors}\n"
        f"  * on(station, site, connector) group_left(status) {status}\n"
        f"  * on(error_code) group_left(severity, title) {promql.error_code_info()}\n"
        "  or\n"
        f"  0 * {status}\n"
        f"  unless on(station, site, connector) {errors}\n"
        ")\n"
        f"* on(station, site) group_left(vendor, model, firmware_version) {info}"
    )


def board() -> Board:
    sel = selector(station=True)
    site_sel = selector(station=False)
    b = Board(
        "location",
        "OCPP location",
        "One site: the charge point details table (every connector with its status and a red "
        "marker whenever an error code is active), the site controller and the EMS.",
        [DATASOURCE_VAR, site_var(multi=False), station_var(multi=True)],
        [error_annotation(sel)],
    )
    b.add(
        table(
            "Charge point details",
            "One row per connector with its current status. A red marker shows whenever the "
            "station reports an error code for the connector, even when the status is not "
            "Faulted; connector 0 is the station itself.",
            [target(charge_point_table_expr(sel), instant=True, table=True)],
            {
                "station": "Station",
                "connector": "Connector",
                "status": "Status",
                "Value": "Error",
                "error_code": "Error code",
                "severity": "Severity",
                "title": "Error title",
                "vendor": "Vendor",
                "model": "Model",
                "firmware_version": "Firmware",
            },
            [
                override("station", links=[link("station", "station")]),
                override(
                    "status",
                    **colored_text(STATUS_MAPPINGS),
                ),
                override(
                    "Value",
                    **colored_text(
                        [
                            *value_mappings({"0": ("OK", "green")}),
                            {
                                "options": {
                                    "from": 1,
                                    "result": {"color": "red", "index": 1, "text": ERROR_MARKER},
                                    "to": 1e9,
                                },
                                "type": "range",
                            },
                        ]
                    ),
                ),
                override(
                    "severity",
                    **colored_text(SEVERITY_MAPPINGS),
                ),
            ],
        ),
        width=Width.FULL,
        height=Height.TALL_TABLE,
    )
    b.add(
        error_table("Error notifications at this site", sel), width=Width.FULL, height=Height.CHART
    )
    b.add(
        table(
            "Stations",
            "Each station's OCPP session and seconds since its last frame.",
            [
                target(promql.station_connected(sel), instant=True, table=True),
                target(
                    f"time() - {promql.station_last_seen(sel)}\n"
                    "+ on(station, site) group_left(controller) "
                    f"0 * {promql.station_connected(sel)}",
                    ref="B",
                    instant=True,
                    table=True,
                ),
            ],
            {
                "station": "Station",
                "controller": "Controller",
                "Value #A": "Session",
                "Value #B": "Last frame",
            },
            [
                override("station", links=[link("station", "station")]),
                override(
                    "Value #A",
                    **colored_text(ONLINE_MAPPINGS),
                ),
                override("Value #B", unit="s"),
            ],
            merge=True,
        ),
        width=Width.THIRD,
        height=Height.CHART,
    )
    b.add(
        table(
            "Site controller",
            "Whether the site controller is reachable.",
            [target(promql.controller_up(site_sel), instant=True, table=True)],
            {"controller": "Controller", "Value": "State"},
            [
                override(
                    "Value",
                    **colored_background(UP_MAPPINGS),
                )
            ],
        ),
        width=Width.QUARTER,
        height=Height.CHART,
    )
    b.add(
        table(
            "Energy management system",
            "Whether the EMS is reachable, whether the fallback limit is applied, and the power "
            "limit in force.",
            [
                target(promql.ems_up(site_sel), instant=True, table=True),
                target(promql.ems_fallback_active(site_sel), ref="B", instant=True, table=True),
                target(promql.ems_power_limit(site_sel), ref="C", instant=True, table=True),
            ],
            {
                "ems": "EMS",
                "Value #A": "State",
                "Value #B": "Fallback",
                "Value #C": "Power limit",
            },
            [
                override(
                    "Value #A",
                    **colored_background(UP_MAPPINGS),
                ),
                override(
                    "Value #B",
                    **colored_text(
                        value_mappings(
                            {"1": ("fallback applied", "orange"), "0": ("live limit", "green")}
                        )
                    ),
                ),
                override("Value #C", unit="watt"),
            ],
            merge=True,
        ),
        width=Width.FIVE_TWELFTHS,
        height=Height.CHART,
    )
    b.add(
        timeseries(
            "EMS power limit",
            "The power limit in force; the fallback value while the EMS is unreachable.",
            [target(promql.ems_power_limit(site_sel), legend="{{ems}}")],
            unit="watt",
            step=True,
        ),
        width=Width.HALF,
        height=Height.CHART,
    )
    b.add(
        timeseries(
            "Active errors at this site",
            "Active OCPP error codes by connector.",
            [
                target(
                    f"sum by (station, connector, error_code) ({owner_errors(sel)})",
                    legend="{{station}}/{{connector}} {{error_code}}",
                )
            ],
            stack=True,
            step=True,
        ),
        width=Width.HALF,
        height=Height.CHART,
    )
    return b
