"""The fleet overview: stations online and offline, active errors with what to do about them,
offline controllers and energy management systems."""

from __future__ import annotations

from exporter.generate import promql
from exporter.generate.dashboards.errors import error_annotation, error_table
from exporter.generate.dashboards.queries import errors_with_text, owner_errors
from exporter.generate.dashboards.toolkit import (
    DATASOURCE_VAR,
    Board,
    Height,
    Width,
    fixed_thresholds,
    link,
    override,
    panel,
    selector,
    site_var,
    stat,
    station_var,
    table,
    target,
    timeseries,
    value_mappings,
)


def offline_table_expr(up: str, kind: str) -> str:
    """Offline things (`up`: one series per thing, 0 when offline) with the catalog's
    notification text; value = 1."""
    return (
        f"(({up} == 0) + 1)\n"
        f"* on() group_left(severity, title, resolution) {promql.notification_info(kind)}"
    )


def board() -> Board:
    sel = selector()
    site_sel = selector(station=False)
    b = Board(
        "fleet",
        "OCPP fleet overview",
        "Charging stations online and offline, active OCPP errors with what to do about them, "
        "offline controllers and energy management systems.",
        [DATASOURCE_VAR, site_var(multi=True), station_var(multi=True)],
        [error_annotation(sel)],
    )
    b.add(
        stat(
            "Stations online",
            "Stations whose OCPP session is open and alive.",
            [target(f"sum({promql.station_connected(sel)})", instant=True)],
            [(None, "green")],
        ),
        width=Width.SIXTH,
        height=Height.STAT,
    )
    b.add(
        stat(
            "Stations offline",
            "Known stations (configured or seen) without a live OCPP session.",
            [
                target(
                    f"count({promql.station_connected(sel)} == 0) or vector(0)",
                    instant=True,
                )
            ],
            [(None, "green"), (1, "red")],
        ),
        width=Width.SIXTH,
        height=Height.STAT,
    )
    b.add(
        stat(
            "Active errors by severity",
            "Active OCPP error codes, counted by the catalog's severity.",
            [
                target(
                    f"sum by (severity) ({errors_with_text(sel)})\n"
                    "or sum by (severity) (0 * ocpp_error_code_info)",
                    legend="{{severity}}",
                    instant=True,
                )
            ],
            [(None, "green"), (1, "red")],
        ),
        width=Width.THIRD,
        height=Height.STAT,
    )
    b.add(
        stat(
            "Controllers offline",
            "Site controllers that are not reachable.",
            [
                target(
                    f"count({promql.controller_up(site_sel)} == 0) or vector(0)",
                    instant=True,
                )
            ],
            [(None, "green"), (1, "red")],
        ),
        width=Width.SIXTH,
        height=Height.STAT,
    )
    b.add(
        stat(
            "EMS on fallback",
            "Energy management systems whose fallback power limit is applied.",
            [
                target(
                    f"sum({promql.ems_fallback_active(site_sel)}) or vector(0)",
                    instant=True,
                )
            ],
            [(None, "green"), (1, "orange")],
        ),
        width=Width.SIXTH,
        height=Height.STAT,
    )
    b.add(error_table("Error notifications", sel), width=Width.FULL, height=Height.TABLE)
    b.add(
        panel(
            "bargauge",
            "Active errors by code",
            "How many connectors report each error code right now.",
            [
                target(
                    f"sort_desc(sum by (error_code) ({owner_errors(sel)}))",
                    legend="{{error_code}}",
                    instant=True,
                )
            ],
            defaults={"thresholds": fixed_thresholds("red"), "min": 0},
            options={
                "displayMode": "basic",
                "orientation": "horizontal",
                "reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False},
                "showUnfilled": True,
            },
        ),
        width=Width.THIRD,
        height=Height.CHART,
    )
    b.add(
        timeseries(
            "Active errors over time",
            "Active OCPP error codes by severity; the annotations mark each error period with "
            "its resolution steps.",
            [
                target(
                    f"sum by (severity) ({errors_with_text(sel)})",
                    legend="{{severity}}",
                )
            ],
            stack=True,
            step=True,
        ),
        width=Width.TWO_THIRDS,
        height=Height.CHART,
    )
    b.add(
        table(
            "Offline stations",
            "Stations without a live OCPP session, with the time of their last frame.",
            [
                target(
                    f"1000 * {promql.station_last_seen(sel)}\n"
                    f"* on(station, site) group_left(controller) "
                    f"(({promql.station_connected(sel)} == 0) + 1)\n"
                    "or on(station, site)\n"
                    f"0 * ({promql.station_connected(sel)} == 0)",
                    instant=True,
                    table=True,
                )
            ],
            {
                "station": "Station",
                "site": "Site",
                "controller": "Controller",
                "Value": "Last seen",
            },
            [
                override("station", links=[link("station", "station")]),
                override("site", links=[link("location", "site")]),
                override(
                    "Value",
                    unit="dateTimeFromNow",
                    mappings=value_mappings({"0": ("never", "red")}),
                ),
            ],
        ),
        width=Width.THIRD,
        height=Height.CHART,
    )
    b.add(
        table(
            "Offline controllers",
            "Site controllers that are not reachable, with what to do.",
            [
                target(
                    offline_table_expr(promql.controller_up(site_sel), "controller_offline"),
                    instant=True,
                    table=True,
                )
            ],
            {"controller": "Controller", "site": "Site", "resolution": "Resolution steps"},
            [
                override("site", links=[link("location", "site")]),
                override(
                    "resolution",
                    **{"custom.cellOptions": {"type": "auto", "wrapText": True}},
                ),
            ],
        ),
        width=Width.THIRD,
        height=Height.CHART,
    )
    b.add(
        table(
            "Offline energy management systems",
            "EMS that are not reachable, with the power limit in force (the fallback).",
            [
                target(
                    f"({promql.ems_power_limit(site_sel)})\n"
                    f"and on(ems, site) ({promql.ems_up(site_sel)} == 0)",
                    instant=True,
                    table=True,
                )
            ],
            {"ems": "EMS", "site": "Site", "Value": "Power limit in force"},
            [
                override("site", links=[link("location", "site")]),
                override("Value", unit="watt"),
            ],
        ),
        width=Width.THIRD,
        height=Height.CHART,
    )
    b.add(
        timeseries(
            "Stations online and offline",
            "Stations with and without a live OCPP session.",
            [
                target(f"sum({promql.station_connected(sel)})", legend="online"),
                target(f"count({promql.station_connected(sel)} == 0)", legend="offline", ref="B"),
            ],
            step=True,
        ),
        width=Width.HALF,
        height=Height.CHART,
    )
    b.add(
        timeseries(
            "Active errors by code",
            "Connectors reporting each error code over time.",
            [target(f"sum by (error_code) ({owner_errors(sel)})", legend="{{error_code}}")],
            stack=True,
            step=True,
        ),
        width=Width.HALF,
        height=Height.CHART,
    )
    return b
