"""Per-station token buckets (endpoint/token_bucket.py): kept across sessions, bounded memory."""

from __future__ import annotations

from exporter.endpoint.token_bucket import StationBuckets


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_station_keeps_its_bucket_and_others_have_their_own():
    clock = Clock()
    buckets = StationBuckets(rate=1.0, burst=2, capacity=100, clock=clock)
    first = buckets.get("CP-1")
    assert first.allow() and first.allow() and not first.allow()
    assert buckets.get("CP-1") is first  # a reconnect: still empty
    assert not buckets.get("CP-1").allow()
    assert buckets.get("CP-2").allow()


def test_refilled_buckets_are_forgotten_and_the_count_is_capped():
    clock = Clock()
    buckets = StationBuckets(rate=1.0, burst=2, capacity=10, clock=clock)
    for n in range(25):
        buckets.get(f"CP-{n}").allow()
    assert len(buckets) == 10
    clock.now += 2.0  # every bucket has refilled: the same as a new one
    for _ in range(5):
        buckets.get("CP-NEW")
    assert len(buckets) < 10
    # A bucket that has not refilled is kept, whatever the lookups.
    busy = buckets.get("CP-BUSY")
    busy.allow()
    busy.allow()
    for n in range(5):
        buckets.get(f"CP-X{n}")
    assert buckets.get("CP-BUSY") is busy
