"""Progress off a terminal: a line at least every :data:`LINE_INTERVAL` seconds.

On a terminal, rich redraws a status line or bar in place. In a CI log or a pipe nothing is
redrawn, and a wait that polls every minute (or a training run between two events) would
print nothing for minutes, which reads as a hang. :class:`Heartbeat` prints the current
status line whenever nothing was printed for :data:`LINE_INTERVAL` seconds, from a
background thread, so the guarantee holds however long one poll or one step takes.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable
from types import TracebackType
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rich.console import Console

__all__ = ["LINE_INTERVAL", "Heartbeat"]

#: The longest silence in a log while long work runs, in seconds.
LINE_INTERVAL = 10.0


class Heartbeat:
    """Print ``render()`` on ``console`` whenever it has been quiet for ``every`` seconds.

    Call :meth:`print` for the lines the caller prints itself (a status change), so a
    heartbeat line never follows one at once. Does nothing on a terminal, where the caller
    redraws in place.
    """

    def __init__(self, console: Console, render: Callable[[], Any], *,
                 every: float = LINE_INTERVAL) -> None:
        self._console = console
        self._render = render
        self._every = every
        self._last = time.monotonic()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def print(self, line: Any) -> None:
        """Print ``line`` now and restart the quiet period."""
        with self._lock:
            self._console.print(line)
            self._last = time.monotonic()

    def __enter__(self) -> Heartbeat:
        if not self._console.is_terminal:
            self._thread = threading.Thread(target=self._run, name="tuneport-heartbeat",
                                            daemon=True)
            self._thread.start()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def _run(self) -> None:
        while True:
            with self._lock:
                due = self._last + self._every - time.monotonic()
            if self._stop.wait(timeout=max(0.05, due)):
                return
            with self._lock:
                if time.monotonic() - self._last >= self._every:
                    # A progress line must never end the work it reports.
                    with contextlib.suppress(Exception):
                        self._console.print(self._render())
                    self._last = time.monotonic()
