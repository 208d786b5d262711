"""Fireworks AI's DPO jobs (``/v1/accounts/{a}/dpoJobs``), as the ``fireworks-ai`` SDK's
``dpo_jobs`` resource calls them: create (``?dpoJobId=``), get, list (``dpoJobs`` +
``nextPageToken``), delete and ``:cancel``.

Written from the SDK's types (``DpoJob``, ``DpoJobCreateParams``, ``TrainingConfig``,
``ReinforcementLearningLossConfig``, ``DpoConfig``): the training settings sit in
``trainingConfig``, the loss in ``lossConfig`` (``method`` ``DPO``; ``dpo.beta`` "must be
> 0 and < 0.5"), and states are the same ``JOB_STATE_*`` values as supervised jobs. The
dataset must hold preference pairs (``input`` + ``preferred_output`` +
``non_preferred_output``); a chat dataset is refused, as a DPO trainer cannot use it.
"""

from __future__ import annotations

import uuid
from typing import Any

from starlette.requests import Request

from tuneport.emulator import _fireworks as fw
from tuneport.emulator import _lifecycle as life
from tuneport.emulator._core import ApiError, EmulatorState, json_body

__all__ = ["create_dpo_job", "dpo_job_action", "dpo_job_view"]

KIND = "dpo_job"
_TRAINING_KEYS = frozenset({
    "baseModel", "warmStartFrom", "outputModel", "epochs", "learningRate", "loraRank",
    "batchSize", "batchSizeSamples", "maxContextLength", "learningRateWarmupSteps",
    "gradientAccumulationSteps", "optimizerWeightDecay", "jinjaTemplate", "region",
    "samplerCheckpointSaveIntervalSteps",
})
_LOSS_METHODS = frozenset({"METHOD_UNSPECIFIED", "GRPO", "DAPO", "DPO", "ORPO", "GSPO_TOKEN"})


def _check_loss(loss: Any) -> dict[str, Any]:
    if loss is None:
        return {"method": "DPO"}
    if not isinstance(loss, dict):
        raise ApiError(400, "lossConfig must be an object")
    method = loss.get("method", "METHOD_UNSPECIFIED")
    if method not in _LOSS_METHODS:
        raise ApiError(400, f"invalid lossConfig.method {method!r}")
    if method not in ("DPO", "ORPO"):
        raise ApiError(400, f"lossConfig.method {method} is not a preference method; DPO jobs "
                            "take DPO or ORPO")
    dpo = loss.get("dpo")
    if dpo is not None:
        if not isinstance(dpo, dict):
            raise ApiError(400, "lossConfig.dpo must be an object")
        beta = dpo.get("beta")
        if beta is not None and (not isinstance(beta, int | float) or not 0 < beta < 0.5):
            raise ApiError(400, f"lossConfig.dpo.beta must be > 0 and < 0.5, got {beta!r}")
    return dict(loss)


async def create_dpo_job(state: EmulatorState, request: Request) -> Any:
    """``POST …/dpoJobs?dpoJobId=``: the body is the job (dataset, trainingConfig, lossConfig)."""
    account = request.path_params["account_id"]
    body = await json_body(request)
    job_id = request.query_params.get("dpoJobId")
    if job_id:
        fw._check_id(job_id, "dpoJobId")
    else:
        job_id = "dpo-" + str(uuid.UUID(hex=state.store.new_id("", length=32, kind="fw-dpo")))
    key = f"{account}/{job_id}"
    if state.store.get(fw.P, KIND, key) is not None:
        raise ApiError(409, f"dpoJob accounts/{account}/dpoJobs/{job_id} already exists")
    training = body.get("trainingConfig") or {}
    if not isinstance(training, dict):
        raise ApiError(400, "trainingConfig must be an object")
    unknown = sorted(set(training) - _TRAINING_KEYS)
    if unknown:
        raise ApiError(400, f"unknown field(s) in trainingConfig: {', '.join(unknown)}")
    # The supervised checks apply to the same fields, read from trainingConfig.
    dataset, base = fw._check_job_body(state, account, {"dataset": body.get("dataset"),
                                                        **training})
    if dataset.get("_format") not in (None, "preference"):
        raise ApiError(400, f"dataset {body['dataset']} is not a preference dataset (each "
                            "line needs input, preferred_output and non_preferred_output)")
    loss = _check_loss(body.get("lossConfig"))
    output = training.get("outputModel") or job_id
    if "/" in output:
        output = output.rsplit("/", 1)[-1]
    fw._check_id(output, "outputModel")
    epochs = int(training.get("epochs", 1))
    now = state.now()
    fail = "random" if state.draw_failure() else None
    tl = life.new_timeline(now=now, seconds=state.config.job_seconds,
                           n_examples=int(dataset["exampleCount"]),
                           n_tokens=int(dataset["_tokens"]), epochs=epochs, fail=fail)
    price = state.config.price_per_million(fw.P, base, "dpo-lora")
    config = {k: v for k, v in training.items() if k != "outputModel"}
    config.update({"outputModel": f"accounts/{account}/models/{output}", "epochs": epochs,
                   "loraRank": training.get("loraRank", 8),
                   "learningRate": training.get("learningRate", 1e-5),
                   "batchSizeSamples": training.get("batchSizeSamples", 4)})
    record: dict[str, Any] = {
        "name": f"accounts/{account}/dpoJobs/{job_id}",
        "displayName": body.get("displayName") or job_id, "createTime": state.iso(now),
        "dataset": body["dataset"], "state": "JOB_STATE_CREATING",
        "status": {"code": "OK", "message": ""}, "createdBy": "emulator@fireworks.invalid",
        "trainingConfig": config, "lossConfig": loss,
        # Where the deployment routes look for a fine-tuned model and its base.
        "outputModel": config["outputModel"], "baseModel": base,
        "_emu": tl, "_price": price, "_public_skip": ("outputModel", "baseModel"),
    }
    if body.get("wandbConfig"):
        record["wandbConfig"] = {k: v for k, v in body["wandbConfig"].items() if k != "apiKey"}
    state.store.put(fw.P, KIND, key, record)
    return dpo_job_view(state, record)


def dpo_job_view(state: EmulatorState, record: dict[str, Any]) -> dict[str, Any]:
    """The job as ``GET`` shows it (the supervised view, minus the top-level copies)."""
    view = fw._job_view(state, record)
    for key in record.get("_public_skip", ()):
        view.pop(key, None)
    view.pop("_public_skip", None)
    return view


async def dpo_job_action(state: EmulatorState, request: Request) -> Any:
    """``POST …/dpoJobs/{id}:cancel`` (``:resume`` as for supervised jobs)."""
    account = request.path_params["account_id"]
    job_id, verb = fw._split(request.path_params["name"])
    record = fw._fetch(state, KIND, account, job_id)
    snap = life.snapshot(record["_emu"], state.now())
    if verb == "cancel":
        if snap.terminal or snap.phase == "cancelling":
            raise ApiError(400, f"job {job_id} is {fw._STATE[snap.phase]} and cannot be "
                                "cancelled")
        life.cancel(record["_emu"], state.now())
        state.store.put(fw.P, KIND, f"{account}/{job_id}", record)
        return {}
    if verb == "resume":
        if snap.phase != "paused":
            raise ApiError(400, f"job {job_id} is {fw._STATE[snap.phase]}; only a paused job "
                                "can be resumed")
        life.resume(record["_emu"], state.now())
        state.store.put(fw.P, KIND, f"{account}/{job_id}", record)
        return dpo_job_view(state, record)
    raise ApiError(404, f"unknown method :{verb}")
