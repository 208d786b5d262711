"""The block line reader gives what ``for line in file`` gives, minus the hazards.

Oracle: Python's own line iteration over the same bytes, with blank lines folded into runs
and lines over the cap replaced by their size; any block size, cap and range end.
"""

from __future__ import annotations

import gzip
import io

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tuneport.dataset import _lines
from tuneport.dataset._lines import BlankRun, LongLine, Unreadable, read_lines

Row = tuple[int, object]


def expected(data: bytes, limit: int, end: int | None) -> list[Row] | None:
    out: list[Row] = []
    pos = 0
    for n, raw in enumerate(io.BytesIO(data), start=1):
        if end is not None and pos >= end:
            break
        pos += len(raw)
        if not raw.strip():
            if len(raw) > limit:
                return None  # a whitespace line over the cap: either answer is right
            out.append((n, "blank"))
        elif len(raw) > limit:
            out.append((n, ("long", len(raw))))
        else:
            out.append((n, raw))
    return out


def actual(data: bytes, limit: int, end: int | None) -> list[Row]:
    out: list[Row] = []
    for n, item in read_lines(io.BytesIO(data).read, limit=limit, end=end):
        if isinstance(item, BlankRun):
            out += [(n + k, "blank") for k in range(item.count)]
        elif isinstance(item, LongLine):
            out.append((n, ("long", item.size)))
        elif isinstance(item, bytes) and not item.strip():
            out.append((n, "blank"))
        else:
            out.append((n, item))
    return out


@settings(max_examples=1500, deadline=None)
@given(data=st.lists(st.sampled_from([b"a", b"{}", b" ", b"\t", b"\r", b"\n", b"\n\n", b"xyz"]),
                     max_size=40).map(b"".join),
       limit=st.integers(1, 12), block=st.integers(1, 8), cut=st.integers(0, 40),
       ranged=st.booleans())
def test_lines_match_python_iteration(data: bytes, limit: int, block: int, cut: int,
                                      ranged: bool) -> None:
    starts = [0] + [i + 1 for i, c in enumerate(data) if c == 10]
    end = starts[cut % len(starts)] if ranged else None
    want = expected(data, max(limit, block), end)
    if want is None:
        return
    old = _lines.BLOCK
    _lines.BLOCK = block
    try:
        assert actual(data, max(limit, block), end) == want
    finally:
        _lines.BLOCK = old


def test_a_broken_gzip_stream_is_an_unreadable_item() -> None:
    packed = gzip.compress(b'{"text": "a"}\n' * 50_000)
    stream = gzip.GzipFile(fileobj=io.BytesIO(packed[: len(packed) // 2]))
    items = list(read_lines(stream.read, compressed=True))
    assert isinstance(items[-1][1], Unreadable)
    assert all(isinstance(item, bytes) for _n, item in items[:-1])


def test_a_disk_error_on_a_plain_file_is_raised() -> None:
    def read(_n: int) -> bytes:
        raise OSError(5, "Input/output error")

    with pytest.raises(OSError):
        list(read_lines(read))
