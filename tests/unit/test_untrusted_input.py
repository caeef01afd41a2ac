"""What stations send, bounded before it becomes a label value or a log line."""

from __future__ import annotations

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
