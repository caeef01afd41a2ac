"""The active-errors table and the error annotation: the fleet, location and station
dashboards all show them, with the catalog's text joined in PromQL."""

from __future__ import annotations

from typing import Any

from exporter.generate.dashboards.mappings import SEVERITY_MAPPINGS, STATUS_MAPPINGS
from exporter.generate.dashboards.queries import errors_with_text, notification_table_expr
from exporter.generate.dashboards.toolkit import DS, colored_text, link, override, table, target


def error_annotation(sel: str) -> dict[str, Any]:
    """Marks every error period on every time series panel: title = code and where, text = the
    numbered resolution steps from the catalog, or a recognised code's own title and steps."""
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


ERROR_TABLE_COLUMNS = {
    "station": "Station",
    "site": "Site",
    "connector": "Connector",
    "status": "Status",
    "error_code": "Error code",
    "scheme": "Scheme",
    "code": "Code",
    "Value": "Since",
    "severity": "Severity",
    "title": "Error",
    "description": "Description",
    "resolution": "Resolution steps",
    "runbook_url": "Runbook",
    "responsible": "Who must act",
}


def _error_table_overrides() -> list[dict[str, Any]]:
    return [
        override("station", links=[link("station", "station")]),
        override("site", links=[link("location", "site")]),
        override("severity", **colored_text(SEVERITY_MAPPINGS)),
        override("status", **colored_text(STATUS_MAPPINGS)),
        override("Value", unit="dateTimeFromNow"),
        override(
            "resolution",
            **{
                "custom.cellOptions": {"type": "auto", "wrapText": True},
                "custom.inspect": True,
                "custom.minWidth": 400,
            },
        ),
        override("description", **{"custom.inspect": True, "custom.minWidth": 200}),
        # kept in the frame (hidden) so the error code can link to its runbook
        override("runbook_url", **{"custom.hidden": True}),
        override(
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


def error_table(title: str, sel: str) -> dict[str, Any]:
    return table(
        title,
        "Every active OCPP error code, whatever the connector status (a station may report an "
        "error while Available or Charging), with the catalog's steps to resolve it. A code "
        "the exporter recognises (ChargeX, EVgo, CharIN UEC or an operator catalog) has its "
        "own row, title, steps and who must act. A row disappears as soon as the station "
        "reports NoError for the connector.",
        [target(notification_table_expr(sel), instant=True, table=True)],
        ERROR_TABLE_COLUMNS,
        _error_table_overrides(),
        sort_by="Value",
    )
