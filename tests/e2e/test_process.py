"""The real program as users run it: `python -m exporter serve` in a subprocess."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import aiohttp
import pytest
import websockets

from tests.support.ocpp_station import TestStation
from tests.support.ports import free_port
from tests.support.waiting import eventually

ROOT = Path(__file__).resolve().parents[2]


async def wait_ready(url: str, proc: subprocess.Popen, timeout: float = 20.0) -> None:
    async with aiohttp.ClientSession() as http:

        async def ready() -> None:
            if proc.poll() is not None:
                raise RuntimeError(proc.stderr.read() if proc.stderr else "exited")
            try:
                async with http.get(url + "/-/ready") as r:
                    assert r.status == 200, f"/-/ready: {r.status}"
            except aiohttp.ClientError as exc:
                raise AssertionError(f"exporter never became ready: {exc}") from None

        await eventually(ready, timeout=timeout, interval=0.1)


@pytest.fixture
async def served():
    ocpp, metrics = free_port(), free_port()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "exporter",
            "serve",
            "--ocpp-listen",
            f"127.0.0.1:{ocpp}",
            "--metrics-listen",
            f"127.0.0.1:{metrics}",
            "--log-format",
            "json",
        ],
        cwd=ROOT,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    try:
        await wait_ready(f"http://127.0.0.1:{metrics}", proc)
        yield proc, ocpp, metrics
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait(10)


async def test_sigterm_closes_sessions_with_1001_and_exits_0(served):
    proc, ocpp, _ = served
    ws = await websockets.connect(f"ws://127.0.0.1:{ocpp}/ocpp/CP-TERM", subprotocols=["ocpp1.6"])
    station = TestStation("CP-TERM", ws)
    task = asyncio.create_task(station.start())
    await station.boot()
    proc.send_signal(signal.SIGTERM)
    with pytest.raises(websockets.ConnectionClosed):
        await asyncio.wait_for(task, 10)
    assert ws.close_code == 1001
    assert await asyncio.to_thread(proc.wait, 10) == 0
    log = proc.stderr.read()
    assert '"msg": "shutting down' in log


async def test_a_real_scrape_passes_promtool_check_metrics(served):
    _, ocpp, metrics = served
    ws = await websockets.connect(f"ws://127.0.0.1:{ocpp}/ocpp/CP-LINT", subprotocols=["ocpp1.6"])
    station = TestStation("CP-LINT", ws)
    task = asyncio.create_task(station.start())
    try:
        await station.boot()
        await station.status(1, "Available", "GroundFailure", info='quote " and \\ backslash')
        async with (
            aiohttp.ClientSession() as http,
            http.get(f"http://127.0.0.1:{metrics}/metrics") as r,
        ):
            text = await r.text()
        assert 'error_code="GroundFailure"' in text
        check = subprocess.run(
            ["promtool", "check", "metrics"], input=text, capture_output=True, text=True
        )
        assert check.returncode == 0, check.stdout + check.stderr
        assert check.stdout.strip() == "" and check.stderr.strip() == ""
    finally:
        task.cancel()
        await ws.close()


async def test_landing_health_and_readiness(served):
    _, _, metrics = served
    async with aiohttp.ClientSession() as http:
        async with http.get(f"http://127.0.0.1:{metrics}/") as r:
            assert r.status == 200 and "/metrics" in await r.text()
        for path in ("/-/healthy", "/-/ready"):
            async with http.get(f"http://127.0.0.1:{metrics}{path}") as r:
                assert r.status == 200


def readme_station_snippet(ocpp_port: int, seconds: float) -> str:
    """The README's "See it work" station, pointed at this exporter and shortened."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    found = re.search(r"```sh\n\S*python3 - <<'EOF'\n(.*?)\nEOF\n```", readme, re.S)
    assert found, "README: the See it work snippet moved"
    code = found.group(1)
    assert "127.0.0.1:9000" in code and "asyncio.sleep(30)" in code
    return code.replace("127.0.0.1:9000", f"127.0.0.1:{ocpp_port}").replace(
        "asyncio.sleep(30)", f"asyncio.sleep({seconds})"
    )


async def test_the_readme_station_snippet_runs_clean(served):
    _, ocpp, metrics = served
    snippet = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        readme_station_snippet(ocpp, 2),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )

    async def ground_fault_active():
        async with (
            aiohttp.ClientSession() as http,
            http.get(f"http://127.0.0.1:{metrics}/api/v1/notifications") as r,
        ):
            notes = (await r.json())["notifications"]
        assert [n["error_code"] for n in notes if n["kind"] == "ocpp_error"] == ["GroundFailure"]

    await eventually(ground_fault_active, timeout=15)
    out, err = await asyncio.wait_for(snippet.communicate(), 30)
    assert snippet.returncode == 0
    assert (out, err) == (b"", b""), err.decode()
