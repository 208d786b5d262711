"""Clocks for the emulator: the wall clock, or a manual one that tests move by hand.

Every time the emulator reports (created_at, job progress, deployment readiness) comes
from one clock, so a test that advances a :class:`ManualClock` sees jobs move through
their whole life cycle instantly and identically on every run.
"""

from __future__ import annotations

import threading
import time
from typing import Protocol

__all__ = ["Clock", "ManualClock", "SystemClock"]

# 2026-11-29T00:00:00Z: a fixed, plausible start so manual-clock runs are reproducible.
DEFAULT_MANUAL_START = 1_795_910_400.0


class Clock(Protocol):
    """Anything that tells the time in Unix seconds."""

    def now(self) -> float:
        """The current time in Unix seconds."""
        ...


class SystemClock:
    """The real wall clock."""

    def now(self) -> float:
        """The current time in Unix seconds."""
        return time.time()


class ManualClock:
    """A clock that only moves when told to (thread-safe; tests drive it).

    Args:
        start: the initial time in Unix seconds.
    """

    def __init__(self, start: float = DEFAULT_MANUAL_START) -> None:
        self._now = float(start)
        self._lock = threading.Lock()

    def now(self) -> float:
        """The current time in Unix seconds."""
        with self._lock:
            return self._now

    def advance(self, seconds: float) -> float:
        """Move the clock forward and return the new time.

        Raises:
            ValueError: if ``seconds`` is negative (time never runs backwards).
        """
        if seconds < 0:
            raise ValueError(f"a clock only moves forward; got advance({seconds})")
        with self._lock:
            self._now += seconds
            return self._now
