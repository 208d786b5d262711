"""Together's multipart upload, through the SDK's own uploader, with each part retried.

The ``together`` SDK (3.x) switches ``files.upload`` to its ``MultipartUploadManager``
above ``MULTIPART_THRESHOLD_GB`` (5 GiB): ``POST /v1/files/multipart/initiate`` returns a
presigned URL per part, the parts are PUT (4 at a time, ETag kept), then
``POST /v1/files/multipart/complete`` (``…/abort`` when anything fails). tuneport calls
that uploader itself so that its own threshold applies (settable, so tests can lower it),
and subclasses it for one thing the SDK lacks: a part whose PUT fails is sent again, alone,
instead of the whole upload being aborted. Everything else (the wire, the part sizes, the
concurrency) stays the SDK's.

Imported only when a multipart upload happens: it imports the SDK.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from together.lib.resources.files import FileUploadProgress, MultipartUploadManager

from tuneport._exceptions import TuneportError
from tuneport.providers._transfers import retried_transfer

__all__ = ["upload_multipart"]


class _PartRetryingUploader(MultipartUploadManager):
    """The SDK's multipart uploader; a failed part is retried before the upload aborts."""

    attempts: int = 4
    backoff: float = 0.5
    sleep: Callable[[float], None] = time.sleep

    def _upload_single_part(self, part_info: dict[str, Any], part_data: bytes) -> str:
        number = part_info.get("PartNumber", part_info.get("part_number", "?"))
        parent = super()._upload_single_part

        return retried_transfer(
            lambda: parent(part_info, part_data),
            provider="together", what=f"uploading part {number}",
            attempts=self.attempts, backoff=self.backoff, sleep=self.sleep,
        )


def upload_multipart(
    client: Any,
    path: Path,
    sha256: str,
    report: Callable[[int], None],
    *,
    attempts: int,
    backoff: float,
    sleep: Callable[[float], None] = time.sleep,
) -> Any:
    """Upload ``path`` for fine-tuning in parts; return the SDK's ``FileResponse``.

    Args:
        client: the ``together.Together`` client.
        path: the file.
        sha256: its checksum (Together dedupes on it: an identical file answers 409,
            which the SDK raises as ``FileAlreadyExistsError`` carrying the existing id).
        report: called with the bytes accepted so far, after each part.
        attempts: tries per part.
        backoff: seconds before the first retry of a part.
        sleep: the wait before a retry (the adapter's, so tests can pass a no-op).
    """
    uploader = _PartRetryingUploader(client)
    uploader.attempts = attempts
    uploader.backoff = backoff
    uploader.sleep = sleep

    def progress(event: FileUploadProgress) -> None:
        report(event.uploaded_bytes)

    failure: TuneportError
    try:
        return uploader.upload("/v1/files", path, sha256, "fine-tune",
                               progress_callback=progress)
    except Exception as exc:
        # A part that failed for good comes back wrapped in a bare Exception (the SDK has
        # aborted the upload by then); what ended its retries is the cause. Raised outside
        # this block, so the wrapper does not trail along as its context.
        if not isinstance(exc.__cause__, TuneportError):
            raise
        failure = exc.__cause__
    raise failure
