"""Upload progress on the CLI: a rich bar on a terminal, plain lines anywhere else.

A large dataset can take minutes to send. On a terminal the bar shows bytes, speed and
time left. When stderr is a file or a CI log, a bar would print nothing useful (or
thousands of carriage returns), so a line is written instead: at the start, at least
every :data:`LINE_INTERVAL` seconds while bytes are moving or not (a part being sent
shows no progress for a while, and a silent log looks like a hang), and at the end.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from tuneport.providers._upload_progress import UploadEvent, listening

if TYPE_CHECKING:
    from rich.console import Console

__all__ = ["LINE_INTERVAL", "showing_uploads"]

#: Seconds between plain progress lines (off a terminal).
LINE_INTERVAL = 10.0


@contextlib.contextmanager
def showing_uploads(console: Console, *, enabled: bool = True) -> Iterator[None]:
    """Show the progress of every upload made inside the block on ``console``."""
    if not enabled:
        yield
        return
    display: _BarDisplay | _LineDisplay = (
        _BarDisplay(console) if console.is_terminal else _LineDisplay(console, LINE_INTERVAL)
    )
    try:
        with listening(display.update):
            yield
    finally:
        display.close()


def _size(n: float) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} GB"


class _BarDisplay:
    """A rich progress bar per file, started on the first event."""

    def __init__(self, console: Console) -> None:
        self._console = console
        self._progress: Any = None
        self._tasks: dict[tuple[str, str], Any] = {}

    def update(self, event: UploadEvent) -> None:
        if self._progress is None:
            from rich.progress import (
                BarColumn,
                DownloadColumn,
                Progress,
                TextColumn,
                TimeRemainingColumn,
                TransferSpeedColumn,
            )

            self._progress = Progress(
                TextColumn("  {task.description}"), BarColumn(), DownloadColumn(),
                TransferSpeedColumn(), TimeRemainingColumn(), console=self._console,
                transient=True,
            )
            self._progress.start()
        key = (event.provider, event.filename)
        if key not in self._tasks:
            self._tasks[key] = self._progress.add_task(
                f"{event.filename} → {event.provider} ({event.flow})", total=event.total
            )
        self._progress.update(self._tasks[key], completed=event.sent)

    def close(self) -> None:
        if self._progress is not None:
            self._progress.stop()


class _LineDisplay:
    """Plain lines: on start, at least every ``interval`` seconds, and at the end."""

    def __init__(self, console: Console, interval: float) -> None:
        self._console = console
        self._interval = interval
        self._lock = threading.Lock()
        self._current: UploadEvent | None = None
        self._started = 0.0
        self._last_line = 0.0
        self._stop = threading.Event()
        self._ticker: threading.Thread | None = None

    def update(self, event: UploadEvent) -> None:
        now = time.monotonic()
        with self._lock:
            new = self._current is None or (self._current.provider, self._current.filename) \
                != (event.provider, event.filename) or self._current.done
            if new:
                self._started = now
            self._current = event
            due = new or event.done or now - self._last_line >= self._interval
            if due:
                self._last_line = now
        if due:
            self._write(event, now)
        if self._ticker is None:
            self._ticker = threading.Thread(target=self._tick, name="tuneport-upload-lines",
                                            daemon=True)
            self._ticker.start()

    def _tick(self) -> None:
        # Bytes may stop moving for a while (a 64 MB part in flight): say so anyway.
        while not self._stop.wait(self._interval / 4):
            now = time.monotonic()
            with self._lock:
                event = self._current
                if event is None or event.done or now - self._last_line < self._interval:
                    continue
                self._last_line = now
            self._write(event, now)

    def _write(self, event: UploadEvent, now: float) -> None:
        elapsed = max(now - self._started, 1e-9)
        if event.done:
            line = (f"  sent {event.filename} to {event.provider}: {_size(event.total)} "
                    f"in {elapsed:.1f} s")
        else:
            share = event.sent / event.total if event.total else 1.0
            line = (f"  uploading {event.filename} to {event.provider} ({event.flow}): "
                    f"{_size(event.sent)} of {_size(event.total)} ({share:.0%}), "
                    f"{_size(event.sent / elapsed)}/s")
        self._console.print(line, markup=False, highlight=False, soft_wrap=True)

    def close(self) -> None:
        self._stop.set()
        if self._ticker is not None:
            self._ticker.join(timeout=5)
