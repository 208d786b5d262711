"""Sources of records: JSONL files (plain or gzip), Python iterables, Hugging Face datasets.

A source yields ``(line, item)`` pairs, ``line`` 1-based: raw ``bytes`` for files (parsed once,
by the validator) or ready objects for in-memory sources. Files are read in blocks split into
lines by :func:`~tuneport.dataset._lines.read_lines`, so neither a dataset nor a hostile line is
ever held whole in memory; a file also yields its markers (``BlankRun``, ``LongLine``,
``Unreadable``) for runs of blank lines, over-long lines and a broken compressed stream.
"""

from __future__ import annotations

import gzip
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any, BinaryIO

from tuneport._exceptions import DatasetError
from tuneport.dataset._lines import LineItem, read_lines

__all__ = ["HFSource", "JsonlSource", "RecordsSource", "Source"]

_GZIP_MAGIC = b"\x1f\x8b"
_BUFFER = 1 << 20


class JsonlSource:
    """A ``.jsonl`` or gzip-compressed ``.jsonl.gz`` file (detected by its magic bytes)."""

    kind = "jsonl"

    def __init__(self, path: str | Path) -> None:
        if not isinstance(path, str | Path):
            raise DatasetError(f"A dataset path is a str or pathlib.Path, not a "
                               f"{type(path).__name__}; pass the path of a .jsonl file.")
        try:
            self.path = Path(path).expanduser()
            if not self.path.exists():
                raise DatasetError(f"Dataset file not found: {self.path} does not exist. "
                                   "Check the path.")
            if not self.path.is_file():
                raise DatasetError(f"{self.path} is not a file; give the path of a .jsonl file.")
            with self.path.open("rb") as fh:
                self.compressed = fh.read(2) == _GZIP_MAGIC
        except (OSError, ValueError) as exc:
            # ENAMETOOLONG, EACCES, ELOOP, a NUL in the name (ValueError)...
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
            raise DatasetError(
                f"Cannot open the dataset file {_shown(path)}: {reason}. Check the path (each "
                "part of it at most 255 bytes) and that the file is readable."
            ) from None

    def _open(self) -> BinaryIO:
        if self.compressed:
            return gzip.open(self.path, "rb")  # type: ignore[return-value]
        return self.path.open("rb", buffering=_BUFFER)

    def __iter__(self) -> Iterator[tuple[int, LineItem]]:
        try:
            with self._open() as fh:
                yield from read_lines(fh.read, compressed=self.compressed)
        except OSError as exc:  # the disk, not the data (gzip faults come as Unreadable)
            raise DatasetError(f"Cannot read {self.path}: {exc.strerror or exc}.") from None

    def stat_key(self) -> tuple[int, int]:
        """Size and modification time: a changed file gets a new fingerprint."""
        st = self.path.stat()
        return st.st_size, st.st_mtime_ns

    def describe(self) -> str:
        """For messages."""
        return str(self.path)


def _shown(path: object, limit: int = 120) -> str:
    """A path for a message: a hostile 300-character name is cut, not echoed whole."""
    text = str(path)
    return repr(text if len(text) <= limit else text[:limit] + "...")


class RecordsSource:
    """Python dicts. A one-shot iterator is kept as a list so it can be read twice."""

    kind = "records"

    def __init__(self, records: Iterable[Any]) -> None:
        if isinstance(records, (str, bytes, dict)):
            raise DatasetError(
                "Dataset.from_records() takes an iterable of dicts (one per example); "
                f"got a {type(records).__name__}. For a file use Dataset.from_jsonl()."
            )
        try:
            self.records: Sequence[Any] = (
                records if isinstance(records, Sequence) else list(records)
            )
        except TypeError as exc:
            raise DatasetError(
                f"Dataset.from_records() needs an iterable, not {type(records).__name__}."
            ) from exc

    def __iter__(self) -> Iterator[tuple[int, Any]]:
        return enumerate(self.records, start=1)

    def describe(self) -> str:
        """For messages."""
        return f"{len(self.records)} records"


class HFSource:
    """A Hugging Face ``datasets.Dataset`` (rows are read lazily, in order)."""

    kind = "hf"

    def __init__(self, dataset: Any) -> None:
        if not (hasattr(dataset, "__iter__") and hasattr(dataset, "column_names")):
            raise DatasetError(
                "Dataset.from_hf() takes a datasets.Dataset (not a DatasetDict: pick a split, "
                f"e.g. ds['train']); got {type(dataset).__name__}."
            )
        self.dataset = dataset

    def __iter__(self) -> Iterator[tuple[int, Any]]:
        return enumerate(iter(self.dataset), start=1)

    def describe(self) -> str:
        """For messages."""
        return f"Hugging Face dataset ({len(self.dataset)} rows)"


Source = JsonlSource | RecordsSource | HFSource
