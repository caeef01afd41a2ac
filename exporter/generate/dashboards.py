"""Grafana dashboards generated from the catalog: fleet overview, location, station, exporter.

The dashboards join state series with `ocpp_error_code_info` in PromQL rather than in Grafana
transformations, so what a panel shows can be checked against a real Prometheus in tests (no
Grafana binary is needed to know that the error table carries the resolution steps). Output is
deterministic: panel ids follow the order panels are added and JSON keys are sorted.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import yaml

from exporter.generate import promql
from exporter.generate.promql import from_owner
from exporter.knowledge.catalog import Catalog
from exporter.knowledge.severity import SEVERITY_ORDER

#: uid of the Prometheus datasource in grafana/provisioning/datasources; dashboards refer to it
#: only through the `datasource` variable, so they also work with any other Prometheus.
DATASOURCE_UID = "ocpp-prometheus"
DS = {"type": "prometheus", "uid": "${datasource}"}
TAG = "ocpp-exporter"
SCHEMA_VERSION = 39
REFRESH = "30s"

UID = {
    "fleet": "ocpp-fleet",
    "location": "ocpp-location",
    "station": "ocpp-station",
    "exporter": "ocpp-exporter-self",
}
SLUG = {
    "fleet": "ocpp-fleet-overview",
    "location": "ocpp-location",
    "station": "ocpp-station",
    "exporter": "ocpp-exporter",
}

SEVERITY_COLOR = {"critical": "red", "warning": "orange", "info": "blue"}
#: Connector statuses (OCPP 1.6 ChargePointStatus, then 2.0.1 ConnectorStatus additions) with the
#: number the status timeline encodes them as, and their colour.
STATUSES = (
    ("Available", "green"),
    ("Preparing", "light-blue"),
    ("Charging", "blue"),
    ("SuspendedEVSE", "yellow"),
    ("SuspendedEV", "light-yellow"),
    ("Finishing", "purple"),
    ("Reserved", "light-purple"),
    ("Unavailable", "gray"),
    ("Faulted", "red"),
    ("Occupied", "blue"),
)
ERROR_MARKER = "\u24d8 error"  # a circled "i": the red info icon of the charge point table


def _link(board: str, var: str) -> dict[str, Any]:
    """Data link from a table cell to another dashboard, keeping datasource and time range."""
    return {
        "targetBlank": False,
        "title": f"Open {board} dashboard",
        "url": f"/d/{UID[board]}/{SLUG[board]}?var-datasource=${{datasource}}"
        f"&var-{var}=${{__value.raw}}&${{__url_time_range}}",
    }


def _target(
    expr: str, legend: str = "", ref: str = "A", instant: bool = False, table: bool = False
) -> dict[str, Any]:
    return {
        "datasource": DS,
        "editorMode": "code",
        "expr": expr,
        "format": "table" if table else "time_series",
        "instant": instant,
        "legendFormat": legend,
        "range": not instant,
        "refId": ref,
    }


def _value_mappings(values: dict[str, tuple[str, str]]) -> list[dict[str, Any]]:
    """{raw value: (text, color)} -> one Grafana "value" mapping."""
    return [
        {
            "options": {
                raw: {"color": color, "index": i, "text": text}
                for i, (raw, (text, color)) in enumerate(values.items())
            },
            "type": "value",
        }
    ]


def _override(name: str, **props: Any) -> dict[str, Any]:
    return {
        "matcher": {"id": "byName", "options": name},
        "properties": [{"id": key, "value": value} for key, value in props.items()],
    }


def _cell(kind: str) -> dict[str, Any]:
    return {"type": kind}


SEVERITY_MAPPINGS = _value_mappings({s: (s, SEVERITY_COLOR[s]) for s in SEVERITY_ORDER})
STATUS_MAPPINGS = _value_mappings({s: (s, color) for s, color in STATUSES})
ONLINE_MAPPINGS = _value_mappings({"1": ("online", "green"), "0": ("offline", "red")})
UP_MAPPINGS = _value_mappings({"1": ("up", "green"), "0": ("down", "red")})


def _fixed_thresholds(color: str = "text") -> dict[str, Any]:
    return {"mode": "absolute", "steps": [{"color": color, "value": None}]}


@dataclass
class Board:
    """A dashboard under construction: lays panels out left to right, top to bottom."""

    key: str
    title: str
    description: str
    variables: list[dict[str, Any]]
    annotations: list[dict[str, Any]] = field(default_factory=list)
    panels: list[dict[str, Any]] = field(default_factory=list)
    _x: int = 0
    _y: int = 0
    _row_h: int = 0

    def add(self, panel: dict[str, Any], w: int, h: int) -> None:
        if self._x + w > 24:
            self._x, self._y, self._row_h = 0, self._y + self._row_h, 0
        panel["id"] = len(self.panels) + 1
        panel["gridPos"] = {"h": h, "w": w, "x": self._x, "y": self._y}
        panel["datasource"] = DS
        self.panels.append(panel)
        self._x += w
        self._row_h = max(self._row_h, h)

    def render(self) -> dict[str, Any]:
        return {
            "annotations": {"list": self.annotations},
            "description": self.description,
            "editable": True,
            "fiscalYearStartMonth": 0,
            "graphTooltip": 1,
            "links": [
                {
                    "asDropdown": False,
                    "icon": "external link",
                    "includeVars": False,
                    "keepTime": True,
                    "tags": [TAG],
                    "targetBlank": False,
                    "title": "OCPP dashboards",
                    "type": "dashboards",
                }
            ],
            "panels": self.panels,
            "refresh": REFRESH,
            "schemaVersion": SCHEMA_VERSION,
            "tags": [TAG],
            "templating": {"list": self.variables},
            "time": {"from": "now-6h", "to": "now"},
            "timepicker": {},
            "timezone": "browser",
            "title": self.title,
            "uid": UID[self.key],
            "version": 1,
        }


def _panel(
    kind: str,
    title: str,
    description: str,
    targets: list[dict[str, Any]],
    defaults: dict[str, Any] | None = None,
    overrides: list[dict[str, Any]] | None = None,
    options: dict[str, Any] | None = None,
    transformations: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    panel: dict[str, Any] = {
        "description": description,
        "fieldConfig": {"defaults": defaults or {}, "overrides": overrides or []},
        "options": options or {},
        "targets": targets,
        "title": title,
        "type": kind,
    }
    if transformations:
        panel["transformations"] = transformations
    return panel


def _timeseries(
    title: str,
    description: str,
    targets: list[dict[str, Any]],
    unit: str = "short",
    stack: bool = False,
    step: bool = False,
) -> dict[str, Any]:
    custom: dict[str, Any] = {
        "drawStyle": "line",
        "fillOpacity": 20 if stack else 0,
        "lineInterpolation": "stepAfter" if step else "linear",
        "showPoints": "never",
        "spanNulls": False,
        "stacking": {"group": "A", "mode": "normal" if stack else "none"},
    }
    return _panel(
        "timeseries",
        title,
        description,
        targets,
        defaults={"custom": custom, "min": 0, "unit": unit},
        options={
            "legend": {"calcs": ["lastNotNull"], "displayMode": "table", "placement": "right"},
            "tooltip": {"mode": "multi", "sort": "desc"},
        },
    )


def _stat(
    title: str,
    description: str,
    targets: list[dict[str, Any]],
    thresholds: list[tuple[float | None, str]],
    unit: str = "short",
    mappings: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    return _panel(
        "stat",
        title,
        description,
        targets,
        defaults={
            "mappings": mappings or [],
            "thresholds": {
                "mode": "absolute",
                "steps": [{"color": color, "value": value} for value, color in thresholds],
            },
            "unit": unit,
        },
        options={
            "colorMode": "background",
            "graphMode": "none",
            "justifyMode": "auto",
            "orientation": "auto",
            "reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False},
            "textMode": "value_and_name",
        },
    )


def _table(
    title: str,
    description: str,
    targets: list[dict[str, Any]],
    columns: dict[str, str],
    overrides: list[dict[str, Any]],
    sort_by: str | None = None,
    merge: bool = False,
) -> dict[str, Any]:
    """An instant table; `columns` maps field name -> header, in display order. Fields not
    listed (Time, label noise) are hidden."""
    transformations = [{"id": "merge", "options": {}}] if merge else []
    transformations += [
        {"id": "filterFieldsByName", "options": {"include": {"names": list(columns)}}},
        {
            "id": "organize",
            "options": {
                "excludeByName": {},
                "indexByName": {name: i for i, name in enumerate(columns)},
                "renameByName": columns,
            },
        },
    ]
    options: dict[str, Any] = {"cellHeight": "sm", "footer": {"show": False}, "showHeader": True}
    if sort_by:
        options["sortBy"] = [{"desc": True, "displayName": columns[sort_by]}]
    return _panel(
        "table",
        title,
        description,
        targets,
        defaults={
            "custom": {"align": "auto", "cellOptions": {"type": "auto"}, "filterable": True},
            "thresholds": _fixed_thresholds(),
        },
        overrides=overrides,
        options=options,
        transformations=transformations,
    )


def _query_var(name: str, label: str, query: str, multi: bool, include_all: bool) -> dict[str, Any]:
    var: dict[str, Any] = {
        "current": {},
        "datasource": DS,
        "definition": query,
        "hide": 0,
        "includeAll": include_all,
        "label": label,
        "multi": multi,
        "name": name,
        "options": [],
        "query": {"query": query, "refId": "PrometheusVariableQueryEditor-VariableQuery"},
        "refresh": 2,
        "regex": "",
        "skipUrlSync": False,
        "sort": 1,
        "type": "query",
    }
    if include_all:
        var["allValue"] = ".*"
    return var


DATASOURCE_VAR = {
    "current": {},
    "hide": 0,
    "includeAll": False,
    "label": "Data source",
    "multi": False,
    "name": "datasource",
    "options": [],
    "query": "prometheus",
    "refresh": 1,
    "regex": "",
    "skipUrlSync": False,
    "type": "datasource",
}


def _site_var(multi: bool) -> dict[str, Any]:
    return _query_var(
        "site", "Site", "label_values(ocpp_station_connected, site)", multi=multi, include_all=multi
    )


def _station_var(multi: bool) -> dict[str, Any]:
    return _query_var(
        "station",
        "Station",
        'label_values(ocpp_station_connected{site=~"$site"}, station)',
        multi=multi,
        include_all=multi,
    )


def _sel(site: bool = True, station: bool = True, extra: str = "") -> str:
    parts = []
    if site:
        parts.append('site=~"$site"')
    if station:
        parts.append('station=~"$station"')
    if extra:
        parts.append(extra)
    return "{" + ", ".join(parts) + "}"


# --- expressions shared by several dashboards ---------------------------------------------


def owner_errors(sel: str) -> str:
    """Active errors, each once, as the station's owner replica sees them (promql.py): a
    replica's last-known errors for a station that moved away are neither shown nor counted."""
    return from_owner(f"ocpp_connector_error{sel}", promql.ERROR_LABELS, sel)


def owner_status(sel: str) -> str:
    """Each connector's current status from the station's owner replica, one per connector as the
    "one" side of a join needs: for the few seconds a station's session is open on two replicas
    (the old one has not seen the close yet, or their scrapes straddle the move) both own it,
    and `topk` picks one status rather than failing the query."""
    owned = from_owner(f"ocpp_connector_status{sel}", "station, site, connector, status", sel)
    return f"topk by (station, site, connector) (1,\n{owned}\n)"


STATION_INFO_LABELS = "station, site, vendor, model, firmware_version, serial_number, ocpp_version"


def owner_station_info(sel: str) -> str:
    """Identity from the owner replica's last BootNotification; a station no replica heard from
    has no owner, and keeps its (empty) identity row, once."""
    return (
        f"{from_owner(f'ocpp_station_info{sel}', STATION_INFO_LABELS, sel)}\n"
        f"or on(station, site) max by ({STATION_INFO_LABELS}) (ocpp_station_info{sel})"
    )


def errors_with_text(sel: str) -> str:
    """Active errors with the catalog's severity, title and resolution steps as labels."""
    return (
        f"{owner_errors(sel)}\n"
        "* on(error_code) group_left(severity, title, description, resolution)\n"
        f"{promql.error_code_info()}"
    )


def notification_table_expr(sel: str) -> str:
    """One row per active error: value = since (ms), labels = current connector status and the
    catalog text. Joined in PromQL so a missing catalog entry cannot silently drop the text."""
    since = from_owner(
        f"ocpp_connector_error_since_timestamp_seconds{sel}", promql.ERROR_LABELS, sel
    )
    return (
        f"1000 * {since}\n"
        f"* on(station, site, connector) group_left(status) {owner_status(sel)}\n"
        "* on(error_code) group_left(severity, title, description, resolution, runbook_url)\n"
        f"{promql.error_code_info()}"
    )


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


def status_code_expr(sel: str) -> str:
    """Connector status as a number (see STATUSES) so a state timeline can show one row per
    connector: ocpp_connector_status has one series per status, only the current one present.
    Taken from the owner replica: another replica's last-known status must not win the max."""
    parts = [
        f'{n} * ocpp_connector_status{sel[:-1]}, status="{status}"}}'
        for n, (status, _) in enumerate(STATUSES, 1)
    ]
    return from_owner("(\n  " + "\n  or ".join(parts) + "\n)", "station, connector", sel)


def _station_increase(counter: str, sel: str, window: str) -> str:
    """A station's sessions or boots summed over replicas: a station that moved counts on each."""
    return f"sum by (station, site) (increase(ocpp_station_{counter}_total{sel}[{window}]))"


def offline_table_expr(up: str, kind: str) -> str:
    """Offline things (`up`: one series per thing, 0 when offline) with the catalog's
    notification text; value = 1."""
    return (
        f"(({up} == 0) + 1)\n"
        f"* on() group_left(severity, title, resolution) {promql.notification_info(kind)}"
    )


def error_annotation(sel: str) -> dict[str, Any]:
    """Marks every error period on every time series panel: title = code and where, text = the
    numbered resolution steps from the catalog."""
    return {
        "datasource": DS,
        "enable": True,
        "expr": errors_with_text(sel),
        "hide": False,
        "iconColor": "red",
        "name": "OCPP errors",
        "step": "30s",
        "tagKeys": "severity,error_code,site,station",
        "textFormat": "{{title}} ({{severity}})\n{{resolution}}",
        "titleFormat": "{{error_code}} on {{station}} connector {{connector}}",
        "useValueForTime": False,
    }


# --- table field overrides ----------------------------------------------------------------


def _error_table_overrides() -> list[dict[str, Any]]:
    return [
        _override("station", links=[_link("station", "station")]),
        _override("site", links=[_link("location", "site")]),
        _override(
            "severity", mappings=SEVERITY_MAPPINGS, **{"custom.cellOptions": _cell("color-text")}
        ),
        _override(
            "status", mappings=STATUS_MAPPINGS, **{"custom.cellOptions": _cell("color-text")}
        ),
        _override("Value", unit="dateTimeFromNow"),
        _override(
            "resolution",
            **{
                "custom.cellOptions": {"type": "auto", "wrapText": True},
                "custom.inspect": True,
                "custom.minWidth": 400,
            },
        ),
        _override("description", **{"custom.inspect": True, "custom.minWidth": 200}),
        # kept in the frame (hidden) so the error code can link to its runbook
        _override("runbook_url", **{"custom.hidden": True}),
        _override(
            "error_code",
            links=[
                {
                    "targetBlank": True,
                    "title": "Runbook for ${__value.raw}",
                    "url": "${__data.fields.runbook_url}",
                }
            ],
        ),
    ]


ERROR_TABLE_COLUMNS = {
    "station": "Station",
    "site": "Site",
    "connector": "Connector",
    "status": "Status",
    "error_code": "Error code",
    "Value": "Since",
    "severity": "Severity",
    "title": "Error",
    "description": "Description",
    "resolution": "Resolution steps",
    "runbook_url": "Runbook",
}


def _error_table(title: str, sel: str) -> dict[str, Any]:
    return _table(
        title,
        "Every active OCPP error code, whatever the connector status (a station may report an "
        "error while Available or Charging), with the catalog's steps to resolve it. A row "
        "disappears as soon as the station reports NoError for the connector.",
        [_target(notification_table_expr(sel), instant=True, table=True)],
        ERROR_TABLE_COLUMNS,
        _error_table_overrides(),
        sort_by="Value",
    )


# --- dashboards -----------------------------------------------------------------------------


def fleet() -> Board:
    sel = _sel()
    site_sel = _sel(station=False)
    b = Board(
        "fleet",
        "OCPP fleet overview",
        "Charging stations online and offline, active OCPP errors with what to do about them, "
        "offline controllers and energy management systems.",
        [DATASOURCE_VAR, _site_var(multi=True), _station_var(multi=True)],
        [error_annotation(sel)],
    )
    b.add(
        _stat(
            "Stations online",
            "Stations whose OCPP session is open and alive.",
            [_target(f"sum({promql.station_connected(sel)})", instant=True)],
            [(None, "green")],
        ),
        4,
        4,
    )
    b.add(
        _stat(
            "Stations offline",
            "Known stations (configured or seen) without a live OCPP session.",
            [
                _target(
                    f"count({promql.station_connected(sel)} == 0) or vector(0)",
                    instant=True,
                )
            ],
            [(None, "green"), (1, "red")],
        ),
        4,
        4,
    )
    b.add(
        _stat(
            "Active errors by severity",
            "Active OCPP error codes, counted by the catalog's severity.",
            [
                _target(
                    f"sum by (severity) ({errors_with_text(sel)})\n"
                    "or sum by (severity) (0 * ocpp_error_code_info)",
                    legend="{{severity}}",
                    instant=True,
                )
            ],
            [(None, "green"), (1, "red")],
        ),
        8,
        4,
    )
    b.add(
        _stat(
            "Controllers offline",
            "Site controllers that are not reachable.",
            [
                _target(
                    f"count({promql.controller_up(site_sel)} == 0) or vector(0)",
                    instant=True,
                )
            ],
            [(None, "green"), (1, "red")],
        ),
        4,
        4,
    )
    b.add(
        _stat(
            "EMS on fallback",
            "Energy management systems whose fallback power limit is applied.",
            [
                _target(
                    f"sum({promql.ems_fallback_active(site_sel)}) or vector(0)",
                    instant=True,
                )
            ],
            [(None, "green"), (1, "orange")],
        ),
        4,
        4,
    )
    b.add(_error_table("Error notifications", sel), 24, 10)
    b.add(
        _panel(
            "bargauge",
            "Active errors by code",
            "How many connectors report each error code right now.",
            [
                _target(
                    f"sort_desc(sum by (error_code) ({owner_errors(sel)}))",
                    legend="{{error_code}}",
                    instant=True,
                )
            ],
            defaults={"thresholds": _fixed_thresholds("red"), "min": 0},
            options={
                "displayMode": "basic",
                "orientation": "horizontal",
                "reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False},
                "showUnfilled": True,
            },
        ),
        8,
        8,
    )
    b.add(
        _timeseries(
            "Active errors over time",
            "Active OCPP error codes by severity; the annotations mark each error period with "
            "its resolution steps.",
            [
                _target(
                    f"sum by (severity) ({errors_with_text(sel)})",
                    legend="{{severity}}",
                )
            ],
            stack=True,
            step=True,
        ),
        16,
        8,
    )
    b.add(
        _table(
            "Offline stations",
            "Stations without a live OCPP session, with the time of their last frame.",
            [
                _target(
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
                _override("station", links=[_link("station", "station")]),
                _override("site", links=[_link("location", "site")]),
                _override(
                    "Value",
                    unit="dateTimeFromNow",
                    mappings=_value_mappings({"0": ("never", "red")}),
                ),
            ],
        ),
        8,
        8,
    )
    b.add(
        _table(
            "Offline controllers",
            "Site controllers that are not reachable, with what to do.",
            [
                _target(
                    offline_table_expr(promql.controller_up(site_sel), "controller_offline"),
                    instant=True,
                    table=True,
                )
            ],
            {"controller": "Controller", "site": "Site", "resolution": "Resolution steps"},
            [
                _override("site", links=[_link("location", "site")]),
                _override(
                    "resolution",
                    **{"custom.cellOptions": {"type": "auto", "wrapText": True}},
                ),
            ],
        ),
        8,
        8,
    )
    b.add(
        _table(
            "Offline energy management systems",
            "EMS that are not reachable, with the power limit in force (the fallback).",
            [
                _target(
                    f"({promql.ems_power_limit(site_sel)})\n"
                    f"and on(ems, site) ({promql.ems_up(site_sel)} == 0)",
                    instant=True,
                    table=True,
                )
            ],
            {"ems": "EMS", "site": "Site", "Value": "Power limit in force"},
            [
                _override("site", links=[_link("location", "site")]),
                _override("Value", unit="watt"),
            ],
        ),
        8,
        8,
    )
    b.add(
        _timeseries(
            "Stations online and offline",
            "Stations with and without a live OCPP session.",
            [
                _target(f"sum({promql.station_connected(sel)})", legend="online"),
                _target(f"count({promql.station_connected(sel)} == 0)", legend="offline", ref="B"),
            ],
            step=True,
        ),
        12,
        8,
    )
    b.add(
        _timeseries(
            "Active errors by code",
            "Connectors reporting each error code over time.",
            [_target(f"sum by (error_code) ({owner_errors(sel)})", legend="{{error_code}}")],
            stack=True,
            step=True,
        ),
        12,
        8,
    )
    return b


def location() -> Board:
    sel = _sel(station=True)
    site_sel = _sel(station=False)
    b = Board(
        "location",
        "OCPP location",
        "One site: the charge point details table (every connector with its status and a red "
        "marker whenever an error code is active), the site controller and the EMS.",
        [DATASOURCE_VAR, _site_var(multi=False), _station_var(multi=True)],
        [error_annotation(sel)],
    )
    b.add(
        _table(
            "Charge point details",
            "One row per connector with its current status. A red marker shows whenever the "
            "station reports an error code for the connector, even when the status is not "
            "Faulted; connector 0 is the station itself.",
            [_target(charge_point_table_expr(sel), instant=True, table=True)],
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
                _override("station", links=[_link("station", "station")]),
                _override(
                    "status",
                    mappings=STATUS_MAPPINGS,
                    **{"custom.cellOptions": _cell("color-text")},
                ),
                _override(
                    "Value",
                    mappings=[
                        *_value_mappings({"0": ("OK", "green")}),
                        {
                            "options": {
                                "from": 1,
                                "result": {"color": "red", "index": 1, "text": ERROR_MARKER},
                                "to": 1e9,
                            },
                            "type": "range",
                        },
                    ],
                    **{"custom.cellOptions": _cell("color-text")},
                ),
                _override(
                    "severity",
                    mappings=SEVERITY_MAPPINGS,
                    **{"custom.cellOptions": _cell("color-text")},
                ),
            ],
        ),
        24,
        12,
    )
    b.add(_error_table("Error notifications at this site", sel), 24, 8)
    b.add(
        _table(
            "Stations",
            "Each station's OCPP session and seconds since its last frame.",
            [
                _target(promql.station_connected(sel), instant=True, table=True),
                _target(
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
                _override("station", links=[_link("station", "station")]),
                _override(
                    "Value #A",
                    mappings=ONLINE_MAPPINGS,
                    **{"custom.cellOptions": _cell("color-text")},
                ),
                _override("Value #B", unit="s"),
            ],
            merge=True,
        ),
        8,
        8,
    )
    b.add(
        _table(
            "Site controller",
            "Whether the site controller is reachable.",
            [_target(promql.controller_up(site_sel), instant=True, table=True)],
            {"controller": "Controller", "Value": "State"},
            [
                _override(
                    "Value",
                    mappings=UP_MAPPINGS,
                    **{"custom.cellOptions": _cell("color-background")},
                )
            ],
        ),
        6,
        8,
    )
    b.add(
        _table(
            "Energy management system",
            "Whether the EMS is reachable, whether the fallback limit is applied, and the power "
            "limit in force.",
            [
                _target(promql.ems_up(site_sel), instant=True, table=True),
                _target(promql.ems_fallback_active(site_sel), ref="B", instant=True, table=True),
                _target(promql.ems_power_limit(site_sel), ref="C", instant=True, table=True),
            ],
            {
                "ems": "EMS",
                "Value #A": "State",
                "Value #B": "Fallback",
                "Value #C": "Power limit",
            },
            [
                _override(
                    "Value #A",
                    mappings=UP_MAPPINGS,
                    **{"custom.cellOptions": _cell("color-background")},
                ),
                _override(
                    "Value #B",
                    mappings=_value_mappings(
                        {"1": ("fallback applied", "orange"), "0": ("live limit", "green")}
                    ),
                    **{"custom.cellOptions": _cell("color-text")},
                ),
                _override("Value #C", unit="watt"),
            ],
            merge=True,
        ),
        10,
        8,
    )
    b.add(
        _timeseries(
            "EMS power limit",
            "The power limit in force; the fallback value while the EMS is unreachable.",
            [_target(promql.ems_power_limit(site_sel), legend="{{ems}}")],
            unit="watt",
            step=True,
        ),
        12,
        8,
    )
    b.add(
        _timeseries(
            "Active errors at this site",
            "Active OCPP error codes by connector.",
            [
                _target(
                    f"sum by (station, connector, error_code) ({owner_errors(sel)})",
                    legend="{{station}}/{{connector}} {{error_code}}",
                )
            ],
            stack=True,
            step=True,
        ),
        12,
        8,
    )
    return b


def station() -> Board:
    sel = _sel(site=False)
    b = Board(
        "station",
        "OCPP station",
        "One charging station: connector status timeline, error history, connectivity, and the "
        "identity it reported at boot.",
        [DATASOURCE_VAR, _site_var(multi=True), _station_var(multi=False)],
        [error_annotation(sel)],
    )
    b.add(
        _stat(
            "Session",
            "Whether the station's OCPP session is open and alive.",
            [_target(promql.station_connected(sel), instant=True)],
            [(None, "red"), (1, "green")],
            mappings=ONLINE_MAPPINGS,
        ),
        4,
        4,
    )
    b.add(
        _stat(
            "Last frame",
            "Seconds since the last frame or pong from the station.",
            [_target(f"time() - {promql.station_last_seen(sel)}", instant=True)],
            [(None, "green"), (300, "orange"), (900, "red")],
            unit="s",
        ),
        4,
        4,
    )
    b.add(
        _stat(
            "Connects and boots",
            "OCPP sessions opened and BootNotifications sent in the selected time range.",
            [
                _target(
                    f"round({_station_increase('connects', sel, '$__range')})",
                    legend="connects",
                    instant=True,
                ),
                _target(
                    f"round({_station_increase('boots', sel, '$__range')})",
                    legend="boots",
                    ref="B",
                    instant=True,
                ),
            ],
            [(None, "blue")],
        ),
        6,
        4,
    )
    b.add(
        _table(
            "Station info",
            "Identity from the station's last BootNotification.",
            [
                _target(
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
            [_override("site", links=[_link("location", "site")])],
        ),
        10,
        4,
    )
    b.add(
        _panel(
            "state-timeline",
            "Connector status",
            "Status of each connector over time (connector 0 is the station itself).",
            [_target(status_code_expr(sel), legend="connector {{connector}}")],
            defaults={
                "color": {"mode": "thresholds"},
                "mappings": _value_mappings(
                    {str(n): (status, color) for n, (status, color) in enumerate(STATUSES, 1)}
                ),
                "thresholds": _fixed_thresholds("gray"),
            },
            options={
                "mergeValues": True,
                "rowHeight": 0.8,
                "showValue": "auto",
                "legend": {"displayMode": "list", "placement": "bottom", "showLegend": False},
            },
        ),
        24,
        8,
    )
    b.add(
        _panel(
            "state-timeline",
            "Error history",
            "Each error code's active periods per connector; hover the annotations for the "
            "resolution steps.",
            [
                _target(
                    owner_errors(sel),
                    legend="connector {{connector}} {{error_code}}",
                )
            ],
            defaults={
                "color": {"mode": "thresholds"},
                "mappings": _value_mappings({"1": ("active", "red")}),
                "thresholds": _fixed_thresholds("red"),
            },
            options={
                "mergeValues": True,
                "rowHeight": 0.8,
                "showValue": "never",
                "legend": {"displayMode": "list", "placement": "bottom", "showLegend": False},
            },
        ),
        24,
        6,
    )
    b.add(_error_table("Active errors", sel), 24, 8)
    b.add(
        _table(
            "Error details from the station",
            "vendorId, vendorErrorCode and info fields of the StatusNotification that reported "
            "each active error, and the status it came with.",
            [
                _target(
                    from_owner(
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
        24,
        6,
    )
    b.add(
        _timeseries(
            "Connectivity",
            "1 while the OCPP session is open and alive.",
            [_target(promql.station_connected(sel), legend="session")],
            step=True,
        ),
        12,
        7,
    )
    b.add(
        _timeseries(
            "Seconds since last frame",
            "Grows while the station is silent; resets with each frame or pong.",
            [
                _target(
                    f"time() - {promql.station_last_seen(sel)}",
                    legend="since last frame",
                )
            ],
            unit="s",
        ),
        12,
        7,
    )
    b.add(
        _timeseries(
            "Firmware update in progress",
            "1 while the station's last FirmwareStatusNotification says an update is under way "
            "(expect it to restart and go offline briefly).",
            [
                _target(
                    from_owner(
                        f"ocpp_station_firmware_update_in_progress{sel}", "station, site", sel
                    ),
                    legend="firmware update",
                )
            ],
            step=True,
        ),
        12,
        7,
    )
    b.add(
        _timeseries(
            "Sessions and boots",
            "OCPP sessions opened and BootNotifications sent, per rate interval.",
            [
                _target(
                    _station_increase("connects", sel, "$__rate_interval"),
                    legend="connects",
                ),
                _target(
                    _station_increase("boots", sel, "$__rate_interval"),
                    legend="boots",
                    ref="B",
                ),
            ],
        ),
        12,
        7,
    )
    return b


def exporter_board() -> Board:
    inst = '{instance=~"$instance"}'
    b = Board(
        "exporter",
        "OCPP exporter",
        "The exporter's own health: OCPP traffic, protocol errors, connections, frame handling "
        "latency and the cost of a scrape.",
        [
            DATASOURCE_VAR,
            _query_var(
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
        _timeseries(
            "Frames per second by action",
            "CALLs received from stations.",
            [
                _target(
                    f"sum by (action) (rate(ocpp_exporter_frames_total{inst}{rate}))",
                    legend="{{action}}",
                )
            ],
            unit="reqps",
            stack=True,
        ),
        12,
        8,
    )
    b.add(
        _timeseries(
            "Frames per second by result",
            "CALLs by how the exporter answered them.",
            [
                _target(
                    f"sum by (result) (rate(ocpp_exporter_frames_total{inst}{rate}))",
                    legend="{{result}}",
                )
            ],
            unit="reqps",
            stack=True,
        ),
        12,
        8,
    )
    b.add(
        _timeseries(
            "Protocol errors and schema violations",
            "Frames or sessions that broke the OCPP-J rules, and payload fields outside the "
            "schema that were recorded leniently.",
            [
                _target(
                    f"sum by (reason) (rate(ocpp_exporter_protocol_errors_total{inst}{rate}))",
                    legend="{{reason}}",
                ),
                _target(
                    f"sum(rate(ocpp_exporter_schema_violations_total{inst}{rate}))",
                    legend="schema violations",
                    ref="B",
                ),
            ],
            unit="ops",
        ),
        12,
        8,
    )
    b.add(
        _timeseries(
            "Open connections and stations tracked",
            "Open station websocket sessions, and stations known to the exporter.",
            [
                _target(f"sum(ocpp_exporter_open_connections{inst})", legend="open connections"),
                _target(
                    f"sum(ocpp_exporter_stations_tracked{inst})",
                    legend="stations tracked",
                    ref="B",
                ),
            ],
        ),
        12,
        8,
    )
    b.add(
        _timeseries(
            "Connections rejected and disconnects",
            "Websocket upgrades refused before a session started, and sessions that ended, by "
            "reason.",
            [
                _target(
                    f"sum by (reason) (rate(ocpp_exporter_connections_rejected_total{inst}{rate}))",
                    legend="rejected: {{reason}}",
                ),
                _target(
                    f"sum by (reason) (rate(ocpp_exporter_disconnects_total{inst}{rate}))",
                    legend="disconnect: {{reason}}",
                    ref="B",
                ),
            ],
            unit="ops",
        ),
        12,
        8,
    )
    b.add(
        _timeseries(
            "Frame handling latency",
            "Time to handle one frame from a station, reply included.",
            [
                _target(
                    f"histogram_quantile({q}, sum by (le) "
                    f"(rate(ocpp_exporter_frame_handling_seconds_bucket{inst}{rate})))",
                    legend=f"p{round(q * 100)}",
                    ref=ref,
                )
                for q, ref in ((0.5, "A"), (0.9, "B"), (0.99, "C"))
            ],
            unit="s",
        ),
        12,
        8,
    )
    b.add(
        _timeseries(
            "Scrape cost",
            "Time the exporter took to render /metrics, and Prometheus' own view of the scrape.",
            [
                _target(
                    f"ocpp_exporter_last_scrape_duration_seconds{inst}",
                    legend="render {{instance}}",
                ),
                _target(f"scrape_duration_seconds{inst}", legend="scrape {{instance}}", ref="B"),
            ],
            unit="s",
        ),
        12,
        8,
    )
    b.add(
        _timeseries(
            "Samples per scrape",
            "Series the exporter exposes; grows with stations, connectors and active errors.",
            [_target(f"scrape_samples_scraped{inst}", legend="{{instance}}")],
        ),
        12,
        8,
    )
    return b


def dashboards() -> dict[str, dict[str, Any]]:
    """name -> dashboard model."""
    return {
        "ocpp-fleet-overview": fleet().render(),
        "ocpp-location": location().render(),
        "ocpp-station": station().render(),
        "ocpp-exporter": exporter_board().render(),
    }


def files(catalog: Catalog) -> dict[str, str]:
    # The catalog's text reaches the dashboards at query time through ocpp_error_code_info, so
    # an operator's override shows on screen without regenerating; the catalog is used here
    # only to check that every severity it uses has a colour.
    missing = {e.severity for e in catalog.entries()} - set(SEVERITY_COLOR)
    if missing:
        raise ValueError(f"no dashboard colour for severities {sorted(missing)}")
    out = {
        f"grafana/dashboards/{name}.json": json.dumps(model, indent=2, sort_keys=True) + "\n"
        for name, model in dashboards().items()
    }
    out.update(provisioning())
    return out


#: Where docker-compose.yml mounts grafana/dashboards inside the Grafana container.
DASHBOARDS_PATH = "/var/lib/grafana/dashboards/ocpp"
#: Prometheus as seen from the Grafana container in docker-compose.yml.
PROMETHEUS_URL = "http://prometheus:9090"


def provisioning() -> dict[str, str]:
    """Grafana provisioning: the datasource with the fixed uid and the dashboards provider."""
    header = "# Generated by `ocpp-exporter generate`; edit exporter/generate/dashboards.py.\n"
    datasource = {
        "apiVersion": 1,
        "datasources": [
            {
                "name": "Prometheus",
                "uid": DATASOURCE_UID,
                "type": "prometheus",
                "access": "proxy",
                "url": PROMETHEUS_URL,
                "isDefault": True,
                "editable": False,
                "jsonData": {"timeInterval": "15s", "httpMethod": "POST"},
            }
        ],
    }
    provider = {
        "apiVersion": 1,
        "providers": [
            {
                "name": "ocpp-exporter",
                "folder": "OCPP",
                "type": "file",
                "disableDeletion": True,
                "allowUiUpdates": False,
                "updateIntervalSeconds": 30,
                "options": {"path": DASHBOARDS_PATH, "foldersFromFilesStructure": False},
            }
        ],
    }
    return {
        "grafana/provisioning/datasources/prometheus.yml": header
        + yaml.safe_dump(datasource, sort_keys=False),
        "grafana/provisioning/dashboards/ocpp-exporter.yml": header
        + yaml.safe_dump(provider, sort_keys=False),
    }
