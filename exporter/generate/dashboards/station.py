"""One charging station: status timeline, error history and details, connectivity, identity."""

from __future__ import annotations

from exporter.generate import promql
from exporter.generate.dashboards.errors import error_annotation, error_table
from exporter.generate.dashboards.mappings import (
    ONLINE_MAPPINGS,
    STATUSES,
)
from exporter.generate.dashboards.queries import owner_errors
from exporter.generate.dashboards.toolkit import (
    DATASOURCE_VAR,
    Board,
    Height,
    Width,
    link,
    override,
    selector,
    site_var,
    stat,
    state_timeline,
    station_var,
    table,
    target,
    timeseries,
    value_mappings,
)
from exporter.generate.promql import from_connector_owner, from_owner
from exporter.render.families import label_list

STATION_INFO_LABELS = label_list("ocpp_station_info")


def owner_station_info(sel: str) -> str:
    """Identity from the owner replica's last BootNotification; a station no replica heard from
    has no owner, and keeps its (empty) identity row, once."""
    return (
        f"{from_owner(f'ocpp_station_info{sel}', STATION_INFO_LABELS, sel)}\n"
        f"or on(station, site) max by ({STATION_INFO_LABELS}) (ocpp_station_info{sel})"
    )


def status_code_expr(sel: str) -> str:
    """Connector status as a number (see STATUSES) so a state timeline can show one row per
    connector: ocpp_connector_status has one series per status, only the current one present.
    Taken from the owner replica: another replica's last-known status must not win the max."""
    parts = [
        f'{n} * ocpp_connector_status{sel[:-1]}, status="{status}"}}'
        for n, (status, _) in enumerate(STATUSES, 1)
    ]
    return from_connector_owner(
        "(\n  " + "\n  or ".join(parts) + "\n)", "station, connector", sel, hold=False
    )


def _station_increase(counter: str, sel: str, window: str) -> str:
    """A station's sessions or boots summed over replicas: a station that moved counts on each."""
    return f"sum by (station, site) (increase(ocpp_station_{counter}_total{sel}[{window}]))"


def board() -> Board:
    sel = selector(site=False)
    b = Board(
        "station",
        "OCPP station",
        "One charging station: connector status timeline, error history, connectivity, and the "
        "identity it reported at boot.",
        [DATASOURCE_VAR, site_var(multi=True), station_var(multi=False)],
        [error_annotation(sel)],
    )
    b.add(
        stat(
            "Session",
            "Whether the station's OCPP session is open and alive.",
            [target(promql.station_connected(sel), instant=True)],
            [(None, "red"), (1, "green")],
            mappings=ONLINE_MAPPINGS,
        ),
        width=Width.SIXTH,
        height=Height.STAT,
    )
    b.add(
        stat(
            "Last frame",
            "Seconds since the last frame or pong from the station.",
            [target(f"time() - {promql.station_last_seen(sel)}", instant=True)],
            [(None, "green"), (300, "orange"), (900, "red")],
            unit="s",
        ),
        width=Width.SIXTH,
        height=Height.STAT,
    )
    b.add(
        stat(
            "Connects and boots",
            "OCPP sessions opened and BootNotifications sent in the selected time range.",
            [
                target(
                    f"round({_station_increase('connects', sel, '$__range')})",
                    legend="connects",
                    instant=True,
                ),
                target(
                    f"round({_station_increase('boots', sel, '$__range')})",
                    legend="boots",
                    ref="B",
                    instant=True,
                ),
            ],
            [(None, "blue")],
        ),
        width=Width.QUARTER,
        height=Height.STAT,
    )
    b.add(
        table(
            "Station info",
            "Identity from the station's last BootNotification.",
            [
                target(
                    owner_station_info(sel),
                    instant=True,
                    table=True,
                )
            ],
            {
                "site": "Site",
                "vendor": "Vendor",
                "model": "Model",
                "firmware_version": "Firmware",
                "serial_number": "Serial number",
                "ocpp_version": "OCPP",
            },
            [override("site", links=[link("location", "site")])],
        ),
        width=Width.FIVE_TWELFTHS,
        height=Height.STAT,
    )
    b.add(
        state_timeline(
            "Connector status",
            "Status of each connector over time (connector 0 is the station itself).",
            [target(status_code_expr(sel), legend="connector {{connector}}")],
            value_mappings(
                {str(n): (status, color) for n, (status, color) in enumerate(STATUSES, 1)}
            ),
            color="gray",
            show_value="auto",
        ),
        width=Width.FULL,
        height=Height.CHART,
    )
    b.add(
        state_timeline(
            "Error history",
            "Each error code's active periods per connector; hover the annotations for the "
            "resolution steps.",
            [target(owner_errors(sel), legend="connector {{connector}} {{error_code}}")],
            value_mappings({"1": ("active", "red")}),
            color="red",
            show_value="never",
        ),
        width=Width.FULL,
        height=Height.STRIP,
    )
    b.add(error_table("Active errors", sel), width=Width.FULL, height=Height.CHART)
    b.add(
        table(
            "Error details from the station",
            "vendorId, vendorErrorCode and info fields of the StatusNotification that reported "
            "each active error, and the status it came with.",
            [
                target(
                    from_connector_owner(
                        f"ocpp_connector_error_info{sel}",
                        f"{promql.ERROR_LABELS}, status, vendor_id, vendor_error_code, info",
                        sel,
                    ),
                    instant=True,
                    table=True,
                )
            ],
            {
                "connector": "Connector",
                "error_code": "Error code",
                "status": "Status when reported",
                "vendor_id": "Vendor id",
                "vendor_error_code": "Vendor error code",
                "info": "Info",
            },
            [],
        ),
        width=Width.FULL,
        height=Height.STRIP,
    )
    b.add(
        timeseries(
            "Connectivity",
            "1 while the OCPP session is open and alive.",
            [target(promql.station_connected(sel), legend="session")],
            step=True,
        ),
        width=Width.HALF,
        height=Height.COMPACT,
    )
    b.add(
        timeseries(
            "Seconds since last frame",
            "Grows while the station is silent; resets with each frame or pong.",
            [
                target(
                    f"time() - {promql.station_last_seen(sel)}",
                    legend="since last frame",
                )
            ],
            unit="s",
        ),
        width=Width.HALF,
        height=Height.COMPACT,
    )
    b.add(
        timeseries(
            "Firmware update in progress",
            "1 while the station's last FirmwareStatusNotification says an update is under way "
            "(expect it to restart and go offline briefly).",
            [
                target(
                    from_owner(
                        f"ocpp_station_firmware_update_in_progress{sel}", "station, site", sel
                    ),
                    legend="firmware update",
                )
            ],
            step=True,
        ),
        width=Width.HALF,
        height=Height.COMPACT,
    )
    b.add(
        timeseries(
            "Sessions and boots",
            "OCPP sessions opened and BootNotifications sent, per rate interval.",
            [
                target(
                    _station_increase("connects", sel, "$__rate_interval"),
                    legend="connects",
                ),
                target(
                    _station_increase("boots", sel, "$__rate_interval"),
                    legend="boots",
                    ref="B",
                ),
            ],
        ),
        width=Width.HALF,
        height=Height.COMPACT,
    )
    return b
