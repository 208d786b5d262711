"""OpenAI's files, uploads, fine-tuning and chat routes, served under ``/openai/v1``.

Shapes follow ``shared/specs/openai-finetuning-subset.yaml`` and the ``openai`` SDK's
types; status sequence ``validating_files -> queued -> running -> succeeded``.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from tuneport.emulator import _lifecycle as life
from tuneport.emulator._core import ApiError, EmulatorState, form_fields, json_body, make_route
from tuneport.emulator._paging import cursor_page, int_param
from tuneport.emulator._training_files import parse_training_file

__all__ = ["TRAINABLE_MODELS", "routes"]

P = "openai"
ORG = "org-emulator"
TRAINABLE_MODELS = (
    "gpt-4o-mini-2024-07-18", "gpt-4o-2024-08-06", "gpt-4.1-2025-04-14",
    "gpt-4.1-mini-2025-04-14", "gpt-4.1-nano-2025-04-14", "gpt-3.5-turbo-0125",
)
_STATUS = {"validating": "validating_files", "queued": "queued", "running": "running",
           "finishing": "running", "succeeded": "succeeded", "failed": "failed",
           "paused": "paused", "cancelling": "cancelled", "cancelled": "cancelled"}
_PURPOSES = ("assistants", "batch", "fine-tune", "vision", "user_data", "evals")
MAX_FILE_BYTES = 512 * 1024 * 1024


def _file_object(state: EmulatorState, record: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in record.items() if not k.startswith("_")}


def _new_file(state: EmulatorState, filename: str, purpose: str, data: bytes) -> dict[str, Any]:
    if purpose not in _PURPOSES:
        raise ApiError(400, f"Invalid value for 'purpose': {purpose!r}. Expected one of "
                            f"{', '.join(_PURPOSES)}.", param="purpose")
    if purpose == "fine-tune" and not filename.endswith(".jsonl"):
        raise ApiError(400, "Invalid file format for Fine-Tuning API. Must be .jsonl",
                       param="file")
    if len(data) > MAX_FILE_BYTES:
        raise ApiError(400, "File is too large: the maximum size is 512 MB; use the Uploads API.",
                       param="file")
    fid = state.store.new_id("file-", length=22)
    record = {"id": fid, "object": "file", "bytes": len(data), "created_at": int(state.now()),
              "filename": filename, "purpose": purpose, "status": "processed"}
    state.store.put(P, "file", fid, record)
    state.store.put_blob(P, fid, data)
    return record


async def _create_file(state: EmulatorState, request: Request) -> Any:
    texts, files = await form_fields(request)
    if "file" not in files:
        raise ApiError(400, "Missing required parameter: 'file'.", param="file")
    if "purpose" not in texts:
        raise ApiError(400, "Missing required parameter: 'purpose'.", param="purpose")
    filename, data = files["file"]
    return _file_object(state, _new_file(state, filename, texts["purpose"], data))


def _get_file(state: EmulatorState, fid: str) -> dict[str, Any]:
    record = state.store.get(P, "file", fid)
    if record is None:
        raise ApiError(404, f"No such File object: {fid}", param="id")
    return record


async def _retrieve_file(state: EmulatorState, request: Request) -> Any:
    return _file_object(state, _get_file(state, request.path_params["file_id"]))


async def _delete_file(state: EmulatorState, request: Request) -> Any:
    fid = request.path_params["file_id"]
    _get_file(state, fid)
    state.store.delete(P, "file", fid)
    return {"id": fid, "object": "file", "deleted": True}


async def _file_content(state: EmulatorState, request: Request) -> Any:
    fid = request.path_params["file_id"]
    _get_file(state, fid)
    return Response(state.store.get_blob(P, fid) or b"", media_type="application/octet-stream")


async def _list_files(state: EmulatorState, request: Request) -> Any:
    q = request.query_params
    limit = int_param(q.get("limit"), 10_000, name="limit", low=1, high=10_000)
    files = state.store.list(P, "file")
    if q.get("purpose"):
        files = [f for f in files if f["purpose"] == q["purpose"]]
    if q.get("order", "desc") == "desc":
        files.reverse()
    page, has_more = cursor_page(files, q.get("after"), limit)
    data = [_file_object(state, f) for f in page]
    return {"object": "list", "data": data, "has_more": has_more,
            "first_id": data[0]["id"] if data else None,
            "last_id": data[-1]["id"] if data else None}


# -- Uploads API -------------------------------------------------------------------------

def _get_upload(state: EmulatorState, uid: str) -> dict[str, Any]:
    record = state.store.get(P, "upload", uid)
    if record is None:
        raise ApiError(404, f"No such Upload object: {uid}", param="upload_id")
    return record


def _upload_object(record: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in record.items() if not k.startswith("_")}


async def _create_upload(state: EmulatorState, request: Request) -> Any:
    body = await json_body(request)
    for key in ("bytes", "filename", "mime_type", "purpose"):
        if key not in body:
            raise ApiError(400, f"Missing required parameter: '{key}'.", param=key)
    if not isinstance(body["bytes"], int) or not 0 < body["bytes"] <= 8 * 1024**3:
        raise ApiError(400, "'bytes' must be between 1 and 8 GB.", param="bytes")
    uid = state.store.new_id("upload_", length=22)
    now = int(state.now())
    record = {"id": uid, "object": "upload", "bytes": body["bytes"], "created_at": now,
              "expires_at": now + 3600, "filename": body["filename"],
              "purpose": body["purpose"], "status": "pending", "file": None, "_parts": []}
    state.store.put(P, "upload", uid, record)
    return _upload_object(record)


async def _add_part(state: EmulatorState, request: Request) -> Any:
    uid = request.path_params["upload_id"]
    # Read the body before the record: parts arrive in parallel, and a record read before
    # an ``await`` would lose the parts stored meanwhile.
    _, files = await form_fields(request)
    record = _get_upload(state, uid)
    if record["status"] != "pending":
        raise ApiError(400, f"Upload {uid} is {record['status']}; parts can only be added "
                            "to a pending upload.")
    if "data" not in files:
        raise ApiError(400, "Missing required parameter: 'data'.", param="data")
    data = files["data"][1]
    if len(data) > 64 * 1024**2:
        raise ApiError(400, "Each part may be at most 64 MB.", param="data")
    pid = state.store.new_id("part_", length=22)
    state.store.put_blob(P, pid, data)
    record["_parts"].append(pid)
    state.store.put(P, "upload", uid, record)
    return {"id": pid, "object": "upload.part", "created_at": int(state.now()), "upload_id": uid}


async def _complete_upload(state: EmulatorState, request: Request) -> Any:
    uid = request.path_params["upload_id"]
    body = await json_body(request)
    record = _get_upload(state, uid)
    part_ids = body.get("part_ids")
    if not isinstance(part_ids, list) or not part_ids:
        raise ApiError(400, "Missing required parameter: 'part_ids'.", param="part_ids")
    unknown = [p for p in part_ids if p not in record["_parts"]]
    if unknown:
        raise ApiError(400, f"Unknown part ids for upload {uid}: {', '.join(unknown)}",
                       param="part_ids")
    data = b"".join(state.store.get_blob(P, p) or b"" for p in part_ids)
    if len(data) != record["bytes"]:
        raise ApiError(400, f"The upload declared {record['bytes']} bytes but its parts hold "
                            f"{len(data)} bytes.", param="part_ids")
    md5 = body.get("md5")
    if md5 and md5 != hashlib.md5(data).hexdigest():
        raise ApiError(400, "The md5 checksum does not match the uploaded parts.", param="md5")
    record["status"] = "completed"
    record["file"] = _file_object(state, _new_file(state, record["filename"], record["purpose"],
                                                   data))
    state.store.put(P, "upload", uid, record)
    return _upload_object(record)


async def _cancel_upload(state: EmulatorState, request: Request) -> Any:
    uid = request.path_params["upload_id"]
    record = _get_upload(state, uid)
    if record["status"] != "pending":
        raise ApiError(400, f"Upload {uid} is already {record['status']}.")
    record["status"] = "cancelled"
    state.store.put(P, "upload", uid, record)
    return _upload_object(record)


# -- Fine-tuning jobs --------------------------------------------------------------------

def _auto_epochs(n_examples: int) -> int:
    # OpenAI's documented default: 3 epochs, raised for tiny sets, lowered for huge ones.
    n = max(n_examples, 1)
    if n * 3 < 100:
        return min(25, 100 // n)
    if n * 3 > 25_000:
        return max(1, 25_000 // n)
    return 3


def _hyperparameters(body: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    method = body.get("method") or {}
    kind = method.get("type", "supervised") if isinstance(method, dict) else "supervised"
    if kind not in ("supervised", "dpo", "reinforcement"):
        raise ApiError(400, f"Invalid method type {kind!r}.", param="method.type")
    hp = dict((method.get(kind) or {}).get("hyperparameters") or body.get("hyperparameters") or {})
    n_epochs = hp.get("n_epochs", "auto")
    if n_epochs != "auto" and (not isinstance(n_epochs, int) or not 1 <= n_epochs <= 50):
        raise ApiError(400, "Invalid 'n_epochs': must be 'auto' or an integer from 1 to 50.",
                       param="hyperparameters.n_epochs")
    batch = hp.get("batch_size", "auto")
    if batch != "auto" and (not isinstance(batch, int) or not 1 <= batch <= 256):
        raise ApiError(400, "Invalid 'batch_size': must be 'auto' or an integer from 1 to 256.",
                       param="hyperparameters.batch_size")
    beta = hp.get("beta", "auto")
    if kind == "dpo" and beta != "auto" and (
            not isinstance(beta, int | float) or isinstance(beta, bool) or not 0 < beta <= 2):
        raise ApiError(400, "Invalid 'beta': must be 'auto' or a number in (0, 2].",
                       param="hyperparameters.beta")
    lrm = hp.get("learning_rate_multiplier", "auto")
    if lrm != "auto" and (not isinstance(lrm, (int, float)) or lrm <= 0):
        raise ApiError(400, "Invalid 'learning_rate_multiplier': must be 'auto' or > 0.",
                       param="hyperparameters.learning_rate_multiplier")
    return kind, hp


def _get_job(state: EmulatorState, job_id: str) -> dict[str, Any]:
    record = state.store.get(P, "job", job_id)
    if record is None:
        raise ApiError(404, f"Could not find fine-tune: {job_id}", param="fine_tune_id",
                       code="fine_tune_not_found")
    return record


def _job_view(state: EmulatorState, record: dict[str, Any]) -> dict[str, Any]:
    tl = record["_emu"]
    now = state.now()
    snap = life.snapshot(tl, now)
    job = {k: v for k, v in record.items() if not k.startswith("_")}
    job["status"] = _STATUS[snap.phase]
    if snap.phase in ("cancelling", "cancelled"):
        job["finished_at"] = int(tl["cancelled_at"])
    elif snap.finished_at is not None:
        job["finished_at"] = int(snap.finished_at)
    if snap.phase in ("running", "finishing"):
        job["estimated_finish"] = int(life.wall_time(tl, tl["seconds"]))
    if snap.phase == "succeeded":
        job["fine_tuned_model"] = record["_model_name"]
        job["trained_tokens"] = life.trained_tokens(tl, snap.n_steps)
        job["result_files"] = [record["_result_file"]]
    if snap.phase == "failed":
        job["error"] = dict(record["_failure"])
    return job


# OpenAI's error body shape; the wording of the wind-down refusal is modelled on the
# reported "permission denied" symptom (shared/reference/providers.md section 1.1).
FINE_TUNING_CLOSED_MESSAGE = (
    "You do not have access to fine-tuning: self-serve fine-tuning is no longer available "
    "to this organization. Inference on existing fine-tuned models is not affected.")


async def _create_job(state: EmulatorState, request: Request) -> Any:
    if state.config.openai_fine_tuning_closed:
        raise ApiError(403, FINE_TUNING_CLOSED_MESSAGE, type="invalid_request_error",
                       code="permission_denied")
    body = await json_body(request)
    model = body.get("model")
    if not isinstance(model, str) or not model:
        raise ApiError(400, "Missing required parameter: 'model'.", param="model")
    base = model.split(":")[1] if model.startswith("ft:") else model
    if base not in TRAINABLE_MODELS:
        raise ApiError(400, f"Model {model} is not available for fine-tuning or does not exist.",
                       param="model", code="model_not_available")
    tf = body.get("training_file")
    if not isinstance(tf, str) or not tf:
        raise ApiError(400, "Missing required parameter: 'training_file'.", param="training_file")
    training = state.store.get(P, "file", tf)
    if training is None:
        raise ApiError(400, f"invalid training_file: {tf}", param="training_file")
    if training["purpose"] != "fine-tune":
        raise ApiError(400, f"File {tf} has purpose {training['purpose']!r}; fine-tuning needs "
                            "purpose 'fine-tune'.", param="training_file")
    vf = body.get("validation_file")
    if vf and state.store.get(P, "file", vf) is None:
        raise ApiError(400, f"invalid validation_file: {vf}", param="validation_file")
    suffix = body.get("suffix")
    if suffix is not None and (not isinstance(suffix, str) or not 1 <= len(suffix) <= 64):
        raise ApiError(400, "Invalid 'suffix': must be 1 to 64 characters.", param="suffix")
    metadata = body.get("metadata")
    if metadata is not None and (not isinstance(metadata, dict) or len(metadata) > 16 or any(
            len(str(k)) > 64 or not isinstance(v, str) or len(v) > 512
            for k, v in metadata.items())):
        raise ApiError(400, "Invalid 'metadata': at most 16 string pairs, keys up to 64 and "
                            "values up to 512 characters.", param="metadata")
    kind, hp = _hyperparameters(body)
    parsed = parse_training_file(P, state.store.get_blob(P, tf) or b"")
    if parsed.valid and (kind == "dpo") != (parsed.format == "preference"):
        # A DPO job reads FineTunePreferenceRequestInput lines, a supervised one chat lines.
        want = "preference (input, preferred_output, non_preferred_output)" if kind == "dpo" \
            else "chat (messages)"
        raise ApiError(400, f"Invalid training file for method {kind!r}: it needs {want} lines.",
                       param="training_file")
    epochs = hp.get("n_epochs", "auto")
    epochs = _auto_epochs(parsed.n_examples) if epochs == "auto" else int(epochs)
    resolved = {"batch_size": hp.get("batch_size", "auto"),
                "learning_rate_multiplier": hp.get("learning_rate_multiplier", "auto"),
                "n_epochs": epochs}
    if resolved["batch_size"] == "auto":
        resolved["batch_size"] = max(1, min(256, math.ceil(parsed.n_examples * 0.002)))
    if resolved["learning_rate_multiplier"] == "auto":
        resolved["learning_rate_multiplier"] = 1.8
    if kind == "dpo":
        beta = hp.get("beta", "auto")
        resolved["beta"] = 0.1 if beta == "auto" else beta
    fail = "invalid" if not parsed.valid else ("random" if state.draw_failure() else None)
    now = state.now()
    job_id = state.store.new_id("ftjob-", length=24)
    tl = life.new_timeline(now=now, seconds=state.config.job_seconds,
                           n_examples=parsed.n_examples, n_tokens=parsed.n_tokens,
                           epochs=epochs, fail=fail)
    if parsed.valid:
        failure = {"code": "server_error", "param": None,
                   "message": "The job failed due to an internal error. You have not been "
                              "charged; please try again."}
    else:
        failure = {"code": parsed.error_code, "param": "training_file",
                   "message": "The job failed due to an invalid training file. "
                              f"Invalid file format. {parsed.error}"}
    seed = body.get("seed")
    record: dict[str, Any] = {
        "id": job_id, "object": "fine_tuning.job", "created_at": int(now), "error": None,
        "fine_tuned_model": None, "finished_at": None, "hyperparameters": resolved,
        "model": model, "organization_id": ORG, "result_files": [],
        "seed": seed if isinstance(seed, int) else int(now) % 2_147_483_647,
        "status": "validating_files", "trained_tokens": None, "training_file": tf,
        "validation_file": vf or None, "integrations": body.get("integrations") or [],
        "estimated_finish": None, "user_provided_suffix": suffix,
        "method": {"type": kind, kind: {"hyperparameters": resolved}},
        "metadata": metadata,
        "_emu": tl, "_failure": failure,
        "_model_name": f"ft:{base}:{ORG}:{suffix or ''}:{job_id[-8:]}",
        "_result_file": state.store.new_id("file-", length=22),
    }
    state.store.put(P, "job", job_id, record)
    return _job_view(state, record)


async def _retrieve_job(state: EmulatorState, request: Request) -> Any:
    return _job_view(state, _get_job(state, request.path_params["job_id"]))


async def _list_jobs(state: EmulatorState, request: Request) -> Any:
    q = request.query_params
    limit = int_param(q.get("limit"), 20, name="limit", low=1, high=100)
    jobs = list(reversed(state.store.list(P, "job")))
    wanted = {k[len("metadata["):-1]: v for k, v in q.multi_items()
              if k.startswith("metadata[") and k.endswith("]")}
    if q.get("metadata") == "null":
        jobs = [j for j in jobs if not j.get("metadata")]
    for key, value in wanted.items():
        jobs = [j for j in jobs if (j.get("metadata") or {}).get(key) == value]
    page, has_more = cursor_page(jobs, q.get("after"), limit)
    return {"object": "list", "data": [_job_view(state, j) for j in page], "has_more": has_more}


def _change_job(state: EmulatorState, request: Request, *, allowed: tuple[life.Phase, ...],
                refusal: str, change: Callable[[dict[str, Any], float], None]) -> dict[str, Any]:
    """Apply ``change`` to the job's timeline if its phase is ``allowed``, else a 400."""
    record = _get_job(state, request.path_params["job_id"])
    snap = life.snapshot(record["_emu"], state.now())
    if snap.phase not in allowed:
        raise ApiError(400, refusal.format(id=record["id"], status=_STATUS[snap.phase]),
                       param="fine_tuning_job_id")
    change(record["_emu"], state.now())
    state.store.put(P, "job", record["id"], record)
    return _job_view(state, record)


async def _cancel_job(state: EmulatorState, request: Request) -> Any:
    return _change_job(state, request, allowed=("validating", "queued", "running", "finishing",
                                                "paused"),
                       refusal="Job {id} has already {status}; it cannot be cancelled.",
                       change=life.cancel)


async def _pause_job(state: EmulatorState, request: Request) -> Any:
    return _change_job(state, request, allowed=("running", "finishing"),
                       refusal="Job {id} is {status}; only a running job can be paused.",
                       change=life.pause)


async def _resume_job(state: EmulatorState, request: Request) -> Any:
    view = _change_job(state, request, allowed=("paused",),
                       refusal="Job {id} is {status}; only a paused job can be resumed.",
                       change=life.resume)
    # Like the real service, a resumed job first goes back to the queue.
    view["status"] = "queued"
    return view


_MESSAGES = {
    "created": ("info", "message", "Created fine-tuning job: {id}"),
    "validated": ("info", "message", "Files validated, moving job to queued state"),
    "started": ("info", "message", "Fine-tuning job started"),
    "checkpoint": ("info", "message", "Checkpoint created at step {step}"),
    "paused": ("info", "message", "Fine-tuning job paused"),
    "resumed": ("info", "message", "Fine-tuning job resumed"),
    "cancel_requested": ("info", "message", "Fine-tuning job cancelled"),
    "failed_invalid": ("error", "message", "{error}"),
    "failed_random": ("error", "message", "{error}"),
    "succeeded": ("info", "message", "The job has successfully completed"),
}


def _events(state: EmulatorState, record: dict[str, Any]) -> list[dict[str, Any]]:
    tl = record["_emu"]
    out = []
    for i, h in enumerate(life.happenings(tl, state.now())):
        eid = "ftevent-" + hashlib.sha256(f"{record['id']}:{i}".encode()).hexdigest()[:24]
        event: dict[str, Any] = {"object": "fine_tuning.job.event", "id": eid,
                                 "created_at": int(h.at), "level": "info", "type": "message",
                                 "data": {}}
        if h.kind == "step":
            assert h.step is not None
            loss = life.loss_at(h.step, tl["n_steps"])
            event["type"] = "metrics"
            event["message"] = f"Step {h.step}/{tl['n_steps']}: training loss={loss:.4f}"
            event["data"] = {"step": h.step, "train_loss": loss, "total_steps": tl["n_steps"],
                             "train_mean_token_accuracy": round(1.0 - loss / 3.0, 4)}
        elif h.kind in ("cancelled", "finishing"):
            continue
        else:
            level, etype, text = _MESSAGES[h.kind]
            event["level"], event["type"] = ("warn" if level == "warning" else level), etype
            event["message"] = text.format(id=record["id"], step=h.step,
                                           error=record["_failure"]["message"])
        out.append(event)
    if life.snapshot(tl, state.now()).phase == "succeeded":
        out.insert(len(out) - 1, {
            "object": "fine_tuning.job.event", "id": f"ftevent-{record['id'][-12:]}model",
            "created_at": out[-1]["created_at"], "level": "info", "type": "message",
            "message": f"New fine-tuned model created: {record['_model_name']}", "data": {}})
    out.reverse()  # newest first, as the API lists them
    return out


async def _list_events(state: EmulatorState, request: Request) -> Any:
    record = _get_job(state, request.path_params["job_id"])
    q = request.query_params
    limit = int_param(q.get("limit"), 20, name="limit", low=1, high=1000)
    page, has_more = cursor_page(_events(state, record), q.get("after"), limit)
    return {"object": "list", "data": page, "has_more": has_more}


def _checkpoints(state: EmulatorState, record: dict[str, Any]) -> list[dict[str, Any]]:
    tl = record["_emu"]
    snap = life.snapshot(tl, state.now())
    out = []
    for h in life.happenings(tl, state.now()):
        if h.kind != "checkpoint" or h.step is None:
            continue
        loss = life.loss_at(h.step, tl["n_steps"])
        out.append({
            "object": "fine_tuning.job.checkpoint",
            "id": "ftckpt_" + hashlib.sha256(f"{record['id']}:{h.step}".encode()).hexdigest()[:24],
            "created_at": int(h.at), "fine_tuning_job_id": record["id"], "step_number": h.step,
            "fine_tuned_model_checkpoint": f"{record['_model_name']}:ckpt-step-{h.step}",
            "metrics": {"step": float(h.step), "train_loss": loss,
                        "train_mean_token_accuracy": round(1.0 - loss / 3.0, 4),
                        "valid_loss": round(loss * 1.05, 4),
                        "valid_mean_token_accuracy": round(1.0 - loss * 1.05 / 3.0, 4),
                        "full_valid_loss": round(loss * 1.05, 4),
                        "full_valid_mean_token_accuracy": round(1.0 - loss * 1.05 / 3.0, 4)},
        })
    # OpenAI keeps the checkpoints of the last three epochs.
    out = out[-3:] if snap.phase == "succeeded" else out
    out.reverse()
    return out


async def _list_checkpoints(state: EmulatorState, request: Request) -> Any:
    record = _get_job(state, request.path_params["job_id"])
    q = request.query_params
    limit = int_param(q.get("limit"), 10, name="limit", low=1, high=100)
    data, has_more = cursor_page(_checkpoints(state, record), q.get("after"), limit)
    return {"object": "list", "data": data, "has_more": has_more,
            "first_id": data[0]["id"] if data else None,
            "last_id": data[-1]["id"] if data else None}


def callable_models(state: EmulatorState) -> set[str]:
    """Model ids a chat request may name: bases, finished fine-tunes and their checkpoints."""
    names = set(TRAINABLE_MODELS)
    for record in state.store.list(P, "job"):
        if life.snapshot(record["_emu"], state.now()).phase == "succeeded":
            names.add(record["_model_name"])
            names.update(c["fine_tuned_model_checkpoint"] for c in _checkpoints(state, record))
    return names


async def _chat(state: EmulatorState, request: Request) -> Any:
    from tuneport.emulator._chat import completion

    body = await json_body(request)
    model = body.get("model")
    if model not in callable_models(state):
        raise ApiError(404, f"The model `{model}` does not exist or you do not have access to it.",
                       code="model_not_found", param="model")
    return completion(state, str(model), body)


def routes(state: EmulatorState) -> list[Route]:
    """The routes, relative to ``/openai/v1``."""
    jobs = "/fine_tuning/jobs"
    table = [
        ("/files", ["POST"], _create_file, False),
        ("/files", ["GET"], _list_files, False),
        ("/files/{file_id}", ["GET"], _retrieve_file, False),
        ("/files/{file_id}", ["DELETE"], _delete_file, False),
        ("/files/{file_id}/content", ["GET"], _file_content, False),
        ("/uploads", ["POST"], _create_upload, False),
        ("/uploads/{upload_id}/parts", ["POST"], _add_part, False),
        ("/uploads/{upload_id}/complete", ["POST"], _complete_upload, False),
        ("/uploads/{upload_id}/cancel", ["POST"], _cancel_upload, False),
        (jobs, ["POST"], _create_job, True),
        (jobs, ["GET"], _list_jobs, False),
        (jobs + "/{job_id}", ["GET"], _retrieve_job, False),
        (jobs + "/{job_id}/cancel", ["POST"], _cancel_job, False),
        (jobs + "/{job_id}/pause", ["POST"], _pause_job, False),
        (jobs + "/{job_id}/resume", ["POST"], _resume_job, False),
        (jobs + "/{job_id}/events", ["GET"], _list_events, False),
        (jobs + "/{job_id}/checkpoints", ["GET"], _list_checkpoints, False),
        ("/chat/completions", ["POST"], _chat, False),
    ]
    return [make_route(state, P, path, methods, handler, creates_job=creates)
            for path, methods, handler, creates in table]
