"""The alerting pipeline end to end with the real binaries: exporter -> Prometheus (generated
rules) -> Alertmanager (shipped routes and inhibitions) -> the `pager` webhook."""

from __future__ import annotations

import asyncio
import logging
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from exporter.knowledge import catalog as catalog_module
from tests.support.alerting_stack import (
    Webhook,
    alertmanager,
    prometheus,
    webhook_server,
)
from tests.support.in_process import Running
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


@pytest.mark.slow
async def test_pilot_fault_pages_with_its_own_steps_and_a_driver_side_code_does_not(
    exporter: Running, tmp_path: Path
) -> None:
    """ChargeX over 1.6 as EVerest sends it: CX014 (pilot fault, maintenance first) pages with
    the code's own steps and `responsible`; CX010 (vehicle not in Park, the driver's to fix)
    never reaches the pager."""
    book = catalog_module.load().codes
    pilot = book.entry("chargex", "CX014")
    driver = book.entry("chargex", "CX010")
    assert pilot is not None and driver is not None
    async with (
        webhook_server() as hook,
        alertmanager(tmp_path / "am", hook.url) as am,
        prometheus(tmp_path / "prom", exporter.metrics_port, am.port) as prom,
    ):
        station = await exporter.station("EVR-E2E")
        try:
            await station.boot(vendor="Pionix", model="BelayBox")
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

            async def paged() -> Any:
                found = hook.find(
                    "pager", "firing", alertname="OcppConnectorVendorCode", code="CX014"
                )
                assert found, f"no page yet; received: {[n.receiver for n in hook.received]}"
                return found[0]

            page = await eventually(paged, timeout=TIMEOUT, interval=0.05)
            (alert,) = page.alerts("firing", alertname="OcppConnectorVendorCode")
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

            async def driver_code_known_to_prometheus() -> None:
                # Pending for its `for:` (warning), labelled for routing to the ticket.
                rows = await prom.query(
                    'ALERTS{alertname="OcppConnectorVendorCode",code="CX010",'
                    'responsible="ev_driver"}'
                )
                assert rows, "CX010 alert not evaluated yet"

            await eventually(driver_code_known_to_prometheus, timeout=TIMEOUT, interval=0.2)
            await asyncio.sleep(2)  # a couple more evaluations and group intervals
            paged_codes = {
                a["labels"].get("code")
                for n in hook.received
                if n.receiver == "pager"
                for a in n.alerts()
            }
            assert paged_codes == {"CX014"}
        finally:
            await station.close()
