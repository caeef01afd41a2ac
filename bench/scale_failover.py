"""Scale-out benchmark: HAProxy (deploy/haproxy/haproxy.cfg) + N exporter replicas on loopback,
a fleet of simulated stations, one replica killed (SIGKILL) and then another drained (SIGTERM).

    python bench/scale_failover.py --stations 1000 --replicas 3

Prints stations per replica, whether every station is served by exactly one replica, and the
failover times (signal -> the last of the victim's stations booted on another replica). The
figures in docs/scaling.md come from this script.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
import sys
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.support.replica_cluster import Cluster, Fleet, failover, serving, station_ids


async def main(args: argparse.Namespace) -> dict[str, object]:
    cluster = Cluster(size=args.replicas)
    fleet: Fleet | None = None
    result: dict[str, object] = {"stations": args.stations, "replicas": args.replicas}
    try:
        await cluster.start()
        fleet = Fleet(
            cluster.ocpp_url,
            station_ids(args.stations),
            reconnect_interval=args.reconnect_interval,
            max_backoff=args.max_backoff,
        )
        started = time.monotonic()
        await fleet.start(per_second=args.ramp)
        await fleet.wait_connected(timeout=300)
        result["connect_all_seconds"] = round(time.monotonic() - started, 1)

        where = serving(await cluster.placement())
        result["served_by_exactly_one"] = all(len(r) == 1 for r in where.values())
        per_replica = Counter(r[0] for r in where.values() if len(r) == 1)
        result["stations_per_replica"] = dict(sorted(per_replica.items()))

        records = fleet.records()
        sessions_before = {s: r.sessions for s, r in records.items()}
        seconds, moved = await failover(
            cluster, fleet, cluster.replicas[0], signal.SIGKILL, timeout=300
        )
        result["sigkill"] = {"moved": len(moved), "failover_seconds": round(seconds, 2)}
        # Consistent hashing: only the victim's stations reconnected.
        result["sigkill"]["others_moved"] = sum(  # type: ignore[index]
            1 for s, r in records.items() if s not in moved and r.sessions != sessions_before[s]
        )
        await cluster.wait_backends({r.name for r in cluster.replicas[1:]})
        where = serving(await cluster.placement())
        result["after_sigkill_served_by_exactly_one"] = all(
            len(where.get(s, [])) == 1 for s in records
        )
        result["after_sigkill_stations_per_replica"] = dict(
            sorted(Counter(r[0] for r in where.values() if len(r) == 1).items())
        )

        if args.replicas >= 3:
            victim = cluster.replicas[1]
            seconds, moved = await failover(cluster, fleet, victim, signal.SIGTERM, timeout=300)
            codes = Counter(records[s].close_codes[-1] for s in moved)
            result["sigterm"] = {
                "moved": len(moved),
                "failover_seconds": round(seconds, 2),
                "close_codes": {str(k): v for k, v in codes.items()},
                "exit_code": victim.proc.wait(30) if victim.proc else None,
            }
        return result
    finally:
        if fleet is not None:
            await fleet.stop()
        cluster.stop()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stations", type=int, default=1000)
    parser.add_argument("--replicas", type=int, default=3)
    parser.add_argument("--reconnect-interval", type=float, default=1.0)
    parser.add_argument("--max-backoff", type=float, default=8.0)
    parser.add_argument("--ramp", type=float, default=400.0, help="new stations per second")
    print(json.dumps(asyncio.run(main(parser.parse_args())), indent=2))
