"""What stations send, bounded before it becomes a label value or a log line, and the
per-station token bucket on inbound frames (driven by an injected clock, not by waiting)."""

from __future__ import annotations

from dataclasses import dataclass

from exporter.endpoint.token_bucket import TokenBucket
from exporter.protocol.untrusted import clean


def test_short_printable_values_pass_unchanged() -> None:
    assert clean("RCD-30mA", 24) == "RCD-30mA"
    assert clean("Zähler Ω 電", 24) == "Zähler Ω 電"
    assert clean("", 24) == ""


def test_over_long_values_are_cut_and_end_in_a_tilde() -> None:
    assert clean("x" * 25, 24) == "x" * 23 + "~"
    assert len(clean("x" * 10_000, 24)) == 24
    assert clean("x" * 24, 24) == "x" * 24  # exactly the limit is not cut


def test_control_characters_become_spaces() -> None:
    assert clean("line\nbreak\ttab\x00nul\x1bescape\x7fdel", 100) == (
        "line break tab nul escape del"
    )


def test_lone_surrogates_become_question_marks() -> None:
    # JSON can carry them; as label values they would make every scrape fail to encode.
    text = clean("a\ud800b", 10)
    assert text == "a?b"
    text.encode("utf-8")


def test_non_strings_are_written_out_then_bounded() -> None:
    assert clean(42, 10) == "42"
    assert clean(None, 10) == "None"
    assert clean(["a", 1], 5) == "['a'~"


@dataclass
class Clock:
    now: float = 1000.0

    def __call__(self) -> float:
        return self.now


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
