"""State that survives restarts of a running exporter: in process, and as a subprocess killed
with SIGKILL or stopped with SIGTERM (the store itself: tests/unit/test_store.py)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import sqlite3
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import aiohttp
import pytest
import websockets

from exporter import service
from exporter.persistence.store import FILENAME
from tests.support.in_process import loopback_config as make_config
from tests.support.ocpp_station import connect_station
from tests.support.ports import free_port
from tests.support.scrape import Scrape, fetch, samples
from tests.support.waiting import eventually

ROOT = Path(__file__).resolve().parents[2]


async def test_in_process_restart(exporter_factory, tmp_path):
    config = replace(make_config(), state_dir=str(tmp_path))
    running = await exporter_factory(config)
    station = await running.station("CP-1")
    await station.boot()
    await station.status(2, "Faulted", "OverCurrentFailure")
    since = running.svc.fleet.stations["CP-1"].connectors["2"].errors["OverCurrentFailure"].since
    await station.close()
    svc = running.svc
    # stop the OCPP app the way SIGTERM does: sessions close, then the store flushes on cleanup
    await svc.ocpp_app.shutdown()
    await svc.ocpp_app.cleanup()
    fresh = service.build(config)
    restored = fresh.fleet.stations["CP-1"]
    assert restored.connectors["2"].errors["OverCurrentFailure"].since == since
    assert not restored.connected
    fresh.store.close()


# -- the real exporter as a subprocess ------------------------------------------------------


class Exporter:
    def __init__(self, tmp: Path, state_dir: Path) -> None:
        self.ocpp_port = free_port()
        self.metrics_port = free_port()
        self.config = tmp / "config.yaml"
        self.config.write_text(
            "listen:\n"
            f"  ocpp: 127.0.0.1:{self.ocpp_port}\n"
            f"  metrics: 127.0.0.1:{self.metrics_port}\n"
            "ocpp:\n  resync_window: 1s\n  call_timeout: 2s\n"
            "inventory:\n  sites:\n    - name: depot\n      stations: [CP-1, CP-2]\n"
        )
        self.state_dir = state_dir
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.ocpp_port}/ocpp"

    async def start(self) -> None:
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "exporter",
                "serve",
                "--config",
                str(self.config),
                "--state-dir",
                str(self.state_dir),
            ],
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )

        async def ready():
            assert self.proc.poll() is None, self.proc.stderr.read().decode()
            try:
                async with (
                    aiohttp.ClientSession() as http,
                    http.get(f"http://127.0.0.1:{self.metrics_port}/-/ready") as r,
                ):
                    assert r.status == 200
            except aiohttp.ClientError as exc:
                raise AssertionError(str(exc)) from None

        await eventually(ready, timeout=30)

    async def scrape(self) -> Scrape:
        return await fetch(f"http://127.0.0.1:{self.metrics_port}")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)


@pytest.fixture
def subprocess_exporter(tmp_path):
    started: list[Exporter] = []

    def make(state_dir: Path) -> Exporter:
        e = Exporter(tmp_path, state_dir)
        started.append(e)
        return e

    yield make
    for e in started:
        e.stop()
        if e.proc is not None and e.proc.stderr is not None:
            e.proc.stderr.close()


def stored_error_codes(state_dir: Path, station: str) -> set[str]:
    db = sqlite3.connect(f"file:{state_dir / FILENAME}?mode=ro", uri=True)
    try:
        row = db.execute("SELECT state FROM stations WHERE id = ?", (station,)).fetchone()
    finally:
        db.close()
    if row is None:
        return set()
    connectors = json.loads(row[0])["connectors"]
    return {e["code"] for c in connectors.values() for e in c["errors"]}


async def test_errors_survive_kill_9_with_their_since(subprocess_exporter, tmp_path):
    state_dir = tmp_path / "state"
    first = subprocess_exporter(state_dir)
    await first.start()
    station = await connect_station(first.url, "CP-1")
    await station.boot()
    await station.status(1, "Faulted", "GroundFailure")
    await station.status(2, "Available", "HighTemperature")

    async def stored():
        assert stored_error_codes(state_dir, "CP-1") == {"GroundFailure", "HighTemperature"}

    await eventually(stored, timeout=15)
    before = samples(
        await first.scrape(), "ocpp_connector_error_since_timestamp_seconds", station="CP-1"
    )
    assert len(before) == 2
    # keep the store busy with another station's changes, then SIGKILL in the middle of it
    busy = await connect_station(first.url, "CP-2")
    await busy.boot()
    for n in range(30):
        await busy.status(
            3, "Faulted" if n % 2 else "Available", "WeakSignal" if n % 2 else "NoError"
        )
    os.kill(first.proc.pid, signal.SIGKILL)
    first.proc.wait(10)
    for s in (station, busy):
        with contextlib.suppress(Exception):
            await s.close()

    db = sqlite3.connect(state_dir / FILENAME)
    assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    db.close()

    second = subprocess_exporter(state_dir)
    await second.start()
    scrape = await second.scrape()
    after = samples(scrape, "ocpp_connector_error_since_timestamp_seconds", station="CP-1")
    assert sorted((lab["error_code"], val) for lab, val in after) == sorted(
        (lab["error_code"], val) for lab, val in before
    )
    assert samples(scrape, "ocpp_station_connected", station="CP-1")[0][1] == 0
    assert samples(scrape, "ocpp_station_info", station="CP-1", vendor="ACME")

    # after the reconnect, the re-sync keeps what the station still reports, clears the rest
    station = await connect_station(second.url, "CP-1")
    station.current = {1: ("Faulted", "GroundFailure")}

    async def resynced():
        scrape = await second.scrape()
        codes = {
            lab["error_code"]: v
            for lab, v in samples(
                scrape, "ocpp_connector_error_since_timestamp_seconds", station="CP-1"
            )
        }
        assert codes == {
            "GroundFailure": dict((lab["error_code"], val) for lab, val in before)["GroundFailure"]
        }

    await eventually(resynced, timeout=20)
    await station.close()


async def test_sigterm_closes_sessions_with_1001_and_exits_0(subprocess_exporter, tmp_path):
    exporter = subprocess_exporter(tmp_path / "state")
    await exporter.start()
    sockets = [
        await websockets.connect(f"{exporter.url}/CP-{n}", subprotocols=["ocpp1.6"], proxy=None)
        for n in (1, 2)
    ]

    async def both_connected():
        scrape = await exporter.scrape()
        assert sum(v for _, v in samples(scrape, "ocpp_station_connected")) == 2

    await eventually(both_connected, timeout=15)
    exporter.proc.send_signal(signal.SIGTERM)
    for ws in sockets:
        with pytest.raises(websockets.exceptions.ConnectionClosed) as closed:
            while True:
                await asyncio.wait_for(ws.recv(), 20)
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 1001
    assert await asyncio.to_thread(exporter.proc.wait, 20) == 0
