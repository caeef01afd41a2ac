"""A small Grafana panel toolkit: the dashboard under construction, panels, queries, variables,
value mappings and field overrides, as the JSON Grafana's schema 39 reads.

No PromQL lives here (queries.py, and each dashboard's own module), and no dashboard: only the
building blocks the four dashboards share. Panels are placed by `Board.add` left to right, top to
bottom, with the named sizes below, so a dashboard module reads as a list of panels.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

#: Dashboards refer to Prometheus only through the `datasource` variable, so they also work with
#: a Prometheus other than the provisioned one.
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


class Width:
    """Panel widths on Grafana's 24-column grid."""

    FULL = 24
    TWO_THIRDS = 16
    HALF = 12
    FIVE_TWELFTHS = 10
    THIRD = 8
    QUARTER = 6
    SIXTH = 4


GRID_COLUMNS = Width.FULL


class Height:
    """Panel heights in grid rows (about 30 px each), by what the panel shows."""

    #: a single number
    STAT = 4
    #: a strip: a few table rows or one timeline row per connector
    STRIP = 6
    #: a chart in a grid of four
    COMPACT = 7
    #: a chart, or a table of a handful of rows
    CHART = 8
    #: a table that lists the fleet's active errors
    TABLE = 10
    #: a table with a row per connector of a site
    TALL_TABLE = 12


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

    def add(self, panel: dict[str, Any], *, width: int, height: int) -> None:
        if self._x + width > GRID_COLUMNS:
            self._x, self._y, self._row_h = 0, self._y + self._row_h, 0
        panel["id"] = len(self.panels) + 1
        panel["gridPos"] = {"h": height, "w": width, "x": self._x, "y": self._y}
        panel["datasource"] = DS
        self.panels.append(panel)
        self._x += width
        self._row_h = max(self._row_h, height)

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


# --- queries, links, mappings, overrides ------------------------------------------------------


def target(
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


def link(board: str, var: str) -> dict[str, Any]:
    """Data link from a table cell to another dashboard, keeping datasource and time range."""
    return {
        "targetBlank": False,
        "title": f"Open {board} dashboard",
        "url": f"/d/{UID[board]}/{SLUG[board]}?var-datasource=${{datasource}}"
        f"&var-{var}=${{__value.raw}}&${{__url_time_range}}",
    }


def value_mappings(values: dict[str, tuple[str, str]]) -> list[dict[str, Any]]:
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


def override(name: str, **props: Any) -> dict[str, Any]:
    """Field properties for the column or series `name` (e.g. links, mappings, unit)."""
    return {
        "matcher": {"id": "byName", "options": name},
        "properties": [{"id": key, "value": value} for key, value in props.items()],
    }


def colored_text(mappings: list[dict[str, Any]]) -> dict[str, Any]:
    """Override properties: the cell's text in the colour its value maps to."""
    return {"mappings": mappings, "custom.cellOptions": {"type": "color-text"}}


def colored_background(mappings: list[dict[str, Any]]) -> dict[str, Any]:
    """Override properties: the cell's background in the colour its value maps to."""
    return {"mappings": mappings, "custom.cellOptions": {"type": "color-background"}}


def fixed_thresholds(color: str = "text") -> dict[str, Any]:
    return {"mode": "absolute", "steps": [{"color": color, "value": None}]}


# --- panels -----------------------------------------------------------------------------------


def panel(
    kind: str,
    title: str,
    description: str,
    targets: list[dict[str, Any]],
    defaults: dict[str, Any] | None = None,
    overrides: list[dict[str, Any]] | None = None,
    options: dict[str, Any] | None = None,
    transformations: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    built: dict[str, Any] = {
        "description": description,
        "fieldConfig": {"defaults": defaults or {}, "overrides": overrides or []},
        "options": options or {},
        "targets": targets,
        "title": title,
        "type": kind,
    }
    if transformations:
        built["transformations"] = transformations
    return built


def timeseries(
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
    return panel(
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


def stat(
    title: str,
    description: str,
    targets: list[dict[str, Any]],
    thresholds: list[tuple[float | None, str]],
    unit: str = "short",
    mappings: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    return panel(
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


def table(
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
    return panel(
        "table",
        title,
        description,
        targets,
        defaults={
            "custom": {"align": "auto", "cellOptions": {"type": "auto"}, "filterable": True},
            "thresholds": fixed_thresholds(),
        },
        overrides=overrides,
        options=options,
        transformations=transformations,
    )


def state_timeline(
    title: str,
    description: str,
    targets: list[dict[str, Any]],
    mappings: list[dict[str, Any]],
    color: str,
    show_value: str,
) -> dict[str, Any]:
    """One row per series, coloured by value (`color` for values without a mapping)."""
    return panel(
        "state-timeline",
        title,
        description,
        targets,
        defaults={
            "color": {"mode": "thresholds"},
            "mappings": mappings,
            "thresholds": fixed_thresholds(color),
        },
        options={
            "mergeValues": True,
            "rowHeight": 0.8,
            "showValue": show_value,
            "legend": {"displayMode": "list", "placement": "bottom", "showLegend": False},
        },
    )


# --- variables --------------------------------------------------------------------------------


def query_var(name: str, label: str, query: str, multi: bool, include_all: bool) -> dict[str, Any]:
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


def site_var(multi: bool) -> dict[str, Any]:
    return query_var(
        "site", "Site", "label_values(ocpp_station_connected, site)", multi=multi, include_all=multi
    )


def station_var(multi: bool) -> dict[str, Any]:
    return query_var(
        "station",
        "Station",
        'label_values(ocpp_station_connected{site=~"$site"}, station)',
        multi=multi,
        include_all=multi,
    )


def selector(site: bool = True, station: bool = True, extra: str = "") -> str:
    """The label selector of the dashboard's site and station variables."""
    parts = []
    if site:
        parts.append('site=~"$site"')
    if station:
        parts.append('station=~"$station"')
    if extra:
        parts.append(extra)
    return "{" + ", ".join(parts) + "}"
