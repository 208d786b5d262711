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
:meth:`deploy` follows the official CLI's ``tg endpoints deploy --merge`` with the 3.x SDK's
project endpoints (``/v2/projects/{project}/endpoints`` + ``…/deployments``; needs
``TOGETHER_PROJECT_ID``): model resource path, config, traffic split. ``model=`` is then the
endpoint's project-qualified name; :meth:`undeploy` stops and deletes it.
"""

from __future__ import annotations

import contextlib
import inspect
import os
import time
from collections.abc import Callable, Iterator, Mapping
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any, ClassVar, Literal

from pydantic import SecretStr

from tuneport._exceptions import (
    BadRequestError,
    ConfigError,
    ConflictError,
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
from tuneport.providers.base import ProviderQuote

if TYPE_CHECKING:
    import together as together_sdk

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

#: Spec fields → ``fine_tuning.create`` arguments, for every method.
_SPEC_PARAMS = (
    _hosted.SpecParam("epochs", "n_epochs", _hosted.refuse_values(
        lambda epochs: epochs == "auto",
        "together does not support epochs='auto'; give a number of epochs.")),
    _hosted.SpecParam("batch_size", "batch_size", _hosted.refuse_values(
        lambda size: size == "auto",
        "together does not support batch_size='auto'; use an integer or 'max'.")),
    _hosted.SpecParam("learning_rate", "learning_rate"),
    _hosted.SpecParam("seed", "random_seed"),
)
#: The adapter's settings, for LoRA methods (full fine-tuning has no adapter).
_LORA_PARAMS = (
    _hosted.SpecParam("lora_rank", "lora_r"),
    _hosted.SpecParam("lora_alpha", "lora_alpha"),
    _hosted.SpecParam("lora_dropout", "lora_dropout"),
)
#: ``fine_tuning.create`` arguments that tuneport sets and provider_options may not.
_TAKEN = frozenset({"training_file", "model", "verbose", "model_limits"})


class TogetherProvider(_hosted.HostedProvider):
    """Together AI's managed fine-tuning (LoRA, full, DPO) and dedicated endpoints.

    Args:
        api_key: the API key; falls back to ``TOGETHER_API_KEY``.
        base_url: the API root *without* ``/v1`` (a trailing ``/v1`` is removed, since the
            3.x SDK would otherwise call ``/v1/v1/…``).
        timeout: seconds per request.
        max_retries: the SDK's own retries for reads (creates always use 0).
        project_id: the project of dedicated endpoints; falls back to ``TOGETHER_PROJECT_ID``.
        file_poll_interval: seconds before the first read of a file being processed.
        multipart_threshold: files above this many bytes are uploaded in parts
            (default :data:`MULTIPART_THRESHOLD`).
        part_retry_backoff: seconds before the first retry of a failed part.
        sleep: the wait between reads of a file being processed (tests pass a no-op).
    """

    name: ClassVar[str] = "together"
    capabilities: ClassVar[frozenset[Capability]] = frozenset(
        {Capability.LORA, Capability.FULL, Capability.DPO, Capability.ESTIMATE_API,
         Capability.EVENTS, Capability.CHECKPOINTS, Capability.METRICS, Capability.DEPLOY,
         Capability.WANDB}
    )
    STATUS_MAP: ClassVar[dict[str, JobStatus]] = STATUS_MAP
    sdk_module: ClassVar[str] = "together"
    sdk_client: ClassVar[str] = "Together"
    key_env: ClassVar[str] = "TOGETHER_API_KEY"
    settings_fields: ClassVar[tuple[str, ...]] = ("project_id", "multipart_threshold")
    _client: together_sdk.Together
    _reader: together_sdk.Together

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
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        root = (base_url or DEFAULT_BASE_URL).rstrip("/")
        if root.endswith("/v1"):
            root = root[: -len("/v1")]
        self.base_url = root
        self.file_poll_interval = file_poll_interval
        self.multipart_threshold = multipart_threshold
        self.part_retry_backoff = part_retry_backoff
        self.project_id = project_id or os.environ.get("TOGETHER_PROJECT_ID") or None
        super().__init__(api_key=api_key, timeout=timeout, max_retries=max_retries, sleep=sleep)

    def _client_options(self) -> dict[str, Any]:
        return {"base_url": self.base_url, "project_id": self.project_id}

    @property
    def inference_base_url(self) -> str:
        """The OpenAI-compatible root for chat completions (with ``/v1``)."""
        return f"{self.base_url}/v1"

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

        # The SDK's upload is three requests (POST /files, PUT, /preprocess): its own
        # retries repeat a failed POST or /preprocess alone (each is safe to repeat: a
        # second file record is never uploaded to, a second /preprocess changes nothing).
        uploader = self._client.with_options(max_retries=max(0, self.request_attempts - 1))
        with self._errors("uploading the training file"):
            obj = uploader.files.upload(rendered.path, purpose="fine-tune", check=False,
                                            progress_callback=progress)
        report.finish()
        return self._remote(_hosted.dump(obj), rendered.fingerprint)

    def _upload_multipart(self, rendered: RenderedDataset, size: int) -> RemoteFile:
        from together.lib.resources.files import FileAlreadyExistsError

        from tuneport.providers._together_multipart import upload_multipart

        report = _upload_progress.reporter(self.name, rendered.path.name, size, "multipart")
        report(0)  # before hashing: the sha256 of a few GB takes a while
        checksum = _transfers.file_digest(rendered.path, "sha256")
        existing: str | None = None
        with self._errors("uploading the training file in parts"):
            try:
                obj = upload_multipart(self._client, rendered.path, checksum, report,
                                       attempts=PART_ATTEMPTS, backoff=self.part_retry_backoff,
                                       sleep=self._sleep)
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

        With ``provider_options={"extra_body": {...}}`` they hold ``extra_body`` too: fields
        the SDK does not know, which :meth:`create_job` adds to the request body.

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
        elif spec.beta is not None:
            kwargs["dpo_beta"] = spec.beta  # the official CLI's --dpo-beta (tests/wire)
        if lora:
            kwargs.update(_hosted.spec_params(_LORA_PARAMS, spec))
        else:
            for entry in _LORA_PARAMS:
                if getattr(spec, entry.field) is not None:
                    raise UnsupportedFeatureError(
                        f"together does not support the hyperparameter {entry.field} with "
                        f"method={spec.method!r} (full fine-tuning has no adapter)."
                    )
        kwargs.update(_hosted.spec_params(_SPEC_PARAMS, spec))
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
        allowed = _hosted.request_fields(self._client.fine_tuning.create) - _TAKEN
        options, extra = _hosted.provider_options(self.name, spec.provider_options, allowed)
        kwargs.update(options)
        if extra:
            # Not an argument of fine_tuning.create: create_job adds it to the request body.
            kwargs["extra_body"] = extra
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
        """Create the job the way the SDK's ``fine_tuning.create`` does, one request at a time.

        The SDK's ``create`` sends three requests: the model's limits, a price preview
        (used only for its ``verbose`` printout) and the create. Here the limits are read
        first with their own retries, the request is built by the SDK's own
        ``create_finetune_request`` with ``create``'s own defaults, and the create is sent
        alone with no SDK retries: a lost answer is adopted through :meth:`find_job`, and
        a failed read never costs an attempt of the create.
        """
        from together.lib.resources.fine_tuning import create_finetune_request
        from together.lib.types.fine_tuning import FinetuneResponse

        kwargs = self.build_create_params(file, spec, idempotency_key, validation_file)
        extra = kwargs.pop("extra_body", {})
        reader = self._client.with_options(max_retries=max(0, self.request_attempts - 1))
        with self._errors(f"reading the limits of {spec.model}"):
            limits = reader.fine_tuning.model_limits(model_name=str(kwargs["model"]))
        defaults = {
            name: param.default
            for name, param in inspect.signature(self._client.fine_tuning.create).parameters.items()
            if param.default is not inspect.Parameter.empty
            and name not in ("verbose", "model_limits")
        }
        try:
            request, _, _ = create_finetune_request(
                model_limits=limits, **{**defaults, **kwargs}
            )
        except ValueError as exc:
            # The SDK checks hyperparameters against the model's limits before sending.
            raise BadRequestError(
                f"together refused the job settings: {exc}", provider=self.name
            ) from exc
        with self._errors("creating the fine-tuning job"):
            obj = self._client.post(
                "/v1/fine-tunes", body={**request.model_dump(exclude_none=True), **extra},
                cast_to=FinetuneResponse,
            )
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
    #
    # The flow of the official CLI (``tg endpoints deploy``, together/lib/cli/api/endpoints):
    # the job's model object becomes a resource path (``construct_model_path``), a config
    # of its base model is chosen from ``models.configs.list`` (the only one, or the one the
    # caller names), the endpoint is created (409: found by its project-qualified name), the
    # deployment is created with model + config + autoscaling, and the endpoint's traffic
    # split routes it. A LoRA output is deployed as the CLI's ``--merge`` does (its model
    # object, merged into the base by Together): one deployment per job, so stopping it
    # stops exactly what this job started. A failure half-way rolls back what this call
    # created, as the CLI does. Undeploy follows ``tg endpoints rm --force``: unroute,
    # scale to zero, delete the deployments, delete the endpoint.

    def _require_project(self) -> str:
        if not self.project_id:
            raise ConfigError(
                "Together's dedicated endpoints belong to a project: set TOGETHER_PROJECT_ID "
                "(or TUNEPORT_TOGETHER_PROJECT_ID), pass project_id=... to tuneport.Client, or "
                "add project_id under [providers.together] in tuneport.toml."
            )
        return self.project_id

    def endpoint_name_for(self, job: Job) -> str:
        """The bare endpoint name tuneport gives a job's model (stable: deploy is repeatable).

        Together answers with it project-qualified (``<project_slug>/<name>``).
        """
        return f"{TOKEN_PREFIX}-ep-{_hosted.idempotency_token(job.id, 16)}"

    def deployment_name_for(self, job: Job) -> str:
        """The deployment's name on its endpoint (no ``/``: Together qualifies it)."""
        return f"{TOKEN_PREFIX}-dep-{_hosted.idempotency_token(job.id, 16)}"

    def _find_endpoint(self, job: Job) -> dict[str, Any] | None:
        """The endpoint tuneport made for this job, compared by its bare name."""
        project = self._require_project()
        wanted = self.endpoint_name_for(job)
        with self._errors("listing dedicated endpoints"):
            page = self._reader.endpoints.list(project_id=project, filter=f'name="{wanted}"')
            for item in page:
                raw = _hosted.dump(item)
                if str(raw.get("name") or "").rsplit("/", 1)[-1] == wanted:
                    return raw
        return None

    def _model_object(self, job: Job) -> tuple[dict[str, Any], str | None]:
        """The job's final model object (``ml_…``) and its revision, as the registry has it."""
        project = self._require_project()
        raw = job.raw
        model_id = raw.get("model_object_id") or raw.get("adapter_object_id")
        revision = (raw.get("model_object_revision_id") if raw.get("model_object_id")
                    else raw.get("adapter_object_revision_id"))
        if model_id:
            with self._errors(f"reading model {model_id}"):
                return _hosted.dump(self._reader.models.retrieve(
                    str(model_id), project_id=project)), revision
        # Older jobs name their output only: find it among the project's models by name,
        # as the CLI's resolver does for ``<project_slug>/<name>``.
        name = str(job.fine_tuned_model or "")
        bare = name.rsplit("/", 1)[-1]
        with self._errors("listing the project's models"):
            for item in self._reader.models.list(project_id=project):
                found = _hosted.dump(item)
                if str(found.get("name") or "").rsplit("/", 1)[-1] == bare:
                    return found, None
        raise NotFoundError(
            f"together has no model object for job {job.id} ({name}); it may have been "
            "deleted.", provider=self.name,
        )

    def _config_path(self, model: Mapping[str, Any], config: str | None) -> str:
        """``projects/{p}/configs/{id}`` for the model's base (the caller's, or the only one)."""
        project = self._require_project()
        reference = str(model.get("baseModelId") or model.get("id"))
        with self._errors("listing deployment configs"):
            configs = [_hosted.dump(c) for c in self._reader.models.configs.list(
                project_id=project, reference_model_id=reference)]
        if config is not None:
            for item in configs:
                path = f"projects/{item.get('projectId')}/configs/{item.get('id')}"
                if config in (item.get("id"), path):
                    return path
            if config.startswith("projects/"):
                return config  # the API judges compatibility, as the CLI lets it
            return f"projects/{project}/configs/{config}"
        if len(configs) == 1:
            item = configs[0]
            return f"projects/{item.get('projectId')}/configs/{item.get('id')}"
        if not configs:
            raise BadRequestError(
                f"together lists no deployment config for {model.get('name')}; it cannot be "
                "deployed on a dedicated endpoint.", provider=self.name,
            )
        choices = ", ".join(
            f"{c.get('id')} ({_selectors(c)})" for c in configs
        )
        raise ConfigError(
            f"together has several deployment configs for {model.get('name')}: {choices}. "
            "Pick one: client.deploy(job, config='cr_...') or tuneport endpoint JOB --deploy "
            "--config cr_..."
        )

    def endpoint(self, job: Job) -> ModelEndpoint:
        """The dedicated endpoint serving this job's model, or ``NOT_DEPLOYED``."""
        model = job.fine_tuned_model
        if model and job.status is JobStatus.SUCCEEDED and self.project_id:
            found = self._find_endpoint(job)
            if found is not None:
                return self._endpoint(job, found)
        return self._not_deployed(job)

    def _not_deployed(self, job: Job) -> ModelEndpoint:
        return _hosted.not_deployed(
            self.name, job, base_url=self.inference_base_url, hardware=DEFAULT_HARDWARE,
            what="dedicated endpoint", billing="per minute until stopped", api_key=self._key,
        )

    def deploy(
        self,
        job: Job,
        *,
        min_replicas: int = 1,
        max_replicas: int | None = None,
        config: str | None = None,
        **options: Any,
    ) -> ModelEndpoint:
        """Deploy the job's model on a dedicated endpoint, as ``tg endpoints deploy`` does.

        Idempotent: the endpoint and deployment names derive from the job, so a second
        call finds them (by their project-qualified names) and only routes or restarts
        what is stopped.

        Args:
            job: a succeeded job.
            min_replicas: replicas kept up (each billed per minute).
            max_replicas: the autoscaling ceiling (default ``min_replicas``).
            config: the config revision (``cr_…`` or ``projects/{p}/configs/{id}``) when
                the base model has several.
            **options: further fields of ``endpoints.deployments.create``
                (``inactive_timeout``, ``placement`` …).

        Raises:
            ConfigError: no project, or several configs and none chosen.
        """
        if job.status is not JobStatus.SUCCEEDED or not job.fine_tuned_model:
            raise UnsupportedFeatureError(
                f"together can only deploy a succeeded job; job {job.id} is {job.status.value}."
            )
        _hosted.check_options(self.name, options, self._client.endpoints.deployments.create,
                              taken={"endpoint_id", "project_id", "name", "model", "config",
                                     "config_id", "autoscaling"}, what="deployment")
        project = self._require_project()
        autoscaling: Any = {"min_replicas": min_replicas,
                            "max_replicas": max_replicas if max_replicas is not None
                            else min_replicas}
        found = self._find_endpoint(job)
        created_endpoint = False
        if found is None:
            model, revision = self._model_object(job)
            model_path = f"projects/{model.get('projectId')}/models/{model.get('id')}"
            if revision:
                model_path += f"/revisions/{revision}"
            config_path = self._config_path(model, config)
            try:
                with self._errors("creating a dedicated endpoint"):
                    found = _hosted.dump(self._client.endpoints.create(
                        project_id=project, name=self.endpoint_name_for(job)))
                created_endpoint = True
            except ConflictError:
                # Created by a call whose answer was lost: the 409 means it is there.
                found = self._find_endpoint(job)
                if found is None:
                    raise
        else:
            model_path = config_path = ""
        endpoint_id = str(found["id"])
        mine = self._deployment_of(job, found)
        created_deployment: str | None = None
        try:
            if mine is None:
                if not model_path:
                    model, revision = self._model_object(job)
                    model_path = f"projects/{model.get('projectId')}/models/{model.get('id')}"
                    if revision:
                        model_path += f"/revisions/{revision}"
                    config_path = self._config_path(model, config)
                with self._errors("deploying the model on the endpoint"):
                    deployment = _hosted.dump(self._client.endpoints.deployments.create(
                        endpoint_id, project_id=project, name=self.deployment_name_for(job),
                        model=model_path, config=config_path, autoscaling=autoscaling,
                        **options,
                    ))
                created_deployment = str(deployment["id"])
                deployment_id = created_deployment
            else:
                deployment_id = str(mine["id"])
                scaling = mine.get("autoscaling") or {}
                if not int(scaling.get("maxReplicas") or scaling.get("max_replicas") or 0):
                    # Stopped by undeploy (scaled to zero): start it again.
                    with self._errors("starting the deployment again"):
                        self._client.endpoints.deployments.update(
                            deployment_id, endpoint_id=endpoint_id, project_id=project,
                            autoscaling=autoscaling, update_mask="autoscaling",
                        )
            found = self._route(project, endpoint_id, deployment_id)
        except BaseException:
            self._roll_back(project, endpoint_id, created_deployment, created_endpoint)
            raise
        return self._endpoint(job, found)

    def _deployment_of(self, job: Job, endpoint: Mapping[str, Any]) -> dict[str, Any] | None:
        wanted = self.deployment_name_for(job)
        for d in endpoint.get("deployments") or []:
            if isinstance(d, Mapping) and str(d.get("name") or "").rsplit("/", 1)[-1] == wanted:
                return dict(d)
        return None

    def _route(self, project: str, endpoint_id: str, deployment_id: str) -> dict[str, Any]:
        """Give the deployment live traffic (weight 1), keeping the other entries."""
        with self._errors("reading the endpoint"):
            current = _hosted.dump(self._reader.endpoints.retrieve(endpoint_id,
                                                                   project_id=project))
        split = [{"deployment_id": e.get("deploymentId"), "weight": e.get("weight")}
                 for e in current.get("trafficSplit") or [] if isinstance(e, Mapping)]
        if any(e["deployment_id"] == deployment_id and e["weight"] for e in split):
            return current
        split = [e for e in split if e["deployment_id"] != deployment_id]
        split.append({"deployment_id": deployment_id, "weight": 1.0})
        with self._errors("routing the endpoint's traffic to the deployment"):
            return _hosted.dump(self._client.endpoints.update(
                endpoint_id, project_id=project, traffic_split=split,  # type: ignore[arg-type]
                update_mask="trafficSplit", etag=str(current.get("etag") or ""),
            ))

    def _roll_back(self, project: str, endpoint_id: str, deployment_id: str | None,
                   endpoint_created: bool) -> None:
        """Remove what a failed deploy created (best effort: the error that matters is the
        one being raised; whatever stays behind is still found by name)."""
        with contextlib.suppress(Exception):
            if deployment_id is not None:
                self._stop_deployment(project, endpoint_id, deployment_id)
            if endpoint_created:
                self._client.endpoints.delete(endpoint_id, project_id=project)

    def _stop_deployment(self, project: str, endpoint_id: str, deployment_id: str) -> bool:
        """Scale to zero and delete; False when Together keeps it until it has stopped."""
        deployments = self._client.endpoints.deployments
        deployments.update(deployment_id, endpoint_id=endpoint_id, project_id=project,
                           autoscaling={"min_replicas": 0, "max_replicas": 0},
                           update_mask="autoscaling")
        try:
            deployments.delete(deployment_id, endpoint_id=endpoint_id, project_id=project)
        except self._sdk.APIStatusError:
            return False  # still stopping: it no longer bills, a later undeploy deletes it
        return True

    def undeploy(self, job: Job) -> ModelEndpoint:
        """Stop what :meth:`deploy` started: unroute, scale to zero, delete, as
        ``tg endpoints rm --force`` does. Harmless when nothing is deployed."""
        if not self.project_id:
            return self._not_deployed(job)
        project = self.project_id
        found = self._find_endpoint(job)
        if found is None:
            return self._not_deployed(job)
        endpoint_id = str(found["id"])
        with self._errors("stopping the dedicated endpoint"):
            if found.get("trafficSplit"):
                self._client.endpoints.update(endpoint_id, project_id=project, traffic_split=[],
                                              update_mask="trafficSplit")
            deleted_all = True
            for d in found.get("deployments") or []:
                if isinstance(d, Mapping) and d.get("id"):
                    deleted_all &= self._stop_deployment(project, endpoint_id, str(d["id"]))
            if deleted_all:
                self._client.endpoints.delete(endpoint_id, project_id=project)
        if deleted_all:
            return self._not_deployed(job)
        with self._errors("reading the endpoint"):
            left = _hosted.dump(self._reader.endpoints.retrieve(endpoint_id, project_id=project))
        return self._endpoint(job, left)

    def _endpoint(self, job: Job, raw: dict[str, Any]) -> ModelEndpoint:
        deployments = [d for d in raw.get("deployments") or [] if isinstance(d, Mapping)]
        mine = self._deployment_of(job, raw)
        states = [str(d.get("state") or "") for d in deployments]
        routed = {str(e.get("deploymentId")) for e in raw.get("trafficSplit") or []
                  if isinstance(e, Mapping) and e.get("weight")}
        if mine is None:
            state = EndpointState.NOT_DEPLOYED
        else:
            state = DEPLOYMENT_STATES.get(str(mine.get("state") or ""), EndpointState.DEPLOYING)
            if state is EndpointState.READY and str(mine.get("id")) not in routed:
                state = EndpointState.DEPLOYING  # ready but unrouted: chat is refused
        target = mine or {}
        hardware = str(target.get("hardware") or DEFAULT_HARDWARE)
        scaling = target.get("autoscaling") or {}
        replicas = int(scaling.get("minReplicas") or scaling.get("min_replicas") or 1)
        hourly = _hosted.serving_hourly_usd(self.name, hardware, max(replicas, 1))
        return ModelEndpoint(
            provider=self.name,
            # Inference names the endpoint by its project-qualified name.
            model=str(raw.get("name") or job.fine_tuned_model or ""),
            base_url=self.inference_base_url, kind="dedicated", state=state,
            deployment_id=str(target["id"]) if target.get("id") else raw.get("id"),
            base_model=job.base_model, hourly_usd=hourly,
            notes=(f"endpoint {raw.get('id')}; deployment state "
                   f"{', '.join(states) or 'none'}; billed per minute until stopped "
                   "(tuneport endpoint JOB --stop).",),
            api_key=self._key,
        )

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


def _selectors(config: Mapping[str, Any]) -> str:
    pairs = [f"{s.get('key')}={s.get('value')}" for s in config.get("selectors") or []
             if isinstance(s, Mapping)]
    return ", ".join(pairs) or "no selectors"


def _int(value: Any) -> int | None:
    return int(value) if isinstance(value, int | float) else None
