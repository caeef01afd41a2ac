"""Loopback ports for servers a test starts as a separate process (in-process servers bind port 0
and read the bound port back instead)."""

from __future__ import annotations

import socket

from aiohttp import web


def free_port() -> int:
    """A port that was free a moment ago: the kernel picked it for a socket that is now closed.
    Also the way to name a port nothing listens on (a refused connection)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def bound_port(runner: web.AppRunner) -> int:
    """The port an in-process listener (bound to port 0) got."""
    return runner.addresses[0][1]
