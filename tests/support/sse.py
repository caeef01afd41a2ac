"""A Server-Sent Events client for tests: aiohttp reading the stream line by line, parsing events
as the EventSource specification does (id, event, data; a blank line ends an event)."""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from typing import Any

import aiohttp


@dataclass
class Event:
    event: str
    id: str
    data: Any


class SseClient:
    def __init__(self, url: str, headers: dict[str, str] | None = None) -> None:
        self.url = url
        self.headers = headers or {}
        self.session = aiohttp.ClientSession()
        self.response: aiohttp.ClientResponse | None = None

    async def open(self) -> int:
        self.response = await self.session.get(
            self.url, headers=self.headers, timeout=aiohttp.ClientTimeout(total=None)
        )
        return self.response.status

    async def next(self, timeout: float = 5.0) -> Event:
        assert self.response is not None
        fields: dict[str, str] = {}
        data: list[str] = []
        async with asyncio.timeout(timeout):
            while True:
                raw = await self.response.content.readline()
                if not raw:
                    raise EOFError("the stream ended")
                line = raw.decode().rstrip("\r\n")
                if not line:
                    if data:
                        return Event(
                            fields.get("event", "message"),
                            fields.get("id", ""),
                            json.loads("\n".join(data)),
                        )
                    continue
                if line.startswith(":"):
                    continue  # a comment: the server's keep-alive ping
                name, _, value = line.partition(":")
                value = value.removeprefix(" ")
                if name == "data":
                    data.append(value)
                else:
                    fields[name] = value

    async def close(self) -> None:
        if self.response is not None:
            self.response.close()
        await self.session.close()


def apply(active: dict[str, dict[str, Any]], event: Event) -> None:
    """Applies a notifications stream event to `active` (id -> notification), as the page does."""
    if event.event == "snapshot":
        active.clear()
        active.update({i["id"]: i["notification"] for i in event.data["notifications"]})
    elif event.event in ("add", "update"):
        active[event.data["id"]] = event.data["notification"]
    elif event.event == "remove":
        del active[event.data["id"]]
    else:
        raise AssertionError(f"unexpected event {event}")
