"""The login gate (security/login_gate.py): bounded scrypt work, clean addresses first, failing
addresses backed off, never a wrong verdict because of load."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest

from exporter.security.login_gate import LoginGate, LoginLimits, LoginsOverloaded
from tests.support.waiting import eventually


class Checks:
    """Check functions that record their order and may hold the slot until released."""

    def __init__(self) -> None:
        self.order: list[str] = []
        self.running = 0
        self.most = 0
        self.lock = threading.Lock()

    def make(self, name: str, ok: bool = False, hold: threading.Event | None = None):
        def check() -> bool:
            with self.lock:
                self.order.append(name)
                self.running += 1
                self.most = max(self.most, self.running)
            if hold is not None:
                hold.wait(5)
            with self.lock:
                self.running -= 1
            return ok

        return check


async def until(condition, timeout: float = 5.0) -> None:
    async def holds() -> None:
        assert condition()

    await eventually(holds, timeout=timeout, interval=0.005)


async def test_one_check_at_a_time_and_clean_addresses_go_first():
    gate = LoginGate(LoginLimits(concurrency=1, backoff_base=0.0))
    for _ in range(3):
        gate.failures.fail("10.0.0.66", time.monotonic())
    checks, hold = Checks(), threading.Event()
    first = asyncio.create_task(gate.run("10.0.0.1", "CP-0", checks.make("first", hold=hold)))
    await until(lambda: checks.order == ["first"])
    storm = [
        asyncio.create_task(gate.run("10.0.0.66", f"CP-{n}", checks.make(f"bad-{n}")))
        for n in range(5)
    ]
    await until(lambda: gate.waiting == 5)
    legit = asyncio.create_task(gate.run("10.0.0.7", "CP-7", checks.make("legit", ok=True)))
    await until(lambda: gate.waiting == 6)
    hold.set()
    assert await legit is True
    await asyncio.gather(first, *storm)
    assert checks.order[:2] == ["first", "legit"]
    assert checks.most == 1


async def test_a_failing_address_is_backed_off_others_are_not():
    gate = LoginGate(LoginLimits(backoff_base=0.2, backoff_max=1.0))
    checks = Checks()
    assert await gate.run("10.0.0.66", "CP-1", checks.make("wrong")) is False
    started = time.monotonic()
    await gate.run("10.0.0.9", "CP-9", checks.make("other", ok=True))
    assert time.monotonic() - started < 0.2
    started = time.monotonic()
    await gate.run("10.0.0.66", "CP-1", checks.make("again"))
    assert time.monotonic() - started >= 0.19
    # Two failures now: concurrent attempts from the address are spaced by the doubled step.
    started = time.monotonic()
    await asyncio.gather(*(gate.run("10.0.0.66", "CP-2", checks.make("x")) for _ in range(2)))
    assert time.monotonic() - started >= 0.4 + 0.4 - 0.02


async def test_a_correct_password_from_a_failing_address_is_checked_not_refused():
    gate = LoginGate(LoginLimits(backoff_base=0.05, backoff_max=0.1, max_waiting=4))
    checks = Checks()
    for n in range(6):  # another station behind the same NAT keeps failing
        await gate.run("198.51.100.1", "CP-BAD", checks.make(f"bad-{n}"))
    assert await gate.run("198.51.100.1", "CP-GOOD", checks.make("good", ok=True)) is True


async def test_when_full_the_worst_failing_waiter_is_dropped_for_a_clean_newcomer():
    gate = LoginGate(LoginLimits(concurrency=1, max_waiting=2, backoff_base=0.0))
    gate.failures.fail("bad", time.monotonic())
    checks, hold = Checks(), threading.Event()
    busy = asyncio.create_task(gate.run("a", "CP-A", checks.make("busy", hold=hold)))
    await until(lambda: checks.order == ["busy"])
    bad = [asyncio.create_task(gate.run("bad", f"CP-{n}", checks.make(f"bad-{n}"))) for n in (1, 2)]
    await until(lambda: gate.waiting == 2)
    clean = [
        asyncio.create_task(gate.run(f"c{n}", f"CP-C{n}", checks.make(f"c{n}", ok=True)))
        for n in (1, 2)
    ]
    await until(lambda: gate.dropped == 2)
    # Every waiter is clean now: a further newcomer is the one turned away (503, not 401).
    with pytest.raises(LoginsOverloaded):
        await gate.run("c3", "CP-C3", checks.make("c3", ok=True))
    hold.set()
    assert await asyncio.gather(*clean) == [True, True]
    for task in bad:
        with pytest.raises(LoginsOverloaded):
            await task
    await busy
    assert "bad-1" not in checks.order and "bad-2" not in checks.order


def test_remembered_failures_are_bounded():
    gate = LoginGate(LoginLimits(max_tracked=10))
    for n in range(100):
        gate.failures.fail(f"10.0.{n}.1", float(n))
    assert len(gate.failures._records) == 10
    assert gate.failures.count("10.0.99.1", 99.0) == 1
    assert gate.failures.count("10.0.0.1", 99.0) == 0
