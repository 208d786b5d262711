"""The objects every backend returns: jobs, events, checkpoints, endpoints, specs.

They are the same whatever the provider; each keeps the provider's raw status and raw
payload so nothing the provider said is lost in normalization.
"""

from __future__ import annotations

import enum
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, SecretStr, model_validator

if TYPE_CHECKING:
    import openai

__all__ = [
    "Capability",
    "Checkpoint",
    "EndpointState",
    "FineTuneSpec",
    "Job",
    "JobErrorInfo",
    "JobEvent",
    "JobStatus",
    "Method",
    "MetricPoint",
    "ModelEndpoint",
    "RemoteFile",
    "RenderedDataset",
    "WandbConfig",
]

Method = Literal["lora", "full", "qlora", "dpo-lora", "dpo-full"]


class JobStatus(enum.StrEnum):
    """Normalized job status, the same for every provider."""

    VALIDATING = "validating"
    QUEUED = "queued"
    RUNNING = "running"
    PAUSED = "paused"
    CANCELLING = "cancelling"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"
    DELETED = "deleted"
    UNKNOWN = "unknown"

    @property
    def is_terminal(self) -> bool:
        """True when the job will not change any more."""
        return self in _TERMINAL

    def __str__(self) -> str:
        return self.value


_TERMINAL = frozenset(
    {JobStatus.SUCCEEDED, JobStatus.FAILED, JobStatus.CANCELLED, JobStatus.DELETED}
)


class EndpointState(enum.StrEnum):
    """Lifecycle of a callable model: a succeeded job is not yet a callable model everywhere."""

    NOT_DEPLOYED = "not_deployed"
    DEPLOYING = "deploying"
    READY = "ready"
    FAILED = "failed"

    def __str__(self) -> str:
        return self.value


class Capability(enum.StrEnum):
    """What a backend can do; adapters declare theirs as a frozenset."""

    LORA = "lora"
    FULL = "full"
    QLORA = "qlora"
    DPO = "dpo"
    ESTIMATE_API = "estimate_api"
    CLIENT_JOB_ID = "client_job_id"
    EVENTS = "events"
    CHECKPOINTS = "checkpoints"
    METRICS = "metrics"
    DEPLOY = "deploy"
    WANDB = "wandb"
    #: ``pause_job`` / ``unpause_job``: hold a running job and let it continue (OpenAI).
    PAUSE = "pause"
    #: ``restart_job``: start an interrupted run again from its last checkpoint (local).
    RESUME = "resume"


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class WandbConfig(_Model):
    """Weights & Biases tracking, mapped to each provider's own integration.

    The key comes from ``WANDB_API_KEY`` unless given; it is never logged or stored.
    """

    project: str
    entity: str | None = None
    name: str | None = None
    tags: tuple[str, ...] = ()
    api_key: SecretStr | None = None
    base_url: str | None = None


class FineTuneSpec(_Model):
    """A provider-neutral description of one fine-tuning job.

    ``model`` is the provider's own id after catalog resolution; ``canonical_model``
    the shared name when the catalog knows it. ``beta`` is DPO's beta (``dpo-*`` methods
    only; None: the provider's default).
    """

    model: str
    canonical_model: str | None = None
    method: Method = "lora"
    epochs: int | Literal["auto"] | None = None
    learning_rate: float | None = None
    batch_size: int | Literal["auto", "max"] | None = None
    lora_rank: int | None = None
    lora_alpha: int | None = None
    lora_dropout: float | None = None
    beta: float | None = Field(default=None, gt=0)
    suffix: str | None = None
    seed: int | None = None
    wandb: WandbConfig | None = None
    provider_options: dict[str, Any] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _beta_needs_dpo(self) -> FineTuneSpec:
        # beta is DPO's strength of the pull towards the reference model; on a supervised
        # job it would be silently ignored, so it is refused instead.
        if self.beta is not None and not self.method.startswith("dpo"):
            raise ValueError(f"beta is a DPO setting; method={self.method!r} does not use it "
                             "(use method='dpo-lora' or 'dpo-full', or drop beta)")
        return self

    def normalized(self) -> dict[str, Any]:
        """The spec as a stable, secret-free dict (used for idempotency keys)."""
        data = self.model_dump(mode="json", exclude={"wandb"})
        if data.get("beta") is None:
            # Keeps the keys of specs without beta what they were before beta existed.
            data.pop("beta", None)
        if self.wandb is not None:
            data["wandb"] = self.wandb.model_dump(mode="json", exclude={"api_key"})
        return data


class RenderedDataset(_Model):
    """A dataset rendered to one provider's wire format, ready to upload."""

    provider: str
    path: Path
    fingerprint: str
    n_examples: int
    n_bytes: int
    format: str
    validation_path: Path | None = None


class RemoteFile(_Model):
    """A file (OpenAI, Together) or dataset (Fireworks) stored at a provider."""

    provider: str
    id: str
    fingerprint: str | None = None
    n_bytes: int | None = None
    status: str | None = None
    raw: dict[str, Any] = Field(default_factory=dict, repr=False)


class JobErrorInfo(_Model):
    """Why a job failed, as the provider said it."""

    code: str | None = None
    message: str
    param: str | None = None


class Job(_Model):
    """A fine-tuning job, normalized across providers.

    Attributes:
        id: the provider's job id (for local jobs, the run id).
        provider: ``openai``, ``together``, ``fireworks``, ``local`` or a plugin's name.
        status: the normalized :class:`JobStatus`.
        provider_status: the raw status string the provider returned.
        raw: the provider's last payload, untouched.
    """

    id: str
    provider: str
    status: JobStatus
    provider_status: str
    base_model: str | None = None
    fine_tuned_model: str | None = None
    created_at: datetime | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None
    trained_tokens: int | None = None
    progress: float | None = None
    estimated_finish: datetime | None = None
    error: JobErrorInfo | None = None
    hyperparameters: dict[str, Any] = Field(default_factory=dict)
    estimated_cost_usd: Decimal | None = None
    actual_cost_usd: Decimal | None = None
    training_file: str | None = None
    validation_file: str | None = None
    idempotency_key: str | None = None
    raw: dict[str, Any] = Field(default_factory=dict, repr=False)

    @property
    def is_terminal(self) -> bool:
        """True when the job will not change any more."""
        return self.status.is_terminal

    def summary(self) -> dict[str, Any]:
        """The job as the CLI's ``--json`` prints it (no raw payload)."""
        return self.model_dump(mode="json", exclude={"raw"})


class JobEvent(_Model):
    """One event in a job's life (a status change, a log line, a metrics point)."""

    id: str
    job_id: str
    created_at: datetime
    level: Literal["info", "warning", "error"] = "info"
    message: str
    type: str | None = None
    step: int | None = None
    data: dict[str, Any] = Field(default_factory=dict)


class MetricPoint(_Model):
    """Training metrics at one step."""

    step: int
    train_loss: float | None = None
    eval_loss: float | None = None
    learning_rate: float | None = None
    tokens_per_second: float | None = None
    epoch: float | None = None
    # Preference (DPO) jobs: mean β·log-ratio of the chosen / rejected replies, their mean
    # difference, and the share of pairs whose chosen reply has the higher reward.
    rewards_chosen: float | None = None
    rewards_rejected: float | None = None
    reward_margin: float | None = None
    preference_accuracy: float | None = None


class Checkpoint(_Model):
    """A saved checkpoint of a job."""

    id: str
    job_id: str
    step: int | None = None
    created_at: datetime | None = None
    model: str | None = None
    path: str | None = None
    metrics: dict[str, float] = Field(default_factory=dict)


# Endpoints of these kinds answer inside this process. Each names its runner by dotted path,
# resolved on first chat, so this module of plain values imports nothing above it (the way
# the provider registry names adapters).
_IN_PROCESS_RUNNERS: dict[str, str] = {"local": "tuneport.local.serving:LocalModel"}


def _in_process_runner(kind: str) -> Any:
    import importlib

    module, _, attr = _IN_PROCESS_RUNNERS[kind].partition(":")
    return getattr(importlib.import_module(module), attr)


class ModelEndpoint(_Model):
    """How to call a fine-tuned model.

    Attributes:
        provider: the backend that trained it.
        model: the id to pass as ``model=`` to an OpenAI-compatible client.
        base_url: the OpenAI-compatible base URL (with its ``/v1``).
        kind: ``serverless`` (OpenAI), ``dedicated`` (Together, Fireworks) or ``local``.
        state: whether it can be called now: ``ready`` (callable), ``deploying`` (being
            created, or up but not yet routed: billed, not callable), ``not_deployed``
            (nothing running, nothing billed by the hour), ``failed``.
        hourly_usd: what a dedicated deployment costs per hour while it is up.
        job_id: the job whose model it serves (set on what ``Client.endpoints()`` lists).
        deployed_at: when tuneport started the deployment (from the ledger).
        stop_at: the deadline ``deploy(stop_after=...)`` set, if any.
        accrued_usd: ``hourly_usd`` times the hours since ``deployed_at``.
    """

    provider: str
    model: str
    base_url: str
    kind: Literal["serverless", "dedicated", "local"]
    state: EndpointState
    deployment_id: str | None = None
    hourly_usd: Decimal | None = None
    adapter_path: Path | None = None
    base_model: str | None = None
    notes: tuple[str, ...] = ()
    job_id: str | None = None
    deployed_at: datetime | None = None
    stop_at: datetime | None = None
    accrued_usd: Decimal | None = None
    api_key: SecretStr | None = Field(default=None, repr=False, exclude=True)
    _local_model: Any = PrivateAttr(default=None)

    def chat(self, messages: list[dict[str, Any]], *, max_tokens: int = 128,
             temperature: float = 0.0, **kwargs: Any) -> str:
        """Send one chat conversation to this model and return the reply text.

        The same call for every backend: a local endpoint answers in this process (the base
        model and adapter load once per endpoint object); hosted endpoints go through
        :meth:`openai_client`, so they must be deployed (``state`` ready) first.

        Args:
            messages: OpenAI-style ``{"role", "content"}`` messages.
            max_tokens: the most new tokens to generate.
            temperature: sampling temperature; 0 is greedy.
            **kwargs: passed on to ``chat.completions.create`` (hosted) or
                ``LocalModel.chat`` (local).
        """
        if self.kind in _IN_PROCESS_RUNNERS:
            if self._local_model is None:
                self._local_model = _in_process_runner(self.kind).from_endpoint(self)
            text: str = self._local_model.chat(
                messages, max_tokens=max_tokens, temperature=temperature, **kwargs
            ).text
            return text
        if self.state is not EndpointState.READY:
            from tuneport._exceptions import ConfigError

            raise ConfigError(
                f"The {self.provider} endpoint for {self.model!r} is {self.state.value}; "
                "deploy it first (client.deploy(job, wait=True) or tuneport endpoint JOB "
                "--deploy)."
            )
        # A client per call, closed at once: a dropped client leaks its pooled connection.
        with self.openai_client() as client:
            response = client.chat.completions.create(
                model=self.model, messages=messages,  # type: ignore[arg-type]
                max_tokens=max_tokens, temperature=temperature, **kwargs,
            )
        return response.choices[0].message.content or ""

    def chat_batch(self, conversations: list[list[dict[str, Any]]], *, max_tokens: int = 128,
                   use_adapter: bool = True) -> list[Any]:
        """Greedy replies to many conversations at once (local endpoints only).

        The local backend generates them in batches (left padding, KV cache), which is
        what :meth:`tuneport.Client.evaluate` uses. Each reply has ``text``,
        ``prompt_tokens``, ``completion_tokens`` and ``finish_reason``.

        Args:
            conversations: OpenAI-style message lists.
            max_tokens: the most new tokens per reply.
            use_adapter: False answers with the base model alone (the baseline).

        Raises:
            ConfigError: the endpoint is not a local one.
        """
        if self.kind not in _IN_PROCESS_RUNNERS:
            from tuneport._exceptions import ConfigError

            raise ConfigError(f"chat_batch answers for local endpoints only (this one is "
                              f"{self.kind}); call chat() per conversation.")
        if self._local_model is None:
            self._local_model = _in_process_runner(self.kind).from_endpoint(self)
        replies: list[Any] = self._local_model.chat_batch(
            conversations, max_tokens=max_tokens, use_adapter=use_adapter)
        return replies

    def openai_client(self, **kwargs: Any) -> openai.OpenAI:
        """A ready ``openai.OpenAI`` client pointed at this endpoint.

        Needs the ``openai`` package (``pip install 'tuneport[hosted]'``).
        """
        try:
            import openai
        except ImportError as exc:  # pragma: no cover - depends on the environment
            from tuneport._exceptions import ConfigError

            raise ConfigError(
                "endpoint.openai_client() needs the openai package: "
                "pip install 'tuneport[hosted]'"
            ) from exc
        key = self.api_key.get_secret_value() if self.api_key else "not-needed"
        return openai.OpenAI(base_url=self.base_url, api_key=key, **kwargs)
