"""The docker compose demo's alert path without Docker: a real `ocpp` station reports a ground
fault to the exporter, a real Prometheus with the demo's configuration (deploy/prometheus.yml:
its 2s intervals) evaluates the generated rules, a real Alertmanager with the shipped routing
and delays (alerting/alertmanager.yml, only the pager's host rewritten to loopback) delivers to
`ocpp-exporter pager`, which logs and shows the page with its resolution steps."""

from __future__ import annotations

import contextlib
import glob
import logging
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import yaml
from aiohttp import web

from exporter.pager.app import Pager, build_app
from tests.support.in_process import Running
from tests.support.ports import free_port
from tests.support.prometheus import prometheus, run_binary
from tests.support.waiting import eventually

ROOT = Path(__file__).resolve().parents[2]
DEMO_PAGER = "http://pager:9099"
TIMEOUT = 60.0  # Prometheus' first scrape and evaluation can lag on a loaded machine


@contextlib.asynccontextmanager
async def pager_service() -> AsyncIterator[str]:
    runner = web.AppRunner(build_app(Pager()))
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        yield f"http://127.0.0.1:{runner.addresses[0][1]}"
    finally:
        await runner.cleanup()


async def pages(pager_url: str) -> list[dict[str, Any]]:
    async with aiohttp.ClientSession() as http, http.get(pager_url + "/api/pages") as r:
        return (await r.json())["pages"]


def demo_alertmanager_config(pager_url: str) -> dict[str, Any]:
    """alerting/alertmanager.yml as the demo mounts it; only the pager's address differs."""
    config = yaml.safe_load((ROOT / "alerting/alertmanager.yml").read_text(encoding="utf-8"))
    for receiver in config["receivers"]:
        for hook in receiver["webhook_configs"]:
            assert hook["url"].startswith(DEMO_PAGER + "/")
            hook["url"] = pager_url + hook["url"].removeprefix(DEMO_PAGER)
    return config


def demo_prometheus_config(metrics_port: int, alertmanager_port: int) -> dict[str, Any]:
    """deploy/prometheus.yml as the demo mounts it; only the addresses differ."""
    config = yaml.safe_load((ROOT / "deploy/prometheus.yml").read_text(encoding="utf-8"))
    config["rule_files"] = sorted(glob.glob(str(ROOT / "alerting/rules/*.yml")))
    config["alerting"]["alertmanagers"][0]["static_configs"] = [
        {"targets": [f"127.0.0.1:{alertmanager_port}"]}
    ]
    (job,) = config["scrape_configs"]
    job["static_configs"] = [{"targets": [f"127.0.0.1:{metrics_port}"]}]
    return config


@contextlib.asynccontextmanager
async def alertmanager(workdir: Path, config: dict[str, Any]):
    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / "alertmanager.yml").write_text(yaml.safe_dump(config))
    port = free_port()
    args = [
        f"--config.file={workdir / 'alertmanager.yml'}",
        f"--storage.path={workdir / 'data'}",
        f"--web.listen-address=127.0.0.1:{port}",
        "--cluster.listen-address=",
    ]
    async with run_binary("prometheus-alertmanager", args, port, workdir) as server:
        yield server


@pytest.mark.slow
async def test_a_ground_fault_reaches_the_demo_pager_with_its_steps(
    exporter: Running,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
):
    caplog.set_level(logging.INFO, logger="exporter.pager")
    entry = exporter.svc.catalog.error("GroundFailure")
    async with (
        pager_service() as pager_url,
        alertmanager(tmp_path / "am", demo_alertmanager_config(pager_url)) as am,
        prometheus(
            tmp_path / "prom", demo_prometheus_config(exporter.metrics_port, am.port)
        ) as prom,
    ):
        station = await exporter.station("SIM-0003")
        try:
            await station.boot()
            await station.status(1, "Available")

            async def scraped() -> None:
                assert await prom.query('ocpp_station_connected{station="SIM-0003"} == 1')

            await eventually(scraped, timeout=TIMEOUT, interval=0.2)

            sent = time.monotonic()
            await station.status(1, "Available", "GroundFailure", vendor_error_code="GF-017")

            async def paged() -> dict[str, Any]:
                firing = [
                    p
                    for p in await pages(pager_url)
                    if p["status"] == "firing" and p["labels"]["alertname"] == entry.alert
                ]
                assert firing, f"no page yet: {pages}"
                return firing[0]

            page = await eventually(paged, timeout=TIMEOUT, interval=0.1)
            to_page = time.monotonic() - sent
            assert page["receiver"] == "pager"
            assert page["labels"]["station"] == "SIM-0003"
            assert page["resolution"] == list(entry.resolution)

            # its own page shows it with the numbered steps
            async with aiohttp.ClientSession() as http, http.get(pager_url + "/") as r:
                shown = await r.text()
            assert "Ground fault on station SIM-0003 connector 1" in shown
            assert shown.count("<li>") == len(entry.resolution)
            # and its log says it, steps included
            logged = "\n".join(r.getMessage() for r in caplog.records)
            assert f"PAGE [pager] critical {entry.alert} site=unassigned station=SIM-0003" in logged
            assert f"1. {entry.resolution[0]}" in logged

            await station.status(1, "Available", "NoError")

            async def resolved() -> None:
                statuses = [
                    p["status"]
                    for p in await pages(pager_url)
                    if p["labels"]["alertname"] == entry.alert
                ]
                assert statuses == ["resolved"]

            await eventually(resolved, timeout=TIMEOUT, interval=0.2)
            assert f"RESOLVED [pager] {entry.alert}" in "\n".join(
                r.getMessage() for r in caplog.records
            )
        finally:
            await station.close()
    with capsys.disabled():
        print(
            f"\ndemo pager: StatusNotification(GroundFailure) -> page {to_page:.1f}s "
            "(deploy/prometheus.yml intervals, shipped Alertmanager delays)"
        )
    assert to_page < 20, "the demo should page within about 10 s"
