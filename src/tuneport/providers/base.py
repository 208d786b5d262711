"""The provider contract: what every backend (hosted or local) implements.

Deliberately small, like an httpx transport: retries, the ledger, idempotency, waiting
and rendering choices live in :class:`tuneport.Client`; an adapter only translates
between tuneport's objects and one provider's API.
"""

from __future__ import annotations

import abc
from collections.abc import Iterator, Mapping
from decimal import Decimal
from typing import TYPE_CHECKING, Any, ClassVar, Self

from pydantic import BaseModel, ConfigDict, Field

from tuneport._models import (
    Capability,
    Checkpoint,
    FineTuneSpec,
    Job,
    JobEvent,
    JobStatus,
    MetricPoint,
    ModelEndpoint,
    RemoteFile,
    RenderedDataset,
)

if TYPE_CHECKING:
    from tuneport._config import ProviderSettings
    from tuneport.providers._file_wait import FileReadiness

__all__ = ["Provider", "ProviderQuote", "map_status"]


def map_status(
    status_map: Mapping[str, JobStatus], raw: str | None, *, provider: str
) -> JobStatus:
    """Map a raw provider status; an unmapped value becomes ``UNKNOWN`` with a warning."""
    if raw is not None and raw in status_map:
        return status_map[raw]
    import warnings

    warnings.warn(
        f"{provider} returned a job status tuneport does not know: {raw!r}; "
        "reported as 'unknown' (the raw value is kept in job.provider_status).",
        UnknownStatusWarning,
        stacklevel=2,
    )
    return JobStatus.UNKNOWN


class UnknownStatusWarning(UserWarning):
    """A provider returned a status value tuneport has no mapping for."""


class ProviderQuote(BaseModel):
    """A price quote computed by the provider itself (Together estimate-price,
    Fireworks ``:estimateCost``), as opposed to tuneport's catalog estimate.

    ``available`` is False when the provider declined to estimate (``reason`` says why);
    ``train_tokens`` is the number of tokens it will bill for training.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    provider: str
    available: bool = True
    total_usd: Decimal | None = None
    train_tokens: int | None = None
    eval_tokens: int | None = None
    allowed_to_proceed: bool | None = None
    reason: str | None = None
    raw: dict[str, Any] = Field(default_factory=dict, repr=False)


class Provider(abc.ABC):
    """Base class of every backend.

    Subclasses set ``name``, ``capabilities`` and ``STATUS_MAP`` and implement the
    abstract methods. Optional operations raise ``UnsupportedFeatureError`` by default.
    """

    name: ClassVar[str]
    #: What the backend offers (methods, events, estimates, deployments). An empty set offers
    #: nothing, so an adapter that forgets to declare it is refused every method, not
    #: trusted with all of them (``tuneport.testing.ProviderConformance`` checks it).
    capabilities: ClassVar[frozenset[Capability]] = frozenset()
    STATUS_MAP: ClassVar[Mapping[str, JobStatus]] = {}

    #: How many times one request that is safe to repeat may be sent inside an adapter
    #: call made of several requests (the parts of an upload). The Client sets it from its
    #: RetryPolicy, so a failed part costs that part's retries, not the whole upload.
    request_attempts: int = 1

    @classmethod
    def from_settings(cls, settings: ProviderSettings) -> Self:
        """Build the provider from its resolved settings (what the registry calls).

        The default passes the settings as the one positional argument; adapters whose
        constructor differs override this.
        """
        return cls(settings)  # type: ignore[call-arg]

    @property
    def ledger_scope(self) -> str:
        """Where this adapter's ledger records point: its name, base URL and account.

        The ledger keys uploads, submissions, jobs and deployments by it, so records made
        against one base URL or account (the emulator, another organisation) are never
        reused against another. Never contains a secret: hosted adapters identify the
        account by its id or by a one-way hash of the key.
        """
        return self.name

    def normalize_status(self, raw: str | None) -> JobStatus:
        """The normalized status for a raw one (``UNKNOWN`` with a warning if unmapped)."""
        return map_status(self.STATUS_MAP, raw, provider=self.name)

    @abc.abstractmethod
    def upload(self, rendered: RenderedDataset) -> RemoteFile:
        """Upload a rendered dataset; return once the provider has accepted the bytes."""

    def wait_file_ready(self, file: RemoteFile, *, timeout: float = 600.0) -> RemoteFile:
        """Wait for provider-side file validation where the provider has it.

        Reads the file with :meth:`refresh_file` until :meth:`file_readiness` says it is
        ready, asking :meth:`reprocess_file` to revive a file the provider stopped
        processing. The client runs the same loop with its retry around each request.
        """
        from tuneport.providers._file_wait import wait_until_ready

        return wait_until_ready(self, file, timeout=timeout)

    def refresh_file(self, file: RemoteFile) -> RemoteFile:
        """One request: the file as the provider sees it now (default: as given)."""
        return file

    def file_readiness(self, file: RemoteFile, *, fresh: bool) -> FileReadiness:
        """Whether ``file`` (as last read; ``fresh`` if by :meth:`refresh_file`) is ready.

        Raises:
            DatasetError: the provider rejected the file.
        """
        return "ready"

    def reprocess_file(self, file: RemoteFile) -> RemoteFile:
        """One request: ask the provider to process a stuck (``unprocessed``) file again.

        Raises:
            NotFoundError: the file cannot be revived and was deleted: upload it again.
        """
        from tuneport._exceptions import UnsupportedFeatureError

        raise UnsupportedFeatureError(f"{self.name} cannot process a file again.")

    @abc.abstractmethod
    def create_job(self, file: RemoteFile, spec: FineTuneSpec, idempotency_key: str,
                   validation_file: RemoteFile | None = None) -> Job:
        """Create a job; the key must travel to the provider so ``find_job`` can find it."""

    @abc.abstractmethod
    def get_job(self, job_id: str) -> Job:
        """The job's current state."""

    @abc.abstractmethod
    def list_jobs(self, *, limit: int | None = None) -> Iterator[Job]:
        """Jobs at the provider, newest first."""

    @abc.abstractmethod
    def cancel_job(self, job_id: str) -> Job:
        """Ask the provider to cancel; returns the job as the provider then reports it."""

    @abc.abstractmethod
    def events(self, job_id: str, after: str | None = None) -> list[JobEvent]:
        """Events of a job in chronological order, optionally only those after ``after``."""

    @abc.abstractmethod
    def endpoint(self, job: Job) -> ModelEndpoint:
        """How to call the fine-tuned model (without creating anything)."""

    @abc.abstractmethod
    def find_job(self, idempotency_key: str) -> Job | None:
        """The job created with this key, if any (adopt-before-retry)."""

    def checkpoints(self, job_id: str) -> list[Checkpoint]:
        """Checkpoints of a job; empty where the provider has none."""
        return []

    def metrics(self, job_id: str) -> list[MetricPoint]:
        """Training metrics of a job; empty where the provider has none."""
        return []

    def deploy(self, job: Job, **options: Any) -> ModelEndpoint:
        """Create what is needed to call the model (dedicated deployments).

        Must be idempotent (a second call finds what the first made, also when the first
        one's answer was lost) and, when it fails half-way, remove what it created. The
        default creates nothing: the model is callable as :meth:`endpoint` says.
        """
        return self.endpoint(job)

    def undeploy(self, job: Job) -> ModelEndpoint:
        """Stop what :meth:`deploy` started; harmless when nothing is deployed.

        Backends that bill deployments by the hour return the endpoint ``NOT_DEPLOYED``.
        The default (serverless or local backends, which start nothing) returns the
        endpoint unchanged with a note saying there was nothing to stop.
        """
        current = self.endpoint(job)
        note = (f"{self.name} starts no deployment billed by the hour for this model: there "
                "was nothing to stop.")
        return current.model_copy(update={"notes": (*current.notes, note)})

    def restart_job(self, job_id: str) -> Job:
        """Restart an interrupted job from its last checkpoint (local backend).

        Not OpenAI's "resume", which continues a paused job: that is ``unpause_job`` there.
        """
        from tuneport._exceptions import UnsupportedFeatureError

        raise UnsupportedFeatureError(f"{self.name} cannot restart jobs from a checkpoint.")

    def quote(self, file: RemoteFile, spec: FineTuneSpec) -> ProviderQuote:
        """Ask the provider to price a job on an uploaded file (``ESTIMATE_API`` capability)."""
        from tuneport._exceptions import UnsupportedFeatureError

        raise UnsupportedFeatureError(
            f"{self.name} has no price-estimate API; use tuneport's catalog estimate instead."
        )

    def close(self) -> None:  # noqa: B027 - optional hook, not abstract
        """Release network clients."""
