"""Per-station token bucket on inbound frames."""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass
class TokenBucket:
    """`rate` tokens per second, at most `burst` saved up. `strikes` counts frames refused since
    the last accepted one: a station that keeps sending while refused is cut off."""

    rate: float
    burst: int
    clock: Callable[[], float] = time.monotonic
    tokens: float = field(init=False)
    stamp: float = field(init=False)
    strikes: int = field(default=0, init=False)

    def __post_init__(self) -> None:
        self.tokens = float(self.burst)
        self.stamp = self.clock()

    def allow(self) -> bool:
        now = self.clock()
        self.tokens = min(float(self.burst), self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            self.strikes = 0
            return True
        self.strikes += 1
        return False

    @property
    def exhausted(self) -> bool:
        """Refused as many frames in a row as the burst allows: stop answering, disconnect."""
        return self.strikes > self.burst


class StationBuckets:
    """One bucket per station id, kept across its sessions: a station that reconnects does not
    get a fresh burst. Bounded memory: a bucket idle long enough to have refilled is the same as
    a new one and is forgotten (oldest first, a few at each lookup); beyond `capacity` buckets
    the least recently used one goes."""

    def __init__(
        self, rate: float, burst: int, capacity: int, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.rate = rate
        self.burst = burst
        self.capacity = capacity
        self.clock = clock
        self._buckets: OrderedDict[str, TokenBucket] = OrderedDict()

    def __len__(self) -> int:
        return len(self._buckets)

    def get(self, station_id: str) -> TokenBucket:
        now = self.clock()
        self._forget_refilled(now)
        bucket = self._buckets.get(station_id)
        if bucket is None:
            bucket = self._buckets[station_id] = TokenBucket(self.rate, self.burst, self.clock)
            if len(self._buckets) > self.capacity:
                self._buckets.popitem(last=False)
        else:
            self._buckets.move_to_end(station_id)
        return bucket

    def _forget_refilled(self, now: float, at_most: int = 4) -> None:
        for _ in range(at_most):
            if not self._buckets:
                return
            station_id, bucket = next(iter(self._buckets.items()))
            if bucket.tokens + (now - bucket.stamp) * self.rate < self.burst:
                return
            del self._buckets[station_id]
