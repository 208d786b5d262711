"""Following something until it settles: a job until it ends, an endpoint until it is ready.

The rules (when to poll next, back-off with a cap, Retry-After, the timeout) live once in
:class:`Following`, which does no I/O; :func:`follow` and :func:`follow_async` drive it
with a blocking or an ``asyncio`` sleep, so :class:`tuneport.Client` and
:class:`tuneport.AsyncClient` wait exactly alike.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from tuneport._exceptions import (
    JobFailedError,
    JobTimeoutError,
    ProviderError,
    RateLimitError,
    ServerError,
    TransportError,
)
from tuneport._models import EndpointState, Job, JobStatus, ModelEndpoint
from tuneport.client.retrying import PollBackoff

__all__ = [
    "DEFAULT_MAX_POLL",
    "DEFAULT_POLL",
    "Following",
    "endpoint_following",
    "follow",
    "follow_async",
    "job_following",
    "ready_or_raise",
    "succeeded_or_raise",
]

S = TypeVar("S")

DEFAULT_POLL = 5.0
DEFAULT_MAX_POLL = 60.0

#: Polls in a row that may fail transiently (each after its own retries) before a wait
#: gives up and raises the last error.
MAX_FAILED_POLLS = 10


@dataclass
class Following(Generic[S]):
    """The state of one wait: the last snapshot, the back-off, the deadline.

    Args:
        last: the snapshot to start from (what is known before the first poll).
        start: the clock reading when waiting began.
        timeout: seconds after ``start`` to give up, or ``None``.
        backoff: the delays between polls.
        settled: whether a snapshot ends the wait.
        changed: whether two snapshots differ enough to poll closely again.
        timed_out: the error to raise when ``timeout`` passes (gets the last snapshot).
    """

    last: S
    start: float
    timeout: float | None
    backoff: PollBackoff
    settled: Callable[[S], bool]
    changed: Callable[[S, S], bool]
    timed_out: Callable[[S, float], Exception]
    _delay: float = field(default=0.0, init=False)
    _failed_polls: int = field(default=0, init=False)

    def pause(self, now: float) -> float:
        """Seconds to sleep before the next poll (0 for the first one).

        Raises:
            Exception: ``timed_out(last, timeout)`` when the deadline has passed.
        """
        if not self._delay:
            return 0.0
        if self.timeout is None:
            return self._delay
        remaining = self.timeout - (now - self.start)
        if remaining <= 0:
            raise self.timed_out(self.last, self.timeout)
        return min(self._delay, remaining)

    def rate_limited(self, exc: RateLimitError) -> None:
        """The poll was refused with 429: wait at least its Retry-After, then try again."""
        self._delay = self.backoff.next(retry_after=exc.retry_after)

    def poll_failed(self, exc: Exception) -> None:
        """A poll failed transiently after its own retries: back off and poll again.

        Re-raises ``exc`` after :data:`MAX_FAILED_POLLS` failures in a row (the provider
        is down, not slow). A read changes nothing, so failing one never ends the wait.
        """
        self._failed_polls += 1
        if self._failed_polls >= MAX_FAILED_POLLS:
            raise exc
        retry_after = exc.retry_after if isinstance(exc, RateLimitError) else None
        self._delay = self.backoff.next(retry_after=retry_after)

    def saw(self, fresh: S) -> bool:
        """Take a polled snapshot; return whether the wait is over."""
        self._failed_polls = 0
        if self.changed(self.last, fresh):
            # Something moves: follow it closely again.
            self.backoff.reset()
        self.last = fresh
        if self.settled(fresh):
            return True
        self._delay = self.backoff.next()
        return False


def follow(
    following: Following[S],
    fetch: Callable[[S], S],
    *,
    sleep: Callable[[float], None],
    clock: Callable[[], float],
    on_update: Callable[[S], None] | None = None,
) -> S:
    """Poll ``fetch`` with blocking sleeps until a snapshot settles; return it."""
    while True:
        pause = following.pause(clock())
        if pause:
            sleep(pause)
        try:
            fresh = fetch(following.last)
        except RateLimitError as exc:
            following.rate_limited(exc)
            continue
        except (ServerError, TransportError) as exc:
            following.poll_failed(exc)
            continue
        if on_update is not None:
            on_update(fresh)
        if following.saw(fresh):
            return fresh


async def follow_async(
    following: Following[S],
    fetch: Callable[[S], Awaitable[S]],
    *,
    on_update: Callable[[S], None] | None = None,
) -> S:
    """:func:`follow` with ``asyncio.sleep`` and the running loop's clock."""
    loop = asyncio.get_running_loop()
    while True:
        pause = following.pause(loop.time())
        if pause:
            await asyncio.sleep(pause)
        try:
            fresh = await fetch(following.last)
        except RateLimitError as exc:
            following.rate_limited(exc)
            continue
        except (ServerError, TransportError) as exc:
            following.poll_failed(exc)
            continue
        if on_update is not None:
            on_update(fresh)
        if following.saw(fresh):
            return fresh


def poll_backoff(poll: float | None, max_poll: float | None) -> PollBackoff:
    """Delays starting at ``poll`` (default 5 s), growing to ``max_poll`` (default 60 s)."""
    initial = DEFAULT_POLL if poll is None else poll
    cap = max_poll if max_poll is not None else max(DEFAULT_MAX_POLL, initial)
    return PollBackoff(initial=initial, cap=cap)


def job_following(
    job: Job, *, start: float, timeout: float | None, poll: float | None,
    max_poll: float | None,
) -> Following[Job]:
    """The rules for waiting until a job ends."""
    return Following(
        last=job, start=start, timeout=timeout, backoff=poll_backoff(poll, max_poll),
        settled=lambda j: j.is_terminal,
        changed=lambda a, b: a.status != b.status or a.progress != b.progress,
        timed_out=_job_timed_out,
    )


def _job_timed_out(job: Job, timeout: float) -> JobTimeoutError:
    return JobTimeoutError(
        f"Job {job.provider}:{job.id} is still {job.status.value} after {timeout:g} s; "
        "it goes on at the provider (wait again, or cancel it).",
        job,
    )


def succeeded_or_raise(job: Job) -> Job:
    """The job if it succeeded, else :class:`JobFailedError` with the provider's reason."""
    if job.status is JobStatus.SUCCEEDED:
        return job
    detail = ""
    if job.error is not None:
        code = f"{job.error.code}: " if job.error.code else ""
        detail = f": {code}{job.error.message}"
    raise JobFailedError(
        f"Job {job.provider}:{job.id} ended {job.status.value} "
        f"(provider status {job.provider_status!r}){detail}",
        job,
    )


def endpoint_following(
    job: Job, endpoint: ModelEndpoint, *, start: float, timeout: float | None,
    poll: float | None, max_poll: float | None,
) -> Following[ModelEndpoint]:
    """The rules for waiting until a deployment of ``job``'s model is ready (or failed)."""

    def timed_out(last: ModelEndpoint, seconds: float) -> JobTimeoutError:
        return JobTimeoutError(
            f"The deployment of {job.provider}:{job.id} is still {last.state.value} after "
            f"{seconds:g} s; it goes on at the provider (billed while it is up). Check it "
            f"with `tuneport endpoint {job.provider}:{job.id}`.",
            job,
        )

    return Following(
        last=endpoint, start=start, timeout=timeout, backoff=poll_backoff(poll, max_poll),
        settled=lambda e: e.state in (EndpointState.READY, EndpointState.FAILED),
        changed=lambda a, b: a.state != b.state,
        timed_out=timed_out,
    )


def ready_or_raise(job: Job, endpoint: ModelEndpoint) -> ModelEndpoint:
    """The endpoint if it is ready, else :class:`ProviderError` saying the deployment failed."""
    if endpoint.state is EndpointState.READY:
        return endpoint
    notes = f" ({'; '.join(endpoint.notes)})" if endpoint.notes else ""
    raise ProviderError(
        f"The deployment of job {job.id} ({endpoint.deployment_id or endpoint.model}) is "
        f"{endpoint.state.value}{notes}; it is not serving the model.",
        provider=job.provider,
    )
