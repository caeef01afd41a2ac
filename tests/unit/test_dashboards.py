"""Structure of the generated Grafana dashboards and provisioning (no Grafana binary here)."""

from __future__ import annotations

import itertools
import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from exporter.generate import dashboards as generator
from exporter.generate import render, stale
from exporter.knowledge import catalog as catalog_module
from tests.support.grafana_dashboards import (
    DASHBOARD_DIR,
    ROOT,
    load,
    panel,
    queries,
    referenced_variables,
    variable_names,
)

DASHBOARDS = load()
WITH_ANNOTATIONS = ("ocpp-fleet-overview", "ocpp-location", "ocpp-station")


def test_the_four_dashboards_are_committed_and_current():
    assert set(DASHBOARDS) == {
        "ocpp-fleet-overview",
        "ocpp-location",
        "ocpp-station",
        "ocpp-exporter",
    }
    files = {p: c for p, c in render().items() if p.startswith("grafana/")}
    assert stale(ROOT, files) == []


def test_committed_dashboards_are_canonical_json():
    # Sorted keys and a fixed indent: a regenerated file differs only where a panel changed.
    for path in DASHBOARD_DIR.glob("*.json"):
        text = path.read_text(encoding="utf-8")
        assert text == json.dumps(json.loads(text), indent=2, sort_keys=True) + "\n"


#: The uids are public: bookmarks, links between the dashboards and docs/dashboards.md use them.
UIDS = {
    "ocpp-fleet-overview": "ocpp-fleet",
    "ocpp-location": "ocpp-location",
    "ocpp-station": "ocpp-station",
    "ocpp-exporter": "ocpp-exporter-self",
}


#: The tag the dashboards carry and link each other by (docs/dashboards.md).
TAG = "ocpp-exporter"


def test_uids_are_the_published_ones():
    assert {name: d["uid"] for name, d in DASHBOARDS.items()} == UIDS
    for d in DASHBOARDS.values():
        assert d["schemaVersion"] >= 36
        assert d["refresh"] and d["title"]


@pytest.mark.parametrize("name", sorted(DASHBOARDS))
def test_panel_ids_are_unique(name):
    ids = [p["id"] for p in DASHBOARDS[name]["panels"]]
    assert len(ids) == len(set(ids))
    assert all(isinstance(i, int) and i > 0 for i in ids)


def _cells(grid: dict[str, int]) -> set[tuple[int, int]]:
    return {
        (x, y)
        for x in range(grid["x"], grid["x"] + grid["w"])
        for y in range(grid["y"], grid["y"] + grid["h"])
    }


@pytest.mark.parametrize("name", sorted(DASHBOARDS))
def test_panels_do_not_overlap_and_fit_the_grid(name):
    panels = DASHBOARDS[name]["panels"]
    for p in panels:
        g = p["gridPos"]
        assert g["x"] >= 0 and g["y"] >= 0 and g["w"] > 0 and g["h"] > 0, p["title"]
        assert g["x"] + g["w"] <= 24, p["title"]
    for a, b in itertools.combinations(panels, 2):
        overlap = _cells(a["gridPos"]) & _cells(b["gridPos"])
        assert not overlap, f"{a['title']!r} overlaps {b['title']!r}"


def test_overlap_check_catches_overlaps():
    assert _cells({"x": 0, "y": 0, "w": 12, "h": 4}) & _cells({"x": 11, "y": 3, "w": 4, "h": 4})


@pytest.mark.parametrize("name", sorted(DASHBOARDS))
def test_every_panel_has_a_datasource_and_targets(name):
    for p in DASHBOARDS[name]["panels"]:
        assert p["datasource"] == {"type": "prometheus", "uid": "${datasource}"}, p["title"]
        assert p["targets"], p["title"]
        refs = [t["refId"] for t in p["targets"]]
        assert len(refs) == len(set(refs)), p["title"]
        for t in p["targets"]:
            assert t["expr"].strip(), p["title"]
            assert t["datasource"] == p["datasource"], p["title"]
        assert p["title"] and p["description"], p["title"]


@pytest.mark.parametrize("name", sorted(DASHBOARDS))
def test_every_variable_used_exists(name):
    d = DASHBOARDS[name]
    defined = variable_names(d)
    used = {v for v in referenced_variables(d) if not v.startswith("__")}
    assert used <= defined, f"undefined variables: {used - defined}"
    assert "datasource" in defined


def test_variable_check_sees_every_reference_form():
    assert referenced_variables({"a": "x=~'$site' ${station:regex} [[old]] $__range"}) == {
        "site",
        "station",
        "old",
        "__range",
    }


@pytest.mark.parametrize("name", WITH_ANNOTATIONS)
def test_fleet_dashboards_template_datasource_site_and_station(name):
    d = DASHBOARDS[name]
    assert {"datasource", "site", "station"} <= variable_names(d)
    by_name = {v["name"]: v for v in d["templating"]["list"]}
    assert by_name["datasource"]["type"] == "datasource"
    assert by_name["datasource"]["query"] == "prometheus"
    # the station list follows the chosen site
    assert "$site" in by_name["station"]["definition"]


@pytest.mark.parametrize("name", WITH_ANNOTATIONS)
def test_error_annotation_shows_code_place_and_resolution(name):
    annotations = [
        a
        for a in DASHBOARDS[name]["annotations"]["list"]
        if a["datasource"]["type"] == "prometheus"
    ]
    assert len(annotations) == 1
    a = annotations[0]
    assert a["enable"] is True
    assert "ocpp_connector_error" in a["expr"] and "ocpp_error_code_info" in a["expr"]
    for label in ("error_code", "station", "connector"):
        assert "{{" + label + "}}" in a["titleFormat"]
    assert "{{resolution}}" in a["textFormat"]
    assert a["useValueForTime"] is False


def test_dashboards_link_to_each_other():
    uids = {d["uid"] for d in DASHBOARDS.values()}
    for d in DASHBOARDS.values():
        assert TAG in d["tags"]
        assert any(link["type"] == "dashboards" and TAG in link["tags"] for link in d["links"])
    # table cells link to the location and station views, by uid
    targets = set()
    for d in DASHBOARDS.values():
        for p in d["panels"]:
            for o in p["fieldConfig"]["overrides"]:
                for prop in o["properties"]:
                    if prop["id"] == "links":
                        targets |= {
                            link["url"].split("/")[2]
                            for link in prop["value"]
                            if link["url"].startswith("/d/")
                        }
    assert targets == {UIDS["ocpp-station"], UIDS["ocpp-location"]}
    assert targets <= uids


def _override(p: dict[str, Any], field: str) -> dict[str, Any]:
    for o in p["fieldConfig"]["overrides"]:
        if o["matcher"] == {"id": "byName", "options": field}:
            return {prop["id"]: prop["value"] for prop in o["properties"]}
    raise AssertionError(f"no override for {field} in {p['title']}")


def test_charge_point_table_marks_errors_red_whatever_the_status():
    p = panel(DASHBOARDS["ocpp-location"], "Charge point details")
    expr = p["targets"][0]["expr"]
    # errors come from ocpp_connector_error, not from a Faulted status
    assert "ocpp_connector_error" in expr and 'status="Faulted"' not in expr
    marker = _override(p, "Value")
    ranges = [m for m in marker["mappings"] if m["type"] == "range"]
    assert ranges and ranges[0]["options"]["from"] == 1
    assert ranges[0]["options"]["result"]["color"] == "red"
    assert marker["custom.cellOptions"]["type"] in {"color-text", "color-background"}


def test_error_table_columns_cover_the_notification():
    p = panel(DASHBOARDS["ocpp-fleet-overview"], "Error notifications")
    columns = next(t for t in p["transformations"] if t["id"] == "filterFieldsByName")
    names = columns["options"]["include"]["names"]
    for field in ("station", "site", "connector", "status", "error_code", "Value"):
        assert field in names
    for field in ("severity", "description", "resolution"):
        assert field in names
    assert _override(p, "Value")["unit"] == "dateTimeFromNow"
    # the error code links to its runbook, carried hidden in the same row
    assert _override(p, "runbook_url")["custom.hidden"] is True
    assert _override(p, "error_code")["links"][0]["url"] == "${__data.fields.runbook_url}"
    assert p["targets"][0]["instant"] is True and p["targets"][0]["format"] == "table"


def test_every_query_variable_is_label_values():
    for name, d in DASHBOARDS.items():
        for q in queries(name, d):
            if q.kind == "variable":
                assert q.label and q.expr.startswith("ocpp_")


def test_provisioning_points_at_the_dashboards():
    prov = ROOT / "grafana" / "provisioning"
    ds = yaml.safe_load((prov / "datasources" / "prometheus.yml").read_text())
    # Every panel refers to the datasource through ${datasource}; this uid is the default.
    assert [d["uid"] for d in ds["datasources"]] == ["ocpp-prometheus"]
    assert ds["datasources"][0]["type"] == "prometheus" and ds["datasources"][0]["isDefault"]
    providers = yaml.safe_load((prov / "dashboards" / "ocpp-exporter.yml").read_text())
    # where docker-compose.yml mounts grafana/dashboards (tests/e2e/test_compose.py)
    assert providers["providers"][0]["options"]["path"] == "/var/lib/grafana/dashboards/ocpp"
    assert providers["providers"][0]["type"] == "file"


def test_unknown_severity_is_refused():
    cat = catalog_module.load()
    entry = next(iter(cat.errors.values()))
    broken = type(cat)(
        errors={**cat.errors, entry.key: type(entry)(**{**entry.__dict__, "severity": "sev0"})},
        notifications=cat.notifications,
    )
    with pytest.raises(ValueError, match="sev0"):
        generator.files(broken)


def test_files_are_where_generate_writes_them():
    paths = set(generator.files(catalog_module.load()))
    assert {f"grafana/dashboards/{n}.json" for n in DASHBOARDS} <= paths
    for path in paths:
        assert (ROOT / path).is_file(), path
        assert not Path(path).is_absolute()


@pytest.mark.parametrize("name", sorted(DASHBOARDS))
def test_table_headers_are_unique(name):
    for p in DASHBOARDS[name]["panels"]:
        for t in p.get("transformations", []):
            if t["id"] == "organize":
                headers = list(t["options"]["renameByName"].values())
                assert len(headers) == len(set(headers)), p["title"]
