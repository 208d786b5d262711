"""Retry and polling policies shared by :class:`tuneport.Client` and :class:`tuneport.AsyncClient`.

The retry policy is :mod:`tuneport.providers.retrying` (one policy for client and adapters).
Transient failures are ``RateLimitError`` (waiting the provider's Retry-After when it
gave one), ``ServerError`` and ``TransportError``; everything else raises at once. The
provider SDKs' own blind retries are off for creates, so these are the only retries a
create ever gets, and each one is preceded by a look for the job the lost attempt may
have created (see :mod:`tuneport.client.submission`).

A retry wraps one request, never an operation made of several: a wait (for a file, a
job, a deployment) retries each read on its own, so one failed read costs that read's
retries, not the wait.
"""

from __future__ import annotations

from dataclasses import dataclass, field

# The policy itself lives below the client so adapters retry the same way; re-exported here
# for the client's modules.
from tuneport.providers.retrying import (
    MAX_RETRY_AFTER,
    delay_before_retry,
    is_transient,
    retrying,
)

__all__ = ["MAX_RETRY_AFTER", "PollBackoff", "delay_before_retry", "is_transient", "retrying"]


@dataclass
class PollBackoff:
    """Delays between status polls: grow by ``factor`` up to ``cap``; back to ``initial``
    whenever the job changes, so a job that moves is followed closely."""

    initial: float
    cap: float
    factor: float = 1.5
    current: float = field(init=False)

    def __post_init__(self) -> None:
        self.initial = max(0.0, self.initial)
        self.cap = max(self.cap, self.initial)
        self.current = self.initial

    def reset(self) -> None:
        """Start again from ``initial`` (the job changed)."""
        self.current = self.initial

    def next(self, *, retry_after: float | None = None) -> float:
        """The delay before the next poll (at least ``retry_after`` when given)."""
        delay = self.current
        self.current = min(self.cap, max(self.current * self.factor, 0.001))
        if retry_after is not None:
            delay = max(delay, retry_after)
        return delay
