"""Load benchmark: the exporter, the naive peer a user would write, and the raw aiohttp ceiling,
measured side by side in one run with the same load generator.

    python bench/run.py                      # all targets, 100 / 1,000 / 10,000 stations
    python bench/run.py --targets exporter --sizes 100 1000 --seconds 5
    python bench/run.py --targets exporter --profile bench/results/exporter.prof

Per target: StatusNotification round trips per second (closed loop, one frame in flight per
station) with p50/p99 latency at each size; at the largest size, idle connections held and the
server's resident memory per connection; then connectors 1 and 2 of every station report (5% in
error) and /metrics is scraped while paced probe frames measure how long frames wait.

The load generator runs in separate processes (--workers) with pre-serialised frames. It shares
the machine's cores with the server under test: on a 2-core machine the figures are a ratio
between targets under the same generator, not absolute capacity.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import multiprocessing
import os
import resource
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
from array import array
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
import loadgen
from exporter_process import cpu_seconds

from tests.support.ports import free_port

ROOT = Path(__file__).resolve().parent.parent


def rss_bytes(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError(f"no VmRSS for pid {pid}")


@dataclass
class Target:
    name: str
    profile: str | None = None
    ocpp_port: int = field(default_factory=free_port)
    metrics_port: int | None = None
    proc: subprocess.Popen[bytes] | None = None

    def command(self) -> list[str]:
        py = [sys.executable]
        if self.name == "exporter":
            self.metrics_port = free_port()
            if self.profile:
                py += ["-m", "cProfile", "-o", self.profile]
            return [
                *py,
                "-m",
                "exporter",
                "serve",
                "--ocpp-listen",
                f"127.0.0.1:{self.ocpp_port}",
                "--metrics-listen",
                f"127.0.0.1:{self.metrics_port}",
                "--log-level",
                "warning",
            ]
        if self.name == "naive":
            self.metrics_port = free_port()
            return [
                *py,
                str(ROOT / "bench" / "naive_peer.py"),
                "--port",
                str(self.ocpp_port),
                "--metrics-port",
                str(self.metrics_port),
            ]
        if self.name == "ceiling":
            return [*py, str(ROOT / "bench" / "ceiling.py"), "--port", str(self.ocpp_port)]
        raise ValueError(self.name)

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.ocpp_port}/ocpp"

    def start(self) -> None:
        self.ocpp_port = free_port()
        self.proc = subprocess.Popen(self.command(), cwd=ROOT)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            with (
                contextlib.suppress(OSError),
                socket.create_connection(("127.0.0.1", self.ocpp_port), timeout=1),
            ):
                time.sleep(0.5)
                return
            time.sleep(0.1)
        raise RuntimeError(f"{self.name} did not start")

    def stop(self) -> None:
        if self.proc is None:
            return
        self.proc.terminate()
        try:
            self.proc.wait(60)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.proc = None


class Generator:
    """The worker processes; a command goes to all of them, each with its share of stations."""

    def __init__(self, workers: int) -> None:
        ctx = multiprocessing.get_context("spawn")
        self.pipes = []
        self.procs = []
        for _ in range(workers):
            parent, child = ctx.Pipe()
            proc = ctx.Process(target=loadgen.serve, args=(child,), daemon=True)
            proc.start()
            self.pipes.append(parent)
            self.procs.append(proc)

    def send(self, method: str, per_worker: list[dict[str, Any]]) -> None:
        for pipe, kwargs in zip(self.pipes, per_worker, strict=True):
            pipe.send((method, kwargs))

    def gather(self) -> list[dict[str, Any]]:
        out = [pipe.recv() for pipe in self.pipes]
        for result in out:
            if "error" in result:
                raise RuntimeError(result["error"])
        return out

    def all(self, method: str, per_worker: list[dict[str, Any]]) -> list[dict[str, Any]]:
        self.send(method, per_worker)
        return self.gather()

    def same(self, method: str, **kwargs: Any) -> list[dict[str, Any]]:
        return self.all(method, [kwargs] * len(self.pipes))

    def close(self) -> None:
        for pipe in self.pipes:
            with contextlib.suppress(OSError):
                pipe.send(None)
        for proc in self.procs:
            proc.join(30)


def split(items: list[Any], parts: int) -> list[list[Any]]:
    return [items[i::parts] for i in range(parts)]


def percentiles(raw: list[bytes]) -> tuple[int, float, float, float]:
    values = array("d")
    for chunk in raw:
        values.frombytes(chunk)
    if not values:
        return 0, 0.0, 0.0, 0.0
    ordered = sorted(values)
    n = len(ordered)
    return n, ordered[n // 2], ordered[min(n - 1, int(n * 0.99))], ordered[-1]


def connect(gen: Generator, target: Target, size: int, tag: str, concurrency: int) -> int:
    ids = [f"{tag}{i:05d}" for i in range(size)]
    parts = split(ids, len(gen.pipes))
    results = gen.all(
        "connect",
        [{"url": target.url, "ids": p, "boot": True, "concurrency": concurrency} for p in parts],
    )
    connected = sum(r["connected"] for r in results)
    failed = sum(r["failed"] for r in results)
    if failed:
        print(f"  {failed} connections failed, e.g. {results[0]['errors']}", flush=True)
    return connected


def throughput(gen: Generator, target: Target, size: int, seconds: float) -> dict[str, Any]:
    per = [
        size // len(gen.pipes) + (1 if i < size % len(gen.pipes) else 0)
        for i in range(len(gen.pipes))
    ]
    assert target.proc is not None
    cpu_before = cpu_seconds(target.proc.pid)
    results = gen.all("load", [{"seconds": seconds, "active": n} for n in per])
    cpu = cpu_seconds(target.proc.pid) - cpu_before
    n, p50, p99, worst = percentiles([r["latencies"] for r in results])
    elapsed = max(r["elapsed"] for r in results)
    return {
        "round_trips": n,
        "per_second": n / elapsed,
        # The server's own CPU per round trip: unlike round trips per second, it hardly moves
        # when the load generator (or anything else) competes for the same cores.
        "server_cpu_us": cpu / max(n, 1) * 1e6,
        "p50_ms": p50 * 1000,
        "p99_ms": p99 * 1000,
        "max_ms": worst * 1000,
        "failed": sum(r["failed"] for r in results),
    }


def scrape(port: int) -> tuple[float, int, int]:
    started = time.perf_counter()
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=120) as response:
        body = response.read()
    elapsed = time.perf_counter() - started
    series = sum(1 for line in body.splitlines() if line and not line.startswith(b"#"))
    return elapsed, len(body), series


def scrape_phase(gen: Generator, target: Target, scrapes: int) -> dict[str, Any]:
    """Scrapes back to back while probe frames flow; the probe's worst round trip is the longest
    any frame waited during the scrapes."""
    assert target.metrics_port is not None
    scrape(target.metrics_port)  # warm-up (first-time imports, caches)
    probe_seconds = 10.0
    gen.send("probe", [{"seconds": probe_seconds, "count": 50, "period": 0.05}] * len(gen.pipes))
    time.sleep(1.0)
    times, size, series = [], 0, 0
    started = time.monotonic()
    # Scrape back to back for (nearly) the whole probe window, at least `scrapes` times.
    while len(times) < scrapes or time.monotonic() - started < probe_seconds - 2:
        elapsed, size, series = scrape(target.metrics_port)
        times.append(elapsed)
    during = time.monotonic() - started
    results = gen.gather()
    n, p50, p99, worst = percentiles([r["latencies"] for r in results])
    return {
        "scrape_ms_median": statistics.median(times) * 1000,
        "scrape_ms_max": max(times) * 1000,
        "bytes": size,
        "series": series,
        "scrapes": len(times),
        "scrape_window_s": during,
        "probe_window_s": probe_seconds,
        "probe_frames": n,
        "probe_p50_ms": p50 * 1000,
        "probe_p99_ms": p99 * 1000,
        "probe_max_ms": worst * 1000,
    }


def run_target(args: argparse.Namespace, gen: Generator, name: str) -> dict[str, Any]:
    out: dict[str, Any] = {"target": name, "throughput": {}}
    target = Target(name, profile=args.profile if name == "exporter" else None)
    small = [s for s in args.sizes if s != max(args.sizes)]
    largest = max(args.sizes)
    try:
        if small:
            target.start()
            for size in small:
                got = connect(gen, target, size, f"T{size}-", args.concurrency)
                print(f"{name}: {got} stations connected; loading {args.seconds}s", flush=True)
                out["throughput"][size] = throughput(gen, target, size, args.seconds)
                print(f"  {out['throughput'][size]}", flush=True)
                gen.same("close")
            target.stop()

        # Largest size on a fresh process: memory per connection from a clean baseline.
        target.start()
        assert target.proc is not None
        base = rss_bytes(target.proc.pid)
        started = time.monotonic()
        got = connect(gen, target, largest, "L-", args.concurrency)
        connect_s = time.monotonic() - started
        time.sleep(args.settle)
        held = sum(r["open"] for r in gen.same("open_count"))
        rss = rss_bytes(target.proc.pid)
        out["idle"] = {
            "stations": largest,
            "connected": got,
            "held_after_settle": held,
            "connect_seconds": connect_s,
            "rss_base_mib": base / 2**20,
            "rss_mib": rss / 2**20,
            "kib_per_connection": (rss - base) / max(held, 1) / 1024,
        }
        print(f"{name}: idle {out['idle']}", flush=True)
        out["throughput"][largest] = throughput(gen, target, largest, args.seconds)
        print(f"  {out['throughput'][largest]}", flush=True)
        if target.metrics_port is not None:
            per = [len(p) for p in split(list(range(largest)), len(gen.pipes))]
            firsts = [sum(per[:i]) for i in range(len(per))]
            gen.all(
                "populate",
                [{"first_index": f, "error_every": args.error_every} for f in firsts],
            )
            out["scrape"] = scrape_phase(gen, target, args.scrapes)
            print(f"{name}: scrape {out['scrape']}", flush=True)
        gen.same("close")
    finally:
        target.stop()
    return out


def table(results: list[dict[str, Any]], sizes: list[int]) -> str:
    names = {"exporter": "exporter", "naive": "naive peer", "ceiling": "raw aiohttp ceiling"}
    head = ["figure", *(names[r["target"]] for r in results)]
    rows = []
    for size in sizes:
        rows.append(
            [f"StatusNotification/s, {size:,} stations"]
            + [f"{r['throughput'][size]['per_second']:,.0f}" for r in results]
        )
        rows.append(
            [f"server CPU per round trip (us), {size:,} stations"]
            + [f"{r['throughput'][size]['server_cpu_us']:.1f}" for r in results]
        )
        rows.append(
            [f"p50 / p99 latency (ms), {size:,} stations"]
            + [
                f"{r['throughput'][size]['p50_ms']:.1f} / {r['throughput'][size]['p99_ms']:.1f}"
                for r in results
            ]
        )
    rows.append(
        ["idle connections held"] + [f"{r['idle']['held_after_settle']:,}" for r in results]
    )
    rows.append(
        ["resident memory per connection (KiB)"]
        + [f"{r['idle']['kib_per_connection']:.1f}" for r in results]
    )

    def scrape_cell(r: dict[str, Any], key: str, fmt: str) -> str:
        return fmt.format(r["scrape"][key]) if "scrape" in r else "n/a"

    rows.append(
        ["/metrics scrape, median (ms)"]
        + [scrape_cell(r, "scrape_ms_median", "{:.0f}") for r in results]
    )
    rows.append(
        ["/metrics size (bytes / series)"]
        + [
            f"{r['scrape']['bytes']:,} / {r['scrape']['series']:,}" if "scrape" in r else "n/a"
            for r in results
        ]
    )
    rows.append(
        ["worst frame round trip during scrapes (ms)"]
        + [scrape_cell(r, "probe_max_ms", "{:.0f}") for r in results]
    )
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument(
        "--targets",
        nargs="+",
        default=["exporter", "naive", "ceiling"],
        choices=["exporter", "naive", "ceiling"],
    )
    p.add_argument("--sizes", nargs="+", type=int, default=[100, 1000, 10000])
    p.add_argument("--seconds", type=float, default=10.0, help="closed-loop load per size")
    p.add_argument("--workers", type=int, default=2, help="load generator processes")
    p.add_argument("--concurrency", type=int, default=200, help="handshakes in flight per worker")
    p.add_argument("--settle", type=float, default=5.0, help="wait before measuring memory")
    p.add_argument("--scrapes", type=int, default=5)
    p.add_argument("--error-every", type=int, default=20, help="1 in N connectors in error")
    p.add_argument("--profile", metavar="FILE", help="run the exporter under cProfile")
    p.add_argument("--out", default=str(ROOT / "bench" / "results" / "latest.json"))
    args = p.parse_args()

    # 10,000 stations need 10,000 sockets in the server and in the generator.
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    if hard < max(args.sizes) + 1000:
        sys.exit(f"open file limit {hard} is too low for {max(args.sizes)} stations")

    gen = Generator(args.workers)
    results = []
    try:
        for name in args.targets:
            results.append(run_target(args, gen, name))
    finally:
        gen.close()
    report = {
        "command": " ".join([os.path.relpath(sys.argv[0], ROOT), *sys.argv[1:]]),
        "cpus": os.cpu_count(),
        "python": sys.version.split()[0],
        "results": results,
    }
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(report, indent=2))
    print()
    print(table(results, sorted(args.sizes)))
    by = {r["target"]: r for r in results}
    if {"exporter", "naive", "ceiling"} <= by.keys():
        print()
        for size in sorted(args.sizes):
            e, n, c = (
                by[k]["throughput"][size]["per_second"] for k in ("exporter", "naive", "ceiling")
            )
            ec, cc = (by[k]["throughput"][size]["server_cpu_us"] for k in ("exporter", "ceiling"))
            print(
                f"at {size:,} stations: exporter/naive = {e / n:.1f}x, "
                f"exporter/ceiling = {e / c:.2f} (server CPU per round trip: {cc / ec:.2f})"
            )


if __name__ == "__main__":
    main()
