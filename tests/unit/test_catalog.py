"""The catalog as packaged and as loaded: one entry per OCPP 1.6 error code besides NoError,
plus Unknown, each with text an operator can act on; a broken catalog or override is refused
with a message that names the entry."""

from __future__ import annotations

import copy
from importlib import resources
from typing import Any

import pytest
import yaml
from ocpp.v16.enums import ChargePointErrorCode

from exporter import yaml_reader
from exporter.config.model import CatalogOverride
from exporter.knowledge import catalog
from exporter.knowledge.catalog import CatalogError, CatalogFileError, UnknownEntry


def packaged() -> dict[str, Any]:
    text = (
        resources.files("exporter.knowledge").joinpath("catalog.yaml").read_text(encoding="utf-8")
    )
    return yaml.safe_load(text)


def test_every_ocpp16_code_but_no_error_plus_unknown_is_in_the_catalog():
    entries = catalog.load().errors
    spec = {c.value for c in ChargePointErrorCode} - {"NoError"}
    assert set(entries) == spec | {"Unknown"}
    assert len(entries) == 16


def test_every_entry_has_text_an_operator_can_act_on():
    for entry in catalog.load().entries():
        assert entry.severity in ("critical", "warning", "info")
        assert len(entry.description) > 40, entry.key
        assert len(entry.resolution) >= 3, entry.key
        assert entry.resolution_text().startswith("1. ")
        assert entry.alert.startswith("Ocpp")
        assert entry.runbook_url.endswith("#" + entry.alert.lower())


def test_safety_faults_page_and_communication_hiccups_do_not():
    errors = catalog.load().errors
    for code in ("GroundFailure", "OverCurrentFailure", "HighTemperature"):
        assert errors[code].severity == "critical"
    assert errors["EVCommunicationError"].severity == "info"
    notes = catalog.load().notifications
    assert notes["station_offline"].alert == "OcppChargingStationOffline"
    assert notes["controller_offline"].alert == "OcppControllerOffline"
    assert notes["ems_offline"].alert == "OcppEmsOffline"


def test_loading_tidies_the_text_and_numbers_the_steps():
    ground = catalog.load().errors["GroundFailure"]
    assert ground.title == "Ground fault"
    assert (ground.severity, ground.alert_for) == ("critical", "0m")
    assert ground.alert == "OcppConnectorGroundFailure"
    assert "  " not in ground.description and "\n" not in ground.description
    steps = ground.resolution_text().split("\n")
    assert [s.split(".", 1)[0] for s in steps] == [str(n) for n in range(1, len(steps) + 1)]
    assert steps[0].startswith("1. Read the vendorErrorCode")


def test_runbook_links_follow_the_base_url():
    default = catalog.load().errors["GroundFailure"].runbook_url
    assert default == (
        "https://github.com/ocpp-exporter/ocpp-exporter/blob/main/docs/alerts.md"
        "#ocppconnectorgroundfailure"
    )
    moved = catalog.load("https://wiki.example.org/ocpp/").errors["GroundFailure"].runbook_url
    assert moved == "https://wiki.example.org/ocpp#ocppconnectorgroundfailure"


def test_an_unknown_code_falls_back_to_the_unknown_entry():
    cat = catalog.load()
    assert cat.error("Gremlins") is cat.errors["Unknown"]
    assert cat.error("WeakSignal") is cat.errors["WeakSignal"]


def broken(edit: Any) -> dict[str, Any]:
    data = copy.deepcopy(packaged())
    edit(data)
    return data


@pytest.mark.parametrize(
    ("edit", "key", "problem"),
    [
        (lambda d: d["errors"].pop("WeakSignal"), "errors", "missing ['WeakSignal']"),
        (lambda d: d["errors"].__setitem__("Gremlins", {}), "errors", "unexpected ['Gremlins']"),
        (
            lambda d: d["errors"]["GroundFailure"].pop("title"),
            "errors.GroundFailure.title",
            "required",
        ),
        (
            lambda d: d["errors"]["GroundFailure"].__setitem__("severity", "sev0"),
            "errors.GroundFailure.severity",
            "expected one of critical, warning, info, got 'sev0'",
        ),
        (
            lambda d: d["errors"]["GroundFailure"].__setitem__("resolution", []),
            "errors.GroundFailure.resolution",
            "non-empty list",
        ),
        (
            lambda d: d["errors"]["GroundFailure"].__setitem__("for", "soon"),
            "errors.GroundFailure.for",
            "expected a duration",
        ),
        (
            lambda d: d["errors"]["GroundFailure"].__setitem__("responsible", ["nobody"]),
            "errors.GroundFailure.responsible[0]",
            "expected one of ev_driver, operator, maintenance, vehicle, got 'nobody'",
        ),
        (
            lambda d: d["errors"]["GroundFailure"].pop("responsible"),
            "errors.GroundFailure.responsible",
            "every error code needs one",
        ),
        (
            lambda d: d["errors"].__setitem__("OtherError", "text"),
            "errors.OtherError",
            "expected a mapping, got 'text'",
        ),
        (
            lambda d: d["notifications"].pop("ems_offline"),
            "notifications",
            "missing ['ems_offline']",
        ),
    ],
)
def test_a_broken_catalog_is_refused_naming_the_entry(edit, key, problem):
    with pytest.raises(CatalogError) as refused:
        catalog.parse(broken(edit))
    assert isinstance(refused.value, CatalogFileError)
    assert (refused.value.source, refused.value.key) == ("catalog.yaml", key)
    assert problem in refused.value.problem


def test_a_broken_catalog_file_is_refused_naming_the_line():
    text = resources.files("exporter.knowledge").joinpath("catalog.yaml").read_text("utf-8")
    lines = text.splitlines()
    at = next(n for n, line in enumerate(lines) if line.strip() == "GroundFailure:")
    severity = next(n for n in range(at, len(lines)) if "severity:" in lines[n])
    lines[severity] = lines[severity].split("severity:")[0] + "severity: sev0"
    doc = yaml_reader.loads("\n".join(lines), "catalog.yaml", CatalogFileError)
    with pytest.raises(CatalogFileError) as refused:
        catalog._parse(doc, "")
    assert (refused.value.line, refused.value.key) == (
        severity + 1,
        "errors.GroundFailure.severity",
    )


def test_overrides_change_only_what_they_name():
    cat = catalog.load()
    changed = cat.with_overrides(
        {"GroundFailure": CatalogOverride(severity="warning", alert_for="90s")}
    )
    ground, before = changed.errors["GroundFailure"], cat.errors["GroundFailure"]
    assert (ground.severity, ground.alert_for) == ("warning", "90s")
    assert (ground.title, ground.resolution) == (before.title, before.resolution)
    assert changed.errors["HighTemperature"] == cat.errors["HighTemperature"]
    assert cat.errors["GroundFailure"].severity == "critical"  # the original is untouched


def test_an_override_of_an_entry_that_does_not_exist_names_the_key_and_the_known_ones():
    with pytest.raises(UnknownEntry) as refused:
        catalog.load().with_overrides({"GroundFault": CatalogOverride(severity="info")})
    assert refused.value.key == "GroundFault"
    assert "GroundFailure" in str(refused.value)  # the known keys are listed
