"""Moving a large file's bytes: digests, streamed bodies with progress, retried transfers.

Shared by the large-file flows of the hosted adapters (OpenAI Uploads API parts, Together
multipart parts, Fireworks signed-URL PUT). Byte PUTs to storage URLs go through plain
``httpx`` (as the SDKs themselves do), so their failures are turned into tuneport's
transient errors here before :func:`tuneport.providers._hosted.with_retries` sees them.
"""

from __future__ import annotations

import hashlib
import ipaddress
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TypeVar
from urllib.parse import urlparse

from tuneport._exceptions import (
    BadRequestError,
    ProviderError,
    RateLimitError,
    ServerError,
    TransportError,
)
from tuneport.providers._hosted import retry_after_seconds, with_retries

__all__ = ["file_digest", "read_chunks", "retried_transfer", "storage_url_allowed"]

T = TypeVar("T")

#: Bytes read (and reported) at a time while streaming a body.
CHUNK_BYTES = 1024 * 1024


def file_digest(path: Path, algorithm: str) -> str:
    """The hex digest of a file, read in chunks (a large file never sits in memory)."""
    digest = hashlib.new(algorithm)
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(CHUNK_BYTES), b""):
            digest.update(block)
    return digest.hexdigest()


def read_chunks(path: Path, report: Callable[[int], None],
                chunk_bytes: int = CHUNK_BYTES) -> Iterator[bytes]:
    """The file's bytes in chunks, reporting the running total after each one is taken."""
    sent = 0
    report(0)
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(chunk_bytes), b""):
            yield block
            sent += len(block)
            report(sent)


def storage_url_allowed(url: str) -> bool:
    """Whether bytes may go to ``url``: https anywhere, plain http only on loopback.

    A signed URL comes from the provider's API; refusing plain http elsewhere keeps the
    data from crossing a network unencrypted (the Fireworks SDK's own helper refuses any
    non-https URL; loopback is allowed so the emulator can stand in for the storage).
    """
    parsed = urlparse(url)
    if parsed.scheme == "https":
        return True
    if parsed.scheme != "http" or not parsed.hostname:
        return False
    if parsed.hostname == "localhost":
        return True
    try:
        return ipaddress.ip_address(parsed.hostname).is_loopback
    except ValueError:
        return False


def retried_transfer(
    fn: Callable[[], T],
    *,
    provider: str,
    what: str,
    attempts: int,
    backoff: float,
    sleep: Callable[[float], None] = time.sleep,
) -> T:
    """Call ``fn`` (one part or one PUT) and again after a transient failure.

    ``httpx`` status errors become tuneport's errors: 429 and 5xx (and 408) are retried,
    other statuses raise at once as :class:`BadRequestError` / :class:`ProviderError`;
    connection failures and timeouts are retried as :class:`TransportError`.
    """

    def once() -> T:
        import httpx

        # Raised after the ``except`` block, so not even as ``__context__`` does httpx's
        # exception travel on: its message carries the signed URL, a short-lived credential
        # that must not reach logs. Status and kind of failure are kept in the message.
        error: ProviderError
        try:
            return fn()
        except httpx.HTTPStatusError as exc:
            error = _status_error(provider, what, exc.response)
        except httpx.TransportError as exc:
            error = TransportError(f"{what} was interrupted: {type(exc).__name__}",
                                   provider=provider)
        raise error

    return with_retries(once, attempts=attempts, initial_backoff=backoff, sleep=sleep)


def _status_error(provider: str, what: str, response: object) -> ProviderError:
    status = int(getattr(response, "status_code", 0) or 0)
    text = f"{what} failed ({status}) at the storage URL"
    if status == 429:
        headers = getattr(response, "headers", None)
        return RateLimitError(text, provider=provider, status_code=status,
                              retry_after=retry_after_seconds(headers))
    if status >= 500 or status == 408:
        return ServerError(text, provider=provider, status_code=status)
    if 400 <= status < 500:
        return BadRequestError(
            f"{text}; the signed URL was refused (expired, or the size did not match). "
            "Submit again to get a fresh one.",
            provider=provider, status_code=status,
        )
    return ProviderError(text, provider=provider, status_code=status or None)
