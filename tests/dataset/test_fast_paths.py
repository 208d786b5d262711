"""The fast paths of validation give exactly what the plain library calls give."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tuneport.dataset._tiktoken_offline import get_encoding
from tuneport.dataset._tokens import SegmentCounter
from tuneport.dataset._validate import _loads

# Characters around the pre-tokenizer's edge cases: every kind of whitespace tiktoken's \s
# matches (and some that Python's matches but tiktoken's does not), contractions, digits,
# marks, letters of each case class, symbols, emoji with modifiers and joiners.
TRICKY = [
    "a", "Z", "é", "e\u0301", "ǅ", "ΑΒγ", "日本", "Привет", "١٢", "Ⅻ", "42", "1234567",
    " ", "  ", "\n", "\r\n", "\t", "\u00a0", "\u2028", "\x85", "\u3000", "\x1c", "\x0b",
    "'s", "'LL", "'d", " 's", ".", ",", "!?", "/", "\n/", "/\n", "  \n", "--", "_", "😀",
    "👍🏽", "\u200d", "👨\u200d👩", "http://x.y/z?q=1", "\ufeff", "\x00",
]
texts = st.lists(st.sampled_from(TRICKY), max_size=30).map("".join) | st.text(max_size=60)


@pytest.mark.parametrize("encoding", ["o200k_base", "cl100k_base"])
@settings(max_examples=400, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(batch=st.lists(texts, max_size=20))
def test_segment_counts_equal_tiktoken(encoding: str, batch: list[str]) -> None:
    enc = get_encoding(encoding)
    # A tiny cache also runs the path where a full cache encodes whole texts.
    for counter in (SegmentCounter(enc.encode_ordinary),
                    SegmentCounter(enc.encode_ordinary, max_entries=3)):
        assert counter.lengths(batch) == [len(enc.encode_ordinary(t)) for t in batch]
        assert counter.lengths(batch) == [len(enc.encode_ordinary(t)) for t in batch]  # warm


def test_segment_counts_on_prose_with_newlines() -> None:
    enc = get_encoding("o200k_base")
    prose = ("Sure! Here's the plan:\n\n1. Open   the file.\n2. Run `make  test`.\n\n"
             "That's it -- 日本語 works too.  Done.\t(ok)\n") * 3
    counter = SegmentCounter(enc.encode_ordinary)
    batch = [prose, prose.upper(), " " + prose, prose + " ", "", " ", "  x  "]
    assert counter.lengths(batch) == [len(enc.encode_ordinary(t)) for t in batch]


def _same(a: Any, b: Any) -> bool:
    """Equal including types, key order, -0.0 and NaN."""
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return list(a) == list(b) and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    return repr(a) == repr(b)


def _outcome(f: Any, raw: bytes) -> tuple[str, Any]:
    try:
        return "ok", f(raw)
    except (ValueError, RecursionError) as exc:
        return "error", f"{type(exc).__name__}: {exc}"


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=10),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner,
                                                                max_size=3),
    max_leaves=10,
)


@settings(max_examples=300, deadline=None)
@given(raw=st.one_of(
    st.binary(max_size=40),
    st.binary(max_size=40).map(lambda b: b"{" + b),
    json_values.map(lambda v: json.dumps(v).encode()),
    json_values.map(lambda v: json.dumps({"k": v}, ensure_ascii=False).encode() + b"\n"),
    st.sampled_from([b"{\x00}", b"\xef\xbb\xbf{}", b"{\"a\":\"\xed\xa0\x80\"}", b"{}\xff",
                     b"{\"a\":1,\"a\":2}", b"{\"x\":NaN}", b"{\"x\":1e400}", b"\n", b"{"]),
))
def test_line_parsing_equals_json_loads(raw: bytes) -> None:
    got, want = _outcome(_loads, raw), _outcome(json.loads, raw)
    assert got[0] == want[0]
    assert got[1] == want[1] if got[0] == "error" else _same(got[1], want[1])


def test_a_cache_that_keeps_missing_gives_way_to_whole_texts() -> None:
    import random

    enc = get_encoding("o200k_base")
    rng = random.Random(3)
    batch = [" ".join("".join(rng.choices("qxzjvkw", k=rng.randint(3, 8))) for _ in range(6))
             for _ in range(7000)]
    counter = SegmentCounter(enc.encode_ordinary, max_entries=50)
    got = counter.lengths(batch[:6000]) + counter.lengths(batch[6000:])
    assert counter._bypass
    assert got == [len(enc.encode_ordinary(t)) for t in batch]
