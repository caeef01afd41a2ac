"""GET /api/v1/notifications/stream: the active notifications as Server-Sent Events.

A subscriber first gets a `snapshot` event (or, reconnecting with a `Last-Event-ID` this process
issued, only the changes it missed), then one `add`, `update` or `remove` event per change. One
refresh task serves every subscriber: it recomputes the notifications when woken (`changed()`)
or on a short tick (controller and EMS liveness changes with time alone) and hands the changes
to each subscriber.

Memory per subscriber is bounded. When more than `max_queued` changes wait for one subscriber
(a burst, or a client that reads slowly), they are replaced by a fresh snapshot sent as soon as
the client is ready; when as many changes again pass before it is (a client that stopped
reading), its connection is aborted. The number of subscribers is bounded too (HTTP 503 beyond).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import secrets
import socket
from collections import deque
from collections.abc import Callable, Iterable, Sequence

from aiohttp import web
from aiohttp_sse import EventSourceResponse

from exporter.render.notification_feed import Change, Item, NotificationFeed, items_of
from exporter.render.notifications import Notification

log = logging.getLogger("exporter.web")

# Defaults sized for a support desk and a few site laptops, not for fan-out to thousands.
MAX_SUBSCRIBERS = 64
MAX_QUEUED = 256  # changes waiting for one subscriber before a snapshot replaces them
TICK = 0.25  # seconds between refreshes when nothing wakes the refresh task earlier
MIN_INTERVAL = 0.05  # seconds between two refreshes, however often changes come
RETRY_MS = 1000  # how soon a browser reconnects after the stream ends
# A stream needs little buffering: small buffers make a stalled client show up after a few
# kilobytes instead of after megabytes sit in the kernel and in the transport.
SEND_BUFFER = 32 * 1024


class Subscriber:
    def __init__(self, transport: asyncio.Transport | None, max_queued: int) -> None:
        self.transport = transport
        self.max_queued = max_queued
        self.pending: deque[Change] = deque()
        self.needs_snapshot = False
        self.skipped = 0  # changes passed while a snapshot was owed
        self.wake = asyncio.Event()
        self.dropped = False

    def offer(self, changes: list[Change]) -> bool:
        """Queues the changes; False (and the connection aborted) when the client has not even
        taken the snapshot that replaced its last overflow."""
        if self.dropped:
            return False
        if self.needs_snapshot:
            self.skipped += len(changes)
            if self.skipped > self.max_queued:
                self.drop()
                return False
        elif len(self.pending) + len(changes) > self.max_queued:
            self.pending.clear()
            self.needs_snapshot = True
        else:
            self.pending.extend(changes)
        self.wake.set()
        return True

    def take(self) -> list[Change] | None:
        """What to send next: the queued changes, or None when a snapshot is owed instead."""
        if self.needs_snapshot:
            self.needs_snapshot = False
            self.skipped = 0
            self.pending.clear()
            return None
        batch = list(self.pending)
        self.pending.clear()
        return batch

    def end(self) -> None:
        self.dropped = True
        self.pending.clear()
        self.wake.set()

    def drop(self) -> None:
        self.end()
        if self.transport is not None:
            # abort, not close: a close would wait for the unread buffer to drain
            self.transport.abort()


NotificationSource = Callable[[], Iterable[Notification]]


class SourceHook:
    """A fleet change hook (state.fleet.ChangeHook) for one source of a stream: the source is
    recomputed only after a change it was told of, and the stream refreshes at once."""

    def __init__(self, stream: NotificationStream) -> None:
        self.stream = stream
        self.dirty = True
        self.items: list[Item] = []

    def station_changed(self, station_id: str, urgent: bool) -> None:
        # Not urgent: only `last_seen` moved, which no active notification shows.
        if urgent:
            self.dirty = True
            self.stream.changed()

    def stations_forgotten(self, station_ids: Sequence[str]) -> None:
        self.dirty = True
        self.stream.changed()


class NotificationStream:
    def __init__(
        self,
        sources: Sequence[NotificationSource],
        *,
        max_subscribers: int = MAX_SUBSCRIBERS,
        max_queued: int = MAX_QUEUED,
        tick: float = TICK,
        min_interval: float = MIN_INTERVAL,
    ) -> None:
        self.sources = list(sources)
        self.max_subscribers = max_subscribers
        self.max_queued = max_queued
        self.tick = tick
        self.min_interval = min_interval
        self.feed = NotificationFeed(history=max(max_queued * 4, 1024))
        # Event ids are `<epoch>-<version>`: an id from before a restart is recognised as such
        # and answered with a snapshot, never misread as a version of this process.
        self.epoch = secrets.token_hex(4)
        self.subscribers: set[Subscriber] = set()
        self.dropped_total = 0
        self.resumed_total = 0  # reconnects answered with the missed changes, not a snapshot
        self._hooks: dict[int, SourceHook] = {}
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._closing = False

    def follow(self, source: NotificationSource) -> SourceHook:
        """Returns the change hook of `source` (one of this stream's sources): from then on the
        source is recomputed only when the hook is told of a change, not on every tick. For a
        fleet, whose every change goes through its hook; sources that change with time alone
        (site devices going silent) stay polled on the tick."""
        hook = self._hooks[self.sources.index(source)] = SourceHook(self)
        return hook

    def changed(self) -> None:
        """Something the notifications derive from changed: refresh soon (coalesced)."""
        self._wake.set()

    def _items(self) -> list[Item]:
        items: list[Item] = []
        for index, source in enumerate(self.sources):
            hook = self._hooks.get(index)
            if hook is None:
                items += items_of(source())
                continue
            if hook.dirty:
                hook.dirty = False
                hook.items = items_of(source())
            items += hook.items
        return items

    def refresh(self) -> None:
        changes = self.feed.refresh(self._items())
        if not changes:
            return
        for subscriber in list(self.subscribers):
            if not subscriber.offer(changes):
                self.dropped_total += 1
                self.subscribers.discard(subscriber)
                log.warning("notification stream: dropped a subscriber that stopped reading")

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while self.subscribers:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self.tick):
                    await self._wake.wait()
            self._wake.clear()
            self._forget_disconnected()
            started = loop.time()
            try:
                self.refresh()
            except Exception:
                # A bug in a renderer must not end the stream for everybody; log and go on.
                log.exception("notification stream: refresh failed")
            # Coalesce bursts of changes (a fleet reconnecting): at most one refresh per
            # min_interval, and never more than a tenth of the loop's time.
            await asyncio.sleep(max(self.min_interval, 10 * (loop.time() - started)))

    def _forget_disconnected(self) -> None:
        """A client that went away while its stream was idle is only noticed here (or at the
        next keep-alive ping): free its slot now."""
        for subscriber in list(self.subscribers):
            transport = subscriber.transport
            if transport is None or transport.is_closing():
                self.subscribers.discard(subscriber)
                subscriber.end()

    def _ensure_running(self) -> None:
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._run())

    async def close(self, app: web.Application | None = None) -> None:
        """On shutdown: end every stream so the listener need not wait for them."""
        self._closing = True
        for subscriber in list(self.subscribers):
            subscriber.end()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    def _event_id(self, version: int) -> str:
        return f"{self.epoch}-{version}"

    def _missed(self, last_event_id: str | None) -> list[Change] | None:
        if not last_event_id:
            return None
        epoch, _, version = last_event_id.partition("-")
        if epoch != self.epoch or not version.isdigit():
            return None
        return self.feed.since(int(version))

    def _snapshot(self) -> tuple[str, str]:
        """(event id, data) of a snapshot of the feed as it is now."""
        body = {
            "version": self.feed.version,
            "notifications": [item.as_json() for item in self.feed.snapshot()],
        }
        return self._event_id(self.feed.version), _dumps(body)

    async def handle(self, request: web.Request) -> web.StreamResponse:
        if self._closing:
            raise web.HTTPServiceUnavailable(text="shutting down\n")
        if len(self.subscribers) >= self.max_subscribers:
            raise web.HTTPServiceUnavailable(
                text=f"too many stream subscribers (limit {self.max_subscribers})\n",
                headers={"Retry-After": "10"},
            )
        # Refresh, choose the first events and subscribe without yielding to the loop in
        # between, so that no change falls between the first events and the queue.
        self.refresh()
        missed = self._missed(request.headers.get("Last-Event-ID"))
        first = self._snapshot() if missed is None else None
        if missed is not None:
            self.resumed_total += 1
        transport = request.transport
        _small_buffers(transport)
        subscriber = Subscriber(transport, self.max_queued)
        self.subscribers.add(subscriber)
        self._ensure_running()
        resp = EventSourceResponse()
        try:
            await resp.prepare(request)
            async with resp:
                if first is not None:
                    await resp.send(first[1], id=first[0], event="snapshot", retry=RETRY_MS)
                else:
                    await self._send(resp, missed or [])
                while not subscriber.dropped:
                    await subscriber.wake.wait()
                    subscriber.wake.clear()
                    if subscriber.dropped:
                        break
                    batch = subscriber.take()
                    if batch is None:
                        event_id, data = self._snapshot()
                        await resp.send(data, id=event_id, event="snapshot")
                    else:
                        await self._send(resp, batch)
        except ConnectionError:
            pass  # the client went away, or was cut off for not reading
        finally:
            self.subscribers.discard(subscriber)
        return resp

    async def _send(self, resp: EventSourceResponse, changes: list[Change]) -> None:
        for change in changes:
            await resp.send(
                _dumps(change.as_json()), id=self._event_id(change.version), event=change.kind
            )


def _dumps(body: object) -> str:
    return json.dumps(body, ensure_ascii=False, separators=(",", ":"))


def _small_buffers(transport: asyncio.Transport | None) -> None:
    if transport is None:
        return
    sock = transport.get_extra_info("socket")
    if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, SEND_BUFFER)
    if isinstance(transport, asyncio.WriteTransport):
        transport.set_write_buffer_limits(high=SEND_BUFFER)
