"""Progress while an evaluation runs: a bar on a terminal, a line every few seconds in logs.

:class:`ProgressPrinter` is the ``on_progress`` the CLI and the demo hand to
``client.evaluate``: it prints the cost estimate before anything is sent, then either a
rich progress bar (stderr is a terminal) or a plain line at most every ``interval`` seconds
(stderr is a file or a pipe, as in CI), and a last line when it is done.
"""

from __future__ import annotations

import sys
import threading
import time
from typing import IO, Any

__all__ = ["ProgressPrinter"]


class ProgressPrinter:
    """An ``on_progress(event, info)`` callback that reports to ``stream`` (stderr).

    Args:
        stream: where to write (default ``sys.stderr``).
        interval: seconds between plain lines when ``stream`` is not a terminal.
        bar: force the bar on (True) or off (False); default: whether ``stream`` is a tty.
    """

    def __init__(self, stream: IO[str] | None = None, *, interval: float = 10.0,
                 bar: bool | None = None) -> None:
        self.stream = stream or sys.stderr
        self.interval = interval
        self.bar = self.stream.isatty() if bar is None else bar
        self._info: dict[str, Any] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._ticker: threading.Thread | None = None
        self._progress: Any = None
        self._task: Any = None
        self._started = time.monotonic()

    def __call__(self, event: str, info: dict[str, Any]) -> None:
        if event == "estimate":
            usd = "unknown" if info.get("usd") is None else f"${info['usd']:.4f}"
            self._write(f"Evaluation: {info['requests']} requests to send "
                        f"({info['cached']} answered from the cache), about {info['tokens']} "
                        f"tokens, estimated cost {usd}.")
            for note in info.get("notes", ()):
                self._write(f"  note: {note}")
            self._start()
        elif event == "progress":
            with self._lock:
                self._info = dict(info)
            if self._progress is not None:
                self._progress.update(self._task, total=max(1, info["total"]),
                                      completed=info["done"])
        elif event == "done":
            self.close()
            self._write(f"Evaluation done in {time.monotonic() - self._started:.1f} s: "
                        f"{info['requests']} requests, {info['cached']} cached, "
                        f"{info['failed']} failed example(s).")

    def _write(self, text: str) -> None:
        print(text, file=self.stream, flush=True)

    def _line(self) -> None:
        with self._lock:
            info = dict(self._info)
        if info:
            self._write(f"  {info['done']}/{info['total']} answers ({info['cached']} cached, "
                        f"{info['failed']} failed), {time.monotonic() - self._started:.0f} s")

    def _start(self) -> None:
        self._started = time.monotonic()
        if self.bar:
            from rich.console import Console
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

            self._progress = Progress("answers", BarColumn(), MofNCompleteColumn(),
                                      TimeElapsedColumn(),
                                      console=Console(file=self.stream), transient=True)
            self._progress.start()
            self._task = self._progress.add_task("answers", total=None)
            return

        def tick() -> None:
            while not self._stop.wait(self.interval):
                self._line()

        self._ticker = threading.Thread(target=tick, daemon=True)
        self._ticker.start()

    def close(self) -> None:
        """Stop the bar or the ticker (idempotent)."""
        self._stop.set()
        if self._ticker is not None:
            self._ticker.join()
            self._ticker = None
            self._line()
        if self._progress is not None:
            self._progress.stop()
            self._progress = None
