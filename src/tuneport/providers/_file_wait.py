"""Waiting for a provider to finish processing an uploaded file, one request at a time.

A wait is many requests (reads, now and then a request to process the file again); each
goes through ``call``, which the client makes its per-request retry, so one failed read
costs that read's retries and never the wait. A file the provider stopped processing
(Together's ``PENDING``: the upload's ``/preprocess`` never arrived, or the uploader was
killed after the ``PUT``) is asked to be processed again instead of being waited on until
the timeout; an adapter that cannot revive a file raises ``NotFoundError`` after deleting
it, so the caller uploads it afresh.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from functools import partial
from typing import TYPE_CHECKING, Literal, TypeVar

from tuneport._exceptions import RateLimitError, ServerError, TransportError
from tuneport._models import RemoteFile

if TYPE_CHECKING:
    from tuneport.providers.base import Provider

__all__ = ["FileReadiness", "wait_until_ready"]

T = TypeVar("T")

#: ``ready``: usable in a job. ``processing``: the provider works on it; read it again.
#: ``unprocessed``: nothing will move it unless it is asked to be processed again.
FileReadiness = Literal["ready", "processing", "unprocessed"]

#: Seconds a file may stay ``unprocessed`` after a request to process it again before the
#: request is repeated (a provider may show the old state for a moment).
REPROCESS_AFTER = 30.0

#: Reads in a row that may fail transiently (after their own retries) before the wait gives
#: up: a provider that answers nothing for that long is down, not slow.
MAX_FAILED_READS = 10


def _once(fn: Callable[[], T]) -> T:
    return fn()


def wait_until_ready(
    adapter: Provider,
    file: RemoteFile,
    *,
    timeout: float = 600.0,
    poll: float | None = None,
    max_poll: float = 10.0,
    call: Callable[[Callable[[], RemoteFile]], RemoteFile] = _once,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
    reprocess_after: float = REPROCESS_AFTER,
) -> RemoteFile:
    """Read ``file`` until the provider says it is ready; return the ready file.

    Args:
        adapter: the provider that holds the file.
        file: the file as the upload returned it.
        timeout: seconds to wait in all.
        poll: the first delay between reads (default: the adapter's ``file_poll_interval``,
            else 1 s); it grows by half each read up to ``max_poll``.
        call: runs each single request (the client passes its retry).
        sleep: the sleep between reads.
        clock: the clock the timeout is measured on.
        reprocess_after: seconds between two requests to process a stuck file again.

    Raises:
        DatasetError: the provider rejected the file.
        NotFoundError: the file is gone (or was deleted as beyond repair): upload again.
        TransportError: still not ready after ``timeout`` seconds.
    """
    start = clock()
    current, fresh = file, False
    if poll is None:
        poll = getattr(adapter, "file_poll_interval", 1.0)
    delay = max(0.0, float(poll))
    reprocessed_at: float | None = None
    failed_reads = 0
    while True:
        state = adapter.file_readiness(current, fresh=fresh)
        if state == "ready":
            return current
        now = clock()
        if state == "unprocessed" and (
            reprocessed_at is None or now - reprocessed_at >= reprocess_after
        ):
            try:
                current, fresh = call(partial(adapter.reprocess_file, current)), False
            except (RateLimitError, ServerError, TransportError):
                # Asking again is harmless: the next round asks again.
                failed_reads += 1
                if failed_reads >= MAX_FAILED_READS:
                    raise
            else:
                reprocessed_at, failed_reads = now, 0
                continue
        if now - start >= timeout:
            raise TransportError(
                f"file {file.id} was still {current.status or 'not ready'} after "
                f"{timeout:g} s; submit again later (the upload is kept) or raise the timeout.",
                provider=adapter.name,
            )
        if fresh or current.status is not None:
            sleep(min(delay, max(0.0, timeout - (now - start))))
            delay = min(max_poll, max(delay * 1.5, 0.001))
        try:
            current, fresh = call(partial(adapter.refresh_file, current)), True
            failed_reads = 0
        except (RateLimitError, ServerError, TransportError):
            # A read changes nothing: after its retries failed, the wait goes on.
            failed_reads += 1
            if failed_reads >= MAX_FAILED_READS:
                raise
