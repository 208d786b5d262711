"""Together AI's files and fine-tunes routes, served under ``/together``.

The ``together`` 3.x SDK puts ``/v1`` (and ``/v2`` for endpoints) in each path. Uploads
follow the SDK's flow: ``POST /v1/files`` answers 302 with a presigned URL pointing back
at the emulator, the SDK ``PUT``s the bytes there, then calls ``/preprocess``; the file is
validated server-side (``processing_status``). Status sequence
``pending -> queued -> running -> uploading -> completed``.
"""

from __future__ import annotations

import hashlib
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from tuneport.emulator import _lifecycle as life
from tuneport.emulator._core import ApiError, EmulatorState, form_fields, json_body, make_route
from tuneport.emulator._training_files import parse_training_file

__all__ = ["MODELS", "routes", "servable_models"]

P = "together"
USER = "emulator"
# model -> (billions of parameters, max LoRA rank, supports full training)
MODELS = {
    "meta-llama/Meta-Llama-3.1-8B-Instruct-Reference": (8, 64, True),
    "meta-llama/Meta-Llama-3.1-70B-Instruct-Reference": (70, 64, True),
    "Qwen/Qwen2.5-7B-Instruct": (7, 64, True),
    "Qwen/Qwen3-8B": (8, 64, True),
    "mistralai/Mistral-7B-Instruct-v0.2": (7, 64, True),
    "google/gemma-3-4b-it": (4, 64, True),
}
# Per-model SFT training length (LoRA), from Together's table of fine-tunable models
# (docs.together.ai/docs/fine-tuning-models, "Context Length (SFT)"): the emulator's own
# copy, so ``tuneport catalog verify`` has something independent to compare with.
_SFT_LENGTH = {
    "meta-llama/Meta-Llama-3.1-8B-Instruct-Reference": 131072,
    "meta-llama/Meta-Llama-3.1-70B-Instruct-Reference": 24576,
    "Qwen/Qwen2.5-7B-Instruct": 32768, "Qwen/Qwen3-8B": 32768,
    "mistralai/Mistral-7B-Instruct-v0.2": 32768, "google/gemma-3-4b-it": 131072,
}
_STATUS = {"validating": "pending", "queued": "queued", "running": "running",
           "finishing": "uploading", "succeeded": "completed", "failed": "error",
           "paused": "queued", "cancelling": "cancel_requested", "cancelled": "cancelled"}


# -- files -------------------------------------------------------------------------------

def _file_view(state: EmulatorState, record: dict[str, Any]) -> dict[str, Any]:
    view = {k: v for k, v in record.items() if not k.startswith("_")}
    done_at = record.get("_processed_at")
    if record.get("purpose") != "fine-tune":
        # The SDK's FileResponse: "Files for purposes that do not require validation skip
        # validation" and carry no processing_status; only fine-tune data is validated [U].
        view["Processed"] = bool(record.get("_uploaded"))
    elif done_at is None:
        view["processing_status"] = "PENDING"
    elif state.now() < done_at:
        view["processing_status"] = "RUNNING"
    else:
        report = record["_report"]
        view["processing_status"] = "COMPLETED" if report["valid"] else "INVALID_FORMAT"
        view["validation_report"] = report
        view["Processed"] = True
    return view


def _get_file(state: EmulatorState, fid: str) -> dict[str, Any]:
    record = state.store.get(P, "file", fid)
    if record is None:
        raise ApiError(404, f"File {fid} not found", type="invalid_request_error")
    return record


async def _create_file(state: EmulatorState, request: Request) -> Any:
    texts, _ = await form_fields(request)
    fields = {k: texts.get(k) for k in ("purpose", "file_name", "file_type", "checksum")}
    for key in ("purpose", "file_name"):
        if not isinstance(fields[key], str) or not fields[key]:
            raise ApiError(400, f"Missing required field '{key}'", param=key)
    purpose = str(fields["purpose"])
    if purpose not in ("fine-tune", "eval", "batch-api", "calibration"):
        raise ApiError(400, f"Invalid purpose '{purpose}'", param="purpose")
    checksum = fields["checksum"] if isinstance(fields["checksum"], str) else None
    if checksum:
        for other in state.store.list(P, "file"):
            if other.get("_checksum") == checksum and other["purpose"] == purpose \
                    and other.get("_uploaded"):
                raise ApiError(409, "A file with the same contents already exists.",
                               extra={"file_id": other["id"]})
    fid = state.store.new_id("file-", length=32)
    fid = f"file-{fid[5:13]}-{fid[13:17]}-{fid[17:21]}-{fid[21:25]}-{fid[25:37]}"
    record = {"id": fid, "object": "file", "created_at": int(state.now()),
              "filename": fields["file_name"], "bytes": 0, "purpose": purpose,
              "FileType": fields["file_type"] or "jsonl", "Processed": False,
              "_checksum": checksum, "_uploaded": False, "_processed_at": None}
    state.store.put(P, "file", fid, record)
    signature = hashlib.sha256(f"{fid}:{state.config.seed}".encode()).hexdigest()[:16]
    location = f"{state.base_url}/together/_presigned/{fid}?X-Emulator-Signature={signature}"
    return Response(status_code=302, headers={"Location": location, "X-Together-File-Id": fid})


async def _presigned_put(state: EmulatorState, request: Request) -> Any:
    fid = request.path_params["file_id"]
    expected = hashlib.sha256(f"{fid}:{state.config.seed}".encode()).hexdigest()[:16]
    data = await request.body()  # before reading the record: nothing may change after it
    record = state.store.get(P, "file", fid)
    if record is None or request.query_params.get("X-Emulator-Signature") != expected:
        return Response("<Error><Code>AccessDenied</Code></Error>", status_code=403,
                        media_type="application/xml")
    record["bytes"] = len(data)
    record["_uploaded"] = True
    state.store.put(P, "file", fid, record)
    state.store.put_blob(P, fid, data)
    return Response(status_code=200)


async def _preprocess(state: EmulatorState, request: Request) -> Any:
    fid = request.path_params["file_id"]
    record = _get_file(state, fid)
    if not record.get("_uploaded"):
        raise ApiError(400, f"File {fid} has no content yet: PUT it to the upload URL first.")
    return _file_view(state, process_file(state, fid, record))


def process_file(state: EmulatorState, fid: str, record: dict[str, Any]) -> dict[str, Any]:
    """Start Together's validation of an uploaded file (``/preprocess``, multipart complete)."""
    parsed = parse_training_file(P, state.store.get_blob(P, fid) or b"")
    report: dict[str, Any] = {
        "valid": parsed.valid, "file_id": fid, "nlines": parsed.n_examples,
        "dataset_format": {"conversation": "CONVERSATION", "instruction": "INSTRUCTION",
                           "general": "GENERAL", "preference": "PREFERENCE"}.get(parsed.format),
        "dataset_has_message_weights": parsed.flags.get("has_message_weights", False),
        "dataset_has_sample_weights": False,
        "dataset_has_tools": parsed.flags.get("has_tools", False),
        "dataset_has_parallel_tool_calls": False, "dataset_has_reasoning": False,
        "dataset_is_multimodal": False,
    }
    if not parsed.valid:
        report["error_type"] = "INVALID_FORMAT"
        report["error"] = parsed.error
    record["_report"] = report
    record["_tokens"] = parsed.n_tokens
    record["_processed_at"] = state.now() + state.config.file_seconds
    state.store.put(P, "file", fid, record)
    return record


async def _retrieve_file(state: EmulatorState, request: Request) -> Any:
    return _file_view(state, _get_file(state, request.path_params["file_id"]))


async def _list_files(state: EmulatorState, request: Request) -> Any:
    return {"data": [_file_view(state, f) for f in state.store.list(P, "file")
                     if f.get("_uploaded")]}


async def _delete_file(state: EmulatorState, request: Request) -> Any:
    fid = request.path_params["file_id"]
    _get_file(state, fid)
    state.store.delete(P, "file", fid)
    return {"id": fid, "deleted": True}


async def _file_content(state: EmulatorState, request: Request) -> Any:
    fid = request.path_params["file_id"]
    _get_file(state, fid)
    return Response(state.store.get_blob(P, fid) or b"", media_type="text/plain")


# -- models, estimates -------------------------------------------------------------------

def _limits(model: str) -> dict[str, Any]:
    if model not in MODELS:
        raise ApiError(404, f"Model {model} is not supported for fine-tuning.", param="model_name",
                       type="invalid_request_error", code="model_not_found")
    _, max_rank, full = MODELS[model]
    batch = {"max_batch_size": 96, "max_batch_size_dpo": 48, "min_batch_size": 8}
    return {
        "model_name": model, "max_num_epochs": 20, "max_num_evals": 100,
        "max_num_checkpoints": 20, "max_learning_rate": 1.0, "min_learning_rate": 1e-8,
        "max_seq_length_sft": _SFT_LENGTH.get(model, 16384), "max_seq_length_dpo": 8192,
        "min_max_seq_length": 512,
        "default_gradient_accumulation_steps": 1, "merge_output_lora": False,
        "supports_full_training": full, "supports_vision": False, "supports_tools": True,
        "supports_reasoning": False,
        "lora_training": {**batch, "default_rank": 64, "max_rank": max_rank,
                          "target_modules": ["q_proj", "k_proj", "v_proj", "o_proj",
                                             "gate_proj", "up_proj", "down_proj"]},
        "full_training": dict(batch) if full else None,
    }


async def _model_limits(state: EmulatorState, request: Request) -> Any:
    return _limits(request.query_params.get("model_name", ""))


async def _supported(state: EmulatorState, request: Request) -> Any:
    return {"models": sorted(MODELS)}


def _method(body: dict[str, Any]) -> str:
    training_type = body.get("training_type") or {"type": "Lora"}
    method = (body.get("training_method") or {}).get("method", "sft")
    kind = "full" if training_type.get("type") == "Full" else "lora"
    return f"dpo-{kind}" if method == "dpo" else kind


def _check_method_and_format(body: dict[str, Any], training: dict[str, Any]) -> None:
    """DPO trains on preference files only, SFT never on them; dpo_beta must be positive."""
    method = body.get("training_method") or {}
    dpo = isinstance(method, dict) and method.get("method") == "dpo"
    preference = (training.get("_report") or {}).get("dataset_format") == "PREFERENCE"
    if dpo and not preference:
        raise ApiError(400, "training_method 'dpo' needs a preference dataset (input, "
                            "preferred_output, non_preferred_output)", param="training_file")
    if preference and not dpo:
        raise ApiError(400, "a preference dataset trains with training_method 'dpo'",
                       param="training_method")
    beta = method.get("dpo_beta") if dpo else None
    if beta is not None and (not isinstance(beta, int | float) or beta <= 0):
        raise ApiError(400, f"dpo_beta must be a positive number, got {beta!r}",
                       param="dpo_beta")


def _ready_file(state: EmulatorState, fid: str, param: str) -> dict[str, Any]:
    record = state.store.get(P, "file", fid)
    if record is None:
        raise ApiError(400, f"{param} {fid} does not exist", param=param)
    view = _file_view(state, record)
    if view["processing_status"] == "INVALID_FORMAT":
        raise ApiError(400, f"{param} {fid} is invalid: {view['validation_report']['error']}",
                       param=param)
    if view["processing_status"] != "COMPLETED":
        raise ApiError(400, f"{param} {fid} has not been validated yet (processing_status "
                            f"{view['processing_status']}); wait until it is COMPLETED.",
                       param=param)
    return record


async def _estimate(state: EmulatorState, request: Request) -> Any:
    body = await json_body(request)
    fid = body.get("training_file")
    record = state.store.get(P, "file", str(fid))
    if record is None:
        raise ApiError(400, f"training_file {fid} does not exist", param="training_file")
    view = _file_view(state, record)
    if view["processing_status"] != "COMPLETED":
        reason = ("train_file_invalid" if view["processing_status"] == "INVALID_FORMAT"
                  else "train_file_not_validated")
        return {"estimation_available": False, "unavailable_reason": reason}
    model = str(body.get("model") or "")
    epochs = int(body.get("n_epochs") or 1)
    tokens = int(record["_tokens"]) * epochs
    # Together's pricing: n_epochs x train tokens + n_evals x validation tokens.
    evals = int(body.get("n_evals") or 0)
    eval_tokens = 0
    if evals and body.get("validation_file"):
        validation = state.store.get(P, "file", str(body["validation_file"]))
        if validation is None or _file_view(state, validation)["processing_status"] != \
                "COMPLETED":
            return {"estimation_available": False, "unavailable_reason": "eval_file_not_validated"}
        eval_tokens = int(validation["_tokens"]) * evals
    price = state.config.price_per_million(P, model, _method(body))
    total = (tokens + eval_tokens) * price / 1e6
    return {"estimation_available": True, "estimated_total_price": round(total, 6),
            "allowed_to_proceed": True, "user_limit": 1000.0,
            "estimated_train_token_count": tokens, "estimated_eval_token_count": eval_tokens}


# -- fine-tunes --------------------------------------------------------------------------

def _get_job(state: EmulatorState, job_id: str) -> dict[str, Any]:
    record = state.store.get(P, "job", job_id)
    if record is None:
        raise ApiError(404, f"Fine-tune job {job_id} not found", param="id")
    return record


def _job_view(state: EmulatorState, record: dict[str, Any], *,
              truncated: bool = False) -> dict[str, Any]:
    tl = record["_emu"]
    now = state.now()
    snap = life.snapshot(tl, now)
    # Unset optional fields are left out, as the API does (the spec types them non-null).
    job = {k: v for k, v in record.items() if not k.startswith("_") and v is not None}
    job["status"] = _STATUS[snap.phase]
    changes = [h.at for h in life.happenings(tl, now)]
    job["updated_at"] = state.iso(max(changes) if changes else tl["created"])
    if snap.started_at is not None:
        job["started_at"] = state.iso(snap.started_at)
    job["epochs_completed"] = min(tl["epochs"], snap.step * tl["epochs"] // tl["n_steps"])
    tokens = life.trained_tokens(tl, snap.step)
    job["token_count"] = tokens
    job["total_price"] = round(tokens * record["_price"] * 1000)  # nano-dollars
    remaining = max(0.0, (1.0 - snap.fraction) * tl["seconds"])
    job["progress"] = {"estimate_available": not snap.terminal,
                       "seconds_remaining": 0 if snap.terminal else int(remaining)}
    if snap.phase == "succeeded":
        job["model_output_path"] = f"s3://together-emulator/finetune/{record['id']}/output"
        from tuneport.emulator._together_endpoints import model_objects  # (imports this module)

        job.update(model_objects(record))
    if not truncated:
        job["events"] = _events(state, record)
    return job


async def _create_job(state: EmulatorState, request: Request) -> Any:
    body = await json_body(request)
    model = body.get("model")
    if not isinstance(model, str) or not model:
        raise ApiError(400, "model is required", param="model")
    limits = _limits(model) if model in MODELS else None
    if limits is None:
        raise ApiError(400, f"Model {model} is not supported for fine-tuning.", param="model")
    tf = body.get("training_file")
    if not isinstance(tf, str) or not tf:
        raise ApiError(400, "training_file is required", param="training_file")
    training = _ready_file(state, tf, "training_file")
    _check_method_and_format(body, training)
    vf = body.get("validation_file") or None
    if vf:
        _ready_file(state, vf, "validation_file")
    epochs = body.get("n_epochs", 1)
    if not isinstance(epochs, int) or not 1 <= epochs <= limits["max_num_epochs"]:
        raise ApiError(400, f"n_epochs must be between 1 and {limits['max_num_epochs']}",
                       param="n_epochs")
    training_type = body.get("training_type") or {"type": "Lora", "lora_r": 64,
                                                  "lora_alpha": 128}
    if training_type.get("type") == "Lora":
        rank = training_type.get("lora_r", 64)
        if not isinstance(rank, int) or not 1 <= rank <= limits["lora_training"]["max_rank"]:
            raise ApiError(400, f"lora_r must be between 1 and "
                                f"{limits['lora_training']['max_rank']}", param="lora_r")
    suffix = body.get("suffix")
    if suffix is not None and (not isinstance(suffix, str) or len(suffix) > 40):
        raise ApiError(400, "suffix must be at most 40 characters", param="suffix")
    batch = body.get("batch_size", "max")
    if batch == "max":  # the service answers with the batch size it resolved
        batch = limits["lora_training"]["max_batch_size"]
    now = state.now()
    fail = "random" if state.draw_failure() else None
    tl = life.new_timeline(now=now, seconds=state.config.job_seconds,
                           n_examples=training["_report"]["nlines"],
                           n_tokens=int(training["_tokens"]), epochs=epochs, fail=fail)
    raw_id = state.store.new_id("", length=32, kind="together-job")
    job_id = f"ft-{raw_id[:8]}-{raw_id[8:12]}-{raw_id[12:16]}-{raw_id[16:20]}-{raw_id[20:32]}"
    short = model.split("/")[-1]
    output = f"{USER}/{short}" + (f"-{suffix}" if suffix else "") + f"-{raw_id[:8]}"
    record: dict[str, Any] = {
        "id": job_id, "object": "finetune", "status": "pending",
        "created_at": state.iso(now), "updated_at": state.iso(now),
        "model": model, "model_output_name": output, "training_file": tf,
        "validation_file": vf or "", "suffix": suffix,
        "n_epochs": epochs, "n_checkpoints": body.get("n_checkpoints", 1),
        "n_evals": body.get("n_evals", 0), "batch_size": batch,
        "learning_rate": body.get("learning_rate", 1e-5),
        "lr_scheduler": body.get("lr_scheduler") or {
            "lr_scheduler_type": "cosine",
            "lr_scheduler_args": {"min_lr_ratio": 0.0, "num_cycles": 0.5}},
        "warmup_ratio": body.get("warmup_ratio", 0.0),
        "max_grad_norm": body.get("max_grad_norm", 1.0),
        "weight_decay": body.get("weight_decay", 0.0),
        "training_type": training_type,
        "training_method": body.get("training_method") or {"method": "sft",
                                                           "train_on_inputs": "auto"},
        "trainingfile_numlines": training["_report"]["nlines"],
        "trainingfile_size": training["bytes"], "param_count": MODELS[model][0] * 10**9,
        "user_id": USER, "owner_address": f"{USER}@emulator.invalid", "queue_depth": 0,
        "wandb_project_name": body.get("wandb_project_name"),
        "_emu": tl, "_price": state.config.price_per_million(P, model, _method(body)),
    }
    state.store.put(P, "job", job_id, record)
    return _job_view(state, record)


async def _retrieve_job(state: EmulatorState, request: Request) -> Any:
    return _job_view(state, _get_job(state, request.path_params["job_id"]))


async def _list_jobs(state: EmulatorState, request: Request) -> Any:
    jobs = reversed(state.store.list(P, "job"))
    return {"data": [_job_view(state, j, truncated=True) for j in jobs]}


async def _cancel_job(state: EmulatorState, request: Request) -> Any:
    record = _get_job(state, request.path_params["job_id"])
    snap = life.snapshot(record["_emu"], state.now())
    if snap.terminal:
        raise ApiError(400, f"Fine-tune job {record['id']} is already {_STATUS[snap.phase]} "
                            "and cannot be cancelled.", param="id")
    life.cancel(record["_emu"], state.now())
    state.store.put(P, "job", record["id"], record)
    return _job_view(state, record, truncated=True)


async def _delete_job(state: EmulatorState, request: Request) -> Any:
    record = _get_job(state, request.path_params["job_id"])
    state.store.delete(P, "job", record["id"])
    return {"message": f"Fine-tune job {record['id']} deleted"}


_EVENTS = {
    "created": ("job_pending", "Fine tune request created"),
    "validated": ("job_start", "Job started: training data validated and queued"),
    "started": ("training_start", "Training started for model {model}"),
    "checkpoint": ("checkpoint_save", "Checkpoint saved at step {step}"),
    "finishing": ("model_uploading", "Uploading model output to {output}"),
    "succeeded": ("job_complete", "Job finished: model {output} is ready"),
    "failed_invalid": ("job_error", "Job failed: the training data is invalid"),
    "failed_random": ("job_error", "Job failed due to an internal error; the unused "
                                   "balance has been refunded. Please retry the job."),
    "cancel_requested": ("cancel_requested", "Cancellation requested"),
    "cancelled": ("job_stopped", "Job was cancelled"),
}


def _events(state: EmulatorState, record: dict[str, Any]) -> list[dict[str, Any]]:
    tl = record["_emu"]
    out = []
    for i, h in enumerate(life.happenings(tl, state.now())):
        if h.kind not in _EVENTS:
            continue
        etype, text = _EVENTS[h.kind]
        step = h.step or 0
        out.append({
            "object": "fine-tune-event", "created_at": state.iso(h.at),
            "level": "error" if etype == "job_error" else "info",
            "message": text.format(step=step, model=record["model"],
                                   output=record["model_output_name"]),
            "type": etype, "param_count": record["param_count"],
            "token_count": life.trained_tokens(tl, step), "total_steps": tl["n_steps"],
            "wandb_url": "", "step": step,
            "checkpoint_path": (f"s3://together-emulator/finetune/{record['id']}/ckpt-{step}"
                                if h.kind == "checkpoint" else ""),
            "model_path": "", "training_offset": 0,
            "hash": hashlib.sha256(f"{record['id']}:{i}".encode()).hexdigest()[:16],
        })
    return out


async def _list_events(state: EmulatorState, request: Request) -> Any:
    return {"data": _events(state, _get_job(state, request.path_params["job_id"]))}


async def _list_checkpoints(state: EmulatorState, request: Request) -> Any:
    record = _get_job(state, request.path_params["job_id"])
    tl = record["_emu"]
    snap = life.snapshot(tl, state.now())
    base = f"s3://together-emulator/finetune/{record['id']}"
    data = [{"step": h.step, "path": f"{base}/ckpt-{h.step}", "created_at": state.iso(h.at),
             "checkpoint_type": "Intermediate"}
            for h in life.happenings(tl, state.now()) if h.kind == "checkpoint"]
    if snap.phase == "succeeded" and snap.finished_at is not None:
        done = state.iso(snap.finished_at)
        final = [{"step": tl["n_steps"], "path": f"{base}/{kind}", "created_at": done,
                  "checkpoint_type": label}
                 for kind, label in (("merged", "Final Merged"), ("adapter", "Final Adapter"))]
        data = [*data[:-1], *final]
    data.reverse()
    return {"data": data}


async def _metrics(state: EmulatorState, request: Request) -> Any:
    record = _get_job(state, request.path_params["job_id"])
    tl = record["_emu"]
    lr = float(record.get("learning_rate") or 1e-5)
    snap = life.snapshot(tl, state.now())
    q = request.query_params
    low = int(q.get("global_step_from") or 0)
    high = int(q.get("global_step_to") or snap.step)
    return {"metrics": [
        {"train/loss": life.loss_at(s, tl["n_steps"]),
         "train/learning_rate": life.learning_rate_at(s, tl["n_steps"], lr),
         "train/global_step": s}
        for s in range(max(1, low), min(snap.step, high) + 1)]}


def servable_models(state: EmulatorState) -> set[str]:
    """Models a deployment may serve: the bases and the output of every completed job."""
    names = set(MODELS)
    for job in state.store.list(P, "job"):
        if life.snapshot(job["_emu"], state.now()).phase == "succeeded":
            names.add(job["model_output_name"])
    return names


def routes(state: EmulatorState) -> list[Route]:
    """The routes, relative to ``/together``."""
    ft = "/v1/fine-tunes"
    table: list[tuple[str, list[str], Any, bool]] = [
        ("/v1/files", ["POST"], _create_file, False),
        ("/v1/files", ["GET"], _list_files, False),
        ("/v1/files/{file_id}", ["GET"], _retrieve_file, False),
        ("/v1/files/{file_id}", ["DELETE"], _delete_file, False),
        ("/v1/files/{file_id}/content", ["GET"], _file_content, False),
        ("/v1/files/{file_id}/preprocess", ["POST"], _preprocess, False),
        (ft + "/models/limits", ["GET"], _model_limits, False),
        (ft + "/models/supported", ["GET"], _supported, False),
        (ft + "/estimate-price", ["POST"], _estimate, False),
        (ft, ["POST"], _create_job, True),
        (ft, ["GET"], _list_jobs, False),
        (ft + "/{job_id}", ["GET"], _retrieve_job, False),
        (ft + "/{job_id}", ["DELETE"], _delete_job, False),
        (ft + "/{job_id}/cancel", ["POST"], _cancel_job, False),
        (ft + "/{job_id}/events", ["GET"], _list_events, False),
        (ft + "/{job_id}/checkpoints", ["GET"], _list_checkpoints, False),
        (ft + "/{job_id}/metrics", ["GET"], _metrics, False),
    ]
    out = [make_route(state, P, path, methods, handler, creates_job=creates)
           for path, methods, handler, creates in table]
    # The presigned URL carries its own signature instead of the API key, like S3's.
    out.append(make_route(state, P, "/_presigned/{file_id}", ["PUT"], _presigned_put, auth=False))
    return out
