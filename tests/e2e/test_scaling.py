"""Scale-out: the shipped HAProxy configuration in front of three real exporter processes, a
thousand stations over loopback; a replica killed or drained, its stations reconnecting to the
others. (bench/scale_failover.py runs the same at larger sizes and prints the figures.)"""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections import Counter
from collections.abc import AsyncIterator

import pytest

from tests.support.replica_cluster import Cluster, Fleet, failover, serving, station_ids
from tests.support.waiting import eventually

# The catalog's `for:` of OcppChargingStationOffline: a failover must complete far below it.
STATION_OFFLINE_FOR = 600.0
# Generous for a loaded two-core CI machine; the bench measures about a second.
FAILOVER_BOUND = 60.0


@pytest.fixture
async def cluster() -> AsyncIterator[Cluster]:
    c = Cluster(size=3)
    try:
        await c.start()
        yield c
    finally:
        c.stop()


@contextlib.asynccontextmanager
async def connected_fleet(cluster: Cluster, n: int) -> AsyncIterator[Fleet]:
    fleet = Fleet(cluster.ocpp_url, station_ids(n), reconnect_interval=1.0, max_backoff=4.0)
    try:
        await fleet.start()
        await fleet.wait_connected(timeout=180)
        yield fleet
    finally:
        await fleet.stop()


async def settled_placement(cluster: Cluster, n: int) -> dict[str, list[str]]:
    """Scrapes until every station shows connected on some replica (a boot may still be in
    flight between the station's view and the replica's)."""

    async def settled() -> dict[str, list[str]]:
        where = serving(await cluster.placement())
        assert len(where) == n, f"{len(where)} of {n} stations on some replica"
        assert all(where.values()), [s for s, r in where.items() if not r][:5]
        return where

    return await eventually(settled, timeout=20, interval=0.2)


async def test_each_station_served_by_exactly_one_replica_and_failover_on_kill(
    cluster: Cluster,
) -> None:
    n = 1000
    async with connected_fleet(cluster, n) as fleet:
        where = await settled_placement(cluster, n)
        assert set(where) == set(station_ids(n))
        assert all(len(replicas) == 1 for replicas in where.values()), {
            s: r for s, r in where.items() if len(r) != 1
        }
        per_replica = Counter(r[0] for r in where.values())
        assert set(per_replica) == {"exporter-1", "exporter-2", "exporter-3"}
        # The consistent hash spreads the fleet: no replica idle or holding most of it.
        assert min(per_replica.values()) > n * 0.2, per_replica

        # A station that reconnects while its replica is up lands on the same replica.
        records = fleet.records()
        bounced = station_ids(n)[::10]
        sessions = {s: records[s].sessions for s in bounced}
        await asyncio.gather(*(fleet.stations[s].drop() for s in bounced))

        async def reconnected() -> None:
            assert all(
                records[s].connected and records[s].sessions > sessions[s] for s in bounced
            ), "bounced stations did not reconnect"

        await eventually(reconnected, timeout=FAILOVER_BOUND, interval=0.1)
        again = await settled_placement(cluster, n)
        assert all(again[s] == where[s] for s in bounced)

        sessions = {s: r.sessions for s, r in records.items()}
        victim = cluster.replicas[0]
        seconds, moved = await failover(cluster, fleet, victim, signal.SIGKILL, FAILOVER_BOUND)
        assert moved == {s for s, r in where.items() if r == [victim.name]}
        assert seconds < FAILOVER_BOUND < STATION_OFFLINE_FOR

        # Only the dead replica's stations moved; the others kept their sessions.
        assert all(records[s].sessions == sessions[s] for s in records if s not in moved)
        await cluster.wait_backends({"exporter-2", "exporter-3"})
        after = await settled_placement(cluster, n)
        assert all(len(after[s]) == 1 for s in records), "a station is served twice or nowhere"
        assert {after[s][0] for s in moved} == {"exporter-2", "exporter-3"}
        assert all(after[s] == where[s] for s in records if s not in moved)


async def test_sigterm_drains_with_1001_and_stations_reconnect_to_the_others(
    cluster: Cluster,
) -> None:
    n = 300
    async with connected_fleet(cluster, n) as fleet:
        await settled_placement(cluster, n)
        victim = cluster.replicas[1]
        seconds, moved = await failover(cluster, fleet, victim, signal.SIGTERM, FAILOVER_BOUND)
        records = fleet.records()
        assert {records[s].close_codes[-1] for s in moved} == {1001}
        assert seconds < FAILOVER_BOUND
        assert victim.proc is not None and victim.proc.wait(30) == 0
        after = await settled_placement(cluster, n)
        assert all(len(after[s]) == 1 for s in records)
        assert {after[s][0] for s in moved} <= {"exporter-1", "exporter-3"}
