"""The catalog as the running exporter exposes it (the catalog itself: unit/test_catalog.py)."""

from __future__ import annotations

import re
from pathlib import Path

import aiohttp

from exporter.knowledge import catalog
from tests.support.scrape import samples


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
