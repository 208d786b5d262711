"""Fireworks AI's datasets, fine-tuning jobs, deployments and chat, served under ``/fireworks``.

The ``fireworks-ai`` SDK with ``base_url`` set calls ``{base}/v1/accounts/{a}/...`` and
``{base}/v1/chat/completions``. Resource actions use Google's ``name:verb`` style
(``datasets/d1:upload``, ``supervisedFineTuningJobs/j1:cancel``). Job states run
``JOB_STATE_CREATING -> PENDING -> RUNNING -> WRITING_RESULTS -> COMPLETED``.
"""

from __future__ import annotations

import hashlib
import re
import uuid
from collections.abc import Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from tuneport.emulator import _lifecycle as life
from tuneport.emulator._core import (
    ApiError,
    EmulatorState,
    Handler,
    form_fields,
    json_body,
    make_route,
)
from tuneport.emulator._paging import token_page
from tuneport.emulator._storage import storage_error, storage_fault
from tuneport.emulator._training_files import parse_training_file

__all__ = ["BASE_MODELS", "routes"]

P = "fireworks"
BASE_MODELS = {  # id under accounts/fireworks/models -> billions of parameters
    "llama-v3p1-8b-instruct": 8, "llama-v3p1-70b-instruct": 70, "llama-v3p2-3b-instruct": 3,
    "qwen2p5-7b-instruct": 7, "qwen3-8b": 8, "qwen2p5-72b-instruct": 72,
}
_ID = re.compile(r"^[a-z]([a-z0-9-]{0,61}[a-z0-9])?$")
_STATE = {"validating": "JOB_STATE_CREATING", "queued": "JOB_STATE_PENDING",
          "running": "JOB_STATE_RUNNING", "finishing": "JOB_STATE_WRITING_RESULTS",
          "succeeded": "JOB_STATE_COMPLETED", "failed": "JOB_STATE_FAILED",
          "paused": "JOB_STATE_PAUSED", "cancelling": "JOB_STATE_CANCELLING",
          "cancelled": "JOB_STATE_CANCELLED"}


def _check_id(value: Any, what: str) -> str:
    if not isinstance(value, str) or not _ID.match(value):
        raise ApiError(400, f"invalid {what} {value!r}: use 1-63 characters of a-z, 0-9 and "
                            "'-', starting with a letter and not ending with '-'")
    return value


def _public(record: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in record.items() if not k.startswith("_")}


def _split(name: str) -> tuple[str, str | None]:
    rid, _, verb = name.partition(":")
    return rid, verb or None


# Each kind of record: (its resource name under accounts/{a}/, its type in error messages).
_KINDS = {"dataset": ("datasets", "dataset"),
          "job": ("supervisedFineTuningJobs", "supervisedFineTuningJob"),
          "dpo_job": ("dpoJobs", "dpoJob"),
          "deployment": ("deployments", "deployment"),
          "deployed_model": ("deployedModels", "deployedModel")}


def _fetch(state: EmulatorState, kind: str, account: str, rid: str) -> dict[str, Any]:
    """A record of ``kind`` by account and id, or the service's 404."""
    record = state.store.get(P, kind, f"{account}/{rid}")
    if record is None:
        collection, type_name = _KINDS[kind]
        raise ApiError(404, f"{type_name} accounts/{account}/{collection}/{rid} not found")
    return record


View = Callable[[EmulatorState, dict[str, Any]], dict[str, Any]]


def _read_and_delete(kind: str, param: str, view: View) -> tuple[Handler, Handler]:
    """The ``GET`` and ``DELETE`` handlers of one resource (``DELETE`` answers ``{}``)."""

    async def read(state: EmulatorState, request: Request) -> Any:
        rid, verb = _split(request.path_params[param])
        if verb:
            raise ApiError(404, f"unknown method GET :{verb}")
        return view(state, _fetch(state, kind, request.path_params["account_id"], rid))

    async def delete(state: EmulatorState, request: Request) -> Any:
        account = request.path_params["account_id"]
        rid, _ = _split(request.path_params[param])
        _fetch(state, kind, account, rid)
        state.store.delete(P, kind, f"{account}/{rid}")
        return {}

    return read, delete


def _lister(kind: str, view: View) -> Handler:
    """The list handler of one resource: the account's records, paged by ``pageToken``."""
    key = _KINDS[kind][0]

    async def list_all(state: EmulatorState, request: Request) -> Any:
        account = request.path_params["account_id"]
        items = [view(state, r) for r in state.store.list(P, kind)
                 if r["name"].startswith(f"accounts/{account}/")]
        if "desc" in (request.query_params.get("orderBy") or ""):
            items.reverse()
        page, token, total = token_page(request.query_params, items)
        return {key: page, "nextPageToken": token, "totalSize": total}

    return list_all


# -- datasets ----------------------------------------------------------------------------

def _dataset_view(state: EmulatorState, record: dict[str, Any]) -> dict[str, Any]:
    view = _public(record)
    ready_at = record.get("_ready_at")
    view["state"] = "READY" if ready_at is not None and state.now() >= ready_at else "UPLOADING"
    if view["state"] == "READY" and record.get("_error"):
        view["status"] = {"code": "INVALID_ARGUMENT", "message": record["_error"]}
    return view


def _get_dataset(state: EmulatorState, account: str, did: str) -> dict[str, Any]:
    return _fetch(state, "dataset", account, did)


async def _create_dataset(state: EmulatorState, request: Request) -> Any:
    account = request.path_params["account_id"]
    body = await json_body(request)
    did = _check_id(body.get("datasetId"), "datasetId")
    if state.store.get(P, "dataset", f"{account}/{did}") is not None:
        raise ApiError(409, f"dataset accounts/{account}/datasets/{did} already exists")
    spec = body.get("dataset") or {}
    count = spec.get("exampleCount", "0")
    now = state.iso(state.now())
    record = {"name": f"accounts/{account}/datasets/{did}",
              "displayName": spec.get("displayName") or did, "createTime": now,
              "updateTime": now, "state": "UPLOADING", "status": {"code": "OK", "message": ""},
              "exampleCount": str(count), "userUploaded": spec.get("userUploaded") or {},
              "format": spec.get("format") or "CHAT", "createdBy": "emulator@fireworks.invalid",
              "estimatedTokenCount": "0", "_ready_at": None, "_error": None, "_tokens": 0}
    state.store.put(P, "dataset", f"{account}/{did}", record)
    return _dataset_view(state, record)


def _ingest(state: EmulatorState, account: str, did: str, record: dict[str, Any],
            data: bytes) -> None:
    parsed = parse_training_file(P, data)
    record["exampleCount"] = str(parsed.n_examples)
    record["estimatedTokenCount"] = str(parsed.n_tokens)
    record["averageTurnCount"] = 2.0
    record["_tokens"] = parsed.n_tokens
    record["_format"] = parsed.format  # DPO jobs take preference datasets only
    record["_error"] = None if parsed.valid else f"invalid dataset: {parsed.error}"
    record["_ready_at"] = state.now() + state.config.file_seconds
    record["updateTime"] = state.iso(state.now())
    state.store.put_blob(P, f"{account}/{did}", data)
    state.store.put(P, "dataset", f"{account}/{did}", record)


async def _dataset_action(state: EmulatorState, request: Request) -> Any:
    account = request.path_params["account_id"]
    did, verb = _split(request.path_params["name"])
    # Each verb reads its whole body before it reads the record, so no other request can
    # change the record between the read and the write (handlers interleave at awaits).
    if verb == "upload":
        _, files = await form_fields(request)
        record = _get_dataset(state, account, did)
        if "file" not in files:
            raise ApiError(400, "missing multipart field 'file'")
        filename, data = files["file"]
        if len(data) > 150 * 1024 * 1024:
            raise ApiError(400, "file larger than 150 MB: use getUploadEndpoint instead")
        _ingest(state, account, did, record, data)
        return {"id": did, "object": "file", "bytes": len(data),
                "created_at": int(state.now()), "filename": filename,
                "purpose": "fine-tune"}
    if verb == "getUploadEndpoint":
        body = await json_body(request)
        record = _get_dataset(state, account, did)
        sizes = body.get("filenameToSize") or {}
        if not isinstance(sizes, dict) or not sizes:
            raise ApiError(400, "filenameToSize must name at least one file")
        sig = hashlib.sha256(f"{account}/{did}:{state.config.seed}".encode()).hexdigest()[:16]
        urls = {fn: f"{state.base_url}/fireworks/_signed/{account}/{did}/{fn}?sig={sig}"
                for fn in sizes}
        record["_expected"] = {fn: int(size) for fn, size in sizes.items()}
        state.store.put(P, "dataset", f"{account}/{did}", record)
        return {"filenameToSignedUrls": urls}
    if verb == "validateUpload":
        await json_body(request)
        record = _get_dataset(state, account, did)
        pending = state.store.get_blob(P, f"{account}/{did}:pending")
        if pending is None:
            raise ApiError(400, f"nothing was uploaded for dataset {did}")
        _ingest(state, account, did, record, pending)
        return {}
    _get_dataset(state, account, did)
    raise ApiError(404, f"unknown method :{verb}")


async def _signed_put(state: EmulatorState, request: Request) -> Any:
    p = request.path_params
    key = f"{p['account_id']}/{p['dataset_id']}"
    sig = hashlib.sha256(f"{key}:{state.config.seed}".encode()).hexdigest()[:16]
    record = state.store.get(P, "dataset", key)
    if record is None or request.query_params.get("sig") != sig:
        return Response("<Error><Code>AccessDenied</Code></Error>", status_code=403,
                        media_type="application/xml")
    data = await request.body()
    fault = storage_fault(state, P, request)
    if fault is not None:
        return fault
    expected = (record.get("_expected") or {}).get(p["filename"])
    # Both headers are part of the GCS signature the URL was made with: without them (or
    # with other values) GCS refuses the PUT before looking at the bytes.
    signed_range = f"{expected},{expected}"
    if request.headers.get("content-type") != "application/octet-stream" or \
            request.headers.get("x-goog-content-length-range") != signed_range:
        return storage_error(403, "SignatureDoesNotMatch", "The request signature we "
                             "calculated does not match the signature you provided (send "
                             "Content-Type: application/octet-stream and "
                             f"x-goog-content-length-range: {signed_range}).")
    if expected is not None and expected != len(data):
        return Response("<Error><Code>InvalidArgument</Code><Message>content length does not "
                        "match x-goog-content-length-range</Message></Error>",
                        status_code=400, media_type="application/xml")
    state.store.put_blob(P, f"{key}:pending", data)
    return Response(status_code=200)


# -- supervised fine-tuning jobs ---------------------------------------------------------

def _money(usd: float) -> dict[str, Any]:
    units = int(usd)
    return {"currencyCode": "USD", "units": str(units), "nanos": round((usd - units) * 1e9)}


def _check_job_body(state: EmulatorState, account: str,
                    body: dict[str, Any]) -> tuple[dict[str, Any], str]:
    dataset = body.get("dataset")
    if not isinstance(dataset, str) or not dataset:
        raise ApiError(400, "dataset is required")
    prefix = f"accounts/{account}/datasets/"
    if not dataset.startswith(prefix):
        raise ApiError(400, f"dataset must be a name like {prefix}<id>, got {dataset!r}")
    record = _get_dataset(state, account, dataset[len(prefix):])
    view = _dataset_view(state, record)
    if view["state"] != "READY":
        raise ApiError(400, f"dataset {dataset} is not READY (state {view['state']})")
    if record.get("_error"):
        raise ApiError(400, f"dataset {dataset} failed validation: {record['_error']}")
    base = body.get("baseModel") or body.get("warmStartFrom")
    if not isinstance(base, str) or not base:
        raise ApiError(400, "one of baseModel or warmStartFrom is required")
    if body.get("baseModel") and body.get("warmStartFrom"):
        raise ApiError(400, "only one of baseModel or warmStartFrom may be given")
    if body.get("baseModel") and base.rsplit("/", 1)[-1] not in BASE_MODELS:
        raise ApiError(404, f"model {base} not found or not tunable")
    rank = body.get("loraRank", 8)
    if not isinstance(rank, int) or rank < 1 or rank > 64 or rank & (rank - 1):
        raise ApiError(400, f"loraRank must be a power of 2 up to 64, got {rank}")
    epochs = body.get("epochs", 1)
    if not isinstance(epochs, int) or epochs < 1:
        raise ApiError(400, f"epochs must be a positive integer, got {epochs}")
    return record, base


async def _create_job(state: EmulatorState, request: Request) -> Any:
    account = request.path_params["account_id"]
    body = await json_body(request)
    job_id = request.query_params.get("supervisedFineTuningJobId")
    if job_id:
        _check_id(job_id, "supervisedFineTuningJobId")
    else:
        job_id = str(uuid.UUID(hex=state.store.new_id("", length=32, kind="fw-job")))[:36]
    key = f"{account}/{job_id}"
    if state.store.get(P, "job", key) is not None:
        raise ApiError(409, f"supervisedFineTuningJob accounts/{account}/"
                            f"supervisedFineTuningJobs/{job_id} already exists")
    dataset, base = _check_job_body(state, account, body)
    # A generated UUID may start with a digit, which a model id may not.
    output = body.get("outputModel") or (job_id if _ID.match(job_id) else f"ft-{job_id}")
    if "/" in output:
        output = output.rsplit("/", 1)[-1]
    _check_id(output, "outputModel")
    epochs = int(body.get("epochs", 1))
    now = state.now()
    fail = "random" if state.draw_failure() else None
    tl = life.new_timeline(now=now, seconds=state.config.job_seconds,
                           n_examples=int(dataset["exampleCount"]),
                           n_tokens=int(dataset["_tokens"]), epochs=epochs, fail=fail)
    price = state.config.price_per_million(P, base, "lora")
    record: dict[str, Any] = {
        "name": f"accounts/{account}/supervisedFineTuningJobs/{job_id}",
        "displayName": body.get("displayName") or job_id, "createTime": state.iso(now),
        "dataset": body["dataset"], "state": "JOB_STATE_CREATING",
        "status": {"code": "OK", "message": ""}, "createdBy": "emulator@fireworks.invalid",
        "outputModel": f"accounts/{account}/models/{output}", "epochs": epochs,
        "learningRate": body.get("learningRate", 1e-4), "loraRank": body.get("loraRank", 8),
        "maxContextLength": body.get("maxContextLength", 32768),
        "batchSizeSamples": body.get("batchSizeSamples", 32),
        "estimatedCost": _money(tl["n_tokens"] * epochs * price / 1e6),
        "_emu": tl, "_price": price,
    }
    if body.get("baseModel"):
        record["baseModel"] = base
    else:
        record["warmStartFrom"] = base
    if body.get("wandbConfig"):
        # The W&B key is accepted but, like the real service, never echoed back.
        record["wandbConfig"] = {k: v for k, v in body["wandbConfig"].items() if k != "apiKey"}
    state.store.put(P, "job", key, record)
    return _job_view(state, record)


def _job_view(state: EmulatorState, record: dict[str, Any]) -> dict[str, Any]:
    tl = record["_emu"]
    snap = life.snapshot(tl, state.now())
    view = _public(record)
    view["state"] = _STATE[snap.phase]
    tokens = life.trained_tokens(tl, snap.step)
    view["jobProgress"] = {"percent": int(100 * snap.step / tl["n_steps"]),
                           "epoch": min(tl["epochs"] - 1,
                                        snap.step * tl["epochs"] // tl["n_steps"]),
                           "inputTokens": tokens, "outputTokens": 0}
    if snap.phase == "failed":
        view["status"] = {"code": "INTERNAL", "message": "training failed due to an internal "
                                                         "error; please retry the job"}
    elif snap.phase == "cancelled":
        view["status"] = {"code": "CANCELLED", "message": "job was cancelled"}
    if snap.terminal and snap.finished_at is not None:
        view["completedTime"] = state.iso(snap.finished_at)
    return view


def _get_job(state: EmulatorState, account: str, job_id: str) -> dict[str, Any]:
    return _fetch(state, "job", account, job_id)


async def _job_action(state: EmulatorState, request: Request) -> Any:
    account = request.path_params["account_id"]
    job_id, verb = _split(request.path_params["name"])
    record = _get_job(state, account, job_id)
    snap = life.snapshot(record["_emu"], state.now())
    if verb == "cancel":
        if snap.terminal or snap.phase == "cancelling":
            raise ApiError(400, f"job {job_id} is {_STATE[snap.phase]} and cannot be cancelled")
        life.cancel(record["_emu"], state.now())
        state.store.put(P, "job", f"{account}/{job_id}", record)
        return {}
    if verb == "resume":
        if snap.phase not in ("paused", "failed"):
            raise ApiError(400, f"job {job_id} is {_STATE[snap.phase]}; only a paused or "
                                "failed job can be resumed")
        if snap.phase == "failed":  # resuming a failed job retries it from where it failed
            life.retry_failed(record["_emu"], state.now())
        else:
            life.resume(record["_emu"], state.now())
        state.store.put(P, "job", f"{account}/{job_id}", record)
        return _job_view(state, record)
    raise ApiError(404, f"unknown method :{verb}")


async def _estimate(state: EmulatorState, request: Request) -> Any:
    account = request.path_params["account_id"]
    body = await json_body(request)
    dataset, base = _check_job_body(state, account, body)
    tokens = int(dataset["_tokens"]) * int(body.get("epochs", 1))
    return {"estimatedCost": _money(tokens * state.config.price_per_million(P, base, "lora") / 1e6)}


def _fine_tuned_models(state: EmulatorState, account: str) -> dict[str, dict[str, Any]]:
    out = {}
    for job in [*state.store.list(P, "job"), *state.store.list(P, "dpo_job")]:
        if job["name"].startswith(f"accounts/{account}/") and \
                life.snapshot(job["_emu"], state.now()).phase == "succeeded":
            out[job["outputModel"]] = job
    return out


async def _get_model(state: EmulatorState, request: Request) -> Any:
    account = request.path_params["account_id"]
    name = f"accounts/{account}/models/{request.path_params['model_id']}"
    job = _fine_tuned_models(state, account).get(name)
    if job is None:
        raise ApiError(404, f"model {name} not found")
    return {"name": name, "displayName": request.path_params["model_id"],
            "kind": "HF_PEFT_ADDON", "state": "READY", "status": {"code": "OK", "message": ""},
            "baseModelDetails": {}, "peftDetails": {"baseModel": job.get("baseModel", ""),
                                                    "r": job["loraRank"]},
            "createTime": job["createTime"], "tunable": True, "supportsLora": True}


# -- deployments and deployed (LoRA) models ----------------------------------------------

def _deployment_view(state: EmulatorState, record: dict[str, Any]) -> dict[str, Any]:
    view = _public(record)
    if record.get("deleteTime"):
        view["state"] = "DELETED"  # soft-deleted: kept until purged, may be undeleted
    else:
        view["state"] = "READY" if state.now() >= record["_ready_at"] else "CREATING"
    view["replicaCount"] = 1 if view["state"] == "READY" else 0
    return view


async def _delete_deployment(state: EmulatorState, request: Request) -> Any:
    """Soft delete, as Fireworks does (``hard=true`` removes it at once): the deployment
    stops and reads ``DELETED``; its id stays taken until it is undeleted or purged."""
    account = request.path_params["account_id"]
    did, _ = _split(request.path_params["deployment_id"])
    record = _get_deployment(state, account, did)
    if request.query_params.get("hard") == "true":
        state.store.delete(P, "deployment", f"{account}/{did}")
        return {}
    now = state.now()
    record["deleteTime"] = state.iso(now)
    record["purgeTime"] = state.iso(now + 7 * 86400)
    state.store.put(P, "deployment", f"{account}/{did}", record)
    return {}


async def _deployment_action(state: EmulatorState, request: Request) -> Any:
    account = request.path_params["account_id"]
    did, verb = _split(request.path_params["deployment_id"])
    if verb != "undelete":
        raise ApiError(404, f"unknown method POST :{verb}")
    record = _get_deployment(state, account, did)
    if not record.get("deleteTime"):
        raise ApiError(400, f"deployment accounts/{account}/deployments/{did} is not deleted; "
                            "only a DELETED or FAILED deployment can be undeleted",
                       code="FAILED_PRECONDITION")
    record.pop("deleteTime", None)
    record.pop("purgeTime", None)
    record["_ready_at"] = state.now() + state.config.deploy_seconds
    state.store.put(P, "deployment", f"{account}/{did}", record)
    return _deployment_view(state, record)



async def _create_deployment(state: EmulatorState, request: Request) -> Any:
    account = request.path_params["account_id"]
    body = await json_body(request)
    did = request.query_params.get("deploymentId") or state.store.new_id("", length=8,
                                                                         kind="fw-deployment")
    did = _check_id(did if did[0].isalpha() else "d" + did, "deploymentId")
    if state.store.get(P, "deployment", f"{account}/{did}") is not None:
        raise ApiError(409, f"deployment accounts/{account}/deployments/{did} already exists")
    base = body.get("baseModel")
    tuned = _fine_tuned_models(state, account)
    if not isinstance(base, str) or (base not in tuned and
                                     base.rsplit("/", 1)[-1] not in BASE_MODELS):
        raise ApiError(404, f"model {base!r} not found or not deployable")
    now = state.now()
    record = {"name": f"accounts/{account}/deployments/{did}",
              "displayName": body.get("displayName") or did, "createTime": state.iso(now),
              "baseModel": base, "state": "CREATING", "status": {"code": "OK", "message": ""},
              "minReplicaCount": body.get("minReplicaCount", 0),
              "maxReplicaCount": body.get("maxReplicaCount", 1),
              "acceleratorType": body.get("acceleratorType", "NVIDIA_H100_80GB"),
              "acceleratorCount": body.get("acceleratorCount", 1),
              "enableAddons": bool(body.get("enableAddons", False)),
              "_ready_at": now + state.config.deploy_seconds}
    state.store.put(P, "deployment", f"{account}/{did}", record)
    return _deployment_view(state, record)


def _get_deployment(state: EmulatorState, account: str, did: str) -> dict[str, Any]:
    return _fetch(state, "deployment", account, did)


def _deployed_view(state: EmulatorState, record: dict[str, Any]) -> dict[str, Any]:
    view = _public(record)
    deployment = state.store.get(P, "deployment", record["_deployment_key"])
    ready = deployment is not None and state.now() >= deployment["_ready_at"]
    view["state"] = "DEPLOYED" if ready else "DEPLOYING"
    return view


async def _load_lora(state: EmulatorState, request: Request) -> Any:
    account = request.path_params["account_id"]
    body = await json_body(request)
    model, deployment = body.get("model"), body.get("deployment")
    if not isinstance(model, str) or model not in _fine_tuned_models(state, account):
        raise ApiError(404, f"model {model!r} not found or its job has not completed")
    prefix = f"accounts/{account}/deployments/"
    if not isinstance(deployment, str) or not deployment.startswith(prefix):
        raise ApiError(400, f"deployment must be a name like {prefix}<id>")
    dep = _get_deployment(state, account, deployment[len(prefix):])
    if not dep["enableAddons"]:
        raise ApiError(400, f"deployment {deployment} was created without enableAddons; "
                            "LoRA addons cannot be loaded onto it")
    if _deployment_view(state, dep)["state"] != "READY":
        # The docs: create the base deployment, and "once the deployment is ready, load the
        # LoRA"; a load onto one still CREATING is refused.
        raise ApiError(400, f"deployment {deployment} is not READY yet; load the LoRA once it "
                            "is ready", code="FAILED_PRECONDITION")
    mid = state.store.new_id("dm-", length=12, kind="fw-deployed-model")
    record = {"name": f"accounts/{account}/deployedModels/{mid}", "model": model,
              "deployment": deployment, "displayName": body.get("displayName") or mid,
              "default": bool(body.get("default", False)), "serverless": False,
              "public": False, "createTime": state.iso(state.now()), "state": "DEPLOYING",
              "status": {"code": "OK", "message": ""},
              "_deployment_key": f"{account}/{deployment[len(prefix):]}"}
    state.store.put(P, "deployed_model", f"{account}/{mid}", record)
    return _deployed_view(state, record)


def _is_ready(state: EmulatorState, model: str) -> bool:
    if model.startswith("accounts/fireworks/models/") and \
            model.rsplit("/", 1)[-1] in BASE_MODELS:
        return True
    if "#" in model:
        addon, deployment = model.split("#", 1)
        # Live merge: a deployment created with the fine-tuned model as its base model.
        merged = any(d["name"] == deployment and d["baseModel"] == addon
                     and _deployment_view(state, d)["state"] == "READY"
                     for d in state.store.list(P, "deployment"))
        return merged or any(d["model"] == addon and d["deployment"] == deployment
                             and _deployed_view(state, d)["state"] == "DEPLOYED"
                             for d in state.store.list(P, "deployed_model"))
    return any(d["baseModel"] == model and _deployment_view(state, d)["state"] == "READY"
               for d in state.store.list(P, "deployment"))


async def _chat(state: EmulatorState, request: Request) -> Any:
    from tuneport.emulator._chat import completion

    body = await json_body(request)
    model = body.get("model")
    if not isinstance(model, str) or not _is_ready(state, model):
        raise ApiError(404, f"Model not found, inaccessible, and/or not deployed: {model}. "
                            "Fine-tuned LoRA models must be deployed to an on-demand "
                            "deployment first.")
    return completion(state, model, body)


async def _deployment_lister(state: EmulatorState, request: Request) -> Any:
    """Deployments; soft-deleted ones only with ``showDeleted=true``, as the API lists."""
    answer = await _lister("deployment", _deployment_view)(state, request)
    if request.query_params.get("showDeleted") != "true":
        answer["deployments"] = [d for d in answer["deployments"] if d["state"] != "DELETED"]
    return answer


def routes(state: EmulatorState) -> list[Route]:
    """The routes, relative to ``/fireworks``."""
    acct = "/v1/accounts/{account_id}"
    sft = acct + "/supervisedFineTuningJobs"
    dataset_get, dataset_delete = _read_and_delete("dataset", "name", _dataset_view)
    job_get, job_delete = _read_and_delete("job", "name", _job_view)
    deployment_get, _ = _read_and_delete("deployment", "deployment_id", _deployment_view)
    deployed_get, deployed_delete = _read_and_delete("deployed_model", "deployed_model_id",
                                                     _deployed_view)
    from tuneport.emulator import _fireworks_dpo as dpo  # it builds on this module

    dpo_jobs = acct + "/dpoJobs"
    dpo_get, dpo_delete = _read_and_delete("dpo_job", "name", dpo.dpo_job_view)
    table: list[tuple[str, list[str], Any, bool]] = [
        (acct + "/datasets", ["POST"], _create_dataset, False),
        (acct + "/datasets", ["GET"], _lister("dataset", _dataset_view), False),
        (acct + "/datasets/{name}", ["GET"], dataset_get, False),
        (acct + "/datasets/{name}", ["DELETE"], dataset_delete, False),
        (acct + "/datasets/{name}", ["POST"], _dataset_action, False),
        (sft + ":estimateCost", ["POST"], _estimate, False),
        (sft, ["POST"], _create_job, True),
        (sft, ["GET"], _lister("job", _job_view), False),
        (sft + "/{name}", ["GET"], job_get, False),
        (sft + "/{name}", ["DELETE"], job_delete, False),
        (sft + "/{name}", ["POST"], _job_action, False),
        (dpo_jobs, ["POST"], dpo.create_dpo_job, True),
        (dpo_jobs, ["GET"], _lister("dpo_job", dpo.dpo_job_view), False),
        (dpo_jobs + "/{name}", ["GET"], dpo_get, False),
        (dpo_jobs + "/{name}", ["DELETE"], dpo_delete, False),
        (dpo_jobs + "/{name}", ["POST"], dpo.dpo_job_action, False),
        (acct + "/models/{model_id}", ["GET"], _get_model, False),
        # A deployment bills like a job: its create may also lose its answer ("drop").
        (acct + "/deployments", ["POST"], _create_deployment, True),
        (acct + "/deployments", ["GET"], _deployment_lister, False),
        (acct + "/deployments/{deployment_id}", ["GET"], deployment_get, False),
        (acct + "/deployments/{deployment_id}", ["DELETE"], _delete_deployment, False),
        (acct + "/deployments/{deployment_id}", ["POST"], _deployment_action, False),
        (acct + "/deployedModels", ["POST"], _load_lora, False),
        (acct + "/deployedModels", ["GET"], _lister("deployed_model", _deployed_view), False),
        (acct + "/deployedModels/{deployed_model_id}", ["GET"], deployed_get, False),
        (acct + "/deployedModels/{deployed_model_id}", ["DELETE"], deployed_delete, False),
        ("/v1/chat/completions", ["POST"], _chat, False),
    ]
    out = [make_route(state, P, path, methods, handler, creates_job=creates)
           for path, methods, handler, creates in table]
    out.append(make_route(state, P, "/_signed/{account_id}/{dataset_id}/{filename}", ["PUT"],
                          _signed_put, auth=False))
    return out
