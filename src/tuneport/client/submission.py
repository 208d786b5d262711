"""Submitting exactly once: uploads remembered by content, creates keyed and adopted.

The ledger records the intent to create (provider, idempotency key) *before* the create
is sent and the job id after. A submission found half-done (a crash, a kill, a lost
answer) is resolved by asking the provider for a job carrying the key, never by creating
blindly; each retry of a create is preceded by the same look. So a crash between create
and record, a dropped connection or a 5xx all end with exactly one job.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

from tuneport._config import RetryPolicy
from tuneport._exceptions import ConflictError, NotFoundError
from tuneport._models import FineTuneSpec, Job, JobStatus, RemoteFile, RenderedDataset
from tuneport.client.preparing import Prepared, ProgressCallback
from tuneport.client.retrying import is_transient, retrying
from tuneport.ledger import Ledger

if TYPE_CHECKING:
    from tuneport.providers.base import Provider

__all__ = ["Submitter", "derive_idempotency_key", "with_key"]

T = TypeVar("T")


def derive_idempotency_key(
    fingerprint: str,
    provider: str,
    spec: dict[str, Any],
    validation_fingerprint: str | None = None,
) -> str:
    """The default idempotency key: the same data, provider and spec give the same key.

    It is short and ``[a-z0-9-]`` only, so every provider can carry it (OpenAI metadata,
    Fireworks job id, Together suffix).
    """
    payload = json.dumps(
        {
            "fingerprint": fingerprint,
            "provider": provider,
            "spec": spec,
            "validation": validation_fingerprint,
        },
        sort_keys=True,
        separators=(",", ":"),
        default=str,
    )
    return "tp-" + hashlib.sha256(payload.encode("utf-8")).hexdigest()[:32]


def with_key(job: Job, key: str) -> Job:
    """``job`` carrying the idempotency ``key`` (providers do not all echo it back)."""
    return job if job.idempotency_key == key else job.model_copy(update={"idempotency_key": key})


@dataclass
class Submitter:
    """Upload and create for one prepared submission, recording each step in the ledger.

    Args:
        ledger: where uploads, intents and jobs are recorded.
        policy: how often and how long transient failures are retried.
        sleep: the sleep between retries (swappable in tests).
        refresh: reads a job's current state (for a submission already created).
    """

    ledger: Ledger
    policy: RetryPolicy
    sleep: Callable[[float], None]
    refresh: Callable[[Job], Job]

    def _retry(self, fn: Callable[[], T]) -> T:
        result: T = retrying(self.policy, self.sleep)(fn)
        return result

    def submit(self, prep: Prepared, key: str, notify: ProgressCallback) -> Job:
        """The job for ``key``: the one recorded, one a lost attempt created, or a new one."""
        ledger, adapter, name = self.ledger, prep.adapter, prep.provider
        previous = ledger.get_submission(name, key)
        if previous is not None and previous.state == "created" and previous.job_id:
            notify("existing", {"job_id": previous.job_id, "idempotency_key": key})
            return self.refresh(Job(
                id=previous.job_id, provider=name, status=JobStatus.UNKNOWN,
                provider_status="", idempotency_key=key,
            ))
        if previous is not None:
            # A create was sent before and its outcome never recorded (crash, kill, lost
            # response): the job may exist. Look before creating another.
            found = self._retry(lambda: adapter.find_job(key))
            if found is not None:
                return self._adopted(name, key, found, notify)

        file = self.upload(prep, prep.rendered, notify)
        vfile = self.upload(prep, prep.validation, notify) if prep.validation else None

        ledger.begin_submission(name, key, prep.spec.normalized(), prep.rendered.fingerprint)
        notify("creating", {"idempotency_key": key})
        try:
            job, adopted = self._create_adopting(adapter, file, prep.spec, key, vfile)
        except Exception as exc:
            if not is_transient(exc):
                # The provider refused the request itself: no job exists for this key.
                ledger.abandon_submission(name, key)
            raise
        if adopted:
            return self._adopted(name, key, job, notify)
        job = with_key(job, key)
        ledger.complete_submission(name, key, job)
        notify("created", {"job_id": job.id, "idempotency_key": key})
        return job

    def _adopted(self, name: str, key: str, job: Job, notify: ProgressCallback) -> Job:
        job = with_key(job, key)
        self.ledger.complete_submission(name, key, job)
        notify("adopted", {"job_id": job.id, "idempotency_key": key})
        return job

    def _create_adopting(
        self,
        adapter: Provider,
        file: RemoteFile,
        spec: FineTuneSpec,
        key: str,
        vfile: RemoteFile | None,
    ) -> tuple[Job, bool]:
        """Create the job; before every retry, adopt the job a lost attempt created."""
        for attempt in retrying(self.policy, self.sleep):
            with attempt:
                if attempt.retry_state.attempt_number > 1:
                    found = adapter.find_job(key)
                    if found is not None:
                        return found, True
                try:
                    return adapter.create_job(file, spec, key, validation_file=vfile), False
                except ConflictError:
                    # Fireworks answers 409 when a job with our chosen id exists already.
                    found = adapter.find_job(key)
                    if found is None:
                        raise
                    return found, True
        raise AssertionError("unreachable: tenacity re-raises the last error")

    def upload(
        self, prep: Prepared, rendered: RenderedDataset, notify: ProgressCallback
    ) -> RemoteFile:
        """The provider's file for ``rendered``: reused when this content is there already."""
        ledger, adapter, name = self.ledger, prep.adapter, prep.provider
        known = ledger.find_upload(name, rendered.fingerprint)
        if known is not None:
            file = RemoteFile(
                provider=name, id=known.remote_id, fingerprint=rendered.fingerprint,
                n_bytes=known.n_bytes,
            )
            try:
                ready = self._retry(lambda: adapter.wait_file_ready(file))
            except NotFoundError:
                # Deleted at the provider since: upload again.
                ledger.forget_upload(name, rendered.fingerprint)
            else:
                notify("upload_reused", {"file_id": ready.id, "bytes": rendered.n_bytes})
                return ready
        notify("uploading", {"bytes": rendered.n_bytes, "path": str(rendered.path)})
        file = self._retry(lambda: adapter.upload(rendered))
        ledger.record_upload(name, rendered.fingerprint, file.id, rendered.n_bytes)
        file = self._retry(lambda: adapter.wait_file_ready(file))
        notify("uploaded", {"file_id": file.id, "bytes": rendered.n_bytes})
        return file
