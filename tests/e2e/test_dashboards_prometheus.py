"""Every PromQL expression of every dashboard, run against a real Prometheus that scraped the
real exporter while a fleet with active, cleared and offline cases was connected."""

from __future__ import annotations

import asyncio
import contextlib
import time
from dataclasses import replace
from typing import Any

import aiohttp
import pytest

from exporter.config.model import Site, parse
from exporter.knowledge import catalog as catalog_module
from tests.support.grafana_dashboards import Query, load, panel, queries, render_format, substitute
from tests.support.in_process import loopback_config
from tests.support.prometheus import Prometheus, prometheus, scrape_only
from tests.support.waiting import eventually

# scripts/test installs the prometheus binary (Debian package) before running the suite.
pytestmark = pytest.mark.slow

DASHBOARDS = load()
CATALOG = catalog_module.load()
SITES = (
    Site("depot-north", ("CP-1", "CP-2", "CP-3", "CP-9"), controller="ctl-north", ems="ems-north"),
    Site("depot-south", ("CP-4",), controller="ctl-south"),
)


def _rows(result: list[dict[str, Any]]) -> dict[tuple[str, ...], dict[str, Any]]:
    return {
        (
            r["metric"].get("station", ""),
            r["metric"].get("connector", ""),
            r["metric"].get("error_code", ""),
        ): r
        for r in result
    }


async def test_every_dashboard_query_runs_against_real_prometheus(exporter_factory, tmp_path):
    running = await exporter_factory(replace(loopback_config(), sites=SITES))
    instance = f"127.0.0.1:{running.metrics_port}"
    async with prometheus(tmp_path, scrape_only(instance)) as prom:
        start = time.time()
        cp1, cp2, cp3, cp4 = [await running.station(s) for s in ("CP-1", "CP-2", "CP-3", "CP-4")]
        try:
            for s in (cp1, cp2, cp3, cp4):
                await s.boot(
                    vendor="ACME",
                    model="Wallbox",
                    firmware_version="1.2.3",
                    charge_point_serial_number=f"SN-{s.id}",
                )
            # an error while Available: active whatever the status
            await cp1.status(
                1,
                "Available",
                "GroundFailure",
                vendor_id="ACME",
                vendor_error_code="RCD-30mA",
                info="residual current 31 mA",
            )
            await cp1.status(2, "Charging")
            await cp2.status(1, "Faulted", "OverCurrentFailure")
            await cp3.status(1, "Available")
            await cp4.status(1, "SuspendedEVSE", "EVCommunicationError")
            # a recognised code: ChargeX pilot fault, as EVerest sends it
            await cp4.status(
                2,
                "Preparing",
                "OtherError",
                vendor_id="https://chargex.inl.gov",
                vendor_error_code="CX014",
            )

            async def scraped_errors() -> None:
                found = await prom.query("ocpp_connector_error")
                assert {r["metric"]["error_code"] for r in found} == {
                    "GroundFailure",
                    "OverCurrentFailure",
                    "EVCommunicationError",
                    "OtherError",
                }

            await eventually(scraped_errors, timeout=30, interval=0.3)

            async def scraped_three_times() -> None:
                # a few scrapes with the error present, then clear it and take CP-3 offline
                assert await prom.query(
                    'count_over_time(ocpp_connector_error{station="CP-2"}[1m]) >= 3'
                )

            await eventually(scraped_three_times, timeout=30, interval=0.3)
            await cp2.status(1, "Available", "NoError")
            await cp3.close()

            async def scraped_changes() -> None:
                assert not await prom.query('ocpp_connector_error{station="CP-2"}')
                assert await prom.query('ocpp_station_connected{station="CP-3"} == 0')

            await eventually(scraped_changes, timeout=30, interval=0.3)
            cleared_at = time.time()
            await _run_everything(prom, instance, start)
            await _check_data(prom, start, cleared_at)
        finally:
            for s in (cp1, cp2, cp4):
                await s.close()


async def _run_everything(prom: Prometheus, instance: str, start: float) -> None:
    """Each expression, as Grafana would send it with concrete and with All selections."""
    selections = [
        {"site": "depot-north", "station": "CP-1"},
        {"site": ".*", "station": ".*"},
    ]
    builtins = {"__rate_interval": "15s", "__interval": "1s", "__range": "1m"}
    ran = 0
    for name, dashboard in DASHBOARDS.items():
        for q in queries(name, dashboard):
            for sel in selections:
                expr = substitute(q.expr, {**sel, **builtins, "instance": instance})
                if q.instant:
                    await prom.query(expr)
                await prom.query_range(expr, start)
                ran += 1
    assert ran >= 2 * 40
    # every label column a table shows is a label its query returns
    shown_tables = 0
    for name, dashboard in DASHBOARDS.items():
        for p in dashboard["panels"]:
            include = [t for t in p.get("transformations", []) if t["id"] == "filterFieldsByName"]
            if not include:
                continue
            returned: set[str] = set()
            for target in p["targets"]:
                expr = substitute(target["expr"], {**selections[1], **builtins})
                returned |= {k for r in await prom.query(expr) for k in r["metric"]}
            if returned:
                shown_tables += 1
                labels = {f for f in include[0]["options"]["include"]["names"] if "Value" not in f}
                # A recognised code's columns are on its rows only (the fleet test has one).
                labels -= RECOGNISED_ONLY - returned
                assert labels <= returned, (name, p["title"], labels - returned)
    assert shown_tables >= 6


#: Columns of the error table that only rows with a recognised code (ChargeX, ...) carry.
RECOGNISED_ONLY = {"scheme", "code", "responsible"}


def _query(dashboard: str, kind: str, title: str) -> Query:
    found = [
        q for q in queries(dashboard, DASHBOARDS[dashboard]) if (q.kind, q.title) == (kind, title)
    ]
    assert len(found) == 1
    return found[0]


async def _check_data(prom: Prometheus, start: float, cleared_at: float) -> None:
    all_sel = {"site": ".*", "station": ".*", "__range": "1m", "__rate_interval": "15s"}

    # fleet: the error notification table joins the catalog text, one row per active error
    table = _query("ocpp-fleet-overview", "target", "Error notifications")
    rows = _rows(await prom.query(substitute(table.expr, all_sel)))
    assert set(rows) == {
        ("CP-1", "1", "GroundFailure"),
        ("CP-4", "1", "EVCommunicationError"),
        ("CP-4", "2", "OtherError"),
    }
    # the recognised code's row carries its own title, steps and who must act
    pilot = rows["CP-4", "2", "OtherError"]["metric"]
    cx014 = CATALOG.codes.entry("chargex", "CX014")
    assert (pilot["scheme"], pilot["code"], pilot["status"]) == ("chargex", "CX014", "Preparing")
    assert pilot["title"] == cx014.title and pilot["resolution"] == cx014.resolution_text()
    assert (pilot["severity"], pilot["responsible"]) == ("critical", "maintenance,vehicle")
    assert pilot["runbook_url"].endswith("error-codes.md#chargex-cx014")
    assert float(rows["CP-4", "2", "OtherError"]["value"][1]) > start * 1000 - 5000
    ground = rows["CP-1", "1", "GroundFailure"]["metric"]
    assert ground["status"] == "Available"
    assert ground["site"] == "depot-north"
    assert ground["severity"] == CATALOG.errors["GroundFailure"].severity
    assert ground["description"] == CATALOG.errors["GroundFailure"].description
    assert ground["resolution"] == CATALOG.errors["GroundFailure"].resolution_text()
    assert ground["resolution"].startswith("1. ")
    assert ground["runbook_url"] == CATALOG.errors["GroundFailure"].runbook_url
    since_ms = float(rows["CP-1", "1", "GroundFailure"]["value"][1])
    assert start * 1000 - 5000 < since_ms <= time.time() * 1000

    # annotations: every error period, the cleared one included, titled and with the steps
    for name in ("ocpp-fleet-overview", "ocpp-location", "ocpp-station"):
        q = _query(name, "annotation", "OCPP errors")
        sel = {"site": "depot-north", "station": "CP-1"} if name != "ocpp-fleet-overview" else {}
        series = await prom.query_range(substitute(q.expr, {**all_sel, **sel}), start)
        found = _rows(series)
        assert ("CP-1", "1", "GroundFailure") in found, name
        spec = next(
            a for a in DASHBOARDS[name]["annotations"]["list"] if a["name"] == "OCPP errors"
        )
        for r in series:
            labels = r["metric"]
            code = labels["error_code"]
            entry = (
                CATALOG.codes.entry(labels["scheme"], labels["code"])
                if "code" in labels
                else CATALOG.errors[code]
            )
            assert labels["resolution"] == entry.resolution_text()
            title = render_format(spec["titleFormat"], labels)
            text = render_format(spec["textFormat"], labels)
            assert "{{" not in title + text
            assert code in title and labels["station"] in title
            assert entry.title in text
            assert entry.resolution[0] in text
    fleet_annotation = _query("ocpp-fleet-overview", "annotation", "OCPP errors")

    async def cleared_period_ended() -> None:
        history = _rows(await prom.query_range(substitute(fleet_annotation.expr, all_sel), start))
        assert set(history) == {
            ("CP-1", "1", "GroundFailure"),
            ("CP-2", "1", "OverCurrentFailure"),
            ("CP-4", "1", "EVCommunicationError"),
            ("CP-4", "2", "OtherError"),
        }
        cleared = history["CP-2", "1", "OverCurrentFailure"]["values"]
        active = history["CP-1", "1", "GroundFailure"]["values"]
        # the cleared error's period ended when Prometheus saw it cleared; the others go on
        assert cleared and float(cleared[-1][0]) <= cleared_at < float(active[-1][0])

    # wait for the next step of the range grid after the clear
    await eventually(cleared_period_ended, timeout=10, interval=0.3)

    # location: one row per connector of the site, a marker wherever an error is active
    details = _query("ocpp-location", "target", "Charge point details")
    rows = _rows(await prom.query(substitute(details.expr, {**all_sel, "site": "depot-north"})))
    marked = {key: float(r["value"][1]) for key, r in rows.items()}
    assert marked == {
        ("CP-1", "1", "GroundFailure"): 1,
        ("CP-1", "2", ""): 0,
        ("CP-2", "1", ""): 0,  # cleared: back to no marker
        ("CP-3", "1", ""): 0,
    }
    assert rows["CP-1", "1", "GroundFailure"]["metric"]["status"] == "Available"
    assert rows["CP-1", "1", "GroundFailure"]["metric"]["severity"] == "critical"
    assert rows["CP-1", "2", ""]["metric"]["status"] == "Charging"
    assert all(r["metric"]["vendor"] == "ACME" for r in rows.values())

    # fleet: offline stations, the one that left and the configured one never seen
    offline = _query("ocpp-fleet-overview", "target", "Offline stations")
    rows = _rows(await prom.query(substitute(offline.expr, all_sel)))
    assert {key[0] for key in rows} == {"CP-3", "CP-9"}
    assert float(rows["CP-3", "", ""]["value"][1]) > start * 1000 - 5000
    assert float(rows["CP-9", "", ""]["value"][1]) == 0  # shown as "never"

    # station: the status timeline encodes each connector's status as one number
    timeline = _query("ocpp-station", "target", "Connector status")
    series = await prom.query_range(
        substitute(timeline.expr, {**all_sel, "station": "CP-1"}), start
    )
    last = {r["metric"]["connector"]: float(r["values"][-1][1]) for r in series}
    codes = panel(DASHBOARDS["ocpp-station"], "Connector status")["fieldConfig"]["defaults"]
    texts = codes["mappings"][0]["options"]
    assert texts[str(int(last["1"]))]["text"] == "Available"
    assert texts[str(int(last["2"]))]["text"] == "Charging"

    # variables list what exists
    sites = _query("ocpp-fleet-overview", "variable", "site")
    assert {r["metric"]["site"] for r in await prom.query(sites.expr)} == {
        "depot-north",
        "depot-south",
    }
    stations = _query("ocpp-location", "variable", "station")
    found = await prom.query(substitute(stations.expr, {"site": "depot-north"}))
    assert {r["metric"]["station"] for r in found} == {"CP-1", "CP-2", "CP-3", "CP-9"}


# --- several replicas -------------------------------------------------------------------------

#: Same inventory on both replicas (docs/scaling.md); push-only devices, down on a replica that
#: has not heard from them for DEVICE_STALE seconds (counted from its start).
DEVICE_STALE = 3
REPLICA_SITES = [
    {
        "name": "depot-west",
        "stations": ["CP-MOVE", "CP-B", "CP-NEVER"],
        "token": "site-secret",
        "controller": {"id": "ctl-west", "stale_after": DEVICE_STALE},
        "ems": {"id": "ems-west", "stale_after": DEVICE_STALE, "fallback_limit_w": 4000},
    }
]


async def _post(running: Any, path: str, **kwargs: Any) -> None:
    headers = {"Authorization": "Bearer site-secret"}
    async with (
        aiohttp.ClientSession() as http,
        http.post(running.http_url + path, headers=headers, **kwargs) as r,
    ):
        assert r.status == 200, await r.text()


async def _heartbeats_to(running: Any) -> None:
    """The load balancer sends the devices' pushes to one replica only."""
    while True:
        await _post(running, "/api/v1/controllers/ctl-west/heartbeat")
        await _post(running, "/api/v1/ems/ems-west/heartbeat", json={"power_limit_w": 7000})
        await asyncio.sleep(0.5)  # the scenario: a device's heartbeat period


async def test_dashboards_count_each_station_and_error_once_across_replicas(
    exporter_factory, tmp_path
):
    """Two replicas scraped as two targets: CP-MOVE reported GroundFailure on A, then moved to B
    where it reports a different error; CP-B has an error on B; CP-NEVER never connected (both
    replicas export it offline); the controller's and EMS's push heartbeats reached only A."""
    cfg = replace(
        loopback_config(), sites=parse({"inventory": {"sites": REPLICA_SITES}}, "<t>").sites
    )
    a, b = await exporter_factory(cfg), await exporter_factory(cfg)
    inst_a, inst_b = (f"127.0.0.1:{r.metrics_port}" for r in (a, b))
    async with prometheus(tmp_path, scrape_only(inst_a, inst_b)) as prom:
        start = time.time()
        beats = asyncio.create_task(_heartbeats_to(a))
        moving = await a.station("CP-MOVE")
        await moving.boot(firmware_version="1.0", charge_point_serial_number="SN-1")
        await moving.status(1, "Faulted", "GroundFailure")

        async def stale_error_scraped() -> None:
            assert await prom.query(
                f'ocpp_connector_error{{instance="{inst_a}", error_code="GroundFailure"}}'
            )

        await eventually(stale_error_scraped, timeout=30, interval=0.3)

        async def scraped_on_a_a_few_times() -> None:
            assert await prom.query(
                f'count_over_time(ocpp_connector_error{{instance="{inst_a}",'
                f' error_code="GroundFailure"}}[1m]) >= 3'
            )

        await eventually(scraped_on_a_a_few_times, timeout=30, interval=0.3)
        await moving.close()
        moved = await b.station("CP-MOVE")
        second = await b.station("CP-B")
        try:
            await moved.boot(firmware_version="2.0", charge_point_serial_number="SN-1")
            await moved.status(1, "Available")
            await moved.status(
                2,
                "SuspendedEVSE",
                "OverCurrentFailure",
                vendor_id="ACME",
                vendor_error_code="OC-32A",
                info="34 A on L1",
            )
            await second.boot(firmware_version="3.0", charge_point_serial_number="SN-2")
            await second.status(1, "Faulted", "EVCommunicationError")

            async def moved_scraped() -> None:
                connected = {
                    r["metric"]["instance"]: r["value"][1]
                    for r in await prom.query('ocpp_station_connected{station="CP-MOVE"}')
                }
                assert connected == {inst_a: "0", inst_b: "1"}
                assert await prom.query('ocpp_connector_error{error_code="EVCommunicationError"}')
                assert await prom.query('ocpp_connector_error{error_code="OverCurrentFailure"}')

            await eventually(moved_scraped, timeout=30, interval=0.3)
            moved_at = time.time()
            # A still exports its last-known view: what the dashboards must see past
            assert await prom.query(f'ocpp_connector_error{{instance="{inst_a}"}}')

            async def b_never_heard_the_devices() -> None:
                assert await prom.query(f'ocpp_controller_up{{instance="{inst_b}"}} == 0')
                assert await prom.query(f'ocpp_ems_fallback_active{{instance="{inst_b}"}} == 1')
                assert await prom.query(f'ocpp_ems_up{{instance="{inst_a}"}} == 1')

            await eventually(b_never_heard_the_devices, timeout=30, interval=0.3)
            never = await prom.query('ocpp_station_connected{station="CP-NEVER"} == 0')
            assert {r["metric"]["instance"] for r in never} == {inst_a, inst_b}

            await _run_everything(prom, inst_a, start)
            await _check_replicas(prom, start, moved_at)
        finally:
            beats.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await beats
            for s in (moved, second):
                await s.close()


async def _values(prom: Prometheus, dashboard: str, title: str, **sel: str) -> list[Any]:
    values = {"site": ".*", "station": ".*", "__range": "1m", "__rate_interval": "15s", **sel}
    # the instant query of the panel (the fleet shows errors by code as a bar and a graph)
    [q] = [
        q
        for q in queries(dashboard, DASHBOARDS[dashboard])
        if (q.kind, q.title) == ("target", title) and q.instant
    ]
    return await prom.query(substitute(q.expr, values))


async def _check_replicas(prom: Prometheus, start: float, moved_at: float) -> None:
    fleet = "ocpp-fleet-overview"
    # each active error once, the moved station's current one from B, not A's stale one
    table = await _values(prom, fleet, "Error notifications")
    rows = _rows(table)
    assert len(table) == len(rows)
    assert set(rows) == {
        ("CP-MOVE", "2", "OverCurrentFailure"),
        ("CP-B", "1", "EVCommunicationError"),
    }
    assert rows["CP-MOVE", "2", "OverCurrentFailure"]["metric"]["status"] == "SuspendedEVSE"
    assert all("instance" not in r["metric"] for r in table)

    [online] = await _values(prom, fleet, "Stations online")
    [offline] = await _values(prom, fleet, "Stations offline")
    assert (float(online["value"][1]), float(offline["value"][1])) == (2, 1)
    offline_rows = await _values(prom, fleet, "Offline stations")
    assert [(r["metric"]["station"], float(r["value"][1])) for r in offline_rows] == [
        ("CP-NEVER", 0)
    ]
    by_severity = await _values(prom, fleet, "Active errors by severity")
    assert sum(float(r["value"][1]) for r in by_severity) == 2
    by_code = await _values(prom, fleet, "Active errors by code")
    assert {r["metric"]["error_code"]: float(r["value"][1]) for r in by_code} == {
        "OverCurrentFailure": 1,
        "EVCommunicationError": 1,
    }

    # a heartbeat reached A only: up on some replica is up
    [controllers] = await _values(prom, fleet, "Controllers offline")
    [fallback] = await _values(prom, fleet, "EMS on fallback")
    assert (float(controllers["value"][1]), float(fallback["value"][1])) == (0, 0)
    assert await _values(prom, fleet, "Offline controllers") == []
    assert await _values(prom, fleet, "Offline energy management systems") == []
    ems = _query("ocpp-location", "target", "EMS power limit")
    [limit] = await prom.query(substitute(ems.expr, {"site": "depot-west"}))
    assert float(limit["value"][1]) == 7000
    site = {"site": "depot-west", "station": ".*"}
    table = [
        q
        for q in queries("ocpp-location", DASHBOARDS["ocpp-location"])
        if q.title in {"Energy management system", "Site controller"}
    ]
    assert len(table) == 4
    states = [[r["value"][1] for r in await prom.query(substitute(q.expr, site))] for q in table]
    assert states == [["1"], ["1"], ["0"], ["7000"]]  # controller up; EMS up, live limit

    # the stale error ends when Prometheus saw the move; annotations carry each period once
    annotation = _query(fleet, "annotation", "OCPP errors")
    all_sel = {"site": ".*", "station": ".*"}

    async def stale_period_ended() -> None:
        series = await prom.query_range(substitute(annotation.expr, all_sel), start)
        history = _rows(series)
        assert len(series) == len(history)
        assert set(history) == {
            ("CP-MOVE", "1", "GroundFailure"),
            ("CP-MOVE", "2", "OverCurrentFailure"),
            ("CP-B", "1", "EVCommunicationError"),
        }
        stale = history["CP-MOVE", "1", "GroundFailure"]["values"]
        current = history["CP-B", "1", "EVCommunicationError"]["values"]
        assert float(stale[-1][0]) <= moved_at < float(current[-1][0])

    await eventually(stale_period_ended, timeout=10, interval=0.3)

    # location: statuses, markers and identity from the owner replica
    details = await _values(prom, "ocpp-location", "Charge point details", site="depot-west")
    marked = {key: float(r["value"][1]) for key, r in _rows(details).items()}
    assert len(details) == len(marked)
    assert marked == {
        ("CP-MOVE", "1", ""): 0,
        ("CP-MOVE", "2", "OverCurrentFailure"): 1,
        ("CP-B", "1", "EVCommunicationError"): 1,
    }
    assert {r["metric"]["station"]: r["metric"]["firmware_version"] for r in details} == {
        "CP-MOVE": "2.0",
        "CP-B": "3.0",
    }
    session, last_frame = [
        await prom.query(substitute(q.expr, site))
        for q in queries("ocpp-location", DASHBOARDS["ocpp-location"])
        if q.title == "Stations"
    ]
    assert sorted((r["metric"]["station"], r["value"][1]) for r in session) == [
        ("CP-B", "1"),
        ("CP-MOVE", "1"),
        ("CP-NEVER", "0"),
    ]
    assert sorted(r["metric"]["station"] for r in last_frame) == ["CP-B", "CP-MOVE"]

    # station: one session, the identity B heard, B's statuses (A's Faulted must not win)
    sel = {"station": "CP-MOVE"}
    [session] = await _values(prom, "ocpp-station", "Session", **sel)
    assert float(session["value"][1]) == 1
    [info] = await _values(prom, "ocpp-station", "Station info", **sel)
    assert info["metric"]["firmware_version"] == "2.0"
    [error_info] = await _values(prom, "ocpp-station", "Error details from the station", **sel)
    assert error_info["metric"]["error_code"] == "OverCurrentFailure"
    assert error_info["metric"]["vendor_error_code"] == "OC-32A"
    timeline = _query("ocpp-station", "target", "Connector status")
    series = await prom.query_range(substitute(timeline.expr, sel), start)
    last = {r["metric"]["connector"]: float(r["values"][-1][1]) for r in series}
    codes = panel(DASHBOARDS["ocpp-station"], "Connector status")["fieldConfig"]["defaults"]
    texts = codes["mappings"][0]["options"]
    assert texts[str(int(last["1"]))]["text"] == "Available"
    assert texts[str(int(last["2"]))]["text"] == "SuspendedEVSE"
