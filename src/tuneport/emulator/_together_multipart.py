"""Together's multipart upload for large files, served under ``/together``.

As the ``together`` 3.x SDK's ``MultipartUploadManager`` calls it (the OpenAPI document has
no entry for these routes; the shapes follow the SDK source):

- ``POST /v1/files/multipart/initiate`` ``{file_name, file_size, num_parts, purpose,
  file_type, checksum}`` → ``{upload_id, file_id, parts: [{PartNumber, URL, Headers}]}``;
  an identical file (same checksum) → 409 with ``file_id``, as for single uploads.
- ``PUT`` each part's presigned URL → 200 with an ``ETag`` (S3: the part's md5, quoted).
- ``POST /v1/files/multipart/complete`` ``{upload_id, file_id, parts: [{part_number,
  etag}]}`` → the file, whose validation starts at once (no ``/preprocess`` call).
- ``POST /v1/files/multipart/abort`` ``{upload_id, file_id}``.

Completion follows S3's rules: part numbers ascending, each ETag matching its part, every
part but the last at least 5 MiB; the assembled bytes must match the declared size and
sha256, so a corrupted or reordered upload is refused instead of trained on.
"""

from __future__ import annotations

import hashlib
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from tuneport.emulator import _together
from tuneport.emulator._core import ApiError, EmulatorState, json_body, make_route
from tuneport.emulator._storage import signature, storage_error, storage_fault

__all__ = ["MIN_PART_BYTES", "routes"]

P = "together"
#: S3's smallest part (all but the last).
MIN_PART_BYTES = 5 * 1024 * 1024
#: S3's most parts per upload.
MAX_PARTS = 10_000
_PURPOSES = ("fine-tune", "eval", "batch-api", "calibration")


def _upload(state: EmulatorState, upload_id: Any, file_id: Any) -> dict[str, Any]:
    record = state.store.get(P, "multipart", str(upload_id)) if upload_id else None
    if record is None or record["file_id"] != file_id:
        raise ApiError(404, f"No multipart upload {upload_id!r} for file {file_id!r}",
                       param="upload_id")
    if record["state"] != "active":
        raise ApiError(400, f"Multipart upload {upload_id} is already {record['state']}",
                       param="upload_id")
    return record


def _part_key(upload_id: str, number: int) -> str:
    return f"multipart:{upload_id}:{number}"


async def _initiate(state: EmulatorState, request: Request) -> Any:
    body = await json_body(request)
    for key in ("file_name", "file_size", "num_parts", "purpose"):
        if body.get(key) in (None, ""):
            raise ApiError(400, f"Missing required field '{key}'", param=key)
    size, parts = body["file_size"], body["num_parts"]
    if not isinstance(size, int) or size <= 0:
        raise ApiError(400, "'file_size' must be a positive integer", param="file_size")
    if not isinstance(parts, int) or not 1 <= parts <= MAX_PARTS:
        raise ApiError(400, f"'num_parts' must be between 1 and {MAX_PARTS}", param="num_parts")
    if body["purpose"] not in _PURPOSES:
        raise ApiError(400, f"Invalid purpose '{body['purpose']}'", param="purpose")
    checksum = body.get("checksum") if isinstance(body.get("checksum"), str) else None
    if checksum:
        for other in state.store.list(P, "file"):
            if other.get("_checksum") == checksum and other["purpose"] == body["purpose"] \
                    and other.get("_uploaded"):
                raise ApiError(409, "A file with the same contents already exists.",
                               extra={"file_id": other["id"]})
    raw = state.store.new_id("file-", length=32)
    fid = f"file-{raw[5:13]}-{raw[13:17]}-{raw[17:21]}-{raw[21:25]}-{raw[25:37]}"
    state.store.put(P, "file", fid, {
        "id": fid, "object": "file", "created_at": int(state.now()),
        "filename": body["file_name"], "bytes": 0, "purpose": body["purpose"],
        "FileType": body.get("file_type") or "jsonl", "Processed": False,
        "_checksum": checksum, "_uploaded": False, "_processed_at": None,
    })
    upload_id = state.store.new_id("mpu-", length=24)
    state.store.put(P, "multipart", upload_id, {
        "upload_id": upload_id, "file_id": fid, "size": size, "num_parts": parts,
        "checksum": checksum, "state": "active", "etags": {},
    })
    sig = signature(state, upload_id)
    return {"upload_id": upload_id, "file_id": fid, "parts": [
        {"PartNumber": n, "Headers": {},
         "URL": f"{state.base_url}/together/_parts/{upload_id}/{n}?X-Emulator-Signature={sig}"}
        for n in range(1, parts + 1)
    ]}


async def _put_part(state: EmulatorState, request: Request) -> Any:
    upload_id = request.path_params["upload_id"]
    data = await request.body()  # before reading the record: parts arrive in parallel
    if request.query_params.get("X-Emulator-Signature") != signature(state, upload_id):
        return storage_error(403, "AccessDenied", "Signature does not match.")
    fault = storage_fault(state, P, request)
    if fault is not None:
        return fault
    record = state.store.get(P, "multipart", upload_id)
    if record is None or record["state"] != "active":
        return storage_error(404, "NoSuchUpload", "The specified upload does not exist.")
    number = int(request.path_params["part_number"])
    if not 1 <= number <= record["num_parts"]:
        return storage_error(400, "InvalidArgument", "Part number out of range.")
    etag = hashlib.md5(data).hexdigest()
    state.store.put_blob(P, _part_key(upload_id, number), data)
    record["etags"][str(number)] = etag
    state.store.put(P, "multipart", upload_id, record)
    return Response(status_code=200, headers={"ETag": f'"{etag}"'})


async def _complete(state: EmulatorState, request: Request) -> Any:
    body = await json_body(request)
    record = _upload(state, body.get("upload_id"), body.get("file_id"))
    parts = body.get("parts")
    if not isinstance(parts, list) or not parts:
        raise ApiError(400, "Missing required field 'parts'", param="parts")
    numbers = [p.get("part_number") if isinstance(p, dict) else None for p in parts]
    if numbers != sorted(n for n in numbers if isinstance(n, int)) or len(set(numbers)) != \
            len(numbers):
        raise ApiError(400, "InvalidPartOrder: list the parts once each, in ascending order",
                       param="parts")
    chunks: list[bytes] = []
    for i, part in enumerate(parts):
        number = part["part_number"]
        stored = record["etags"].get(str(number))
        if stored is None or str(part.get("etag", "")).strip('"') != stored:
            raise ApiError(400, f"InvalidPart: part {number} was not uploaded or its ETag "
                                "does not match", param="parts")
        data = state.store.get_blob(P, _part_key(record["upload_id"], number)) or b""
        if i < len(parts) - 1 and len(data) < MIN_PART_BYTES:
            raise ApiError(400, f"EntityTooSmall: part {number} has {len(data)} bytes; every "
                                "part but the last needs at least 5 MiB", param="parts")
        chunks.append(data)
    data = b"".join(chunks)
    if len(data) != record["size"]:
        raise ApiError(400, f"The parts hold {len(data)} bytes but the upload declared "
                            f"{record['size']}", param="parts")
    if record["checksum"] and hashlib.sha256(data).hexdigest() != record["checksum"]:
        raise ApiError(400, "The assembled file does not match the declared checksum",
                       param="parts")
    fid = record["file_id"]
    file = _together._get_file(state, fid)
    file["bytes"] = len(data)
    file["_uploaded"] = True
    state.store.put_blob(P, fid, data)
    _finish(state, record, "completed")
    return _together._file_view(state, _together.process_file(state, fid, file))


async def _abort(state: EmulatorState, request: Request) -> Any:
    body = await json_body(request)
    record = _upload(state, body.get("upload_id"), body.get("file_id"))
    _finish(state, record, "aborted")
    state.store.delete(P, "file", record["file_id"])
    return {}


def _finish(state: EmulatorState, record: dict[str, Any], final: str) -> None:
    for number in record["etags"]:
        state.store.put_blob(P, _part_key(record["upload_id"], int(number)), b"")
    record["state"] = final
    state.store.put(P, "multipart", record["upload_id"], record)


def routes(state: EmulatorState) -> list[Route]:
    """The routes, relative to ``/together``."""
    base = "/v1/files/multipart"
    return [
        make_route(state, P, base + "/initiate", ["POST"], _initiate),
        make_route(state, P, base + "/complete", ["POST"], _complete),
        make_route(state, P, base + "/abort", ["POST"], _abort),
        # Presigned part URLs carry their own signature instead of the API key, like S3's.
        make_route(state, P, "/_parts/{upload_id}/{part_number:int}", ["PUT"], _put_part,
                   auth=False),
    ]
