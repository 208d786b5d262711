"""tuneport's one retry policy for a provider call that failed transiently.

Transient failures are ``RateLimitError`` (waiting the provider's Retry-After when it gave
one, unless it asks for more than :data:`MAX_RETRY_AFTER`), ``ServerError`` and
``TransportError``; everything else raises at once. Between attempts: capped exponential
backoff with jitter. The :class:`tuneport.Client` wraps each provider request in it (creates
with adopt-before-retry, see :mod:`tuneport.client.submission`); adapters use the same
policy for the parts of one operation they retry themselves (an upload's parts).

It lives here, below the client, so adapters and client retry the same way.
"""

from __future__ import annotations

import random
from collections.abc import Callable

import tenacity

from tuneport._config import RetryPolicy
from tuneport._exceptions import RateLimitError, ServerError, TransportError

__all__ = ["MAX_RETRY_AFTER", "delay_before_retry", "is_transient", "retrying"]

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
