"""The alerting pipeline end to end with the real binaries: exporter -> Prometheus (generated
rules) -> Alertmanager (shipped routes and inhibitions) -> the `pager` webhook."""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from exporter.config import model as config_module
from exporter.knowledge import catalog as catalog_module
from tests.support.alerting_stack import (
    Webhook,
    alertmanager,
    prometheus,
    webhook_server,
)
from tests.support.in_process import Running, loopback_config
from tests.support.waiting import eventually

log = logging.getLogger(__name__)
# Generous: two cores shared with other test runs, and Prometheus' first scrape and rule
# evaluation after start-up can lag.
TIMEOUT = 60.0


@pytest.mark.slow
async def test_ground_fault_pages_with_the_steps_then_resolves(
    exporter: Running, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    entry = catalog_module.load().errors["GroundFailure"]
    async with (
        webhook_server() as hook,
        alertmanager(tmp_path / "am", hook.url) as am,
        prometheus(tmp_path / "prom", exporter.metrics_port, am.port) as prom,
    ):
        station = await exporter.station("CP-E2E")
        try:
            await station.boot()
            await station.status(1, "Available")

            async def scraped() -> None:
                # The station is in Prometheus, so what follows measures the alert path only.
                result = await prom.query('ocpp_station_connected{station="CP-E2E"} == 1')
                assert result, "station not scraped yet"

            await eventually(scraped, timeout=TIMEOUT, interval=0.2)

            sent = time.monotonic()
            await station.status(
                1, "Available", "GroundFailure", vendor_id="ACME", vendor_error_code="RCD-30"
            )

            async def paged() -> Any:
                found = hook.find(
                    "pager", "firing", alertname=entry.alert, station="CP-E2E", connector="1"
                )
                assert found, f"no page yet; received: {[n.receiver for n in hook.received]}"
                return found[0]

            page = await eventually(paged, timeout=TIMEOUT, interval=0.05)
            to_page = page.received - sent
            (alert,) = page.alerts("firing", alertname=entry.alert)
            assert alert["labels"]["severity"] == "critical"
            assert alert["labels"]["error_code"] == "GroundFailure"
            assert alert["labels"]["site"] == "unassigned"
            annotations = alert["annotations"]
            assert annotations["resolution"] == entry.resolution_text()
            assert annotations["resolution"].startswith("1. ")
            assert annotations["summary"] == (
                "Ground fault on station CP-E2E connector 1 (site unassigned)"
            )
            # Reported while Available, not Faulted: it pages all the same, and says so.
            assert "Connector status now: Available." in annotations["description"]
            assert 'vendorErrorCode="RCD-30"' in annotations["description"]
            assert annotations["runbook_url"].endswith("alerts.md#ocppconnectorgroundfailure")
            # Only the pager got it: not the ticket or chat receivers too.
            assert not [n for n in hook.received if n.receiver != "pager"]

            cleared = time.monotonic()
            await station.status(1, "Available", "NoError")

            async def resolved() -> Any:
                found = hook.find("pager", "resolved", alertname=entry.alert, station="CP-E2E")
                assert found, "no resolved notification yet"
                return found[0]

            done = await eventually(resolved, timeout=TIMEOUT, interval=0.05)
            to_resolve = done.received - cleared
        finally:
            await station.close()
    message = (
        f"time to page: StatusNotification(GroundFailure) -> pager webhook {to_page:.2f}s; "
        f"NoError -> resolved notification {to_resolve:.2f}s "
        "(scrape and evaluation every 1s, pager group_wait 1s)"
    )
    log.info(message)
    with capsys.disabled():
        print(f"\n{message}")
    assert to_page < TIMEOUT


def _alert(labels: dict[str, str]) -> dict[str, Any]:
    now = datetime.now(UTC)
    return {
        "labels": labels,
        "annotations": {"summary": labels["alertname"]},
        "startsAt": now.isoformat(),
        "endsAt": (now + timedelta(minutes=10)).isoformat(),
    }


async def _post(url: str, alerts: list[dict[str, str]]) -> None:
    async with (
        aiohttp.ClientSession() as http,
        http.post(url + "/api/v2/alerts", json=[_alert(a) for a in alerts]) as r,
    ):
        assert r.status == 200, await r.text()


async def _am_alerts(url: str) -> list[dict[str, Any]]:
    async with aiohttp.ClientSession() as http, http.get(url + "/api/v2/alerts") as r:
        assert r.status == 200
        return await r.json()


@pytest.mark.slow
async def test_shipped_inhibitions_page_once_for_a_controller_outage(tmp_path: Path) -> None:
    site = {"site": "depot", "job": "ocpp-exporter"}
    controller_down = {
        "alertname": "OcppControllerOffline",
        "severity": "warning",
        "controller": "ctrl-1",
        **site,
    }

    def offline(station: str, controller: str) -> dict[str, str]:
        return {
            "alertname": "OcppChargingStationOffline",
            "severity": "critical",
            "station": station,
            "controller": controller,
            **site,
        }

    behind = [offline(f"CP-{n}", "ctrl-1") for n in (1, 2, 3)]
    elsewhere = offline("CP-9", "ctrl-2")
    ground_fault_on_offline = {
        "alertname": "OcppConnectorGroundFailure",
        "severity": "critical",
        "station": "CP-9",
        "connector": "1",
        "error_code": "GroundFailure",
        **site,
    }
    ground_fault_online = {**ground_fault_on_offline, "station": "CP-5"}
    hook: Webhook
    async with webhook_server() as hook, alertmanager(tmp_path / "am", hook.url) as am:
        # Sources first, as Prometheus would send them: the controller's alert fires after 5m,
        # its stations' after 10m; an alert posted together with its inhibitor may be
        # flushed before the inhibitor has seen the source.
        sources = [controller_down, elsewhere]
        targets = [*behind, ground_fault_on_offline, ground_fault_online]
        alerts = [*sources, *targets]
        await _post(am.url, sources)

        async def registered() -> None:
            assert len(await _am_alerts(am.url)) == len(sources)

        await eventually(registered, timeout=TIMEOUT, interval=0.1)
        await _post(am.url, targets)

        async def states() -> dict[tuple[str, str], str]:
            got = {
                (a["labels"]["alertname"], a["labels"].get("station", "")): a["status"]["state"]
                for a in await _am_alerts(am.url)
            }
            assert len(got) == len(alerts), got
            # Inhibition is computed against firing source alerts; wait until it applies.
            assert got[("OcppChargingStationOffline", "CP-1")] == "suppressed", got
            return got

        got = await eventually(states, timeout=TIMEOUT, interval=0.1)
        assert got == {
            ("OcppControllerOffline", ""): "active",
            ("OcppChargingStationOffline", "CP-1"): "suppressed",
            ("OcppChargingStationOffline", "CP-2"): "suppressed",
            ("OcppChargingStationOffline", "CP-3"): "suppressed",
            ("OcppChargingStationOffline", "CP-9"): "active",
            ("OcppConnectorGroundFailure", "CP-9"): "suppressed",
            ("OcppConnectorGroundFailure", "CP-5"): "active",
        }

        async def delivered() -> None:
            assert hook.find("ticket", "firing", alertname="OcppControllerOffline")
            assert hook.find("pager", "firing", alertname="OcppChargingStationOffline")
            assert hook.find("pager", "firing", alertname="OcppConnectorGroundFailure")

        await eventually(delivered, timeout=TIMEOUT, interval=0.1)
        # The scenario: one more group_interval passes, and nothing suppressed may follow.
        await asyncio.sleep(1.5)
        paged_offline = {
            a["labels"]["station"]
            for n in hook.received
            if n.receiver == "pager"
            for a in n.alerts(alertname="OcppChargingStationOffline")
        }
        assert paged_offline == {"CP-9"}
        paged_faults = {
            a["labels"]["station"]
            for n in hook.received
            for a in n.alerts(alertname="OcppConnectorGroundFailure")
        }
        assert paged_faults == {"CP-5"}
        assert {n.receiver for n in hook.received} == {"pager", "ticket"}


CHARGEX = "https://chargex.inl.gov"
#: An operator's catalog for its (fictional) Acme stations: a maintenance fault that pages, and
#: a driver-side one that is critical but must still never reach the pager.
ACME_CATALOG = """
catalog:
  vendor_catalogs:
    - name: acme
      station_vendor: Acme Charging
      runbook_url: https://wiki.example.org/acme
      codes:
        - code: E-0417
          title: RCD self-test failed
          severity: critical
          responsible: [maintenance]
          ocpp_error_code: GroundFailure
          description: The residual current device failed its daily self test.
          resolution: [Keep the connector out of service, Have the RCD replaced]
        - code: U-0900
          title: Cable pulled while charging
          severity: critical
          responsible: [ev_driver]
          description: The driver pulled the cable out during a session.
          resolution: [Nothing to repair; the driver plugs in again]
"""


@pytest.mark.slow
async def test_recognised_codes_page_with_their_own_steps_only_when_the_operator_must_act(
    exporter_factory: Any, tmp_path: Path
) -> None:
    """ChargeX over 1.6 as EVerest sends it: CX014 (pilot fault, maintenance first) pages with
    the code's own steps and `responsible`; CX010 (vehicle not in Park) is the driver's. An
    operator catalog's entry pages with its own text and runbook; its critical driver-side code
    goes to the ticket queue, not the pager."""
    book = catalog_module.load().codes
    pilot = book.entry("chargex", "CX014")
    assert pilot is not None
    (tmp_path / "exporter.yml").write_text(ACME_CATALOG, encoding="utf-8")
    catalogs = config_module.load(tmp_path / "exporter.yml").vendor_catalogs
    exporter = await exporter_factory(replace(loopback_config(), vendor_catalogs=catalogs))
    async with (
        webhook_server() as hook,
        alertmanager(tmp_path / "am", hook.url) as am,
        prometheus(tmp_path / "prom", exporter.metrics_port, am.port) as prom,
    ):
        station = await exporter.station("EVR-E2E")
        try:
            await station.boot(vendor="Acme Charging", model="BelayBox")
            await station.status(1, "Available")

            async def scraped() -> None:
                assert await prom.query('ocpp_station_connected{station="EVR-E2E"} == 1')

            await eventually(scraped, timeout=TIMEOUT, interval=0.2)
            await station.status(
                2, "Available", "OtherError", vendor_id=CHARGEX, vendor_error_code="CX010"
            )
            await station.status(
                1, "Preparing", "OtherError", vendor_id=CHARGEX, vendor_error_code="CX014"
            )
            await station.status(3, "Faulted", "GroundFailure", vendor_error_code="E-0417")
            await station.status(4, "Finishing", "OtherError", vendor_error_code="u-0900")

            def page_of(code: str) -> dict[str, Any]:
                found = hook.find("pager", "firing", alertname="OcppConnectorVendorCode", code=code)
                assert found, f"no page for {code}; received: {[n.receiver for n in hook.received]}"
                (alert,) = found[0].alerts("firing", alertname="OcppConnectorVendorCode", code=code)
                return alert

            async def paged() -> tuple[dict[str, Any], dict[str, Any]]:
                return page_of("CX014"), page_of("E-0417")

            alert, acme = await eventually(paged, timeout=TIMEOUT, interval=0.05)
            labels = alert["labels"]
            assert (labels["station"], labels["connector"], labels["error_code"]) == (
                "EVR-E2E",
                "1",
                "OtherError",
            )
            assert (labels["scheme"], labels["severity"]) == ("chargex", "critical")
            assert labels["responsible"] == "maintenance,vehicle"
            annotations = alert["annotations"]
            assert annotations["resolution"] == pilot.resolution_text()
            assert annotations["summary"] == (
                "Control pilot fault (chargex CX014) on station EVR-E2E connector 1 "
                "(site unassigned)"
            )
            assert annotations["description"].startswith(pilot.description)
            assert "Who must act: maintenance,vehicle." in annotations["description"]
            assert 'vendorErrorCode="CX014"' in annotations["description"]
            assert annotations["runbook_url"].endswith("error-codes.md#chargex-cx014")

            # The operator's entry: its own title, steps and runbook on the page.
            assert (acme["labels"]["scheme"], acme["labels"]["error_code"]) == (
                "acme",
                "GroundFailure",
            )
            assert acme["labels"]["responsible"] == "maintenance"
            assert acme["annotations"]["summary"].startswith(
                "RCD self-test failed (acme E-0417) on station EVR-E2E connector 3"
            )
            assert acme["annotations"]["resolution"] == (
                "1. Keep the connector out of service\n2. Have the RCD replaced"
            )
            assert acme["annotations"]["runbook_url"] == "https://wiki.example.org/acme"

            async def driver_side_ticketed() -> None:
                found = hook.find("ticket", "firing", alertname="OcppConnectorVendorCode")
                codes = {a["labels"]["code"] for n in found for a in n.alerts("firing")}
                assert "U-0900" in codes, codes

            # Critical, but the driver's to fix: routed to the ticket queue. Alertmanager sends
            # an alert to one receiver, so once the ticket has it the pager never gets it.
            await eventually(driver_side_ticketed, timeout=TIMEOUT, interval=0.05)
            rows = await prom.query(
                'ALERTS{alertname="OcppConnectorVendorCode",code="CX010",responsible="ev_driver"}'
            )
            assert rows and rows[0]["metric"]["alertstate"] == "pending"  # for: 2m (warning)
            paged_codes = {
                a["labels"].get("code")
                for n in hook.received
                if n.receiver == "pager"
                for a in n.alerts()
            }
            assert paged_codes == {"CX014", "E-0417"}
        finally:
            await station.close()
