"""Validate a large JSONL file in several processes, one byte range of whole lines each.

The file is cut into ranges that start at line starts. This process scans ranges from the
front while each helper process (a plain ``python -c`` child fed pickled tasks over a pipe,
so a user's ``__main__`` is never re-imported as ``multiprocessing``'s spawn would) takes
ranges from the back; the partial results are merged in file order by
:func:`tuneport.dataset._validate.merge`, which gives exactly the serial report. Every
process streams its ranges, so memory stays flat whatever the file size.

A helper that cannot start or dies hands its range back to a thread of this process, which
scans it itself: the result is the same, only slower.
"""

from __future__ import annotations

import itertools
import os
import pickle
import struct
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from tuneport._exceptions import DatasetError
from tuneport.dataset._checks import detect_format
from tuneport.dataset._lines import LineItem, read_lines
from tuneport.dataset._readers import JsonlSource
from tuneport.dataset._targets import TargetRules
from tuneport.dataset._validate import Partial, merge, scan

__all__ = ["RangeTask", "plan_ranges", "scan_file", "scan_range", "worker_count", "worker_main"]

# Below this a helper's start-up (~0.5-1 s of imports and tokenizer loading) costs more than
# it saves (validation runs at ~15-30 MB/s per core).
PARALLEL_MIN_BYTES = 32 << 20
MAX_WORKERS = 4
RANGES_PER_WORKER = 4  # several ranges each, so a helper that starts late gets fewer
MIN_RANGE_BYTES = 4 << 20
WORKERS_ENV = "TUNEPORT_VALIDATE_WORKERS"
_BUFFER = 1 << 20
# Each message: a magic tag and a length, then a pickle. The tag catches a helper whose
# stdout got other bytes (a sitecustomize that prints): it is then dropped, not trusted.
_HEADER = struct.Struct("<4sQ")
_MAGIC = b"TPv1"
_MAX_MESSAGE = 1 << 30
_BOOT = "from tuneport.dataset._parallel import worker_main; worker_main()"


@dataclass(frozen=True, slots=True)
class RangeTask:
    """One byte range of a file to scan, with everything the scan needs."""

    path: str
    start: int
    end: int
    rules: dict[str, TargetRules]
    file_format: str
    max_issues_per_code: int
    count: bool
    keep_per_example: bool


def worker_count(requested: int | None, size: int) -> int:
    """Processes to use (this one included) for a file of ``size`` bytes."""
    if requested is None:
        env = os.environ.get(WORKERS_ENV, "").strip()
        if env.isdigit():
            requested = int(env)
    if requested is not None:
        return max(1, requested)
    if size < PARALLEL_MIN_BYTES:
        return 1
    try:
        cpus = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cpus = os.cpu_count() or 1
    return max(1, min(MAX_WORKERS, cpus))


def plan_ranges(path: Path, size: int, n: int) -> list[tuple[int, int]]:
    """About ``n`` ranges ``(start, end)`` covering the file, each starting at a line start."""
    cuts = [0]
    with path.open("rb") as fh:
        for k in range(1, n):
            pos = size * k // n
            if pos <= cuts[-1]:
                continue
            start = _next_line_start(fh, pos - 1, size)
            if cuts[-1] < start < size:
                cuts.append(start)
    cuts.append(size)
    return [(a, b) for a, b in itertools.pairwise(cuts) if b > a]


def _next_line_start(fh: IO[bytes], pos: int, size: int) -> int:
    """The offset after the first newline at or after ``pos`` (``size`` if none).

    Read in blocks, not with ``readline``: a hostile file's one huge line is never held.
    """
    fh.seek(pos)
    while True:
        block = fh.read(_BUFFER)
        if not block:
            return size
        nl = block.find(b"\n")
        if nl >= 0:
            return pos + nl + 1
        pos += len(block)


def _range_lines(path: str, start: int, end: int) -> Iterator[tuple[int, LineItem]]:
    """(line number within the range, raw line) for the lines starting in [start, end)."""
    try:
        with open(path, "rb", buffering=0) as fh:
            fh.seek(start)
            yield from read_lines(fh.read, end=end - start)
    except OSError as exc:
        raise DatasetError(f"Cannot read {path}: {exc.strerror or exc}.") from None


def _first_format(path: str, end: int) -> str | None:
    """The file's format as a serial scan sets it: the first line with a known format."""
    from tuneport.dataset._validate import _loads

    for _line, raw in _range_lines(path, 0, end):
        if type(raw) is not bytes or b"\x00" in raw:
            continue
        try:
            obj = _loads(raw)
        except (ValueError, RecursionError):
            continue
        if isinstance(obj, dict):
            fmt = detect_format(obj)
            if fmt is not None:
                return fmt
    return None


def scan_range(task: RangeTask) -> Partial:
    """Scan one range (line numbers in the result are local to it)."""
    return scan(_range_lines(task.path, task.start, task.end), task.rules,
                max_issues_per_code=task.max_issues_per_code, count=task.count,
                keep_per_example=task.keep_per_example, file_format=task.file_format)


# -- the helper processes ---------------------------------------------------------------------

class _HelperError(Exception):
    pass


def _send(stream: IO[bytes], obj: Any) -> None:
    data = pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)
    stream.write(_HEADER.pack(_MAGIC, len(data)) + data)
    stream.flush()


def _receive(stream: IO[bytes]) -> Any:
    head = stream.read(_HEADER.size)
    if len(head) < _HEADER.size:
        raise EOFError("the helper process closed its pipe")
    magic, n = _HEADER.unpack(head)
    if magic != _MAGIC or n > _MAX_MESSAGE:
        raise _HelperError("the helper process wrote something else than results")
    data = stream.read(n)
    if len(data) < n:
        raise EOFError("the helper process closed its pipe")
    return pickle.loads(data)


def worker_main() -> None:
    """The helper's loop: read a task, scan it, write the result; stop at end of input."""
    inp, out = sys.stdin.buffer, sys.stdout.buffer
    sys.stdout = sys.stderr  # a stray print must not corrupt the result stream
    while True:
        try:
            task = _receive(inp)
        except (EOFError, _HelperError):
            return
        try:
            result: tuple[str, Any] = ("ok", scan_range(task))
        except Exception as exc:  # the parent rescans the range itself and raises it there
            result = ("error", f"{type(exc).__name__}: {exc}")
        _send(out, result)


class _Helper:
    """One helper process."""

    def __init__(self) -> None:
        env = dict(os.environ)
        # The child must import this same tuneport, installed or not: put the folder that
        # holds the package (``src/`` in a checkout) first on its path. Found from this
        # file, so the dataset package needs nothing above it.
        root = str(Path(__file__).resolve().parents[2])
        env["PYTHONPATH"] = os.pathsep.join(p for p in (root, env.get("PYTHONPATH")) if p)
        self.proc = subprocess.Popen(
            [sys.executable, "-c", _BOOT], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL, env=env,
        )

    def run(self, task: RangeTask) -> Partial:
        assert self.proc.stdin is not None
        assert self.proc.stdout is not None
        _send(self.proc.stdin, task)
        kind, value = _receive(self.proc.stdout)
        if kind != "ok" or not isinstance(value, Partial):
            raise _HelperError(str(value))
        return value

    def close(self, kill: bool = False) -> None:
        if kill:
            self.proc.kill()
        try:
            if self.proc.stdin is not None:
                self.proc.stdin.close()
        except OSError:
            pass
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        if self.proc.stdout is not None:
            self.proc.stdout.close()


def _parallel_ok(rules: dict[str, TargetRules], count: bool) -> bool:
    # Hugging Face tokenizers already use every core (encode_batch) and are slow to load in
    # each helper; tiktoken and the approximation load fast.
    return not count or all(r.tokenizer.startswith(("tiktoken:", "approx"))
                            for r in rules.values())


def scan_file(source: JsonlSource, rules: dict[str, TargetRules], *,
              max_issues_per_code: int, count: bool, keep_per_example: bool,
              workers: int | None) -> Partial | None:
    """Scan ``source`` in several processes; None when a serial scan is the better choice.

    Args:
        workers: processes, this one included; None: automatic (see :func:`worker_count`).
    """
    if source.compressed or not sys.executable or not _parallel_ok(rules, count):
        return None
    size = source.path.stat().st_size
    n = worker_count(workers, size)
    if n <= 1:
        return None
    ranges = plan_ranges(source.path, size, max(n, min(n * RANGES_PER_WORKER,
                                                       size // MIN_RANGE_BYTES)))
    if len(ranges) < 2:
        return None
    path = str(source.path)
    fmt = _first_format(path, ranges[0][1])
    if fmt is None:  # the first range holds no usable line: let one pass sort the file out
        return None
    tasks = [RangeTask(path, a, b, rules, fmt, max_issues_per_code, count, keep_per_example)
             for a, b in ranges]
    results: list[Partial | None] = [None] * len(tasks)
    lock = threading.Lock()
    bounds = [0, len(tasks) - 1]  # next range from the front, next from the back
    helpers: list[_Helper] = []
    failures: list[BaseException] = []
    stop = threading.Event()

    def take(front: bool) -> int | None:
        with lock:
            if bounds[0] > bounds[1]:
                return None
            if front:
                bounds[0] += 1
                return bounds[0] - 1
            bounds[1] -= 1
            return bounds[1] + 1

    def feed() -> None:
        helper: _Helper | None = None
        try:
            try:
                helper = _Helper()
                helpers.append(helper)
            except OSError:
                helper = None
            while (k := take(front=False)) is not None:
                part: Partial | None = None
                if helper is not None:
                    try:
                        part = helper.run(tasks[k])
                    except (OSError, EOFError, _HelperError, pickle.PickleError):
                        helper.close(kill=True)
                        helper = None
                        if stop.is_set():
                            return
                results[k] = part if part is not None else scan_range(tasks[k])
        except BaseException as exc:  # re-raised in the calling thread
            failures.append(exc)
            with lock:
                bounds[0] = len(tasks)  # stop the others

    threads = [threading.Thread(target=feed, name=f"tuneport-validate-{i}", daemon=True)
               for i in range(n - 1)]
    for t in threads:
        t.start()
    ok = False
    try:
        while (k := take(front=True)) is not None:
            results[k] = scan_range(tasks[k])
        ok = True
    finally:
        if not ok:
            stop.set()
            with lock:
                bounds[0] = len(tasks)
            for h in list(helpers):
                h.proc.kill()
        for t in threads:
            t.join()
        for h in list(helpers):
            h.close()
    if failures:
        raise failures[0]
    done = [r for r in results if r is not None]
    if len(done) != len(results):  # unreachable: every range was taken by someone
        raise DatasetError(f"Validation of {path} lost a part of the file; run it again.")
    return merge(done, max_issues_per_code)

