"""Together AI fine-tuning through the official ``together`` SDK (3.x).

Routes (SDK 3.x, ``base_url`` *without* ``/v1``): ``POST /v1/files`` answers 302 with a
presigned URL the SDK ``PUT``s the bytes to, then ``/v1/files/{id}/preprocess``; the file
is validated server-side (``processing_status``) before a job may use it. Jobs live under
``/v1/fine-tunes`` (create, retrieve, list, cancel, events, checkpoints, metrics,
estimate-price).

Idempotency: Together has no client job id or metadata, so a short hash of the key travels
in the model ``suffix`` (``…-tp<12 hex>``); :meth:`find_job` looks for it in the suffix or
output name of the listed jobs.

Serving: LoRA fine-tunes need a dedicated endpoint (serverless LoRA is gone);
:meth:`deploy` creates one with the 3.x SDK's project endpoints
(``/v2/projects/{project}/endpoints`` + ``…/deployments``; needs ``TOGETHER_PROJECT_ID``),
and ``model=`` is then the endpoint's *name*.
"""

from __future__ import annotations

import contextlib
import inspect
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any, ClassVar, Literal, Self

from pydantic import SecretStr

from tuneport._exceptions import (
    BadRequestError,
    ConfigError,
    DatasetError,
    NotFoundError,
    UnsupportedFeatureError,
)
from tuneport._models import (
    Capability,
    Checkpoint,
    EndpointState,
    FineTuneSpec,
    Job,
    JobErrorInfo,
    JobEvent,
    JobStatus,
    MetricPoint,
    ModelEndpoint,
    RemoteFile,
    RenderedDataset,
)
from tuneport.providers import _hosted, _transfers, _upload_progress
from tuneport.providers.base import Provider, ProviderQuote

if TYPE_CHECKING:
    import together as together_sdk

    from tuneport._config import ProviderSettings
    from tuneport.providers._file_wait import FileReadiness

__all__ = ["DEFAULT_BASE_URL", "DEFAULT_HARDWARE", "TogetherProvider"]

DEFAULT_BASE_URL = "https://api.together.ai"
DEFAULT_HARDWARE = "1x_nvidia_h100_80gb_sxm"
SUFFIX_MAX = 40
TOKEN_PREFIX = "tp"

#: Files larger than this go up in parts (the SDK's ``MULTIPART_THRESHOLD_GB``, 5 GiB, its
#: single-PUT limit). ``TogetherProvider(multipart_threshold=...)`` overrides it (tests
#: lower it); the part sizes stay the SDK's.
MULTIPART_THRESHOLD = 5 * 1024**3
#: Tries per part before the multipart upload is aborted.
PART_ATTEMPTS = 4

#: Every ``status`` of Together's ``FinetuneJobStatus`` plus the SDK's ``user_error``.
STATUS_MAP: dict[str, JobStatus] = {
    "pending": JobStatus.QUEUED,
    "queued": JobStatus.QUEUED,
    "running": JobStatus.RUNNING,
    "compressing": JobStatus.RUNNING,
    "uploading": JobStatus.RUNNING,
    "cancel_requested": JobStatus.CANCELLING,
    "cancelled": JobStatus.CANCELLED,
    "error": JobStatus.FAILED,
    "user_error": JobStatus.FAILED,
    "completed": JobStatus.SUCCEEDED,
}

#: Deployment ``state`` on a dedicated endpoint → endpoint lifecycle.
DEPLOYMENT_STATES: dict[str, EndpointState] = {
    "DEPLOYMENT_STATE_PROVISIONING": EndpointState.DEPLOYING,
    "DEPLOYMENT_STATE_SCALING": EndpointState.DEPLOYING,
    "DEPLOYMENT_STATE_READY": EndpointState.READY,
    "DEPLOYMENT_STATE_DEGRADED": EndpointState.READY,
    "DEPLOYMENT_STATE_STOPPING": EndpointState.NOT_DEPLOYED,
    "DEPLOYMENT_STATE_STOPPED": EndpointState.NOT_DEPLOYED,
    "DEPLOYMENT_STATE_FAILED": EndpointState.FAILED,
}

_FILE_DONE = "COMPLETED"
_FILE_PENDING = "PENDING"
_FILE_FAILED = frozenset({"FAILED", "INVALID_FORMAT"})

_LEVELS: dict[str, Literal["info", "warning", "error"]] = {
    "info": "info", "warning": "warning", "error": "error",
    "legacy_info": "info", "legacy_iwarning": "warning", "legacy_ierror": "error",
}


class TogetherProvider(Provider):
    """Together AI's managed fine-tuning (LoRA, full, DPO) and dedicated endpoints.

    Args:
        api_key: the API key; falls back to ``TOGETHER_API_KEY``.
        base_url: the API root *without* ``/v1`` (a trailing ``/v1`` is removed, since the
            3.x SDK would otherwise call ``/v1/v1/…``).
        timeout: seconds per request.
        max_retries: the SDK's own retries for reads (creates always use 0).
        multipart_threshold: files above this many bytes are uploaded in parts
            (default :data:`MULTIPART_THRESHOLD`).
        part_retry_backoff: seconds before the first retry of a failed part.
    """

    name: ClassVar[str] = "together"
    capabilities: ClassVar[frozenset[Capability]] = frozenset(
        {Capability.LORA, Capability.FULL, Capability.DPO, Capability.ESTIMATE_API,
         Capability.EVENTS, Capability.CHECKPOINTS, Capability.METRICS, Capability.DEPLOY,
         Capability.WANDB}
    )
    STATUS_MAP: ClassVar[dict[str, JobStatus]] = STATUS_MAP

    def __init__(
        self,
        *,
        api_key: SecretStr | str | None = None,
        base_url: str | None = None,
        timeout: float = 60.0,
        max_retries: int | None = None,
        project_id: str | None = None,
        file_poll_interval: float = 1.0,
        multipart_threshold: int | None = None,
        part_retry_backoff: float = 0.5,
        **_ignored: Any,
    ) -> None:
        import os

        import together

        self._sdk = together
        self._key = _hosted.require_key(self.name, api_key, "TOGETHER_API_KEY")
        root = (base_url or DEFAULT_BASE_URL).rstrip("/")
        if root.endswith("/v1"):
            root = root[: -len("/v1")]
        self.base_url = root
        self.file_poll_interval = file_poll_interval
        self.multipart_threshold = multipart_threshold
        self.part_retry_backoff = part_retry_backoff
        self.project_id = project_id or os.environ.get("TOGETHER_PROJECT_ID") or None
        self._client: together_sdk.Together = together.Together(
            api_key=self._key.get_secret_value(), base_url=root, timeout=timeout, max_retries=0,
            project_id=self.project_id,
        )
        self._reader = (
            self._client.with_options(max_retries=max_retries) if max_retries else self._client
        )

    @classmethod
    def from_settings(cls, settings: ProviderSettings) -> Self:
        """Build from a resolved ``tuneport._config.ProviderSettings``."""
        return cls(
            api_key=settings.api_key, base_url=settings.base_url,
            timeout=settings.timeout, max_retries=settings.max_retries,
            project_id=settings.project_id,
            multipart_threshold=(settings.model_extra or {}).get("multipart_threshold"),
        )

    @property
    def ledger_scope(self) -> str:
        """This adapter's base URL and account, hashed where it is the key (no secret)."""
        return _hosted.ledger_scope(self.name, self.base_url, api_key=self._key)

    def __repr__(self) -> str:
        return f"TogetherProvider(base_url={self.base_url!r})"

    @property
    def inference_base_url(self) -> str:
        """The OpenAI-compatible root for chat completions (with ``/v1``)."""
        return f"{self.base_url}/v1"

    def _errors(self, action: str) -> contextlib.AbstractContextManager[None]:
        return _hosted.map_errors(
            self.name, self._sdk, action, secrets=(self._key.get_secret_value(),)
        )

    # -- files ---------------------------------------------------------------------------

    def upload(self, rendered: RenderedDataset) -> RemoteFile:
        """Upload through the 302 presigned-URL flow, then ask Together to preprocess.

        Above the multipart threshold (:data:`MULTIPART_THRESHOLD`, the SDK's 5 GiB) the
        SDK's multipart uploader sends the file in parts, each retried on its own. The
        SDK's own file check is skipped: tuneport has validated the data already.
        """
        size = rendered.path.stat().st_size
        threshold = self.multipart_threshold
        if threshold is None:
            threshold = MULTIPART_THRESHOLD
        if size > threshold:
            return self._upload_multipart(rendered, size)
        report = _upload_progress.reporter(self.name, rendered.path.name, size, "single")

        def progress(event: Any) -> None:
            report(event.uploaded_bytes)

        with self._errors("uploading the training file"):
            obj = self._client.files.upload(rendered.path, purpose="fine-tune", check=False,
                                            progress_callback=progress)
        report.finish()
        return self._remote(_hosted.dump(obj), rendered.fingerprint)

    def _upload_multipart(self, rendered: RenderedDataset, size: int) -> RemoteFile:
        from together.lib.resources.files import FileAlreadyExistsError

        from tuneport.providers._together_multipart import upload_multipart

        report = _upload_progress.reporter(self.name, rendered.path.name, size, "multipart")
        checksum = _transfers.file_digest(rendered.path, "sha256")
        existing: str | None = None
        with self._errors("uploading the training file in parts"):
            try:
                obj = upload_multipart(self._client, rendered.path, checksum, report,
                                       attempts=PART_ATTEMPTS, backoff=self.part_retry_backoff)
            except FileAlreadyExistsError as exc:
                existing = exc.file_id
        if existing is not None:
            # Same checksum stored at Together already: use that file, as files.upload does.
            with self._errors(f"reading file {existing}"):
                obj = self._reader.files.retrieve(existing)
        report.finish()
        return self._remote(_hosted.dump(obj), rendered.fingerprint)

    def _remote(self, raw: dict[str, Any], fingerprint: str | None) -> RemoteFile:
        return RemoteFile(
            provider=self.name, id=str(raw["id"]), fingerprint=fingerprint,
            n_bytes=raw.get("bytes"), status=raw.get("processing_status"), raw=raw,
        )

    def wait_file_ready(self, file: RemoteFile, *, timeout: float = 600.0) -> RemoteFile:
        """Poll ``processing_status`` until ``COMPLETED``, reviving a file stuck ``PENDING``.

        Raises:
            DatasetError: Together rejected the file (its validation report is quoted).
            NotFoundError: the file had no content and was deleted: upload it again.
            TransportError: still not processed after ``timeout`` seconds.
        """
        from tuneport.providers._file_wait import wait_until_ready

        return wait_until_ready(self, file, timeout=timeout, poll=self.file_poll_interval)

    def refresh_file(self, file: RemoteFile) -> RemoteFile:
        """One ``GET /v1/files/{id}``."""
        with self._errors(f"reading file {file.id}"):
            obj = self._reader.files.retrieve(file.id)
        return self._remote(_hosted.dump(obj), file.fingerprint)

    def file_readiness(self, file: RemoteFile, *, fresh: bool) -> FileReadiness:
        """``COMPLETED`` is ready; ``PENDING`` means no ``/preprocess`` reached Together.

        A file whose freshly read ``processing_status`` is ``None`` is ready: the SDK's
        ``FileResponse`` documents that "files for purposes that do not require validation
        skip validation", so nothing will ever move it to ``COMPLETED``.

        Raises:
            DatasetError: Together rejected the file (its validation report is quoted).
        """
        if file.status == _FILE_DONE or (fresh and file.status is None):
            return "ready"
        if file.status in _FILE_FAILED:
            report = file.raw.get("validation_report") or {}
            detail = report.get("error") or file.status
            raise DatasetError(
                f"together rejected the training file {file.id}: {detail}. Fix the data "
                "(tuneport validate FILE --provider together) and submit again."
            )
        # PENDING is where a file stays when the upload's /preprocess failed or never came
        # (a 500, a kill after the PUT); a re-upload of the same bytes gets this file back
        # ("same contents"), so waiting alone would never end.
        return "unprocessed" if file.status == _FILE_PENDING else "processing"

    def reprocess_file(self, file: RemoteFile) -> RemoteFile:
        """``POST /v1/files/{id}/preprocess`` again (the SDK's own last upload step).

        A file Together will not process (it has no content: the ``PUT`` never arrived) is
        deleted, and :class:`NotFoundError` tells the caller to upload it again.
        """
        from together.types import FileResponse

        try:
            with self._errors(f"asking Together to process file {file.id}"):
                obj = self._client.post(f"/v1/files/{file.id}/preprocess", cast_to=FileResponse)
        except BadRequestError as exc:
            with self._errors(f"deleting the unusable file {file.id}"):
                self._client.files.delete(file.id)
            raise NotFoundError(
                f"together could not process file {file.id} ({exc}); it was deleted, "
                "upload the data again.", provider=self.name, status_code=404,
            ) from exc
        return self._remote(_hosted.dump(obj), file.fingerprint)

    # -- jobs ----------------------------------------------------------------------------

    def build_create_params(
        self, file: RemoteFile, spec: FineTuneSpec, idempotency_key: str,
        validation_file: RemoteFile | None = None,
    ) -> dict[str, Any]:
        """The keyword arguments of ``fine_tuning.create`` for a spec (no request is made).

        Raises:
            UnsupportedFeatureError: the spec asks for something Together does not offer.
        """
        kwargs: dict[str, Any] = {"training_file": file.id, "model": spec.model}
        if spec.method == "qlora":
            raise UnsupportedFeatureError(
                "together does not support method='qlora'; use method='lora' (managed LoRA)."
            )
        lora = spec.method in ("lora", "dpo-lora")
        kwargs["lora"] = lora
        kwargs["training_method"] = "dpo" if spec.method.startswith("dpo") else "sft"
        if kwargs["training_method"] == "sft":
            # Pinned: the SDK warns when it has to pick this default itself.
            kwargs["train_on_inputs"] = "auto"
        if lora:
            if spec.lora_rank is not None:
                kwargs["lora_r"] = spec.lora_rank
            if spec.lora_alpha is not None:
                kwargs["lora_alpha"] = spec.lora_alpha
            if spec.lora_dropout is not None:
                kwargs["lora_dropout"] = spec.lora_dropout
        else:
            for param in ("lora_rank", "lora_alpha", "lora_dropout"):
                if getattr(spec, param) is not None:
                    raise UnsupportedFeatureError(
                        f"together does not support the hyperparameter {param} with "
                        f"method={spec.method!r} (full fine-tuning has no adapter)."
                    )
        if spec.epochs is not None:
            if spec.epochs == "auto":
                raise UnsupportedFeatureError(
                    "together does not support epochs='auto'; give a number of epochs."
                )
            kwargs["n_epochs"] = spec.epochs
        if spec.batch_size is not None:
            if spec.batch_size == "auto":
                raise UnsupportedFeatureError(
                    "together does not support batch_size='auto'; use an integer or 'max'."
                )
            kwargs["batch_size"] = spec.batch_size
        if spec.learning_rate is not None:
            kwargs["learning_rate"] = spec.learning_rate
        if spec.seed is not None:
            kwargs["random_seed"] = spec.seed
        if validation_file is not None:
            kwargs["validation_file"] = validation_file.id
            # Together computes eval loss only when n_evals > 0 (its default is 0); one eval
            # per epoch is also what tuneport's cost model bills (validation_billing per_eval).
            kwargs["n_evals"] = self.evals_for(spec)
        kwargs["suffix"] = self.suffix_for(spec.suffix, idempotency_key)
        if spec.wandb is not None:
            kwargs["wandb_api_key"] = _hosted.wandb_key(self.name, spec.wandb)
            kwargs["wandb_project_name"] = spec.wandb.project
            if spec.wandb.entity:
                kwargs["wandb_entity"] = spec.wandb.entity
            if spec.wandb.name:
                kwargs["wandb_name"] = spec.wandb.name
            if spec.wandb.base_url:
                kwargs["wandb_base_url"] = spec.wandb.base_url
        allowed = set(inspect.signature(self._client.fine_tuning.create).parameters)
        for key, value in spec.provider_options.items():
            if key not in allowed:
                raise UnsupportedFeatureError(
                    f"together does not know the provider option {key!r}; options it takes: "
                    + ", ".join(sorted(allowed - {"training_file", "model", "verbose"}))
                )
            kwargs[key] = value
        return kwargs

    @staticmethod
    def evals_for(spec: FineTuneSpec) -> int:
        """Evaluations over the validation file: one per epoch (what the cost model bills)."""
        option = spec.provider_options.get("n_evals")
        if isinstance(option, int):
            return option
        return spec.epochs if isinstance(spec.epochs, int) and spec.epochs > 0 else 1

    @staticmethod
    def suffix_for(suffix: str | None, idempotency_key: str) -> str:
        """The model suffix carrying the idempotency token (≤ 40 characters)."""
        token = TOKEN_PREFIX + _hosted.idempotency_token(idempotency_key)
        if not suffix:
            return token
        room = SUFFIX_MAX - len(token) - 1
        return f"{suffix[:room].rstrip('-')}-{token}"

    def create_job(
        self, file: RemoteFile, spec: FineTuneSpec, idempotency_key: str,
        validation_file: RemoteFile | None = None,
    ) -> Job:
        """Create the job through the SDK (which also reads model limits and a price).

        No SDK retries: a lost response is adopted through :meth:`find_job`.
        """
        kwargs = self.build_create_params(file, spec, idempotency_key, validation_file)
        with self._errors("creating the fine-tuning job"):
            try:
                obj = self._client.fine_tuning.create(**kwargs)
            except ValueError as exc:
                # The SDK checks hyperparameters against the model's limits before sending.
                raise BadRequestError(
                    f"together refused the job settings: {exc}", provider=self.name
                ) from exc
        return self._job(_hosted.dump(obj), idempotency_key)

    def get_job(self, job_id: str) -> Job:
        """The job's current state."""
        with self._errors(f"reading job {job_id}"):
            obj = self._reader.fine_tuning.retrieve(job_id)
        return self._job(_hosted.dump(obj))

    def _list_raw(self) -> list[dict[str, Any]]:
        with self._errors("listing jobs"):
            page = self._reader.fine_tuning.list()
        items = [_hosted.dump(item) for item in (page.data or [])]
        items.sort(key=lambda r: str(r.get("created_at") or ""), reverse=True)
        return items

    def list_jobs(self, *, limit: int | None = None) -> Iterator[Job]:
        """Jobs newest first (Together's list is not paginated)."""
        for count, raw in enumerate(self._list_raw()):
            if limit is not None and count >= limit:
                return
            yield self._job(raw)

    def cancel_job(self, job_id: str) -> Job:
        """Ask Together to cancel; the job goes through ``cancel_requested``."""
        with self._errors(f"cancelling job {job_id}"):
            self._client.fine_tuning.cancel(job_id)
        return self.get_job(job_id)

    def find_job(self, idempotency_key: str) -> Job | None:
        """The job whose suffix (or output name) carries this key's token, if any."""
        token = TOKEN_PREFIX + _hosted.idempotency_token(idempotency_key)
        for raw in self._list_raw():
            names = (raw.get("suffix"), raw.get("model_output_name"), raw.get("output_name"))
            if any(isinstance(n, str) and token in n for n in names):
                return self._job(raw, idempotency_key)
        return None

    # -- events, checkpoints, metrics ----------------------------------------------------

    def events(self, job_id: str, after: str | None = None) -> list[JobEvent]:
        """Events oldest first; ids are synthesized (Together's events carry none)."""
        with self._errors(f"reading the events of job {job_id}"):
            page = self._reader.fine_tuning.list_events(job_id)
        raws = [_hosted.dump(e) for e in (page.data or [])]
        indexed = [(i, r, _hosted.parse_time(r.get("created_at"))) for i, r in enumerate(raws)]
        indexed.sort(key=lambda t: (t[2] or datetime.min.replace(tzinfo=UTC), t[0]))
        events = []
        for position, (_, raw, created) in enumerate(indexed):
            if created is None:
                continue
            data = {k: v for k, v in raw.items()
                    if k not in ("message", "level", "type", "created_at", "object", "step")
                    and v is not None}
            events.append(JobEvent(
                id=f"{job_id}:{position}", job_id=job_id, created_at=created,
                level=_LEVELS.get(str(raw.get("level")), "info"),
                message=str(raw.get("message") or ""), type=raw.get("type"),
                step=raw.get("step"), data=data,
            ))
        return _hosted.since_event(events, after)

    def checkpoints(self, job_id: str) -> list[Checkpoint]:
        """Intermediate and final checkpoints."""
        with self._errors(f"listing the checkpoints of job {job_id}"):
            page = self._reader.fine_tuning.list_checkpoints(job_id)
        out = []
        for raw in (_hosted.dump(c) for c in (page.data or [])):
            out.append(Checkpoint(
                id=f"{job_id}:{raw.get('step')}:{raw.get('checkpoint_type')}", job_id=job_id,
                step=raw.get("step"), created_at=_hosted.parse_time(raw.get("created_at")),
                path=raw.get("path"), model=raw.get("object_name"),
            ))
        out.sort(key=lambda c: c.step or 0)
        return out

    def metrics(self, job_id: str) -> list[MetricPoint]:
        """``train/loss``, ``train/learning_rate`` and ``eval/loss`` per global step."""
        with self._errors(f"reading the metrics of job {job_id}"):
            page = self._reader.fine_tuning.list_metrics(job_id)
        by_step: dict[int, dict[str, float]] = {}
        last_step = 0
        for row in page.metrics or []:
            step = int(row.get("train/global_step", row.get("eval/global_step", last_step)))
            last_step = step
            by_step.setdefault(step, {}).update(row)
        return [
            MetricPoint(
                step=step,
                train_loss=row.get("train/loss"),
                eval_loss=row.get("eval/loss"),
                learning_rate=row.get("train/learning_rate"),
                epoch=row.get("train/epoch"),
            )
            for step, row in sorted(by_step.items())
        ]

    # -- estimate ------------------------------------------------------------------------

    def quote(
        self, file: RemoteFile, spec: FineTuneSpec, validation_file: RemoteFile | None = None,
    ) -> ProviderQuote:
        """Together's own price for this job on an uploaded, validated file.

        The request carries what the job would: the SFT method with its required
        ``train_on_inputs`` (the spec and the SDK's ``TrainingMethodSFT`` mark it required),
        and with a validation file, that file and ``n_evals`` (evaluations are billed).
        """
        lora = spec.method in ("lora", "dpo-lora")
        training_type: dict[str, Any] = {"type": "Lora" if lora else "Full"}
        if lora:
            rank = spec.lora_rank or 8
            training_type.update(lora_r=rank, lora_alpha=spec.lora_alpha or 2 * rank)
        epochs = spec.epochs if isinstance(spec.epochs, int) else 1
        method: dict[str, Any] = {"method": "dpo" if spec.method.startswith("dpo") else "sft"}
        if method["method"] == "sft":
            method["train_on_inputs"] = spec.provider_options.get("train_on_inputs", "auto")
        extra: dict[str, Any] = {}
        if validation_file is not None:
            extra = {"validation_file": validation_file.id, "n_evals": self.evals_for(spec)}
        with self._errors("asking Together for a price estimate"):
            result = self._client.fine_tuning.estimate_price(
                training_file=file.id, model=spec.model, n_epochs=epochs,
                training_method=method,  # type: ignore[arg-type]
                training_type=training_type,  # type: ignore[arg-type]
                **extra,
            )
        raw = _hosted.dump(result)
        if not raw.get("estimation_available"):
            return ProviderQuote(
                provider=self.name, available=False,
                reason=str(raw.get("unavailable_reason") or "unavailable"), raw=raw,
            )
        price = raw.get("estimated_total_price")
        return ProviderQuote(
            provider=self.name,
            total_usd=Decimal(str(price)) if price is not None else None,
            train_tokens=_int(raw.get("estimated_train_token_count")),
            eval_tokens=_int(raw.get("estimated_eval_token_count")),
            allowed_to_proceed=raw.get("allowed_to_proceed"), raw=raw,
        )

    # -- serving -------------------------------------------------------------------------

    def _require_project(self) -> str:
        if not self.project_id:
            raise ConfigError(
                "Together's dedicated endpoints belong to a project: set TOGETHER_PROJECT_ID "
                "(or TUNEPORT_TOGETHER_PROJECT_ID), pass project_id=... to tuneport.Client, or "
                "add project_id under [providers.together] in tuneport.toml."
            )
        return self.project_id

    def endpoint_name_for(self, job: Job) -> str:
        """The endpoint name tuneport gives a job's model (stable, so deploy is repeatable)."""
        return f"{TOKEN_PREFIX}-ep-{_hosted.idempotency_token(job.id, 16)}"

    def _find_endpoint(self, job: Job) -> dict[str, Any] | None:
        project = self._require_project()
        wanted = self.endpoint_name_for(job)
        with self._errors("listing dedicated endpoints"):
            for item in self._reader.endpoints.list(project_id=project):
                raw = _hosted.dump(item)
                models = {d.get("model") for d in raw.get("deployments") or []
                          if isinstance(d, Mapping)}
                if raw.get("name") == wanted or job.fine_tuned_model in models:
                    return raw
        return None

    def endpoint(self, job: Job) -> ModelEndpoint:
        """The dedicated endpoint serving this job's model, or ``NOT_DEPLOYED``."""
        model = job.fine_tuned_model
        if model and job.status is JobStatus.SUCCEEDED and self.project_id:
            found = self._find_endpoint(job)
            if found is not None:
                return self._endpoint(job, found)
        return _hosted.not_deployed(
            self.name, job, base_url=self.inference_base_url, hardware=DEFAULT_HARDWARE,
            what="dedicated endpoint", billing="per minute until stopped", api_key=self._key,
        )

    def deploy(
        self,
        job: Job,
        *,
        min_replicas: int = 1,
        max_replicas: int = 1,
        name: str | None = None,
        **options: Any,
    ) -> ModelEndpoint:
        """Create a dedicated endpoint and a deployment of the fine-tuned model on it.

        Uses the SDK's project endpoints (``/v2/projects/{project}/endpoints`` and its
        ``deployments``); an endpoint tuneport already made for this job is reused.

        Args:
            job: a succeeded job.
            min_replicas: replicas kept up (billed per minute each).
            max_replicas: the autoscaling ceiling.
            name: the endpoint name (default: derived from the job id); it is the
                ``model=`` of inference calls.
            **options: further fields of the deployment create call (``config_id``, …).
        """
        if job.status is not JobStatus.SUCCEEDED or not job.fine_tuned_model:
            raise UnsupportedFeatureError(
                f"together can only deploy a succeeded job; job {job.id} is {job.status.value}."
            )
        project = self._require_project()
        found = self._find_endpoint(job)
        if found is None:
            with self._errors("creating a dedicated endpoint"):
                created = self._client.endpoints.create(
                    project_id=project, name=name or self.endpoint_name_for(job)
                )
            found = _hosted.dump(created)
        if not any(isinstance(d, Mapping) and d.get("model") == job.fine_tuned_model
                   for d in found.get("deployments") or []):
            autoscaling: Any = {"min_replicas": min_replicas, "max_replicas": max_replicas}
            with self._errors("deploying the model on the endpoint"):
                self._client.endpoints.deployments.create(
                    str(found["id"]), project_id=project, name=f"{found['name']}-d",
                    model=job.fine_tuned_model, autoscaling=autoscaling, **options,
                )
            with self._errors("reading the endpoint"):
                found = _hosted.dump(
                    self._reader.endpoints.retrieve(str(found["id"]), project_id=project)
                )
        return self._endpoint(job, found)

    def _endpoint(self, job: Job, raw: dict[str, Any]) -> ModelEndpoint:
        deployments = [d for d in raw.get("deployments") or [] if isinstance(d, Mapping)]
        mine = [d for d in deployments if d.get("model") == job.fine_tuned_model] or deployments
        states = [str(d.get("state") or "") for d in mine]
        if not states:
            state = EndpointState.NOT_DEPLOYED
        elif any(DEPLOYMENT_STATES.get(s) is EndpointState.READY for s in states):
            state = EndpointState.READY
        else:
            state = DEPLOYMENT_STATES.get(states[0], EndpointState.DEPLOYING)
        hardware = next((str(d["hardware"]) for d in mine if d.get("hardware")), DEFAULT_HARDWARE)
        replicas = 0
        for d in mine:
            scaling = d.get("autoscaling") or {}
            replicas += int(scaling.get("minReplicas") or scaling.get("min_replicas") or 1)
        hourly = _hosted.serving_hourly_usd(self.name, hardware, max(replicas, 1))
        return ModelEndpoint(
            provider=self.name,
            # Inference addresses the endpoint by its name, not its id.
            model=str(raw.get("name") or job.fine_tuned_model or ""),
            base_url=self.inference_base_url, kind="dedicated", state=state,
            deployment_id=raw.get("id"), base_model=job.base_model, hourly_usd=hourly,
            notes=(f"deployment state {', '.join(states) or 'none'}; billed per minute "
                   "until stopped.",),
            api_key=self._key,
        )

    def close(self) -> None:
        """Close the HTTP client."""
        self._client.close()

    # -- normalization -------------------------------------------------------------------

    def _job(self, raw: dict[str, Any], idempotency_key: str | None = None) -> Job:
        status = str(raw.get("status"))
        normalized = self.normalize_status(status)
        hyper: dict[str, Any] = {}
        for name in ("n_epochs", "batch_size", "learning_rate", "n_checkpoints", "n_evals",
                     "warmup_ratio", "max_grad_norm", "weight_decay", "random_seed", "suffix"):
            if raw.get(name) is not None:
                hyper[name] = raw[name]
        training_type = raw.get("training_type")
        if isinstance(training_type, Mapping):
            hyper["training_type"] = training_type.get("type")
            for name in ("lora_r", "lora_alpha", "lora_dropout"):
                if training_type.get(name) is not None:
                    hyper[name] = training_type[name]
        method = raw.get("training_method")
        if isinstance(method, Mapping) and method.get("method"):
            hyper["training_method"] = method["method"]
        progress = None
        epochs, done = raw.get("n_epochs"), raw.get("epochs_completed")
        if isinstance(epochs, int) and epochs > 0 and isinstance(done, int):
            progress = min(1.0, done / epochs)
        if normalized is JobStatus.SUCCEEDED:
            progress = 1.0
        estimated_finish = None
        prog = raw.get("progress")
        if isinstance(prog, Mapping) and prog.get("estimate_available"):
            seconds = prog.get("seconds_remaining")
            if isinstance(seconds, int | float):
                estimated_finish = datetime.now(UTC) + timedelta(seconds=float(seconds))
        price = _hosted.nano_usd(raw.get("total_price"))
        error = None
        if normalized is JobStatus.FAILED:
            error = self._error_from(raw)
        token_count = raw.get("token_count")
        trained = None
        if isinstance(token_count, int) and normalized is JobStatus.SUCCEEDED:
            # Together reports dataset tokens; every epoch trains on all of them.
            trained = token_count * (epochs if isinstance(epochs, int) and epochs > 0 else 1)
        return Job(
            id=str(raw["id"]), provider=self.name, status=normalized, provider_status=status,
            base_model=raw.get("model"),
            fine_tuned_model=raw.get("model_output_name") or raw.get("output_name"),
            created_at=_hosted.parse_time(raw.get("created_at")),
            started_at=_hosted.parse_time(raw.get("started_at")),
            finished_at=_hosted.parse_time(raw.get("updated_at")) if normalized.is_terminal
            else None,
            trained_tokens=trained, progress=progress, estimated_finish=estimated_finish,
            error=error, hyperparameters=hyper,
            estimated_cost_usd=price,
            actual_cost_usd=price if normalized.is_terminal else None,
            training_file=raw.get("training_file"),
            validation_file=raw.get("validation_file") or None,
            idempotency_key=idempotency_key, raw=raw,
        )

    def _error_from(self, raw: Mapping[str, Any]) -> JobErrorInfo:
        for event in reversed(raw.get("events") or []):
            if isinstance(event, Mapping) and event.get("level") in ("error", "legacy_ierror"):
                return JobErrorInfo(code=event.get("type"), message=str(event.get("message")))
        message = raw.get("error") or raw.get("message") or f"job ended {raw.get('status')}"
        return JobErrorInfo(code=str(raw.get("status")), message=str(message))


def _int(value: Any) -> int | None:
    return int(value) if isinstance(value, int | float) else None
