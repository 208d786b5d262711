"""Submitting exactly once: uploads remembered by content, creates keyed and adopted.

The ledger records the intent to create (provider, scope, idempotency key) *before* the
create is sent and the job id after. Before the first create of a key, and before each
retry of it, the provider is asked for a job carrying the key, so a job made by another
machine, before a ledger was deleted, or by a request whose answer was lost is adopted,
never doubled. Processes sharing a home take turns per key (an OS file lock). So a crash
between create and record, a dropped connection, a 5xx and a racing process all end with
exactly one job; see docs/reliability.md.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

from tuneport._config import RetryPolicy
from tuneport._exceptions import ConflictError, NotFoundError
from tuneport._models import FineTuneSpec, Job, JobStatus, RemoteFile, RenderedDataset
from tuneport.client.preparing import Prepared, ProgressCallback
from tuneport.client.retrying import delay_before_retry, is_transient, retrying
from tuneport.ledger import Ledger
from tuneport.providers._file_wait import wait_until_ready

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
        policy: how often and how long transient failures are retried (per request).
        sleep: the sleep between retries and file reads (swappable in tests).
        refresh: reads a job's current state (for a submission already created).
        clock: the clock a file wait's timeout is measured on.
        file_timeout: seconds to wait for the provider to process an uploaded file.
    """

    ledger: Ledger
    policy: RetryPolicy
    sleep: Callable[[float], None]
    refresh: Callable[[Job], Job]
    clock: Callable[[], float] = time.monotonic
    file_timeout: float = 600.0

    def _retry(self, fn: Callable[[], T]) -> T:
        result: T = retrying(self.policy, self.sleep)(fn)
        return result

    def submit(self, prep: Prepared, key: str, notify: ProgressCallback) -> Job:
        """The job for ``key``: the one recorded, one found at the provider, or a new one.

        Processes sharing the home take turns per key (a file lock the OS releases when
        its holder dies), so of several submitting one thing at once, one creates and the
        others find its job in the ledger.
        """
        scope = prep.adapter.ledger_scope
        with self.ledger.submission_lock(
            prep.provider, key, scope=scope,
            on_wait=lambda: notify("waiting_for_lock", {"idempotency_key": key}),
        ):
            return self._submit(prep, key, scope, notify)

    def _submit(self, prep: Prepared, key: str, scope: str, notify: ProgressCallback) -> Job:
        ledger, adapter, name = self.ledger, prep.adapter, prep.provider
        previous = ledger.get_submission(name, key, scope=scope)
        if previous is not None and previous.state == "created" and previous.job_id:
            notify("existing", {"job_id": previous.job_id, "idempotency_key": key})
            return self.refresh(Job(
                id=previous.job_id, provider=name, status=JobStatus.UNKNOWN,
                provider_status="", idempotency_key=key,
            ))
        # Ask the provider before the first create too, not only after a recorded intent:
        # the job may come from another machine, a deleted ledger or a lost response. One
        # request (a metadata-filtered list at OpenAI, the job list at Together, a GET of
        # the key's job id at Fireworks).
        found = self._retry(lambda: adapter.find_job(key))
        if found is not None:
            return self._adopted(name, key, scope, found, notify)

        file = self.upload(prep, prep.rendered, notify)
        vfile = self.upload(prep, prep.validation, notify) if prep.validation else None

        ledger.begin_submission(
            name, key, prep.spec.normalized(), prep.rendered.fingerprint, scope=scope
        )
        notify("creating", {"idempotency_key": key})
        try:
            job, adopted = self._create_adopting(adapter, file, prep.spec, key, vfile)
        except Exception as exc:
            if not is_transient(exc):
                # The provider refused the request itself: no job exists for this key.
                ledger.abandon_submission(name, key, scope=scope)
            raise
        if adopted:
            return self._adopted(name, key, scope, job, notify)
        job = with_key(job, key)
        ledger.complete_submission(name, key, job, scope=scope)
        notify("created", {"job_id": job.id, "idempotency_key": key})
        return job

    def _adopted(
        self, name: str, key: str, scope: str, job: Job, notify: ProgressCallback
    ) -> Job:
        job = with_key(job, key)
        self.ledger.complete_submission(name, key, job, scope=scope)
        notify("adopted", {"job_id": job.id, "idempotency_key": key})
        return job

    def _find(self, adapter: Provider, key: str) -> Job | None:
        return self._retry(lambda: adapter.find_job(key))

    def _create_adopting(
        self,
        adapter: Provider,
        file: RemoteFile,
        spec: FineTuneSpec,
        key: str,
        vfile: RemoteFile | None,
    ) -> tuple[Job, bool]:
        """Create the job; before every retry, adopt the job a lost attempt created.

        The create is one request with its own attempts; the look before each retry is
        another request with its own retries, so a failed look never uses up the create's.
        """
        attempts = max(1, self.policy.attempts)
        for attempt in range(1, attempts + 1):
            try:
                return adapter.create_job(file, spec, key, validation_file=vfile), False
            except ConflictError:
                # Fireworks answers 409 when a job with our chosen id exists already.
                found = self._find(adapter, key)
                if found is None:
                    raise
                return found, True
            except Exception as exc:
                if not is_transient(exc) or attempt == attempts:
                    raise
                self.sleep(delay_before_retry(self.policy, attempt, exc))
            # The failed create may have made the job (a lost answer): look first.
            found = self._find(adapter, key)
            if found is not None:
                return found, True
        raise AssertionError("unreachable: the last attempt returns or raises")

    def wait_file(self, adapter: Provider, file: RemoteFile) -> RemoteFile:
        """Wait until the provider has processed ``file``, each read retried on its own."""
        return wait_until_ready(
            adapter, file, timeout=self.file_timeout, call=self._retry, sleep=self.sleep,
            clock=self.clock,
        )

    def upload(
        self, prep: Prepared, rendered: RenderedDataset, notify: ProgressCallback
    ) -> RemoteFile:
        """The provider's file for ``rendered``: reused when this content is there already.

        A file the provider lost, or deleted as beyond repair (a Together file whose bytes
        never arrived), is uploaded again, once.
        """
        ledger, adapter, name = self.ledger, prep.adapter, prep.provider
        scope = adapter.ledger_scope
        known = ledger.find_upload(name, rendered.fingerprint, scope=scope)
        if known is not None:
            file = RemoteFile(
                provider=name, id=known.remote_id, fingerprint=rendered.fingerprint,
                n_bytes=known.n_bytes,
            )
            try:
                ready = self.wait_file(adapter, file)
            except NotFoundError:
                # Deleted at the provider since: upload again.
                ledger.forget_upload(name, rendered.fingerprint, scope=scope)
            else:
                notify("upload_reused", {"file_id": ready.id, "bytes": rendered.n_bytes})
                return ready
        for last_try in (False, True):
            notify("uploading", {"bytes": rendered.n_bytes, "path": str(rendered.path)})
            file = self._retry(lambda: adapter.upload(rendered))
            ledger.record_upload(
                name, rendered.fingerprint, file.id, rendered.n_bytes, scope=scope
            )
            try:
                file = self.wait_file(adapter, file)
            except NotFoundError:
                ledger.forget_upload(name, rendered.fingerprint, scope=scope)
                if last_try:
                    raise
                continue
            notify("uploaded", {"file_id": file.id, "bytes": rendered.n_bytes})
            return file
        raise AssertionError("unreachable: the last try returns or raises")
