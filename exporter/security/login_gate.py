"""Bounded password verification: a storm of wrong passwords cannot starve the service.

Each scrypt check costs about 40 ms of a core, and a wrong password cannot be told from a right
one without paying it. So the work is bounded, and ordered so that whoever has not been failing
goes first (docs/security.md, "Failed logins"):

- **concurrency**: at most `concurrency` checks run at once (default 1: one core of the machine
  at most, the event loop keeps the others for the stations' traffic);
- **priority**: waiting checks are served by their address's recent failures, fewest first, then
  in arrival order. A storm from one address delays another address's first login by at most the
  check in flight;
- **backoff per address**: once an address has failed, its next check waits `backoff_base`, and
  each further check of that address one more step, doubling per failure up to `backoff_max`.
  Among one address's waiting checks, those for station ids that have not failed from it go
  first: a station behind the same NAT as a password guesser is checked before the guesses at
  the id being attacked. Backoff delays, it never says "wrong password";
- **bounded waiting**: at most `max_waiting` checks wait. When full, a newcomer from an address
  without failures still gets in: the waiting check of the worst-failing address is dropped
  (`LoginsOverloaded`, answered 503 with Retry-After) instead. Only when every waiting check is
  from clean addresses is the newcomer itself turned away (503, to retry).

Failures are forgotten `forget_after` seconds after the last one; at most `max_tracked` addresses
and pairs are remembered (least recently failed dropped first), so memory stays bounded.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from dataclasses import dataclass


class LoginsOverloaded(Exception):
    """Too many password checks are waiting: answer "try again later", never "wrong password"."""


@dataclass(frozen=True)
class LoginLimits:
    concurrency: int = 1
    max_waiting: int = 256
    backoff_base: float = 0.25
    backoff_max: float = 8.0
    forget_after: float = 600.0
    max_tracked: int = 65_536


@dataclass
class _Record:
    failures: int = 0
    last_failure: float = 0.0
    # The earliest time the key's next check may start (spacing out a failing key's attempts).
    next_at: float = 0.0


class _Failures:
    """Recent failures per key, least recently failed forgotten first."""

    def __init__(self, limits: LoginLimits) -> None:
        self.limits = limits
        self._records: OrderedDict[Hashable, _Record] = OrderedDict()

    def _live(self, key: Hashable, now: float) -> _Record | None:
        record = self._records.get(key)
        if record is not None and now - record.last_failure > self.limits.forget_after:
            del self._records[key]
            return None
        return record

    def count(self, key: Hashable, now: float) -> int:
        record = self._live(key, now)
        return record.failures if record is not None else 0

    def _step(self, failures: int) -> float:
        return min(self.limits.backoff_base * 2 ** (failures - 1), self.limits.backoff_max)

    def ready(self, key: Hashable, now: float) -> bool:
        """Whether a check for `key` may start now (its backoff has passed)."""
        record = self._live(key, now)
        return record is None or record.failures == 0 or record.next_at <= now

    def next_at(self, key: Hashable) -> float:
        record = self._records.get(key)
        return record.next_at if record is not None else 0.0

    def space(self, key: Hashable, now: float) -> None:
        """A check for a failing `key` starts now: the next one waits a backoff step."""
        record = self._live(key, now)
        if record is not None and record.failures:
            record.next_at = max(record.next_at, now + self._step(record.failures))

    def fail(self, key: Hashable, now: float) -> None:
        record = self._live(key, now) or _Record()
        record.failures += 1
        record.last_failure = now
        record.next_at = max(record.next_at, now + self._step(record.failures))
        self._records[key] = record
        self._records.move_to_end(key)
        while len(self._records) > self.limits.max_tracked:
            self._records.popitem(last=False)

    def clear(self, key: Hashable) -> None:
        self._records.pop(key, None)


@dataclass
class _Waiter:
    source: str
    pair: tuple[str, str]
    arrival: int
    future: asyncio.Future[None]
    # False once the client is gone: its check is skipped rather than run for nobody.
    alive: Callable[[], bool]


class LoginGate:
    """Runs password checks under LoginLimits; `run` is the only entry point."""

    def __init__(
        self, limits: LoginLimits | None = None, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.limits = limits or LoginLimits()
        self.clock = clock
        self.failures = _Failures(self.limits)
        self._running = 0
        self._order = itertools.count()
        self._waiting: list[_Waiter] = []
        self._timer: asyncio.TimerHandle | None = None
        self._closed = False
        self.dropped = 0
        self.abandoned = 0
        self.checks = 0

    @property
    def waiting(self) -> int:
        self._waiting = [w for w in self._waiting if not w.future.done()]
        return len(self._waiting)

    async def run(
        self,
        source: str,
        station: str,
        check: Callable[[], bool],
        alive: Callable[[], bool] = lambda: True,
    ) -> bool:
        """Run `check` (the blocking scrypt verification) in a worker thread when the limits
        allow; its result, after recording a failure for `source` and (`source`, `station`).
        Raises LoginsOverloaded when the check was dropped (or the gate closed, or `alive`
        turned False while it waited)."""
        if self._closed:
            raise LoginsOverloaded("shutting down")
        waiter = _Waiter(
            source,
            (source, station),
            next(self._order),
            asyncio.get_running_loop().create_future(),
            alive,
        )
        self._make_room(waiter)
        self._waiting.append(waiter)
        self._dispatch()
        try:
            await waiter.future
        except asyncio.CancelledError:
            if waiter.future.done() and not waiter.future.cancelled():
                self._release()  # the slot was handed over just as the caller went away
            raise
        try:
            self.checks += 1
            ok = await asyncio.to_thread(check)
        finally:
            self._release()
        if ok:
            self.failures.clear(waiter.pair)
        else:
            now = self.clock()
            self.failures.fail(source, now)
            self.failures.fail(waiter.pair, now)
        return ok

    def _rank(self, waiter: _Waiter, now: float) -> tuple[int, int, int]:
        """Fewest failures of the address first, then of the (address, station id), then the
        earliest arrival."""
        return (
            self.failures.count(waiter.source, now),
            self.failures.count(waiter.pair, now),
            waiter.arrival,
        )

    def _make_room(self, newcomer: _Waiter) -> None:
        """At most `max_waiting` wait: the worst-ranked waiter is dropped for a better
        newcomer; a newcomer no better than every waiter is the one turned away."""
        if self.waiting < self.limits.max_waiting:
            return
        now = self.clock()
        worst = max(self._waiting, key=lambda w: self._rank(w, now))
        self.dropped += 1
        if self._rank(worst, now)[:2] <= self._rank(newcomer, now)[:2]:
            raise LoginsOverloaded(f"{len(self._waiting)} password checks are already waiting")
        worst.future.set_exception(LoginsOverloaded("dropped for a check from a cleaner address"))

    def _dispatch(self) -> None:
        """Hand free slots to the best eligible waiters: a failing address is eligible once its
        backoff has passed, and each check it gets pushes its next one a step further."""
        now = self.clock()
        for gone in [w for w in self._waiting if not w.future.done() and not w.alive()]:
            self.abandoned += 1
            gone.future.set_exception(LoginsOverloaded("the client went away"))
        while self._running < self.limits.concurrency and self.waiting:
            eligible = [w for w in self._waiting if self.failures.ready(w.source, now)]
            if not eligible:
                self._wake_at(min(self.failures.next_at(w.source) for w in self._waiting))
                return
            best = min(eligible, key=lambda w: self._rank(w, now))
            self._waiting.remove(best)
            self.failures.space(best.source, now)
            self._running += 1
            best.future.set_result(None)

    def _wake_at(self, when: float) -> None:
        if self._timer is not None:
            self._timer.cancel()
        delay = max(0.0, when - self.clock())
        self._timer = asyncio.get_running_loop().call_later(delay, self._dispatch)

    def close(self) -> None:
        """Shutting down: every waiting check is answered "try again later" at once."""
        self._closed = True
        if self._timer is not None:
            self._timer.cancel()
        for waiter in self._waiting:
            if not waiter.future.done():
                waiter.future.set_exception(LoginsOverloaded("shutting down"))
        self._waiting.clear()

    def _release(self) -> None:
        self._running -= 1
        self._dispatch()
