"""OpenAI fine-tuning through the official ``openai`` SDK (3.x).

Routes: multipart ``POST /files`` (purpose ``fine-tune``; above :data:`LARGE_FILE_THRESHOLD`
the Uploads API: ``POST /uploads``, ``/uploads/{id}/parts``, ``/uploads/{id}/complete``),
``/fine_tuning/jobs`` (create,
retrieve, list with a ``metadata`` filter, cancel, events, checkpoints). The SDK's
``base_url`` includes ``/v1``. OpenAI validates files inside the job (``validating_files``),
so :meth:`wait_file_ready` has nothing to wait for.

Idempotency: the key travels as ``metadata["tuneport_key"]``; :meth:`find_job` lists jobs
filtered on it (and checks the value itself, in case a server ignores the filter).

Self-serve fine-tuning is winding down (no new jobs after 2027-01-06): a 403 on job
creation becomes :class:`ProviderUnavailableError` saying so.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any, ClassVar, Literal

from pydantic import SecretStr

from tuneport._exceptions import ProviderError, ProviderUnavailableError, UnsupportedFeatureError
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

if TYPE_CHECKING:
    import openai as openai_sdk

__all__ = ["DEFAULT_BASE_URL", "IDEMPOTENCY_METADATA_KEY", "OpenAIProvider"]

DEFAULT_BASE_URL = "https://api.openai.com/v1"
IDEMPOTENCY_METADATA_KEY = "tuneport_key"
WIND_DOWN_DATE = "2027-01-06"

#: Files larger than this go through the Uploads API in parts: ``POST /files`` takes at most
#: 512 MB. Decimal megabytes, so a file near the limit takes the flow that always works.
#: ``OpenAIProvider(large_file_threshold=...)`` overrides it (tests lower it).
LARGE_FILE_THRESHOLD = 512_000_000
#: Bytes per part: the Uploads API takes parts of at most 64 MB (the SDK's own
#: ``uploads.upload_file_chunked`` uses 64 MiB too).
UPLOAD_PART_BYTES = 64 * 1024 * 1024
#: Tries per part before the upload is given up (a part failed is sent again alone).
PART_ATTEMPTS = 4

#: Every ``status`` OpenAI documents (plus ``paused``, returned by ``/pause``).
STATUS_MAP: dict[str, JobStatus] = {
    "validating_files": JobStatus.VALIDATING,
    "queued": JobStatus.QUEUED,
    "running": JobStatus.RUNNING,
    "paused": JobStatus.PAUSED,
    "succeeded": JobStatus.SUCCEEDED,
    "failed": JobStatus.FAILED,
    "cancelled": JobStatus.CANCELLED,
}

_LEVELS: dict[str, Literal["info", "warning", "error"]] = {
    "info": "info", "warn": "warning", "warning": "warning", "error": "error",
}

#: Hyperparameter names of ``method.<type>.hyperparameters`` (provider_options may set them).
_HYPERPARAMETERS = {
    "supervised": {"batch_size", "learning_rate_multiplier", "n_epochs"},
    "dpo": {"batch_size", "learning_rate_multiplier", "n_epochs", "beta"},
}
#: Further create fields that provider_options may set (besides the hyperparameters).
_OPTION_FIELDS = {"metadata", "validation_file", "suffix", "seed", "integrations", "method"}


def _no_adapter_settings(field: str) -> _hosted.SpecParam:
    return _hosted.SpecParam(field, field, _hosted.refuse(
        f"openai does not support the hyperparameter {field}: OpenAI does not expose adapter "
        "settings. Remove it for this provider."))


#: Spec fields → create fields; ``n_epochs``, ``batch_size`` and ``beta`` go on to the
#: method's hyperparameters.
_SPEC_PARAMS = (
    _no_adapter_settings("lora_rank"),
    _no_adapter_settings("lora_alpha"),
    _no_adapter_settings("lora_dropout"),
    # OpenAI only takes a multiplier of a base rate it does not publish, so an absolute rate
    # cannot be translated honestly.
    _hosted.SpecParam("learning_rate", "learning_rate", _hosted.refuse(
        "openai does not support the hyperparameter learning_rate (an absolute rate): OpenAI "
        "only accepts learning_rate_multiplier relative to its own default. Pass "
        "provider_options={'learning_rate_multiplier': 2.0} instead.")),
    _hosted.SpecParam("epochs", "n_epochs"),
    _hosted.SpecParam("batch_size", "batch_size", _hosted.refuse_values(
        lambda size: size == "max",
        "openai does not support batch_size='max'; use an integer (1-256) or 'auto'.")),
    # OpenAI's CreateFineTuningJobRequest: DPO beta is "auto" or a number in (0, 2].
    _hosted.SpecParam("beta", "beta", _hosted.refuse_values(
        lambda beta: beta > 2, "openai takes a DPO beta in (0, 2]; beta={value} is out of range.")),
    _hosted.SpecParam("seed", "seed"),
    _hosted.SpecParam("suffix", "suffix"),
)


class OpenAIProvider(_hosted.HostedProvider):
    """OpenAI's managed fine-tuning (supervised and DPO), serverless inference.

    Args:
        api_key: the API key; falls back to ``OPENAI_API_KEY``.
        base_url: the API root *with* ``/v1`` (default ``https://api.openai.com/v1``).
        timeout: seconds per request.
        max_retries: the SDK's own retries for reads (creates always use 0: tuneport's
            Client retries them after looking for an existing job).
        large_file_threshold: files above this many bytes go through the Uploads API in
            parts (default :data:`LARGE_FILE_THRESHOLD`).
        upload_part_bytes: bytes per part of the Uploads API (at most 64 MB; default
            :data:`UPLOAD_PART_BYTES`).
        part_retry_backoff: seconds before the first retry of a failed part.
        sleep: the wait between retries of a failed part (tests pass a no-op).
    """

    name: ClassVar[str] = "openai"
    capabilities: ClassVar[frozenset[Capability]] = frozenset(
        {Capability.LORA, Capability.DPO, Capability.EVENTS, Capability.CHECKPOINTS,
         Capability.METRICS, Capability.WANDB, Capability.PAUSE}
    )
    STATUS_MAP: ClassVar[dict[str, JobStatus]] = STATUS_MAP
    sdk_module: ClassVar[str] = "openai"
    sdk_client: ClassVar[str] = "OpenAI"
    key_env: ClassVar[str] = "OPENAI_API_KEY"
    settings_fields: ClassVar[tuple[str, ...]] = ("large_file_threshold",)
    _client: openai_sdk.OpenAI
    _reader: openai_sdk.OpenAI

    def __init__(
        self,
        *,
        api_key: SecretStr | str | None = None,
        base_url: str | None = None,
        timeout: float = 60.0,
        max_retries: int | None = None,
        large_file_threshold: int | None = None,
        upload_part_bytes: int | None = None,
        part_retry_backoff: float = 0.5,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.base_url = (base_url or DEFAULT_BASE_URL).rstrip("/")
        self.large_file_threshold = large_file_threshold
        self.upload_part_bytes = upload_part_bytes
        self.part_retry_backoff = part_retry_backoff
        super().__init__(api_key=api_key, timeout=timeout, max_retries=max_retries, sleep=sleep)

    def _errors(
        self, action: str, *, creating: bool = False
    ) -> contextlib.AbstractContextManager[None]:
        return _hosted.map_errors(
            self.name, self._sdk, action,
            secrets=(self._key.get_secret_value(),),
            on_forbidden=self._wind_down if creating else None,
        )

    def _wind_down(self, exc: Exception) -> ProviderError | None:
        return ProviderUnavailableError(
            "OpenAI refused to create the fine-tuning job (403 permission denied). OpenAI's "
            "self-serve fine-tuning is winding down: organisations are losing job creation in "
            f"stages and nobody can create self-serve jobs after {WIND_DOWN_DATE} (inference on "
            "existing fine-tunes continues). Use provider='together', 'fireworks' or 'local', "
            "or check the organisation's fine-tuning access.",
            provider=self.name, status_code=403, code=getattr(exc, "code", None),
        )

    # -- files ---------------------------------------------------------------------------

    def upload(self, rendered: RenderedDataset) -> RemoteFile:
        """Upload the rendered JSONL with purpose ``fine-tune``.

        Up to the threshold (512 MB) in one multipart ``POST /files``; above it through the
        Uploads API in parts (:meth:`_upload_in_parts`).
        """
        size = rendered.path.stat().st_size
        threshold = self.large_file_threshold
        if threshold is None:
            threshold = LARGE_FILE_THRESHOLD
        if size > threshold:
            return self._upload_in_parts(rendered, size)
        report = _upload_progress.reporter(self.name, rendered.path.name, size, "single")
        report(0)
        with self._errors("uploading the training file"), rendered.path.open("rb") as fh:
            obj = self._client.files.create(file=(rendered.path.name, fh), purpose="fine-tune")
        report.finish()
        return self._remote(obj, rendered)

    def _upload_in_parts(self, rendered: RenderedDataset, size: int) -> RemoteFile:
        """The Uploads API: create an Upload, add the parts in order, complete it.

        This is the sequence of the SDK's ``uploads.upload_file_chunked``, driven here with
        the same SDK methods because that helper reports no progress, gives up the whole
        file when one part fails, and leaves a failed Upload pending. Here a failed part is
        sent again alone (a part never named in ``complete`` is simply ignored), the md5
        lets OpenAI check the assembled file, and an Upload that cannot finish is cancelled.
        """
        path = rendered.path
        part_bytes = self.upload_part_bytes or UPLOAD_PART_BYTES
        report = _upload_progress.reporter(self.name, path.name, size, "parts")
        report(0)  # before hashing: the md5 of a few GB takes a while, the display starts now
        md5 = _transfers.file_digest(path, "md5")
        with self._errors("starting the upload (Uploads API)"):
            upload = self._client.uploads.create(
                bytes=size, filename=path.name, mime_type="text/jsonl", purpose="fine-tune"
            )
        part_ids: list[str] = []
        sent = 0
        try:
            with path.open("rb") as fh:
                for data in iter(lambda: fh.read(part_bytes), b""):
                    number = len(part_ids) + 1
                    part_ids.append(self._add_part(upload.id, number, data))
                    sent += len(data)
                    report(sent)
            with self._errors(f"completing upload {upload.id}"):
                done = self._client.uploads.complete(upload.id, part_ids=part_ids, md5=md5)
        except BaseException:
            with contextlib.suppress(Exception):
                self._client.uploads.cancel(upload.id)
            raise
        if done.file is None:
            raise ProviderError(
                f"upload {upload.id} completed without a file (status {done.status}); "
                "submit again.", provider=self.name,
            )
        report.finish()
        return self._remote(done.file, rendered)

    def _add_part(self, upload_id: str, number: int, data: bytes) -> str:
        def once() -> str:
            with self._errors(f"sending part {number} of upload {upload_id}"):
                return self._client.uploads.parts.create(upload_id, data=data).id

        return _hosted.with_retries(once, attempts=PART_ATTEMPTS,
                                    initial_backoff=self.part_retry_backoff, sleep=self._sleep)

    def _remote(self, obj: Any, rendered: RenderedDataset) -> RemoteFile:
        raw = _hosted.dump(obj)
        return RemoteFile(
            provider=self.name, id=obj.id, fingerprint=rendered.fingerprint,
            n_bytes=obj.bytes, status=raw.get("status"), raw=raw,
        )

    # -- jobs ----------------------------------------------------------------------------

    def build_create_params(
        self, file: RemoteFile, spec: FineTuneSpec, idempotency_key: str,
        validation_file: RemoteFile | None = None,
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        """The SDK keyword arguments and ``extra_body`` for a spec (no request is made).

        Raises:
            UnsupportedFeatureError: the spec asks for something OpenAI does not offer.
        """
        if spec.method in ("lora", "full", "qlora"):
            if spec.method != "lora":
                raise UnsupportedFeatureError(
                    f"openai does not let you choose method={spec.method!r}: OpenAI's supervised "
                    "fine-tuning is managed (method='lora' selects it); use provider='local' "
                    "or 'together' for full fine-tuning."
                )
            method_type = "supervised"
        elif spec.method == "dpo-lora":
            method_type = "dpo"
        else:
            raise UnsupportedFeatureError(
                f"openai does not support method={spec.method!r}; use method='dpo-lora' for "
                "OpenAI's managed DPO."
            )
        params = _hosted.spec_params(_SPEC_PARAMS, spec)
        hyper: dict[str, Any] = {name: params.pop(name)
                                 for name in ("n_epochs", "batch_size", "beta") if name in params}
        options, extra = _hosted.provider_options(
            self.name, spec.provider_options, _HYPERPARAMETERS[method_type] | _OPTION_FIELDS)
        for name in _HYPERPARAMETERS[method_type]:
            if name in options:
                hyper[name] = options.pop(name)
        metadata = {str(k): str(v) for k, v in dict(options.pop("metadata", {}) or {}).items()}
        metadata[IDEMPOTENCY_METADATA_KEY] = idempotency_key[:512]
        kwargs: dict[str, Any] = {
            "model": spec.model,
            "training_file": file.id,
            "method": {"type": method_type, method_type: {"hyperparameters": hyper}},
            "metadata": metadata,
            **params,
        }
        if validation_file is not None:
            kwargs["validation_file"] = validation_file.id
        if spec.wandb is not None:
            # OpenAI logs with the W&B key configured on the OpenAI organisation; none is sent.
            wandb: dict[str, Any] = {"project": spec.wandb.project}
            if spec.wandb.entity:
                wandb["entity"] = spec.wandb.entity
            if spec.wandb.name:
                wandb["name"] = spec.wandb.name
            if spec.wandb.tags:
                wandb["tags"] = list(spec.wandb.tags)
            kwargs["integrations"] = [{"type": "wandb", "wandb": wandb}]
        kwargs.update(options)
        return kwargs, extra

    def create_job(
        self, file: RemoteFile, spec: FineTuneSpec, idempotency_key: str,
        validation_file: RemoteFile | None = None,
    ) -> Job:
        """Create the job (no SDK retries: a lost response is adopted via :meth:`find_job`)."""
        kwargs, extra = self.build_create_params(file, spec, idempotency_key, validation_file)
        with self._errors("creating the fine-tuning job", creating=True):
            obj = self._client.fine_tuning.jobs.create(**kwargs, extra_body=extra or None)
        return self._job(obj)

    def get_job(self, job_id: str) -> Job:
        """The job's current state."""
        with self._errors(f"reading job {job_id}"):
            obj = self._reader.fine_tuning.jobs.retrieve(job_id)
        return self._job(obj)

    def list_jobs(self, *, limit: int | None = None) -> Iterator[Job]:
        """Jobs newest first (the SDK follows the ``after`` cursor)."""
        count = 0
        with self._errors("listing jobs"):
            page = self._reader.fine_tuning.jobs.list(limit=min(limit or 100, 100))
            for obj in page:
                yield self._job(obj)
                count += 1
                if limit is not None and count >= limit:
                    return

    def cancel_job(self, job_id: str) -> Job:
        """Ask OpenAI to cancel the job."""
        with self._errors(f"cancelling job {job_id}"):
            obj = self._client.fine_tuning.jobs.cancel(job_id)
        return self._job(obj)

    def pause_job(self, job_id: str) -> Job:
        """Pause a running job (OpenAI only)."""
        with self._errors(f"pausing job {job_id}"):
            obj = self._client.fine_tuning.jobs.pause(job_id)
        return self._job(obj)

    def unpause_job(self, job_id: str) -> Job:
        """Continue a paused job (OpenAI's ``/resume``; OpenAI only)."""
        with self._errors(f"resuming job {job_id}"):
            obj = self._client.fine_tuning.jobs.resume(job_id)
        return self._job(obj)

    def find_job(self, idempotency_key: str) -> Job | None:
        """The job whose ``metadata`` carries this key, if any.

        The service filters (``GET /fine_tuning/jobs?metadata[tuneport_key]=...``), so one
        request finds it however many jobs exist; each answer is checked again here, in case
        a service ignores the filter.
        """
        wanted = idempotency_key[:512]
        with self._errors("looking for an existing job"):
            page = self._reader.fine_tuning.jobs.list(
                metadata={IDEMPOTENCY_METADATA_KEY: wanted}, limit=100
            )
            for obj in page:
                if (obj.metadata or {}).get(IDEMPOTENCY_METADATA_KEY) == wanted:
                    return self._job(obj)
        return None

    # -- events, checkpoints, metrics ----------------------------------------------------

    def _raw_events(self, job_id: str) -> list[dict[str, Any]]:
        with self._errors(f"reading the events of job {job_id}"):
            page = self._reader.fine_tuning.jobs.list_events(job_id, limit=100)
            items = [_hosted.dump(e) for e in page]
        # The API lists newest first; keep a stable order for equal timestamps.
        indexed = list(enumerate(items))
        indexed.sort(key=lambda pair: (pair[1].get("created_at") or 0, -pair[0]))
        return [item for _, item in indexed]

    def events(self, job_id: str, after: str | None = None) -> list[JobEvent]:
        """Events oldest first; with ``after``, only those newer than that event id."""
        events = []
        for raw in self._raw_events(job_id):
            data = raw.get("data") or {}
            created = _hosted.parse_time(raw.get("created_at"))
            if created is None:
                continue
            events.append(JobEvent(
                id=str(raw.get("id")), job_id=job_id, created_at=created,
                level=_LEVELS.get(str(raw.get("level")), "info"),
                message=str(raw.get("message") or ""), type=raw.get("type"),
                step=data.get("step") if isinstance(data, dict) else None,
                data=data if isinstance(data, dict) else {},
            ))
        return _hosted.since_event(events, after)

    def checkpoints(self, job_id: str) -> list[Checkpoint]:
        """Saved checkpoints, each callable as a model (``…:ckpt-step-N``)."""
        with self._errors(f"listing the checkpoints of job {job_id}"):
            page = self._reader.fine_tuning.jobs.checkpoints.list(job_id, limit=100)
            items = [_hosted.dump(c) for c in page]
        out = []
        for raw in items:
            metrics = {
                k: float(v) for k, v in (raw.get("metrics") or {}).items()
                if isinstance(v, int | float) and k != "step"
            }
            out.append(Checkpoint(
                id=str(raw["id"]), job_id=job_id, step=raw.get("step_number"),
                created_at=_hosted.parse_time(raw.get("created_at")),
                model=raw.get("fine_tuned_model_checkpoint"), metrics=metrics,
            ))
        out.sort(key=lambda c: c.step or 0)
        return out

    def metrics(self, job_id: str) -> list[MetricPoint]:
        """Training metrics from the job's ``metrics`` events."""
        points: dict[int, MetricPoint] = {}
        for raw in self._raw_events(job_id):
            data = raw.get("data")
            if raw.get("type") != "metrics" or not isinstance(data, dict) or "step" not in data:
                continue
            step = int(data["step"])
            points[step] = MetricPoint(
                step=step,
                train_loss=_float(data.get("train_loss")),
                eval_loss=_float(data.get("valid_loss", data.get("full_valid_loss"))),
                epoch=_float(data.get("epoch")),
            )
        return [points[s] for s in sorted(points)]

    # -- serving -------------------------------------------------------------------------

    def endpoint(self, job: Job) -> ModelEndpoint:
        """Serverless: the fine-tuned model is callable as soon as the job succeeded."""
        ready = job.status is JobStatus.SUCCEEDED and bool(job.fine_tuned_model)
        notes: tuple[str, ...] = ()
        if not ready:
            notes = (f"The job is {job.status.value}; the model is callable once it succeeded.",)
        return ModelEndpoint(
            provider=self.name, model=job.fine_tuned_model or "", base_url=self.base_url,
            kind="serverless", state=EndpointState.READY if ready else EndpointState.NOT_DEPLOYED,
            base_model=job.base_model, notes=notes, api_key=self._key,
        )

    # -- normalization -------------------------------------------------------------------

    def _job(self, obj: Any) -> Job:
        raw: dict[str, Any] = _hosted.dump(obj)
        status = str(raw.get("status"))
        hyper: dict[str, Any] = {}
        method = raw.get("method") or {}
        method_type = method.get("type") if isinstance(method, dict) else None
        if method_type and isinstance(method.get(method_type), dict):
            hyper.update(method[method_type].get("hyperparameters") or {})
        if not hyper:
            hyper.update(raw.get("hyperparameters") or {})
        hyper = {k: v for k, v in hyper.items() if v is not None}
        if method_type:
            hyper["method"] = method_type
        if raw.get("seed") is not None:
            hyper["seed"] = raw["seed"]
        error = raw.get("error") or None
        error_info = None
        if isinstance(error, dict) and (error.get("message") or error.get("code")):
            error_info = JobErrorInfo(
                code=error.get("code"), message=str(error.get("message") or error.get("code")),
                param=error.get("param"),
            )
        metadata = raw.get("metadata") or {}
        return Job(
            id=str(raw["id"]), provider=self.name, status=self.normalize_status(status),
            provider_status=status, base_model=raw.get("model"),
            fine_tuned_model=raw.get("fine_tuned_model"),
            created_at=_hosted.parse_time(raw.get("created_at")),
            finished_at=_hosted.parse_time(raw.get("finished_at")),
            trained_tokens=raw.get("trained_tokens"),
            estimated_finish=_hosted.parse_time(raw.get("estimated_finish")),
            error=error_info, hyperparameters=hyper,
            training_file=raw.get("training_file"), validation_file=raw.get("validation_file"),
            idempotency_key=metadata.get(IDEMPOTENCY_METADATA_KEY) if isinstance(metadata, dict)
            else None,
            raw=raw,
        )


def _float(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) else None
