"""Splitting a byte stream into numbered lines, safely, whatever the stream holds.

``for line in file`` holds a whole line in memory however long it is (a 1 GiB line inside a
4.5 MB ``.gz``) and costs one Python iteration per blank line. :func:`read_lines` instead

- refuses a line longer than :data:`MAX_LINE_BYTES`: it is skipped in pieces, never held,
  and reported as :class:`LongLine` (the ``line_too_long`` code);
- folds a run of blank lines into one :class:`BlankRun` found by one regular-expression
  match, so a file of blank lines reads at close to disk speed;
- turns a corrupt or truncated compressed stream (``zlib.error``, ``EOFError``,
  ``gzip.BadGzipFile``) into an :class:`Unreadable` item at the line where it broke.

Every other item is the raw line (``bytes``, with its newline), numbered from 1.
"""

from __future__ import annotations

import re
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass

__all__ = ["MAX_LINE_BYTES", "BlankRun", "LineItem", "LongLine", "Unreadable", "read_lines"]

MAX_LINE_BYTES = 32 << 20
"""The longest line tuneport reads (32 MiB). No provider trains on an example this long (the
longest contexts are ~128k tokens, well under 1 MiB of text); the cap keeps validation's
memory bounded by a constant whatever the file holds."""

BLOCK = 1 << 20
# Whitespace up to the last newline of the run: one character class, which sre scans ~40x
# faster than the nested ``(?:[ \t]*\n)+``.
_BLANKS = re.compile(rb"[ \t\r\f\v\n]*\n")


@dataclass(frozen=True, slots=True)
class BlankRun:
    """``count`` consecutive blank (empty or whitespace-only) lines."""

    count: int


@dataclass(frozen=True, slots=True)
class LongLine:
    """A line over :data:`MAX_LINE_BYTES`, skipped unread; ``size`` is its length in bytes."""

    size: int


@dataclass(frozen=True, slots=True)
class Unreadable:
    """The stream broke at this line (corrupt or truncated compression); nothing follows."""

    message: str


LineItem = bytes | BlankRun | LongLine | Unreadable

_BROKEN = (OSError, EOFError, zlib.error)


def read_lines(read: Callable[[int], bytes], *, limit: int = MAX_LINE_BYTES,
               end: int | None = None, compressed: bool = False,
               ) -> Iterator[tuple[int, LineItem]]:
    """Numbered lines of the stream that ``read(n)`` gives (``b""`` at its end).

    Memory: one block plus the longest line kept (at most ``limit``) plus one more block.

    Args:
        read: the stream's ``read``.
        limit: the longest line kept, in bytes (the newline included).
        end: stop before the first line that starts at or after this many bytes.
        compressed: a read error is the stream's fault (reported as :class:`Unreadable`)
            rather than the disk's (raised).

    Raises:
        OSError: reading an uncompressed stream failed (the caller turns it into a
            ``DatasetError``).
    """
    line_no = 1
    consumed = 0  # stream offset of buf[0]
    eof = False
    broken = False

    def more() -> bytes:
        nonlocal eof, broken
        try:
            chunk = read(BLOCK)
        except _BROKEN as exc:
            if not compressed or (isinstance(exc, OSError) and not _is_compression(exc)):
                raise
            chunk, broken = b"", True
        if not chunk:
            eof = True
        return chunk

    buf = more()
    while True:
        pos, n = 0, len(buf)
        stop_at = n if end is None else max(0, min(n, end - consumed))
        while pos < n:
            if pos >= stop_at and end is not None:
                return
            blank = _BLANKS.match(buf, pos, stop_at)
            if blank is not None:
                stop = blank.end()
                count = buf.count(b"\n", pos, stop)
                yield line_no, BlankRun(count)
                line_no += count
                pos = stop
                continue
            nl = buf.find(b"\n", pos)
            if nl < 0:
                break
            yield line_no, buf[pos:nl + 1] if nl + 1 - pos <= limit else LongLine(nl + 1 - pos)
            line_no += 1
            pos = nl + 1
        consumed += pos
        rest = buf[pos:]
        if end is not None and rest and consumed >= end:
            return
        if eof:
            if broken:
                # A partial last line of a broken stream is not data: report the break there.
                yield line_no, Unreadable("the compressed stream is corrupt or cut short")
            elif rest:
                yield line_no, BlankRun(1) if not rest.strip() else rest
            return
        if not rest:
            buf = more()
            continue
        # An unfinished line: gather its pieces (joined once) until its newline or the cap.
        pieces, size = [rest], len(rest)
        while True:
            chunk = more()
            if not chunk:  # the end of the stream (or its break) inside the line
                if size > limit and not broken:
                    yield line_no, LongLine(size)
                    line_no += 1
                    buf = b""
                else:
                    buf = b"".join(pieces)
                    pieces = []
                break
            nl = chunk.find(b"\n")
            if nl < 0:
                size += len(chunk)
                if size > limit:
                    pieces = []  # over the cap: count the rest of the line, keep nothing
                else:
                    pieces.append(chunk)
                continue
            size += nl + 1
            if size > limit:
                yield line_no, LongLine(size)
            else:
                # Joined once and handed over as is: no second copy of a long line is held
                # here while the caller parses it.
                pieces.append(chunk[:nl + 1])
                data = b"".join(pieces)
                pieces = []
                yield line_no, data
                data = b""
            line_no += 1
            consumed += size
            buf = chunk[nl + 1:]
            break


def _is_compression(exc: OSError) -> bool:
    """A gzip format error (``BadGzipFile``, a CRC or length check) rather than a disk one."""
    return exc.errno is None
