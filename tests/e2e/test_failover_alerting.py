"""The pager across a replica failover, end to end with the real binaries: stations behind the
shipped HAProxy configuration and three exporter replicas, Prometheus scraping every replica with
the generated rules, Alertmanager with the shipped routes delivering to a webhook. A replica is
killed with SIGKILL while its stations have an active error; they reconnect to the others after
a back-off (without rebooting) and re-report the error there. The pager must see exactly one
firing notification per error and no resolved one; a NoError sent after the failover still
resolves at once (docs/scaling.md, "Across a failover")."""

from __future__ import annotations

import asyncio
import logging
import signal
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from exporter.knowledge import catalog as catalog_module
from tests.support.alerting_stack import Webhook, alertmanager, prometheus, webhook_server
from tests.support.prometheus import Prometheus
from tests.support.replica_cluster import Cluster, Fleet, serving, station_ids
from tests.support.waiting import eventually

log = logging.getLogger(__name__)
TIMEOUT = 90.0
STATIONS = 12
#: Real stations back off for tens of seconds; long enough here that Prometheus evaluates the
#: alerts many times (every second) while the moved stations are connected nowhere.
BACKOFF = 8.0
ERROR = "GroundFailure"  # critical: routed to the pager, `for: 0m`


@pytest.fixture
async def cluster() -> AsyncIterator[Cluster]:
    c = Cluster(size=3)
    try:
        await c.start()
        yield c
    finally:
        c.stop()


def pages(hook: Webhook, alertname: str, station: str) -> dict[str, set[str]]:
    """status -> the distinct `startsAt` of this station's alert in what the pager received: a
    second page of the same error would carry a new startsAt."""
    out: dict[str, set[str]] = {"firing": set(), "resolved": set()}
    for note in hook.received:
        if note.receiver != "pager":
            continue
        for alert in note.alerts(alertname=alertname, station=station):
            out[alert["status"]].add(alert["startsAt"])
    return out


@pytest.mark.slow
async def test_kill_9_failover_pages_once_per_error_and_a_clear_still_resolves_at_once(
    cluster: Cluster, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    alertname = catalog_module.load().errors[ERROR].alert
    ids = station_ids(STATIONS)
    fleet = Fleet(
        cluster.ocpp_url,
        ids,
        reconnect_interval=BACKOFF,
        max_backoff=BACKOFF,
        error_code=ERROR,
        boot_every_session=False,
    )
    metrics = [r.metrics_port for r in cluster.replicas]
    async with (
        webhook_server() as hook,
        alertmanager(tmp_path / "am", hook.url) as am,
        prometheus(tmp_path / "prom", metrics, am.port) as prom,
    ):
        try:
            await fleet.start()
            await fleet.wait_connected(timeout=TIMEOUT)

            async def all_paged() -> None:
                missing = [s for s in ids if not pages(hook, alertname, s)["firing"]]
                assert not missing, f"not paged yet: {missing}"

            await eventually(all_paged, timeout=TIMEOUT, interval=0.2)

            where = serving(await cluster.placement())
            victim = max(cluster.replicas, key=lambda r: sum(w == [r.name] for w in where.values()))
            moved = sorted(s for s, w in where.items() if w == [victim.name])
            assert moved, where
            records = fleet.records()
            sessions = {s: records[s].sessions for s in moved}
            killed = time.monotonic()
            victim.signal(signal.SIGKILL)

            async def moved_back() -> None:
                back = [s for s in moved if records[s].connected and records[s].sessions > 1]
                assert len(back) == len(moved), f"{len(moved) - len(back)} not back yet"

            await eventually(moved_back, timeout=TIMEOUT, interval=0.1)
            gap = max(records[s].booted_at or 0.0 for s in moved) - killed
            assert all(records[s].sessions == sessions[s] + 1 for s in moved)

            async def reported_elsewhere() -> None:
                # Each moved station's error is on a survivor's /metrics, as Prometheus sees it.
                alive = [r for r in cluster.replicas if r.alive()]
                live = "|".join(f"127.0.0.1:{r.metrics_port}" for r in alive)
                rows = await prom.query(
                    f'ocpp_connector_error{{error_code="{ERROR}",instance=~"{live}"}}'
                )
                assert {r["metric"]["station"] for r in rows} >= set(moved)

            await eventually(reported_elsewhere, timeout=TIMEOUT, interval=0.2)
            # Evaluations (every second) and notification rounds after the moved stations are
            # back: a resolve or re-page caused by the gap would have reached the pager by now.
            await _settle(prom)

            for station in ids:
                got = pages(hook, alertname, station)
                assert got["resolved"] == set(), f"{station}: resolved during the failover"
                assert len(got["firing"]) == 1, f"{station}: paged {len(got['firing'])} times"
            offline = [n for n in hook.received if n.alerts(alertname="OcppChargingStationOffline")]
            assert offline == []

            # A real clear after the failover resolves at once.
            cleared_station = moved[0]
            cleared = time.monotonic()
            await fleet.stations[cleared_station].report("NoError")

            async def resolved() -> float:
                found = [
                    n
                    for n in hook.received
                    if n.receiver == "pager"
                    and n.alerts("resolved", alertname=alertname, station=cleared_station)
                ]
                assert found, "not resolved yet"
                return found[0].received - cleared

            to_resolve = await eventually(resolved, timeout=TIMEOUT, interval=0.05)
        finally:
            await fleet.stop()
    message = (
        f"kill -9 of {victim.name}: {len(moved)} stations moved, back after {gap:.1f}s; "
        f"{STATIONS} errors paged once each, none resolved; NoError after the failover -> "
        f"resolved at the pager in {to_resolve:.2f}s"
    )
    log.info(message)
    with capsys.disabled():
        print(f"\n{message}")
    assert to_resolve < 5.0


async def _settle(prom: Prometheus) -> None:
    """Until Prometheus has evaluated the rules several more times (each group's last evaluation
    moved on by at least 5 s): what the evaluations during the gap sent has been delivered."""
    first: dict[str, float] = {}

    async def evaluated() -> None:
        async with prom.http.get(f"{prom.url}/api/v1/rules") as r:
            groups = (await r.json())["data"]["groups"]
        for group in groups:
            at = _timestamp(group["lastEvaluation"])
            first.setdefault(group["name"], at)
            assert at - first[group["name"]] >= 5, group["name"]

    await eventually(evaluated, timeout=TIMEOUT, interval=0.5)
    # One more group_interval of Alertmanager (1 s in the test config) for the last batch.
    await asyncio.sleep(1.5)


def _timestamp(text: str) -> float:
    """An RFC 3339 time from the Prometheus API (nanosecond fraction, `Z`) as Unix seconds."""
    whole, _, rest = text.rstrip("Z").partition(".")
    fraction = float(f"0.{rest}") if rest else 0.0
    return datetime.fromisoformat(whole).replace(tzinfo=UTC).timestamp() + fraction
