"""Active checks of site controllers and EMSs, in the spirit of blackbox_exporter's modules.

One asyncio task per check, each run bounded by `asyncio.timeout`, so a target that accepts a
connection and then never answers costs one idle task until its timeout and never delays another
check, a push heartbeat or a scrape. Results go into the pure `Sites` state; nothing here decides
what "down" means.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import logging
import math
import time
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp

from exporter.config.model import PowerLimitSource, Probe
from exporter.state.sites import EMS, CheckResult, DeviceState, Sites

log = logging.getLogger("exporter.probes")

# A power limit document is a small JSON object; anything larger is not what we were told to read.
MAX_POWER_LIMIT_BYTES = 1 << 20
# How often up/down changes are looked for (they are logged; metrics compute state at scrape).
EVALUATE_INTERVAL = 1.0


class CheckFailed(Exception):
    """The target answered, but not as the configuration expects."""


async def check_tcp(target: str) -> None:
    host, _, port = target.rpartition(":")
    _, writer = await asyncio.open_connection(host.strip("[]"), int(port))
    writer.close()
    with contextlib.suppress(OSError):
        await writer.wait_closed()


async def check_http(session: aiohttp.ClientSession, probe: Probe) -> None:
    # Redirects are not followed: expect_status names exactly what the target must answer.
    async with session.get(probe.target, allow_redirects=False, ssl=probe.tls_verify) as response:
        if response.status not in probe.expect_status:
            expected = ", ".join(map(str, probe.expect_status))
            raise CheckFailed(f"HTTP status {response.status}, expected {expected}")


def json_path_value(document: Any, path: str) -> float:
    """Follow a dotted path ('data.sites.0.limit_w': keys, and list indexes as numbers) to a
    number of watts (0 or more)."""
    current = document
    walked: list[str] = []
    for part in path.split("."):
        walked.append(part)
        if isinstance(current, dict) and part in current:
            current = current[part]
        elif isinstance(current, list) and part.isdigit() and int(part) < len(current):
            current = current[int(part)]
        else:
            raise CheckFailed(f"the JSON document has nothing at {'.'.join(walked)!r}")
    if isinstance(current, bool) or not isinstance(current, int | float):
        raise CheckFailed(f"{path!r} is {current!r}, not a number of watts")
    if not math.isfinite(current) or current < 0:
        raise CheckFailed(f"{path!r} is {current!r}, not a number of watts (0 or more)")
    return float(current)


async def fetch_power_limit(session: aiohttp.ClientSession, source: PowerLimitSource) -> float:
    async with session.get(source.url, allow_redirects=False, ssl=source.tls_verify) as response:
        if response.status != 200:
            raise CheckFailed(f"HTTP status {response.status}, expected 200")
        body = await response.content.read(MAX_POWER_LIMIT_BYTES + 1)
    if len(body) > MAX_POWER_LIMIT_BYTES:
        raise CheckFailed(f"the response is larger than {MAX_POWER_LIMIT_BYTES} bytes")
    try:
        document = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise CheckFailed(f"the response is not JSON ({exc})") from None
    return json_path_value(document, source.json_path)


class Prober:
    """Runs every configured check of every device, plus the up/down watcher, until stopped."""

    def __init__(self, sites: Sites, clock: Callable[[], float] = time.time) -> None:
        self.sites = sites
        self.clock = clock
        self.tasks: list[asyncio.Task[None]] = []
        self.session: aiohttp.ClientSession | None = None

    def start(self) -> None:
        if not len(self.sites):
            return
        # Fresh connection per check (force_close) so each one tests reachability, no pool limit
        # so that hanging targets cannot starve the others of connections; timeouts are ours.
        self.session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=0, force_close=True),
            timeout=aiohttp.ClientTimeout(total=None),
        )
        session = self.session
        for state in self.sites:
            probe = state.device.probe
            if probe is not None:
                if probe.type == "tcp":
                    check: Callable[[], Awaitable[float | None]] = _none(check_tcp, probe.target)
                else:
                    check = _none(check_http, session, probe)
                self._spawn(state, probe.type, probe.interval, probe.timeout, check)
            source = state.device.power_limit
            if source is not None and state.kind == EMS:
                self._spawn(
                    state,
                    "power_limit",
                    source.interval,
                    source.timeout,
                    functools.partial(fetch_power_limit, session, source),
                )
        self.tasks.append(asyncio.create_task(self._watch(), name="sites-watch"))

    def _spawn(
        self,
        state: DeviceState,
        name: str,
        interval: float,
        timeout: float,
        check: Callable[[], Awaitable[float | None]],
    ) -> None:
        task = asyncio.create_task(
            self._loop(state, name, interval, timeout, check),
            name=f"probe-{state.kind}-{state.id}-{name}",
        )
        self.tasks.append(task)

    async def _loop(
        self,
        state: DeviceState,
        name: str,
        interval: float,
        timeout: float,
        check: Callable[[], Awaitable[float | None]],
    ) -> None:
        loop = asyncio.get_running_loop()
        while True:
            started = loop.time()
            await self.run_once(state, name, timeout, check)
            await asyncio.sleep(max(0.0, interval - (loop.time() - started)))

    async def run_once(
        self,
        state: DeviceState,
        name: str,
        timeout: float,
        check: Callable[[], Awaitable[float | None]],
    ) -> CheckResult:
        began = time.perf_counter()
        value: float | None = None
        error = ""
        try:
            async with asyncio.timeout(timeout):
                value = await check()
        except TimeoutError:
            error = f"no answer within {timeout:g}s"
        except (OSError, aiohttp.ClientError, CheckFailed) as exc:
            error = str(exc) or type(exc).__name__
        except Exception as exc:
            # Anything else (a bad IDNA name, a parser error) is a failed check, never the end
            # of this device's probe loop.
            error = f"{type(exc).__name__}: {exc}"
        result = CheckResult(
            name, not error, self.clock(), time.perf_counter() - began, error=error
        )
        self.sites.check_result(state.kind, state.id, result, power_limit_w=value)
        if error:
            log.debug("%s %s: %s check failed: %s", state.kind, state.id, name, error)
        return result

    async def _watch(self) -> None:
        while True:
            for change in self.sites.evaluate(self.clock()):
                if change.up:
                    log.info("%s %s (site %s) is up again", change.kind, change.id, change.site)
                else:
                    log.warning(
                        "%s %s (site %s) is down: no liveness signal for %gs",
                        change.kind,
                        change.id,
                        change.site,
                        self.sites.get(change.kind, change.id).device.stale_after,
                    )
            await asyncio.sleep(EVALUATE_INTERVAL)

    async def stop(self) -> None:
        for task in self.tasks:
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)
        self.tasks.clear()
        if self.session is not None:
            await self.session.close()
            self.session = None


def _none(
    check: Callable[..., Awaitable[None]], *args: Any
) -> Callable[[], Awaitable[float | None]]:
    """Adapts a liveness-only check to the loop's signature (no value to report)."""

    async def run() -> float | None:
        await check(*args)
        return None

    return run
