"""Bounding what stations send before it becomes a label value or a log line."""

from __future__ import annotations

import re

_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def clean(value: object, limit: int) -> str:
    """A printable string of at most `limit` characters; over-long values end in '~' so that a
    truncated value is recognisable as such."""
    text = _CONTROL.sub(" ", value if isinstance(value, str) else str(value))
    # JSON can carry lone surrogates ("\ud800"); they cannot be encoded as UTF-8 and would make
    # every scrape fail, so they become '?' here.
    text = text.encode("utf-8", "replace").decode("utf-8")
    if len(text) > limit:
        return text[: limit - 1] + "~"
    return text
