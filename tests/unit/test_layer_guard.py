"""The unit layer's guard itself: a unit test that opens a connection, listens, or starts a
process fails, naming what it did."""

from __future__ import annotations

import asyncio
import socket
import subprocess
import sys

import pytest

from tests.unit.conftest import UnitLayerViolation


def test_connecting_fails() -> None:
    with pytest.raises(UnitLayerViolation, match=r"socket\.connect"), socket.socket() as s:
        s.connect(("127.0.0.1", 9))
    with pytest.raises(UnitLayerViolation, match="create_connection"):
        socket.create_connection(("127.0.0.1", 9))


def test_listening_fails() -> None:
    with pytest.raises(UnitLayerViolation, match=r"socket\.bind"), socket.socket() as s:
        s.bind(("127.0.0.1", 0))


def test_starting_a_process_fails() -> None:
    with pytest.raises(UnitLayerViolation, match="subprocess"):
        subprocess.run([sys.executable, "-c", "pass"], check=False)


async def test_asyncio_servers_and_subprocesses_fail_but_the_loop_runs() -> None:
    # The loop's own wake-up socket pair is allowed; what leaves the process is not.
    await asyncio.sleep(0)
    with pytest.raises(UnitLayerViolation):
        await asyncio.start_server(lambda _r, _w: None, "127.0.0.1", 0)
    with pytest.raises(UnitLayerViolation):
        await asyncio.open_connection("127.0.0.1", 9)
    with pytest.raises(UnitLayerViolation, match="subprocess"):
        await asyncio.create_subprocess_exec(sys.executable, "-c", "pass")
