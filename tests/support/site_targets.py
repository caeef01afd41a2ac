"""A loopback aiohttp server standing in for a site controller or an EMS: it can answer, answer
with another status, hang, stop and start again on the same port."""

from __future__ import annotations

import asyncio
from typing import Any

from aiohttp import web


class Target:
    def __init__(self) -> None:
        self.port = 0
        self.status = 200
        self.limit_w: Any = 11000
        # While set, every request waits until the target is stopped: the peer is silent.
        self.hang = False
        self.requests = 0
        self._release = asyncio.Event()
        self._runner: web.AppRunner | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def start(self) -> None:
        """Listen on 127.0.0.1, on the port of the previous start if there was one."""
        app = web.Application()
        app.router.add_get("/health", self._health)
        app.router.add_get("/limit", self._limit)
        self._release = asyncio.Event()
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.2)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", self.port).start()
        self.port = self._runner.addresses[0][1]

    async def stop(self) -> None:
        self._release.set()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def _wait_if_silent(self) -> None:
        self.requests += 1
        if self.hang:
            await self._release.wait()

    async def _health(self, request: web.Request) -> web.Response:
        await self._wait_if_silent()
        return web.Response(status=self.status, text="ok\n")

    async def _limit(self, request: web.Request) -> web.Response:
        await self._wait_if_silent()
        return web.json_response({"site": {"limit": {"w": self.limit_w}}}, status=self.status)
