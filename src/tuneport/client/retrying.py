"""Retry and polling policies shared by :class:`tuneport.Client` and :class:`tuneport.AsyncClient`.

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

import random
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeVar

import tenacity

from tuneport._config import RetryPolicy
from tuneport._exceptions import RateLimitError, ServerError, TransportError

__all__ = ["MAX_RETRY_AFTER", "PollBackoff", "delay_before_retry", "is_transient", "retrying"]

T = TypeVar("T")

#: A Retry-After longer than this is not waited out inside one call: the error is raised
#: so the caller decides (the OpenAI SDK draws the same line at 120 s).
MAX_RETRY_AFTER = 120.0


def is_transient(exc: BaseException) -> bool:
    """Whether a failed provider call may succeed if sent again."""
    if isinstance(exc, RateLimitError):
        return exc.retry_after is None or exc.retry_after <= MAX_RETRY_AFTER
    return isinstance(exc, ServerError | TransportError)


def delay_before_retry(
    policy: RetryPolicy, attempt_number: int, exc: BaseException | None
) -> float:
    """Seconds to wait after failed attempt ``attempt_number`` (1 for the first) of a call.

    A rate limit's Retry-After when it gave one; otherwise capped exponential backoff
    with jitter.
    """
    if isinstance(exc, RateLimitError) and exc.retry_after is not None:
        return max(0.0, float(exc.retry_after))
    growth: float = 2.0 ** (attempt_number - 1)
    backoff = min(policy.max_backoff, policy.initial_backoff * growth)
    # Jitter keeps several clients that failed together from retrying together.
    return backoff * (1.0 - 0.25 * random.random())


def _wait_for(policy: RetryPolicy) -> Callable[[tenacity.RetryCallState], float]:
    def wait(state: tenacity.RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome is not None else None
        return delay_before_retry(policy, state.attempt_number, exc)

    return wait


def retrying(policy: RetryPolicy, sleep: Callable[[float], None]) -> tenacity.Retrying:
    """A tenacity ``Retrying`` for ``policy`` that re-raises the last error."""
    return tenacity.Retrying(
        stop=tenacity.stop_after_attempt(policy.attempts),
        wait=_wait_for(policy),
        retry=tenacity.retry_if_exception(is_transient),
        sleep=sleep,
        reraise=True,
    )


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
