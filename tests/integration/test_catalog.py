"""The catalog: one entry per OCPP 1.6 error code besides NoError, plus Unknown, each with text."""

from __future__ import annotations

import re
from pathlib import Path

import aiohttp
from ocpp.v16.enums import ChargePointErrorCode

from exporter.knowledge import catalog
from tests.support.scrape import samples


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


async def test_the_catalog_is_exposed_as_info_metrics(exporter):
    scrape = await exporter.scrape()
    rows = samples(scrape, "ocpp_error_code_info")
    assert {lab["error_code"] for lab, _ in rows} == set(catalog.load().errors)
    ground = next(lab for lab, _ in rows if lab["error_code"] == "GroundFailure")
    assert ground["severity"] == "critical"
    assert ground["resolution"] == exporter.svc.catalog.errors["GroundFailure"].resolution_text()
    kinds = {lab["kind"] for lab, _ in samples(scrape, "ocpp_notification_info")}
    assert kinds == {"station_offline", "controller_offline", "ems_offline"}


async def test_docs_metrics_md_lists_exactly_the_exposed_families(exporter):
    doc = (Path(__file__).resolve().parents[2] / "docs" / "metrics.md").read_text()
    documented = set(re.findall(r"^\| `(ocpp_[a-z_]+)` \|", doc, flags=re.M))
    async with aiohttp.ClientSession() as http, http.get(exporter.http_url + "/metrics") as r:
        exposed = set(re.findall(r"^# TYPE (\S+) ", await r.text(), flags=re.M))
    assert documented == exposed
