"""Waiting for a condition instead of sleeping for a guessed time."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeVar

T = TypeVar("T")


async def eventually(
    check: Callable[[], Awaitable[T]], timeout: float = 5.0, interval: float = 0.05
) -> T:
    """Retry an async assertion until it holds (state changes cross a network hop); after
    `timeout` seconds the last AssertionError propagates."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        try:
            return await check()
        except AssertionError:
            if asyncio.get_running_loop().time() > deadline:
                raise
            await asyncio.sleep(interval)
