"""The token bucket on a station's inbound frames and the per-station buckets kept across
sessions (endpoint/token_bucket.py), driven by an injected clock, not by waiting."""

from __future__ import annotations

from exporter.endpoint.token_bucket import StationBuckets, TokenBucket


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


def test_a_full_bucket_allows_the_burst_then_refuses() -> None:
    clock = Clock()
    bucket = TokenBucket(rate=2, burst=3, clock=clock)
    assert [bucket.allow() for _ in range(4)] == [True, True, True, False]
    assert bucket.strikes == 1 and not bucket.exhausted


def test_tokens_come_back_at_the_rate_and_never_beyond_the_burst() -> None:
    clock = Clock()
    bucket = TokenBucket(rate=2, burst=3, clock=clock)
    for _ in range(3):
        bucket.allow()
    clock.now += 0.4  # 0.8 of a token
    assert not bucket.allow()
    clock.now += 0.1  # 1.0
    assert bucket.allow()
    clock.now += 3600  # an hour of quiet saves up no more than the burst
    assert [bucket.allow() for _ in range(4)] == [True, True, True, False]


def test_a_station_that_keeps_sending_while_refused_is_exhausted_and_an_allowed_frame_resets() -> (
    None
):
    clock = Clock()
    bucket = TokenBucket(rate=1, burst=2, clock=clock)
    bucket.allow()
    bucket.allow()
    refused = [bucket.allow() for _ in range(3)]
    assert refused == [False, False, False]
    assert bucket.strikes == 3 and bucket.exhausted  # more refusals in a row than the burst
    clock.now += 1
    assert bucket.allow()
    assert bucket.strikes == 0 and not bucket.exhausted


def test_a_fractional_rate_refills_slowly() -> None:
    clock = Clock()
    bucket = TokenBucket(rate=0.5, burst=1, clock=clock)
    assert bucket.allow()
    clock.now += 1.5  # 0.75 of a token
    assert not bucket.allow()
    clock.now += 0.5
    assert bucket.allow()
