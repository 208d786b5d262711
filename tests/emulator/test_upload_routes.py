"""The emulator's large-upload routes, driven by the official SDKs' own upload code.

Together's multipart routes are called by the ``together`` SDK's ``MultipartUploadManager``
(the code ``files.upload`` runs above 5 GiB), OpenAI's Uploads API by the SDK's own
``uploads.upload_file_chunked``, Fireworks' signed URL with the headers the SDK's
``upload_dataset_shards`` sends. Each answer is parsed with the SDK's response types, and
the emulator refuses what the stores refuse (wrong ETag, a short middle part, a checksum
that does not match, a PUT without the signed headers).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from tuneport.emulator import Emulator

from .conftest import chat_line

together = pytest.importorskip("together")
MiB = 1024 * 1024


def big_file(tmp_path: Path, min_bytes: int) -> Path:
    path = tmp_path / "big.jsonl"
    lines, size, i = [], 0, 0
    while size < min_bytes:
        line = chat_line(i) + "\n"
        lines.append(line)
        size += len(line)
        i += 1
    path.write_text("".join(lines))
    return path


def together_client(emu: Emulator) -> Any:
    return together.Together(base_url=emu.together_base_url, api_key=emu.api_key,
                             max_retries=0)


def initiate(c: Any, path: Path, num_parts: int, checksum: str | None = None) -> dict[str, Any]:
    body = {"file_name": path.name, "file_size": path.stat().st_size, "num_parts": num_parts,
            "purpose": "fine-tune", "file_type": "jsonl",
            "checksum": checksum or hashlib.sha256(path.read_bytes()).hexdigest()}
    answer: dict[str, Any] = c.post("/v1/files/multipart/initiate", cast_to=httpx.Response,
                                    body=body).json()
    return answer


def put_parts(info: dict[str, Any], chunks: list[bytes]) -> list[dict[str, Any]]:
    done = []
    for part, chunk in zip(info["parts"], chunks, strict=True):
        r = httpx.put(part["URL"], content=chunk, headers=part["Headers"])
        assert r.status_code == 200
        done.append({"part_number": part["PartNumber"], "etag": r.headers["ETag"].strip('"')})
    return done


def complete(c: Any, info: dict[str, Any], parts: list[dict[str, Any]]) -> httpx.Response:
    import together as sdk

    try:
        response: httpx.Response = c.post(
            "/v1/files/multipart/complete", cast_to=httpx.Response,
            body={"upload_id": info["upload_id"], "file_id": info["file_id"], "parts": parts})
    except sdk.APIStatusError as exc:
        return exc.response
    return response


def test_together_sdk_multipart_uploader(emu: Emulator, tmp_path: Path,
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    from together.lib.resources import files as sdk_files
    from together.types import FileResponse

    monkeypatch.setattr(sdk_files, "TARGET_PART_SIZE_MB", 5)  # several parts from 11 MiB
    path = big_file(tmp_path, 11 * MiB)
    with together_client(emu) as c:
        checksum = hashlib.sha256(path.read_bytes()).hexdigest()
        got = sdk_files.MultipartUploadManager(c).upload("/v1/files", path, checksum,
                                                         "fine-tune")
        assert isinstance(got, FileResponse)
        assert got.bytes == path.stat().st_size
        assert bytes(c.files.content(got.id).read()) == path.read_bytes()
        emu.advance(1.0)
        assert c.files.retrieve(got.id).processing_status == "COMPLETED"
    puts = [e for e in emu.exchanges if e.method == "PUT" and "/_parts/" in e.path]
    assert len(puts) == 3


def test_together_complete_refuses_what_s3_refuses(emu: Emulator, tmp_path: Path) -> None:
    path = big_file(tmp_path, 6 * MiB)
    data = path.read_bytes()
    with together_client(emu) as c:
        # A middle part under 5 MiB.
        info = initiate(c, path, 2)
        parts = put_parts(info, [data[:MiB], data[MiB:]])
        r = complete(c, info, parts)
        assert r.status_code == 400
        assert "EntityTooSmall" in r.json()["error"]["message"]

        # An ETag that is not the part's.
        info = initiate(c, path, 2)
        parts = put_parts(info, [data[:5 * MiB], data[5 * MiB:]])
        r = complete(c, info, [parts[0], {**parts[1], "etag": "0" * 32}])
        assert r.status_code == 400
        assert "InvalidPart" in r.json()["error"]["message"]

        # Parts out of order.
        r = complete(c, info, list(reversed(parts)))
        assert r.status_code == 400
        assert "InvalidPartOrder" in r.json()["error"]["message"]

        # Bytes that are not the file declared (its checksum).
        info = initiate(c, path, 2, checksum="f" * 64)
        parts = put_parts(info, [data[:5 * MiB], data[5 * MiB:]])
        r = complete(c, info, parts)
        assert r.status_code == 400
        assert "checksum" in r.json()["error"]["message"]

        # Aborted: the part URLs stop taking bytes and completion is refused.
        info = initiate(c, path, 2)
        c.post("/v1/files/multipart/abort", cast_to=httpx.Response,
               body={"upload_id": info["upload_id"], "file_id": info["file_id"]})
        assert httpx.put(info["parts"][0]["URL"], content=b"x").status_code == 404
        assert complete(c, info, [{"part_number": 1, "etag": "x"}]).status_code == 400

        # A part URL without its signature.
        bad = info["parts"][0]["URL"].split("?")[0]
        assert httpx.put(bad, content=b"x").status_code == 403


def test_together_identical_file_answers_409_with_its_id(emu: Emulator,
                                                          tmp_path: Path) -> None:
    import together as sdk

    path = big_file(tmp_path, 1024)
    with together_client(emu) as c:
        first = c.files.upload(path, purpose="fine-tune", check=False)
        with pytest.raises(sdk.APIStatusError) as err:
            initiate(c, path, 1)
        assert err.value.status_code == 409
        assert json.loads(err.value.response.text)["file_id"] == first.id


def test_openai_sdk_chunked_upload(emu: Emulator, tmp_path: Path) -> None:
    import openai

    path = big_file(tmp_path, 50_000)
    md5 = hashlib.md5(path.read_bytes()).hexdigest()
    with openai.OpenAI(base_url=emu.openai_base_url, api_key=emu.api_key,
                       max_retries=0) as c:
        upload = c.uploads.upload_file_chunked(file=path, mime_type="text/jsonl",
                                               purpose="fine-tune", part_size=16_384, md5=md5)
        assert upload.status == "completed"
        assert upload.file is not None
        assert c.files.content(upload.file.id).read() == path.read_bytes()
        with pytest.raises(openai.BadRequestError, match="md5"):
            c.uploads.upload_file_chunked(file=path, mime_type="text/jsonl",
                                          purpose="fine-tune", part_size=16_384, md5="0" * 32)


def test_fireworks_signed_put_needs_the_signed_headers(emu: Emulator, tmp_path: Path) -> None:
    import fireworks

    path = big_file(tmp_path, 10_000)
    size = path.stat().st_size
    with fireworks.Fireworks(base_url=emu.fireworks_base_url, api_key=emu.api_key,
                             account_id="acct", max_retries=0) as c:
        c.datasets.create(dataset_id="big", dataset={"user_uploaded": {}, "example_count": "1"})
        url = (c.datasets.get_upload_endpoint(
            "big", filename_to_size={path.name: str(size)}).filename_to_signed_urls or {})[
            path.name]
        assert httpx.put(url, content=path.read_bytes()).status_code == 403
        wrong = httpx.put(url, content=path.read_bytes(), headers={
            "Content-Type": "application/octet-stream",
            "X-Goog-Content-Length-Range": f"0,{size + 1}"})
        assert wrong.status_code == 403
        assert b"SignatureDoesNotMatch" in wrong.content
        emu.faults.schedule("server_error", provider="fireworks", path_contains="/_signed/")
        signed = {"Content-Type": "application/octet-stream",
                  "X-Goog-Content-Length-Range": f"{size},{size}"}
        flaky = httpx.put(url, content=path.read_bytes(), headers=signed)
        assert flaky.status_code == 500
        assert b"InternalError" in flaky.content
        assert httpx.put(url, content=path.read_bytes(), headers=signed).status_code == 200
        c.datasets.validate_upload("big", body={})
        emu.advance(1.0)
        assert c.datasets.get("big").state == "READY"
