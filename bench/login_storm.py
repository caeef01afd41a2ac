"""A storm of wrong passwords against OCPP security profile 1 while other stations log in and
talk: what it costs the service (docs/security.md, "Failed logins").

The exporter runs as its own process (`ocpp-exporter serve`), behind a pretend proxy: every client
connects from loopback with `X-Forwarded-For` naming its address, and `ocpp.trusted_proxies` lets
the exporter believe it. Then, at once:

- `--attackers` upgrade requests with a wrong password, all from one address (203.0.113.66);
- `--connected` stations, logged in before the storm, each sending a Heartbeat every 0.5 s:
  their round trips;
- `--legit` stations logging in for the first time during the storm, each from its own address:
  how long their upgrade takes;
- one more first login with the right password from the attacker's own address (a station
  behind the same NAT): slowed, never refused.

Measured for `--window` seconds from the first wrong attempt; the exporter's CPU time over the
window comes from /proc. `--root DIR` runs another checkout (e.g. a worktree of an older commit)
for a before/after comparison.

    python bench/login_storm.py                      # this checkout
    python bench/login_storm.py --root /tmp/before   # another one
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import aiohttp

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
import exporter_process

from exporter.security.passwords import hash_password
from tests.support.ports import free_port

ATTACKER = "203.0.113.66"
PASSWORD = "right horse battery"


def basic(user: str, password: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


def config_text(stations: list[str]) -> str:
    digest = hash_password(PASSWORD)  # one hash for all: the bench measures checks, not salts
    lines = [
        "ocpp:",
        "  trusted_proxies: [127.0.0.1/32]",
        "  security:",
        "    profile: 1",
        "    stations:",
        *[f'      {s}: {{ password_hash: "{digest}" }}' for s in stations],
        "limits:",
        "  max_messages_per_second: 0",
    ]
    return "\n".join(lines) + "\n"


async def wait_ready(port: int) -> None:
    async with aiohttp.ClientSession() as http:
        for _ in range(200):
            with contextlib.suppress(aiohttp.ClientError):
                async with http.get(f"http://127.0.0.1:{port}/-/ready") as r:
                    if r.status == 200:
                        return
            await asyncio.sleep(0.1)
    raise TimeoutError("exporter not ready")


async def upgrade(
    http: aiohttp.ClientSession, url: str, station: str, password: str, address: str
) -> tuple[int, float, aiohttp.ClientWebSocketResponse | None]:
    """(HTTP status, seconds, the websocket when admitted)."""
    headers = {**basic(station, password), "X-Forwarded-For": address}
    started = time.perf_counter()
    try:
        ws = await http.ws_connect(f"{url}/{station}", protocols=["ocpp1.6"], headers=headers)
    except aiohttp.WSServerHandshakeError as exc:
        return exc.status, time.perf_counter() - started, None
    return 101, time.perf_counter() - started, ws


async def talk(ws: aiohttp.ClientWebSocketResponse, until: float, rtts: list[float]) -> None:
    n = 0
    while time.monotonic() < until:
        n += 1
        sent = time.perf_counter()
        await ws.send_str(json.dumps([2, f"h{n}", "Heartbeat", {}]))
        while True:
            msg = await ws.receive()
            if msg.type != aiohttp.WSMsgType.TEXT:
                return
            frame = json.loads(msg.data)
            if frame[0] == 2:  # the exporter's TriggerMessage after connect
                await ws.send_str(json.dumps([3, frame[1], {"status": "Rejected"}]))
                continue
            if frame[1] == f"h{n}":
                rtts.append(time.perf_counter() - sent)
                break
        await asyncio.sleep(0.5)


def ms(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    if len(values) == 1:
        return values[0] * 1000
    return statistics.quantiles(values, n=100, method="inclusive")[int(q * 100) - 1] * 1000


async def main(args: argparse.Namespace) -> None:
    connected = [f"CP-ON-{i:03d}" for i in range(args.connected)]
    legit = [f"CP-NEW-{i:03d}" for i in range(args.legit)]
    nat = "CP-NAT-001"
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "exporter.yaml"
        path.write_text(config_text([*connected, *legit, nat, "CP-TARGET"]))
        ocpp_port, metrics_port = free_port(), free_port()
        process = exporter_process.start(ocpp_port, metrics_port, path, root=Path(args.root))
        try:
            await wait_ready(metrics_port)
            url = f"ws://127.0.0.1:{ocpp_port}/ocpp"
            connector = aiohttp.TCPConnector(limit=0)
            async with aiohttp.ClientSession(connector=connector) as http:
                sessions = []
                for i, station in enumerate(connected):
                    status, _, ws = await upgrade(http, url, station, PASSWORD, f"10.0.1.{i + 1}")
                    assert status == 101 and ws is not None, (station, status)
                    sessions.append(ws)
                cpu_before = exporter_process.cpu_seconds(process.pid)
                start = time.monotonic()
                until = start + args.window
                rtts: list[float] = []
                talkers = [asyncio.create_task(talk(ws, until, rtts)) for ws in sessions]
                storm = [
                    asyncio.create_task(upgrade(http, url, "CP-TARGET", f"guess-{n}", ATTACKER))
                    for n in range(args.attackers)
                ]

                async def first_login(i: int, station: str) -> tuple[int, float]:
                    await asyncio.sleep(0.2 + i * (args.window / 2) / max(1, args.legit))
                    status, seconds, ws = await upgrade(
                        http, url, station, PASSWORD, f"10.0.2.{i + 1}"
                    )
                    if ws is not None:
                        await ws.close()
                    return status, seconds

                async def nat_login() -> tuple[int, float]:
                    await asyncio.sleep(1.0)
                    status, seconds, ws = await upgrade(http, url, nat, PASSWORD, ATTACKER)
                    if ws is not None:
                        await ws.close()
                    return status, seconds

                logins = await asyncio.gather(
                    *(first_login(i, s) for i, s in enumerate(legit)), nat_login()
                )
                await asyncio.gather(*talkers)
                window = time.monotonic() - start
                cpu = exporter_process.cpu_seconds(process.pid) - cpu_before
                answered = [t.result() for t in storm if t.done()]
                for task in storm:
                    task.cancel()
                await asyncio.gather(*storm, return_exceptions=True)
                for ws in sessions:
                    await ws.close()
        finally:
            process.terminate()
            process.wait(10)
    legit_results, nat_result = logins[:-1], logins[-1]
    first = [seconds for status, seconds in legit_results if status == 101]
    refused = [status for status, _ in legit_results if status != 101]
    statuses: dict[int, int] = {}
    for status, _, _ in answered:
        statuses[status] = statuses.get(status, 0) + 1
    print(f"root: {args.root}")
    print(
        f"window {window:.1f} s: exporter CPU {cpu:.2f} s ({100 * cpu / window:.0f}% of one core)"
    )
    print(
        f"{args.attackers} wrong passwords from {ATTACKER}: {len(answered)} answered within the "
        f"window {dict(sorted(statuses.items()))}"
    )
    print(
        f"first logins from other addresses: {len(first)}/{len(legit_results)} admitted, "
        f"p50 {ms(first, 0.5):.0f} ms, max {max(first) * 1000 if first else float('nan'):.0f} ms"
        + (f", refused {refused}" if refused else "")
    )
    print(
        "right password from the attacker's address: "
        f"HTTP {nat_result[0]} after {nat_result[1]:.2f} s"
    )
    print(
        f"round trips of {args.connected} connected stations: {len(rtts)} heartbeats, "
        f"p50 {ms(rtts, 0.5):.1f} ms, p99 {ms(rtts, 0.99):.1f} ms, max {max(rtts) * 1000:.1f} ms"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--attackers", type=int, default=150)
    parser.add_argument("--connected", type=int, default=50)
    parser.add_argument("--legit", type=int, default=10)
    parser.add_argument("--window", type=float, default=10.0)
    parser.add_argument("--root", type=Path, default=Path(__file__).resolve().parent.parent)
    asyncio.run(main(parser.parse_args()))
