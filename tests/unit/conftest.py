"""The unit layer runs in seconds and touches neither the network nor other processes: every
test here gets a guard that makes opening a connection, listening, or starting a process fail
loudly. A test that needs one belongs in tests/integration (sockets) or tests/e2e (binaries).

Local socket pairs stay allowed: every asyncio event loop wakes itself up through one."""

from __future__ import annotations

import os
import socket
import subprocess
from collections.abc import Iterator
from typing import Any

import pytest


class UnitLayerViolation(AssertionError):
    """A unit test reached for the network or a subprocess."""


def _refuse(what: str) -> Any:
    def refuse(*_args: Any, **_kwargs: Any) -> Any:
        raise UnitLayerViolation(
            f"{what} in a unit test: move the test to tests/integration or tests/e2e"
        )

    return refuse


# Every way out of the process that a test (or the code it calls) could take. Patched on the
# classes and modules themselves, so `from subprocess import Popen` done earlier is caught too.
GUARDED: tuple[tuple[Any, str, str], ...] = (
    (socket.socket, "connect", "socket.connect"),
    (socket.socket, "connect_ex", "socket.connect_ex"),
    (socket.socket, "bind", "socket.bind"),
    (socket.socket, "listen", "socket.listen"),
    (socket.socket, "sendto", "socket.sendto"),
    (socket, "create_connection", "socket.create_connection"),
    (socket, "create_server", "socket.create_server"),
    (socket, "getaddrinfo", "name resolution"),
    (subprocess.Popen, "_execute_child", "a subprocess"),
    (os, "system", "os.system"),
    (os, "fork", "os.fork"),
    (os, "posix_spawn", "os.posix_spawn"),
    (os, "posix_spawnp", "os.posix_spawnp"),
    (os, "execv", "os.execv"),
    (os, "execve", "os.execve"),
)


@pytest.fixture(autouse=True)
def no_sockets_no_subprocesses(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for owner, name, what in GUARDED:
        if hasattr(owner, name):
            monkeypatch.setattr(owner, name, _refuse(what))
    yield
