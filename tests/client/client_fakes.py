"""A small in-memory backend for unit tests of the client's orchestration only.

The real adapters are tested against the emulator; this backend exists to drive the
client into states a real service rarely shows on demand (a crash between create and
record, a response lost after the job was created, repeated 5xx, 429 with Retry-After).
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, ClassVar

from tuneport._config import ProviderSettings
from tuneport._exceptions import (
    BadRequestError,
    NotFoundError,
    RateLimitError,
    ServerError,
    TransportError,
)
from tuneport._models import (
    Capability,
    EndpointState,
    FineTuneSpec,
    Job,
    JobErrorInfo,
    JobEvent,
    JobStatus,
    ModelEndpoint,
    RemoteFile,
    RenderedDataset,
)
from tuneport.providers.base import Provider, ProviderQuote


@dataclass
class Backend:
    """The 'remote service': state survives clients, like a real provider's."""

    files: dict[str, bytes] = field(default_factory=dict)
    jobs: dict[str, dict[str, Any]] = field(default_factory=dict)
    upload_calls: int = 0
    create_calls: int = 0
    find_calls: int = 0
    # Faults, consumed one per create call, in order: "lost" (create, then drop the
    # response), "5xx", "429", "400".
    create_faults: list[str] = field(default_factory=list)
    get_faults: list[str] = field(default_factory=list)
    # How many get_job calls a job takes to move queued -> running -> final.
    steps_per_state: int = 1
    _ids: Iterator[int] = field(default_factory=lambda: itertools.count(1))

    def new_id(self, prefix: str) -> str:
        return f"{prefix}-{next(self._ids)}"


class FakeProvider(Provider):
    """Provider contract over :class:`Backend`."""

    name: ClassVar[str] = "fake"
    capabilities: ClassVar[frozenset[Capability]] = frozenset(
        {Capability.LORA, Capability.FULL, Capability.EVENTS, Capability.ESTIMATE_API}
    )
    STATUS_MAP: ClassVar[dict[str, JobStatus]] = {
        "queued": JobStatus.QUEUED,
        "running": JobStatus.RUNNING,
        "done": JobStatus.SUCCEEDED,
        "failed": JobStatus.FAILED,
        "cancelled": JobStatus.CANCELLED,
    }
    backend: ClassVar[Backend]

    def __init__(self, settings: ProviderSettings) -> None:
        self.settings = settings
        self.closed = False

    def upload(self, rendered: RenderedDataset) -> RemoteFile:
        self.backend.upload_calls += 1
        file_id = self.backend.new_id("file")
        self.backend.files[file_id] = rendered.path.read_bytes()
        return RemoteFile(provider=self.name, id=file_id, fingerprint=rendered.fingerprint)

    def wait_file_ready(self, file: RemoteFile, *, timeout: float = 600.0) -> RemoteFile:
        if file.id not in self.backend.files:
            raise NotFoundError(f"file {file.id} not found", provider=self.name, status_code=404)
        return file

    def create_job(self, file: RemoteFile, spec: FineTuneSpec, idempotency_key: str,
                   validation_file: RemoteFile | None = None) -> Job:
        self.backend.create_calls += 1
        fault = self.backend.create_faults.pop(0) if self.backend.create_faults else None
        if fault == "5xx":
            raise ServerError("boom", provider=self.name, status_code=503)
        if fault == "429":
            raise RateLimitError("slow down", provider=self.name, retry_after=0.25)
        if fault == "400":
            raise BadRequestError("bad epochs", provider=self.name, status_code=400)
        job_id = self.backend.new_id("job")
        self.backend.jobs[job_id] = {
            "status": "queued", "key": idempotency_key, "spec": spec.normalized(),
            "file": file.id, "polls": 0,
            "fail": bool(spec.provider_options.get("fail")), "events": ["created"],
        }
        if fault == "lost":
            raise TransportError("connection dropped", provider=self.name)
        return self._job(job_id)

    def get_job(self, job_id: str) -> Job:
        fault = self.backend.get_faults.pop(0) if self.backend.get_faults else None
        if fault == "429":
            raise RateLimitError("slow down", provider=self.name, retry_after=7.0)
        data = self._data(job_id)
        data["polls"] += 1
        moves = data["polls"] % self.backend.steps_per_state == 0
        if data["status"] in ("queued", "running") and moves:
            if data["status"] == "queued":
                data["status"] = "running"
            else:
                data["status"] = "failed" if data["fail"] else "done"
            data["events"].append(data["status"])
        return self._job(job_id)

    def list_jobs(self, *, limit: int | None = None) -> Iterator[Job]:
        for job_id in reversed(list(self.backend.jobs)):
            yield self._job(job_id)

    def cancel_job(self, job_id: str) -> Job:
        data = self._data(job_id)
        if data["status"] in ("queued", "running"):
            data["status"] = "cancelled"
            data["events"].append("cancelled")
        return self._job(job_id)

    def events(self, job_id: str, after: str | None = None) -> list[JobEvent]:
        data = self._data(job_id)
        out = [
            JobEvent(id=f"{job_id}-ev{i}", job_id=job_id,
                     created_at=datetime(2026, 1, 1, 0, i, tzinfo=UTC), message=f"status {msg}")
            for i, msg in enumerate(data["events"])
        ]
        if after is not None:
            ids = [e.id for e in out]
            if after in ids:
                out = out[ids.index(after) + 1:]
        return out

    def endpoint(self, job: Job) -> ModelEndpoint:
        return ModelEndpoint(provider=self.name, model=f"ft:{job.id}", base_url="http://fake/v1",
                             kind="serverless", state=EndpointState.READY)

    def find_job(self, idempotency_key: str) -> Job | None:
        self.backend.find_calls += 1
        for job_id, data in self.backend.jobs.items():
            if data["key"] == idempotency_key:
                return self._job(job_id)
        return None

    def quote(self, file: RemoteFile, spec: FineTuneSpec) -> ProviderQuote:
        return ProviderQuote(provider=self.name, train_tokens=len(self.backend.files[file.id]))

    def close(self) -> None:
        self.closed = True

    def _data(self, job_id: str) -> dict[str, Any]:
        try:
            return self.backend.jobs[job_id]
        except KeyError:
            raise NotFoundError(
                f"job {job_id} not found", provider=self.name, status_code=404
            ) from None

    def _job(self, job_id: str) -> Job:
        data = self.backend.jobs[job_id]
        status = self.normalize_status(data["status"])
        return Job(
            id=job_id, provider=self.name, status=status, provider_status=data["status"],
            base_model=data["spec"]["model"],
            fine_tuned_model=f"ft:{job_id}" if status is JobStatus.SUCCEEDED else None,
            error=JobErrorInfo(code="oom", message="ran out of memory")
            if status is JobStatus.FAILED else None,
            raw={"id": job_id, "status": data["status"], "wandb_api_key": "wk-secret-123"},
        )


def chat_records(n: int = 12, tag: str = "") -> list[dict[str, Any]]:
    return [
        {"messages": [
            {"role": "user", "content": f"question {i}{tag}"},
            {"role": "assistant", "content": f"answer {i}{tag}"},
        ]}
        for i in range(n)
    ]
