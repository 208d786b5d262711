"""Fireworks DPO jobs (``/v1/accounts/{a}/dpoJobs``) through the SDK's ``dpo_jobs`` resource.

Fireworks runs preference tuning under its own job API, not as a kind of supervised job:
``dpo_jobs.create(dataset=..., training_config={...}, loss_config={"method": "DPO",
"dpo": {"beta": ...}}, dpo_job_id=...)``, with ``get``/``list``/``cancel`` beside it. Its
jobs carry the same ``JOB_STATE_*`` values as supervised jobs (the SDK's ``DpoJob.state``
enumerates the same list), so the adapter's one status map applies; the training
settings sit in ``trainingConfig`` instead of at the top level, and are lifted to the top
before the adapter's job mapping reads them (the untouched payload stays in ``raw``).

DPO job ids carry their own prefix (:data:`DPO_ID_PREFIX`), so a job id alone says which
API to ask: ``get_job``/``cancel_job`` need no second request to find out.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from tuneport._exceptions import ConflictError, NotFoundError, UnsupportedFeatureError
from tuneport._models import FineTuneSpec, Job, RemoteFile
from tuneport.providers import _hosted

if TYPE_CHECKING:
    from tuneport.providers.fireworks import FireworksProvider

__all__ = ["DPO_ID_PREFIX", "build_params", "cancel", "create", "get", "is_dpo_id", "job_id_for",
           "list_jobs"]

DPO_ID_PREFIX = "tp-dpo-"
#: Fireworks' ``DpoConfig.beta``: "Must be > 0 and < 0.5".
MAX_BETA = 0.5


def job_id_for(idempotency_key: str) -> str:
    """The client-chosen DPO job id carrying an idempotency key."""
    return DPO_ID_PREFIX + _hosted.idempotency_token(idempotency_key, 24)


def is_dpo_id(job_id: str) -> bool:
    """Whether a job id (short or full name) is one of tuneport's DPO jobs."""
    return job_id.rsplit("/", 1)[-1].startswith(DPO_ID_PREFIX)


def build_params(adapter: FireworksProvider, file: RemoteFile, spec: FineTuneSpec,
                 idempotency_key: str, validation_file: RemoteFile | None) -> dict[str, Any]:
    """The keyword arguments of ``dpo_jobs.create`` for a spec (no request is made).

    Raises:
        UnsupportedFeatureError: the spec asks for something Fireworks' DPO does not offer.
    """
    if spec.method != "dpo-lora":
        raise UnsupportedFeatureError(
            f"fireworks does not support method={spec.method!r} for preference tuning: its "
            "DPO job API trains LoRA adapters (method='dpo-lora'); full-parameter DPO is "
            "priced but has no field in the job API.")
    for param in ("lora_alpha", "lora_dropout", "seed"):
        if getattr(spec, param) is not None:
            raise UnsupportedFeatureError(
                f"fireworks does not support the hyperparameter {param} for DPO jobs.")
    if validation_file is not None:
        raise UnsupportedFeatureError(
            "fireworks DPO jobs take no evaluation dataset; drop validation= for this provider.")
    training: dict[str, Any] = {"base_model": spec.model}
    if spec.epochs is not None:
        if spec.epochs == "auto":
            raise UnsupportedFeatureError(
                "fireworks does not support epochs='auto'; give a number of epochs.")
        training["epochs"] = spec.epochs
    if spec.learning_rate is not None:
        training["learning_rate"] = spec.learning_rate
    if spec.lora_rank is not None:
        training["lora_rank"] = spec.lora_rank
    if spec.batch_size is not None:
        if not isinstance(spec.batch_size, int):
            raise UnsupportedFeatureError(
                f"fireworks does not support batch_size={spec.batch_size!r}; give the number "
                "of pairs per batch (batchSizeSamples).")
        training["batch_size_samples"] = spec.batch_size
    if spec.suffix:
        token = _hosted.idempotency_token(idempotency_key, 8)
        from tuneport.providers.fireworks import _model_id

        training["output_model"] = _model_id(f"{spec.suffix[:50]}-{token}")
    loss: dict[str, Any] = {"method": "DPO"}
    if spec.beta is not None:
        if not 0 < spec.beta < MAX_BETA:
            raise UnsupportedFeatureError(
                f"fireworks takes a DPO beta between 0 and {MAX_BETA} (exclusive); "
                f"beta={spec.beta} is out of range.")
        loss["dpo"] = {"beta": spec.beta}
    kwargs: dict[str, Any] = {
        "dataset": adapter._name("datasets", file.id),
        "dpo_job_id": job_id_for(idempotency_key),
        "display_name": spec.suffix or f"tuneport dpo {spec.canonical_model or spec.model}",
        "training_config": training,
        "loss_config": loss,
    }
    if spec.wandb is not None:
        wandb: dict[str, Any] = {"enabled": True, "project": spec.wandb.project,
                                 "api_key": _hosted.wandb_key(adapter.name, spec.wandb)}
        if spec.wandb.entity:
            wandb["entity"] = spec.wandb.entity
        if spec.wandb.name:
            wandb["run_id"] = spec.wandb.name
        kwargs["wandb_config"] = wandb
    options, extra = _hosted.provider_options(
        adapter.name, spec.provider_options,
        _hosted.request_fields(adapter._client.dpo_jobs.create))
    for key, value in options.items():
        if key in ("training_config", "loss_config") and isinstance(value, dict):
            kwargs[key] = {**kwargs[key], **value}
        else:
            kwargs[key] = value
    if extra:
        kwargs["extra_body"] = extra
    return kwargs


def _job(adapter: FireworksProvider, raw: dict[str, Any]) -> Job:
    """A DPO job through the adapter's mapping, its ``trainingConfig`` lifted to the top."""
    training = raw.get("trainingConfig")
    flat = {**training, **raw} if isinstance(training, dict) else raw
    job = adapter._job(flat)
    beta = ((raw.get("lossConfig") or {}).get("dpo") or {}).get("beta")
    hyper = {**job.hyperparameters, **({"beta": beta} if beta is not None else {})}
    return job.model_copy(update={"raw": raw, "hyperparameters": hyper})


def create(adapter: FireworksProvider, file: RemoteFile, spec: FineTuneSpec,
           idempotency_key: str, validation_file: RemoteFile | None) -> Job:
    """Create the DPO job under its key-derived id; a 409 for our own id adopts it."""
    kwargs = build_params(adapter, file, spec, idempotency_key, validation_file)
    try:
        with adapter._errors("creating the DPO job"):
            obj = adapter._client.dpo_jobs.create(**kwargs)
    except ConflictError as conflict:
        try:
            return get(adapter, kwargs["dpo_job_id"])
        except NotFoundError:
            raise conflict from None
    return _job(adapter, _hosted.dump(obj))


def get(adapter: FireworksProvider, job_id: str) -> Job:
    """The DPO job's current state."""
    short = job_id.rsplit("/", 1)[-1]
    with adapter._errors(f"reading DPO job {short}"):
        obj = adapter._reader.dpo_jobs.get(short)
    return _job(adapter, _hosted.dump(obj))


def list_jobs(adapter: FireworksProvider, limit: int | None) -> Iterator[dict[str, Any]]:
    """Raw DPO jobs (the SDK follows ``nextPageToken``)."""
    with adapter._errors("listing DPO jobs"):
        page = adapter._reader.dpo_jobs.list(page_size=min(limit or 200, 200))
        for count, obj in enumerate(page, start=1):
            yield _hosted.dump(obj)
            if limit is not None and count >= limit:
                return


def cancel(adapter: FireworksProvider, job_id: str) -> Job:
    """``POST …/dpoJobs/{job}:cancel``, then the job as Fireworks reports it."""
    short = job_id.rsplit("/", 1)[-1]
    with adapter._errors(f"cancelling DPO job {short}"):
        adapter._client.dpo_jobs.cancel(short, body={})
    return get(adapter, short)
