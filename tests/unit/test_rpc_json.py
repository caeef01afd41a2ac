"""The fast JSON path of the framing (orjson) must read and write frames exactly as the standard
library does, whatever a station sends: the fallback covers what orjson refuses or reads
differently."""

from __future__ import annotations

import json
import math

from hypothesis import given, settings
from hypothesis import strategies as st

from exporter.protocol import rpc

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(alphabet=st.characters(min_codepoint=0, max_codepoint=0x10FFFF)),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=5), inner),
    max_leaves=20,
)


def same(a: object, b: object) -> bool:
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a):
        return math.isnan(b)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    return type(a) is type(b) and a == b


@settings(max_examples=100, deadline=None)
@given(json_values)
def test_reads_what_the_standard_parser_reads(value: object) -> None:
    text = json.dumps(value)  # escapes lone surrogates and writes NaN, as stations may
    assert same(rpc._loads(text), json.loads(text))


@settings(max_examples=100, deadline=None)
@given(json_values.filter(lambda v: "NaN" not in json.dumps(v) and "Infinity" not in json.dumps(v)))
def test_writes_what_the_standard_parser_reads_back(value: object) -> None:
    frame = rpc.call_result("id-1", {"v": value})
    assert same(json.loads(frame), [3, "id-1", {"v": value}])


def test_deep_nesting_takes_the_standard_path_and_is_refused() -> None:
    deep = "[" * 5000 + "]" * 5000
    try:
        rpc._loads(deep)
    except RecursionError:
        return
    raise AssertionError("a frame nested 5,000 deep must hit the standard parser's limit")
