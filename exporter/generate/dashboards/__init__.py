"""Grafana dashboards generated from the catalog: fleet overview, location, station, exporter.

One module per dashboard, built from a small panel toolkit (toolkit.py: the board, panels,
named sizes), the colours (mappings.py), the PromQL and the error panels the fleet-facing
dashboards share (queries.py, errors.py), and Grafana's provisioning (provisioning.py).

The dashboards join state series with `ocpp_error_code_info` in PromQL rather than in Grafana
transformations, so what a panel shows can be checked against a real Prometheus in tests (no
Grafana binary is needed to know that the error table carries the resolution steps). Output is
deterministic: panel ids follow the order panels are added and JSON keys are sorted.
"""

from __future__ import annotations

import json
from typing import Any

from exporter.generate.dashboards import (
    exporter_health,
    fleet,
    location,
    provisioning,
    station,
)
from exporter.generate.dashboards.mappings import SEVERITY_COLOR
from exporter.generate.dashboards.provisioning import (
    DASHBOARDS_PATH,
    DATASOURCE_UID,
    PROMETHEUS_URL,
)
from exporter.generate.dashboards.toolkit import TAG, UID
from exporter.knowledge.catalog import Catalog

__all__ = ["DASHBOARDS_PATH", "DATASOURCE_UID", "PROMETHEUS_URL", "TAG", "UID", "files"]


def dashboards() -> dict[str, dict[str, Any]]:
    """file name -> dashboard model."""
    return {
        "ocpp-fleet-overview": fleet.board().render(),
        "ocpp-location": location.board().render(),
        "ocpp-station": station.board().render(),
        "ocpp-exporter": exporter_health.board().render(),
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
    out.update(provisioning.files())
    return out
