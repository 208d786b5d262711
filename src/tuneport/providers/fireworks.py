"""Fireworks AI fine-tuning through the official ``fireworks-ai`` SDK (1.x).

Routes (``base_url`` *without* ``/v1``; everything under ``/v1/accounts/{account_id}``):
a dataset record is created (``POST …/datasets``, with the example count), the JSONL goes
to ``…/datasets/{id}:upload`` (above :data:`SIGNED_URL_THRESHOLD`: ``:getUploadEndpoint``, a
``PUT`` to the signed URL, ``:validateUpload``) and the dataset is polled until ``READY``.
Supervised jobs
live under ``…/supervisedFineTuningJobs`` (create, get, list, ``:cancel``); the price comes
from ``…/supervisedFineTuningJobs:estimateCost``, which the SDK does not wrap, so it goes
through the SDK's raw ``post``.

Idempotency: Fireworks lets the client choose the job id; tuneport derives it from the
key (``tp-<hash>``), so a repeated create answers 409 and :meth:`find_job` is a plain GET.
Datasets are named after the content fingerprint the same way.

Events: Fireworks has no events route for SFT jobs. :meth:`events` synthesizes them from
the job itself (created, its current state, its progress), so they only reflect the last
snapshot, not the full history.

Serving: LoRA fine-tunes need a dedicated deployment. :meth:`deploy` uses live merge, which
Fireworks recommends for a single LoRA: one deployment whose base model is the fine-tuned
model; ``model=`` is then ``accounts/<a>/models/<ft>#accounts/<a>/deployments/<dep>``.
:meth:`undeploy` deletes it.
"""

from __future__ import annotations

import functools
import os
import time
from collections.abc import Callable, Iterator, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Literal, TypeVar

from pydantic import SecretStr

from tuneport._exceptions import (
    ConfigError,
    ConflictError,
    DatasetError,
    NotFoundError,
    ProviderError,
    UnsupportedFeatureError,
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
from tuneport.providers import _fireworks_dpo, _hosted, _transfers, _upload_progress
from tuneport.providers.base import ProviderQuote

if TYPE_CHECKING:
    import fireworks as fireworks_sdk

    from tuneport.providers._file_wait import FileReadiness

__all__ = ["DEFAULT_ACCELERATOR", "DEFAULT_API_ROOT", "FireworksProvider"]

T = TypeVar("T")

DEFAULT_API_ROOT = "https://api.fireworks.ai"
DEFAULT_INFERENCE_URL = "https://api.fireworks.ai/inference/v1"
DEFAULT_ACCELERATOR = "NVIDIA_H100_80GB"
ID_PREFIX = "tp-"

#: Files larger than this go through the signed-URL flow: ``:upload`` takes "up to 150Mb"
#: (decimal here, so a file near the limit takes the flow that always works).
#: ``FireworksProvider(signed_url_threshold=...)`` overrides it (tests lower it).
SIGNED_URL_THRESHOLD = 150_000_000
#: Tries of the signed-URL PUT. The flow has one URL per file and no parts, so a retry
#: sends the whole file again.
PUT_ATTEMPTS = 3
#: Seconds after which a signed URL is asked for again before a retry (signed for 1 h).
SIGNED_URL_REFRESH_SECONDS = 45 * 60

#: Every ``gatewayJobState`` Fireworks documents (4.259.0 and 5.10.0).
STATUS_MAP: dict[str, JobStatus] = {
    "JOB_STATE_VALIDATING": JobStatus.VALIDATING,
    "JOB_STATE_CREATING_INPUT_DATASET": JobStatus.VALIDATING,
    "JOB_STATE_CREATING": JobStatus.QUEUED,
    "JOB_STATE_PENDING": JobStatus.QUEUED,
    "JOB_STATE_RE_QUEUEING": JobStatus.QUEUED,
    "JOB_STATE_IDLE": JobStatus.QUEUED,
    "JOB_STATE_RUNNING": JobStatus.RUNNING,
    "JOB_STATE_WRITING_RESULTS": JobStatus.RUNNING,
    "JOB_STATE_PAUSED": JobStatus.PAUSED,
    "JOB_STATE_CANCELLING": JobStatus.CANCELLING,
    "JOB_STATE_COMPLETED": JobStatus.SUCCEEDED,
    # Early stopping ends a job with a usable model: treated as success on purpose.
    "JOB_STATE_EARLY_STOPPED": JobStatus.SUCCEEDED,
    "JOB_STATE_FAILED": JobStatus.FAILED,
    "JOB_STATE_EXPIRED": JobStatus.FAILED,
    "JOB_STATE_CANCELLED": JobStatus.CANCELLED,
    "JOB_STATE_DELETING": JobStatus.DELETED,
    "JOB_STATE_DELETING_CLEANING_UP": JobStatus.DELETED,
    "JOB_STATE_DELETED": JobStatus.DELETED,
    "JOB_STATE_ARCHIVED": JobStatus.DELETED,
    # JOB_STATE_UNSPECIFIED is deliberately absent: it maps to UNKNOWN with a warning.
}

DEPLOYMENT_STATES: dict[str, EndpointState] = {
    "CREATING": EndpointState.DEPLOYING,
    "UPDATING": EndpointState.DEPLOYING,
    "READY": EndpointState.READY,
    "FAILED": EndpointState.FAILED,
    "DELETING": EndpointState.NOT_DEPLOYED,
    "DELETED": EndpointState.NOT_DEPLOYED,
}
#: States of an adopted deployment that deploy starts again with ``:undelete``.
_RESTARTABLE = frozenset({"DELETED", "FAILED"})
DEPLOYED_MODEL_STATES: dict[str, EndpointState] = {
    "DEPLOYING": EndpointState.DEPLOYING,
    "UPDATING": EndpointState.DEPLOYING,
    "DEPLOYED": EndpointState.READY,
    "UNDEPLOYING": EndpointState.NOT_DEPLOYED,
}

#: Spec fields → ``supervised_fine_tuning_jobs.create`` arguments.
_SPEC_PARAMS = (
    _hosted.SpecParam("lora_alpha", "lora_alpha", _hosted.refuse(
        "fireworks does not support the hyperparameter lora_alpha; only lora_rank (a power of "
        "2 up to 32) is settable.")),
    _hosted.SpecParam("lora_dropout", "lora_dropout", _hosted.refuse(
        "fireworks does not support the hyperparameter lora_dropout; only lora_rank (a power "
        "of 2 up to 32) is settable.")),
    _hosted.SpecParam("epochs", "epochs", _hosted.refuse_values(
        lambda epochs: epochs == "auto",
        "fireworks does not support epochs='auto'; give a number of epochs.")),
    _hosted.SpecParam("learning_rate", "learning_rate"),
    _hosted.SpecParam("lora_rank", "lora_rank"),
    _hosted.SpecParam("batch_size", "batch_size_samples", _hosted.refuse_values(
        lambda size: not isinstance(size, int),
        "fireworks does not support batch_size={value!r}; give the number of samples per "
        "batch (batchSizeSamples).")),
    _hosted.SpecParam("seed", "seed", _hosted.refuse(
        "fireworks does not support the hyperparameter seed for supervised jobs.")),
)


class FireworksProvider(_hosted.HostedProvider):
    """Fireworks AI's managed LoRA fine-tuning and dedicated deployments.

    Args:
        api_key: the API key; falls back to ``FIREWORKS_API_KEY``.
        account_id: the account; falls back to ``FIREWORKS_ACCOUNT_ID``.
        base_url: the API root *without* ``/v1`` (default ``https://api.fireworks.ai``).
        timeout: seconds per request.
        max_retries: the SDK's own retries for reads (creates always use 0).
        dataset_poll_interval: seconds before the first read of a dataset being ingested.
        signed_url_threshold: files above this many bytes go up through a signed URL
            (default :data:`SIGNED_URL_THRESHOLD`).
        put_retry_backoff: seconds before the first retry of the signed-URL ``PUT``.
        sleep: the wait between reads of a dataset and between retries (tests pass a
            no-op).
    """

    name: ClassVar[str] = "fireworks"
    capabilities: ClassVar[frozenset[Capability]] = frozenset(
        {Capability.LORA, Capability.DPO, Capability.ESTIMATE_API, Capability.CLIENT_JOB_ID,
         Capability.EVENTS, Capability.DEPLOY, Capability.WANDB}
    )
    STATUS_MAP: ClassVar[dict[str, JobStatus]] = STATUS_MAP
    sdk_module: ClassVar[str] = "fireworks"
    sdk_client: ClassVar[str] = "Fireworks"
    key_env: ClassVar[str] = "FIREWORKS_API_KEY"
    settings_fields: ClassVar[tuple[str, ...]] = ("account_id", "signed_url_threshold")
    _client: fireworks_sdk.Fireworks
    _reader: fireworks_sdk.Fireworks

    def __init__(
        self,
        *,
        api_key: SecretStr | str | None = None,
        account_id: str | None = None,
        base_url: str | None = None,
        timeout: float = 60.0,
        max_retries: int | None = None,
        dataset_poll_interval: float = 1.0,
        signed_url_threshold: int | None = None,
        put_retry_backoff: float = 1.0,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.account_id = account_id or os.environ.get("FIREWORKS_ACCOUNT_ID") or ""
        root = (base_url or os.environ.get("FIREWORKS_BASE_URL") or "").rstrip("/")
        if root.endswith("/v1"):
            root = root[: -len("/v1")]
        # With base_url left unset the SDK calls absolute api.fireworks.ai URLs; with it set,
        # it calls {base}/v1/... (and chat at {base}/v1, without /inference).
        self._overridden = bool(root)
        self.base_url = root or DEFAULT_API_ROOT
        self.file_poll_interval = dataset_poll_interval
        self.signed_url_threshold = signed_url_threshold
        self.put_retry_backoff = put_retry_backoff
        super().__init__(api_key=api_key, timeout=timeout, max_retries=max_retries, sleep=sleep)

    def _client_options(self) -> dict[str, Any]:
        # Checked here, after the key: a user without either hears about the key first.
        if not self.account_id:
            raise ConfigError(
                "No Fireworks account id. Set FIREWORKS_ACCOUNT_ID (or "
                "TUNEPORT_FIREWORKS_ACCOUNT_ID), pass account_id=... to tuneport.Client, or add "
                "account_id under [providers.fireworks] in tuneport.toml."
            )
        return {"account_id": self.account_id, "base_url": self.base_url if self._overridden
                else None}

    @property
    def ledger_scope(self) -> str:
        """This adapter's base URL and account, hashed where it is the key (no secret)."""
        return _hosted.ledger_scope(self.name, self.base_url, account=self.account_id)

    def __repr__(self) -> str:
        return f"FireworksProvider(account_id={self.account_id!r}, base_url={self.base_url!r})"

    @property
    def inference_base_url(self) -> str:
        """The OpenAI-compatible root for chat completions."""
        return f"{self.base_url}/v1" if self._overridden else DEFAULT_INFERENCE_URL

    def _path(self, suffix: str) -> str:
        """An account path for the SDK's raw request methods (absolute unless overridden)."""
        path = f"/v1/accounts/{self.account_id}/{suffix}"
        return path if self._overridden else DEFAULT_API_ROOT + path

    def _name(self, kind: str, short: str) -> str:
        return f"accounts/{self.account_id}/{kind}/{short}"

    # -- datasets ------------------------------------------------------------------------

    @staticmethod
    def dataset_id_for(fingerprint: str) -> str:
        """The dataset id of a rendered file (same content, same dataset)."""
        return ID_PREFIX + "ds-" + _hosted.idempotency_token(fingerprint, 24)

    @staticmethod
    def job_id_for(idempotency_key: str) -> str:
        """The client-chosen job id carrying an idempotency key."""
        return ID_PREFIX + _hosted.idempotency_token(idempotency_key, 24)

    def upload(self, rendered: RenderedDataset) -> RemoteFile:
        """Create the dataset record and upload the JSONL.

        Up to the threshold (150 MB) in one ``:upload`` request, above it through a signed
        URL (:meth:`_upload_signed`). A dataset with the same content already there (409)
        is reused.
        """
        dataset_id = self.dataset_id_for(rendered.fingerprint)
        fmt: Any = "CHAT" if rendered.format in ("chat", "messages", "preference") else (
            "COMPLETION" if rendered.format == "completion" else "FORMAT_UNSPECIFIED"
        )
        # Each request below is safe to repeat (a second create answers 409, a second
        # upload sends the same bytes): a failed one is retried alone (tuneport's retry, not
        # the SDK's, which would also repeat the 409 that means "already there").
        try:
            self._request("creating the dataset", lambda: self._client.datasets.create(
                dataset_id=dataset_id,
                dataset={"user_uploaded": {}, "example_count": str(rendered.n_examples),
                         "format": fmt},
            ))
        except ConflictError:
            current = self._request(
                f"reading dataset {dataset_id}",
                lambda: self._dataset(dataset_id, rendered.fingerprint),
            )
            if current.status == "READY":
                return current
        size = rendered.path.stat().st_size
        threshold = self.signed_url_threshold
        if threshold is None:
            threshold = SIGNED_URL_THRESHOLD
        if size > threshold:
            self._upload_signed(dataset_id, rendered.path, size)
            return self._dataset(dataset_id, rendered.fingerprint)
        report = _upload_progress.reporter(self.name, rendered.path.name, size, "single")
        report(0)
        # Bytes, not an open file: a repeated request must send them again from the start.
        content = rendered.path.read_bytes()
        self._request("uploading the dataset", lambda: self._client.datasets.upload(
            dataset_id, file=(rendered.path.name, content)
        ))
        report.finish()
        return self._request(
            f"reading dataset {dataset_id}",
            lambda: self._dataset(dataset_id, rendered.fingerprint),
        )

    def _request(self, action: str, send: Callable[[], T]) -> T:
        """One request that is safe to repeat, retried alone (``request_attempts``)."""

        def once() -> T:
            with self._errors(action):
                return send()

        return _hosted.with_retries(once, attempts=self.request_attempts, sleep=self._sleep)

    def _upload_signed(self, dataset_id: str, path: Path, size: int) -> None:
        """``:getUploadEndpoint`` → ``PUT`` the bytes to the signed URL → ``:validateUpload``.

        The steps of the SDK's ``fireworks.lib.dataset_upload.upload_dataset_shards`` for one
        file, with the same generated SDK methods and the same PUT headers (both are part of
        the URL's signature), from a plain HTTP client that never carries the API key. Not
        that helper itself: it reports no progress, does not retry the PUT, and refuses any
        non-https URL, which would rule out the loopback emulator (here plain http is
        allowed on loopback only).
        """
        import httpx

        name = path.name
        url, signed_at = self._signed_url(dataset_id, name, size), time.monotonic()
        report = _upload_progress.reporter(self.name, name, size, "signed-url")
        tries = 0

        def put() -> None:
            nonlocal url, signed_at, tries
            tries += 1
            if tries > 1 and time.monotonic() - signed_at > SIGNED_URL_REFRESH_SECONDS:
                # The URL is signed for an hour: a retry after a long failed PUT needs a
                # fresh one (the SDK's helper does the same between shards).
                url, signed_at = self._signed_url(dataset_id, name, size), time.monotonic()
            with httpx.Client(timeout=httpx.Timeout(600.0, connect=30.0)) as http:
                response = http.put(
                    url, content=_transfers.read_chunks(path, report),
                    headers={"Content-Type": "application/octet-stream",
                             "X-Goog-Content-Length-Range": f"{size},{size}",
                             "Content-Length": str(size)},
                )
                response.raise_for_status()

        _transfers.retried_transfer(put, provider=self.name, what=f"uploading {name}",
                                    attempts=PUT_ATTEMPTS, backoff=self.put_retry_backoff,
                                    sleep=self._sleep)
        with self._errors(f"validating the upload of dataset {dataset_id}"):
            self._client.datasets.validate_upload(dataset_id, body={})
        report.finish()

    def _signed_url(self, dataset_id: str, name: str, size: int) -> str:
        with self._errors(f"asking for an upload URL for dataset {dataset_id}"):
            answer = self._client.datasets.get_upload_endpoint(
                dataset_id, filename_to_size={name: str(size)}
            )
        url = (answer.filename_to_signed_urls or {}).get(name)
        if not url:
            raise ProviderError(f"getUploadEndpoint returned no signed URL for {name}; "
                                "submit again.", provider=self.name)
        if not _transfers.storage_url_allowed(url):
            raise ProviderError(
                "getUploadEndpoint returned a plain-http upload URL; refusing to send the "
                "dataset unencrypted. Check base_url.", provider=self.name,
            )
        return url

    def _dataset(self, dataset_id: str, fingerprint: str | None) -> RemoteFile:
        with self._errors(f"reading dataset {dataset_id}"):
            obj = self._reader.datasets.get(dataset_id)
        raw = _hosted.dump(obj)
        return RemoteFile(
            provider=self.name, id=dataset_id, fingerprint=fingerprint,
            status=raw.get("state"), raw=raw,
        )

    def refresh_file(self, file: RemoteFile) -> RemoteFile:
        """One ``GET`` of the dataset."""
        return self._dataset(file.id, file.fingerprint)

    def file_readiness(self, file: RemoteFile, *, fresh: bool) -> FileReadiness:
        """``READY`` is ready; a non-OK ``status`` while not ready is a rejection.

        Raises:
            DatasetError: Fireworks reported a problem with the dataset.
        """
        if file.status == "READY":
            return "ready"
        status = file.raw.get("status") or {}
        code = status.get("code") if isinstance(status, Mapping) else None
        if code not in (None, "OK", 0, "0"):
            raise DatasetError(
                f"fireworks rejected dataset {file.id}: {status.get('message') or code}. "
                "Fix the data (tuneport validate FILE --provider fireworks) and submit again."
            )
        # A dataset is recorded as uploaded only after its bytes were sent, so a dataset
        # that is not ready yet is being ingested.
        return "processing"

    # -- jobs ----------------------------------------------------------------------------

    def build_create_params(
        self, file: RemoteFile, spec: FineTuneSpec, idempotency_key: str,
        validation_file: RemoteFile | None = None,
    ) -> dict[str, Any]:
        """The keyword arguments of ``supervised_fine_tuning_jobs.create`` (no request).

        Raises:
            UnsupportedFeatureError: the spec asks for something Fireworks does not offer.
        """
        if spec.method.startswith("dpo"):
            # Preference tuning has its own job API (dpoJobs): see _fireworks_dpo.
            return _fireworks_dpo.build_params(self, file, spec, idempotency_key,
                                               validation_file)
        if spec.method != "lora":
            raise UnsupportedFeatureError(
                f"fireworks does not support method={spec.method!r} through tuneport: its "
                "supervised jobs are LoRA only (full-parameter SFT is not exposed by the API); "
                "preference tuning is method='dpo-lora'."
            )
        params = _hosted.spec_params(_SPEC_PARAMS, spec)
        kwargs: dict[str, Any] = {
            "dataset": self._name("datasets", file.id),
            "base_model": spec.model,
            "supervised_fine_tuning_job_id": self.job_id_for(idempotency_key),
            "display_name": spec.suffix or f"tuneport {spec.canonical_model or spec.model}",
            **params,
        }
        if spec.suffix:
            # The key's token keeps two jobs with the same suffix from clashing on the model.
            token = _hosted.idempotency_token(idempotency_key, 8)
            kwargs["output_model"] = _model_id(f"{spec.suffix[:50]}-{token}")
        if validation_file is not None:
            kwargs["evaluation_dataset"] = self._name("datasets", validation_file.id)
        if spec.wandb is not None:
            wandb: dict[str, Any] = {
                "enabled": True, "project": spec.wandb.project,
                "api_key": _hosted.wandb_key(self.name, spec.wandb),
            }
            if spec.wandb.entity:
                wandb["entity"] = spec.wandb.entity
            if spec.wandb.name:
                wandb["run_id"] = spec.wandb.name
            kwargs["wandb_config"] = wandb
        options, extra = _hosted.provider_options(
            self.name, spec.provider_options,
            _hosted.request_fields(self._client.supervised_fine_tuning_jobs.create))
        kwargs.update(options)
        if extra:
            kwargs["extra_body"] = extra
        return kwargs

    def create_job(
        self, file: RemoteFile, spec: FineTuneSpec, idempotency_key: str,
        validation_file: RemoteFile | None = None,
    ) -> Job:
        """Create the job under a key-derived id; 409 (already created) adopts it."""
        if spec.method.startswith("dpo"):
            return _fireworks_dpo.create(self, file, spec, idempotency_key, validation_file)
        kwargs = self.build_create_params(file, spec, idempotency_key, validation_file)
        try:
            with self._errors("creating the fine-tuning job"):
                obj = self._client.supervised_fine_tuning_jobs.create(**kwargs)
        except ConflictError as conflict:
            # Our own earlier create (its answer lost): adopt it. Otherwise the clash is
            # about something else (e.g. the output model name) and is the caller's to fix.
            try:
                return self.get_job(kwargs["supervised_fine_tuning_job_id"])
            except NotFoundError:
                raise conflict from None
        return self._job(_hosted.dump(obj))

    def get_job(self, job_id: str) -> Job:
        """The job's current state."""
        short = job_id.rsplit("/", 1)[-1]
        if _fireworks_dpo.is_dpo_id(short):
            return _fireworks_dpo.get(self, short)
        with self._errors(f"reading job {short}"):
            obj = self._reader.supervised_fine_tuning_jobs.get(short)
        return self._job(_hosted.dump(obj))

    def list_jobs(self, *, limit: int | None = None) -> Iterator[Job]:
        """Jobs newest first (the SDK follows ``nextPageToken``)."""
        with self._errors("listing jobs"):
            page = self._reader.supervised_fine_tuning_jobs.list(
                page_size=min(limit or 200, 200), order_by="create_time desc",
            )
            raws = []
            for obj in page:
                raws.append(_hosted.dump(obj))
                if limit is not None and len(raws) >= limit:
                    break
        dpo = list(_fireworks_dpo.list_jobs(self, limit))
        raws.sort(key=lambda r: str(r.get("createTime") or ""), reverse=True)
        jobs = [self._job(raw) for raw in raws] + [_fireworks_dpo._job(self, raw) for raw in dpo]
        if dpo:  # supervised and DPO jobs, newest first, as one list
            jobs.sort(key=lambda j: str(j.raw.get("createTime") or ""), reverse=True)
        yield from jobs[:limit] if limit is not None else jobs

    def cancel_job(self, job_id: str) -> Job:
        """``POST …/{job}:cancel``, then the job as Fireworks reports it."""
        short = job_id.rsplit("/", 1)[-1]
        if _fireworks_dpo.is_dpo_id(short):
            return _fireworks_dpo.cancel(self, short)
        with self._errors(f"cancelling job {short}"):
            self._client.supervised_fine_tuning_jobs.cancel(short, body={})
        return self.get_job(short)

    def find_job(self, idempotency_key: str) -> Job | None:
        """A GET on the key-derived job id (supervised, then DPO), each retried alone."""
        dpo_id = _fireworks_dpo.job_id_for(idempotency_key)
        for job_id in (self.job_id_for(idempotency_key), dpo_id):
            try:
                return _hosted.with_retries(
                    functools.partial(self.get_job, job_id), attempts=self.request_attempts,
                    sleep=self._sleep,
                )
            except NotFoundError:
                continue
        return None

    # -- events --------------------------------------------------------------------------

    def events(self, job_id: str, after: str | None = None) -> list[JobEvent]:
        """Events synthesized from the job (Fireworks has no SFT events route).

        One ``created`` event, one for the current state and one for the progress, with
        ids stable across calls, so ``after`` works for polling the latest change.
        """
        job = self.get_job(job_id)
        raw = job.raw
        events: list[JobEvent] = []
        created = job.created_at or datetime.now(UTC)
        events.append(JobEvent(
            id=f"{job.id}:created", job_id=job.id, created_at=created, type="job_created",
            message=f"job created on {job.base_model}",
        ))
        updated = _hosted.parse_time(raw.get("updateTime")) or job.finished_at or created
        progress = raw.get("jobProgress") or {}
        if isinstance(progress, Mapping) and progress.get("percent") is not None:
            percent = progress.get("percent")
            events.append(JobEvent(
                id=f"{job.id}:progress:{percent}", job_id=job.id, created_at=updated,
                type="progress", message=f"{percent}% done (epoch {progress.get('epoch')})",
                data={k: v for k, v in progress.items() if v is not None},
            ))
        level: Literal["info", "error"] = "error" if job.status is JobStatus.FAILED else "info"
        message = f"state {job.provider_status}"
        if job.error is not None:
            message += f": {job.error.message}"
        events.append(JobEvent(
            id=f"{job.id}:state:{job.provider_status}", job_id=job.id,
            created_at=job.finished_at or updated, type="state", message=message,
            level=level,
        ))
        events.sort(key=lambda e: e.created_at)
        return _hosted.since_event(events, after)

    # -- estimate ------------------------------------------------------------------------

    def quote(self, file: RemoteFile, spec: FineTuneSpec) -> ProviderQuote:
        """Fireworks' own price for this job (``:estimateCost``, via the raw request)."""
        if spec.method.startswith("dpo"):
            return ProviderQuote(
                provider=self.name, available=False, total_usd=None,
                reason="Fireworks has no estimate route for DPO jobs; the catalog's dpo-lora "
                "price applies", raw={})
        body: dict[str, Any] = {
            "dataset": self._name("datasets", file.id),
            "baseModel": spec.model,
        }
        if isinstance(spec.epochs, int):
            body["epochs"] = spec.epochs
        if spec.lora_rank is not None:
            body["loraRank"] = spec.lora_rank
        if spec.learning_rate is not None:
            body["learningRate"] = spec.learning_rate
        with self._errors("asking Fireworks for a cost estimate"):
            raw: Any = self._client.post(
                self._path("supervisedFineTuningJobs:estimateCost"), body=body, cast_to=object
            )
        raw = dict(raw) if isinstance(raw, Mapping) else {}
        total = _hosted.money_to_decimal(raw.get("estimatedCost"))
        return ProviderQuote(
            provider=self.name, available=total is not None, total_usd=total,
            reason=None if total is not None else "no estimatedCost in the answer", raw=raw,
        )

    # -- serving -------------------------------------------------------------------------

    def _deployment_id_for(self, job: Job) -> str:
        return ID_PREFIX + "dep-" + _hosted.idempotency_token(job.id, 20)

    def endpoint(self, job: Job) -> ModelEndpoint:
        """The deployment serving this job's LoRA, or ``NOT_DEPLOYED``."""
        model = job.fine_tuned_model
        if model and job.status is JobStatus.SUCCEEDED:
            deployment_id = self._deployment_id_for(job)
            try:
                with self._errors("reading the deployment"):
                    dep = self._reader.deployments.get(deployment_id)
            except NotFoundError:
                dep = None
            if dep is not None:
                return self._endpoint(job, _hosted.dump(dep))
        return _hosted.not_deployed(
            self.name, job, base_url=self.inference_base_url, hardware=DEFAULT_ACCELERATOR,
            what="dedicated deployment", billing="per GPU-hour until deleted",
            api_key=self._key,
        )

    def deploy(
        self,
        job: Job,
        *,
        accelerator_type: Any = DEFAULT_ACCELERATOR,
        accelerator_count: int = 1,
        min_replicas: int = 1,
        max_replicas: int = 1,
        **options: Any,
    ) -> ModelEndpoint:
        """Deploy the fine-tuned LoRA by live merge: one deployment whose base model is the
        fine-tuned model (Fireworks merges the adapter into the base at deployment time).

        Fireworks' docs recommend live merge for a single LoRA (base-model speed, one
        resource): there is no separate load step to refuse half-way, and deleting the one
        deployment stops everything the job started. The deployment id derives from the
        job, so calling again adopts it (409).
        """
        if job.status is not JobStatus.SUCCEEDED or not job.fine_tuned_model or not job.base_model:
            raise UnsupportedFeatureError(
                f"fireworks can only deploy a succeeded job; job {job.id} is {job.status.value}."
            )
        _hosted.check_options(self.name, options, self._client.deployments.create,
                              taken={"base_model", "deployment_id"}, what="deployment")
        deployment_id = self._deployment_id_for(job)
        try:
            with self._errors("creating the deployment"):
                dep = self._client.deployments.create(
                    base_model=job.fine_tuned_model, deployment_id=deployment_id,
                    min_replica_count=min_replicas, max_replica_count=max_replicas,
                    accelerator_type=accelerator_type,
                    accelerator_count=accelerator_count, **options,
                )
            return self._endpoint(job, _hosted.dump(dep))
        except ConflictError:
            pass  # made by an earlier call (or one whose answer was lost): adopt it
        with self._errors("reading the deployment"):
            found = _hosted.dump(self._reader.deployments.get(deployment_id))
        if str(found.get("state")) in _RESTARTABLE:
            # Undeploy soft-deletes: the id stays taken (a create answers 409) until it is
            # purged, and Fireworks undeletes a DELETED or FAILED deployment in place.
            with self._errors("undeleting the deployment"):
                found = _hosted.dump(self._client.deployments.undelete(deployment_id, body={}))
        return self._endpoint(job, found)

    def undeploy(self, job: Job) -> ModelEndpoint:
        """Delete the deployment :meth:`deploy` made for this job (harmless when none)."""
        deployment_id = self._deployment_id_for(job)
        try:
            with self._errors("deleting the deployment"):
                self._client.deployments.delete(deployment_id)
        except NotFoundError:
            pass
        return _hosted.not_deployed(
            self.name, job, base_url=self.inference_base_url, hardware=DEFAULT_ACCELERATOR,
            what="dedicated deployment", billing="per GPU-hour until deleted",
            api_key=self._key,
        )

    def _endpoint(self, job: Job, dep: dict[str, Any]) -> ModelEndpoint:
        dep_name = str(dep.get("name") or self._name("deployments", self._deployment_id_for(job)))
        raw_state = str(dep.get("state"))
        state = DEPLOYMENT_STATES.get(raw_state, EndpointState.DEPLOYING)
        base = str(dep.get("baseModel") or "")
        if state is EndpointState.READY and base != job.fine_tuned_model:
            # A base-model deployment with add-ons (multi-LoRA, made outside tuneport):
            # callable only once the LoRA is loaded and DEPLOYED on it.
            state = self._lora_state(job.fine_tuned_model or "", dep_name)
        accel = dep.get("acceleratorType") or DEFAULT_ACCELERATOR
        count = int(dep.get("acceleratorCount") or 1) * int(dep.get("minReplicaCount") or 1)
        hourly = _hosted.serving_hourly_usd(self.name, str(accel), count)
        return ModelEndpoint(
            provider=self.name, model=f"{job.fine_tuned_model}#{dep_name}",
            base_url=self.inference_base_url, kind="dedicated", state=state,
            deployment_id=dep_name, base_model=job.base_model, hourly_usd=hourly,
            notes=(f"deployment {raw_state}; billed per GPU-hour until deleted "
                   "(tuneport endpoint JOB --stop).",),
            api_key=self._key,
        )

    def _lora_state(self, model: str, dep_name: str) -> EndpointState:
        """The state of the LoRA loaded on a deployment; an unknown state is not READY."""
        with self._errors("listing loaded LoRAs"):
            for item in self._reader.lora.list():
                raw = _hosted.dump(item)
                if raw.get("model") == model and raw.get("deployment") in (dep_name, None):
                    return DEPLOYED_MODEL_STATES.get(str(raw.get("state")),
                                                     EndpointState.DEPLOYING)
        return EndpointState.NOT_DEPLOYED

    # -- normalization -------------------------------------------------------------------

    def _job(self, raw: dict[str, Any]) -> Job:
        state = str(raw.get("state") or "JOB_STATE_UNSPECIFIED")
        normalized = self.normalize_status(state)
        name = str(raw.get("name") or "")
        short = name.rsplit("/", 1)[-1] if name else str(raw.get("id") or "")
        output = raw.get("outputModel") or short
        fine_tuned = output if "/" in str(output) else self._name("models", str(output))
        hyper = {
            key: raw[field] for key, field in (
                ("epochs", "epochs"), ("learning_rate", "learningRate"), ("lora_rank", "loraRank"),
                ("batch_size_samples", "batchSizeSamples"), ("max_context_length",
                "maxContextLength"), ("learning_rate_warmup_steps", "learningRateWarmupSteps"),
            ) if raw.get(field) is not None
        }
        progress_raw = raw.get("jobProgress") or {}
        progress = None
        trained = None
        if isinstance(progress_raw, Mapping):
            if isinstance(progress_raw.get("percent"), int | float):
                progress = min(1.0, float(progress_raw["percent"]) / 100.0)
            if normalized is JobStatus.SUCCEEDED and progress_raw.get("inputTokens") is not None:
                trained = int(progress_raw["inputTokens"])
        if normalized is JobStatus.SUCCEEDED:
            progress = 1.0
        error = None
        status = raw.get("status")
        if normalized is JobStatus.FAILED:
            message = (status or {}).get("message") if isinstance(status, Mapping) else None
            code = (status or {}).get("code") if isinstance(status, Mapping) else None
            error = JobErrorInfo(
                code=str(code) if code is not None else state,
                message=str(message or f"job ended {state}"),
            )
        estimated = _hosted.money_to_decimal(raw.get("estimatedCost"))
        dataset = raw.get("dataset")
        evaluation = raw.get("evaluationDataset")
        return Job(
            id=short, provider=self.name, status=normalized, provider_status=state,
            base_model=raw.get("baseModel"),
            fine_tuned_model=fine_tuned if normalized is JobStatus.SUCCEEDED else None,
            created_at=_hosted.parse_time(raw.get("createTime")),
            finished_at=_hosted.parse_time(raw.get("completedTime")),
            trained_tokens=trained, progress=progress, error=error, hyperparameters=hyper,
            estimated_cost_usd=estimated,
            training_file=str(dataset).rsplit("/", 1)[-1] if dataset else None,
            validation_file=str(evaluation).rsplit("/", 1)[-1] if evaluation else None,
            idempotency_key=None, raw=raw,
        )


def _model_id(text: str) -> str:
    """A Fireworks resource id (``a-z0-9-``, ≤ 63, starting with a letter) from free text."""
    cleaned = "".join(c if c.isalnum() else "-" for c in text.lower()).strip("-")
    cleaned = "-".join(p for p in cleaned.split("-") if p) or "model"
    if not cleaned[0].isalpha():
        cleaned = "m-" + cleaned
    return cleaned[:63].rstrip("-")

