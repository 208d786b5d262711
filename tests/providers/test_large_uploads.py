"""Large files: each provider's large-upload flow, end to end through the official SDK.

The thresholds are lowered so a small file takes the large path against the emulator.
Each test checks that the bytes arrive unchanged (read back through the provider's own
API where it has one), which flow was used, and that a failed part (or PUT) is sent again
on its own, not the whole file.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hosted_helpers import make_provider

from tuneport._exceptions import ServerError
from tuneport._models import RenderedDataset
from tuneport.providers._upload_progress import UploadEvent, listening

MiB = 1024 * 1024


def dataset(folder: Path, provider: str, min_bytes: int) -> RenderedDataset:
    """A valid chat JSONL of at least ``min_bytes`` (lines differ, so order matters)."""
    path = folder / f"big-{provider}.jsonl"
    lines: list[str] = []
    size = 0
    i = 0
    while size < min_bytes:
        line = json.dumps({"messages": [
            {"role": "user", "content": f"Question {i}: what is {i} times 3?"},
            {"role": "assistant", "content": f"{3 * i}. " + "x" * (i % 97)},
        ]}) + "\n"
        lines.append(line)
        size += len(line)
        i += 1
    data = "".join(lines).encode()
    path.write_bytes(data)
    return RenderedDataset(provider=provider, path=path,
                           fingerprint=hashlib.sha256(data).hexdigest(), n_examples=i,
                           n_bytes=len(data), format="chat")


def calls(emu: Any, provider: str, method: str, contains: str) -> list[Any]:
    return [e for e in emu.exchanges
            if e.provider == provider and e.method == method and contains in e.path]


@pytest.fixture
def events() -> Iterator[list[UploadEvent]]:
    seen: list[UploadEvent] = []
    with listening(seen.append):
        yield seen


def exception_chain(exc: BaseException) -> list[BaseException]:
    """The exception and every cause or context behind it (signed URLs must be in none)."""
    chain: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and current not in chain:
        chain.append(current)
        current = current.__cause__ or current.__context__
    return chain


def assert_progress(seen: list[UploadEvent], total: int, flow: str) -> None:
    assert seen, "no progress was reported"
    assert {e.flow for e in seen} == {flow}
    sent = [e.sent for e in seen]
    assert sent == sorted(sent), "progress went backwards"
    assert seen[-1].done
    assert seen[-1].sent == total == seen[-1].total
    assert any(0 < s < total for s in sent), "only start and end were reported"


# -- OpenAI: the Uploads API ---------------------------------------------------------------


def openai_sdk(emu: Any) -> Any:
    import openai

    return openai.OpenAI(base_url=emu.openai_base_url, api_key=emu.api_key, max_retries=0)


def test_openai_large_file_goes_up_in_parts(emulator: Any, tmp_path: Path,
                                            events: list[UploadEvent]) -> None:
    rendered = dataset(tmp_path, "openai", 100_000)
    adapter = make_provider("openai", emulator, large_file_threshold=50_000,
                            upload_part_bytes=16_384)
    file = adapter.upload(rendered)

    parts = calls(emulator, "openai", "POST", "/parts")
    assert len(parts) == -(-rendered.n_bytes // 16_384)
    assert all(p.status == 200 for p in parts)
    # The parts, plus one create and one complete.
    assert len(calls(emulator, "openai", "POST", "/uploads")) == len(parts) + 2
    assert calls(emulator, "openai", "POST", "/files") == []
    assert file.n_bytes == rendered.n_bytes
    with openai_sdk(emulator) as sdk:
        assert sdk.files.content(file.id).read() == rendered.path.read_bytes()
    assert_progress(events, rendered.n_bytes, "parts")


def test_openai_small_file_is_one_request(emulator: Any, tmp_path: Path,
                                          events: list[UploadEvent]) -> None:
    rendered = dataset(tmp_path, "openai", 20_000)
    adapter = make_provider("openai", emulator, large_file_threshold=rendered.n_bytes)
    file = adapter.upload(rendered)

    assert [e.status for e in calls(emulator, "openai", "POST", "/files")] == [200]
    assert calls(emulator, "openai", "POST", "/uploads") == []
    with openai_sdk(emulator) as sdk:
        assert sdk.files.content(file.id).read() == rendered.path.read_bytes()
    assert events[-1].flow == "single"
    assert events[-1].done


def test_openai_failed_part_is_sent_again_alone(emulator: Any, tmp_path: Path) -> None:
    rendered = dataset(tmp_path, "openai", 60_000)
    adapter = make_provider("openai", emulator, large_file_threshold=1,
                            upload_part_bytes=16_384, part_retry_backoff=0.0)
    # The first part request dies; nothing else does.
    emulator.faults.schedule("server_error", provider="openai", path_contains="/parts")
    file = adapter.upload(rendered)

    statuses = [e.status for e in calls(emulator, "openai", "POST", "/parts")]
    assert statuses[0] == 500
    assert statuses.count(500) == 1
    assert statuses.count(200) == -(-rendered.n_bytes // 16_384)
    assert len(calls(emulator, "openai", "POST", "/uploads")) == len(statuses) + 2  # one Upload
    with openai_sdk(emulator) as sdk:
        assert sdk.files.content(file.id).read() == rendered.path.read_bytes()


def test_openai_part_that_keeps_failing_cancels_the_upload(emulator: Any,
                                                           tmp_path: Path) -> None:
    rendered = dataset(tmp_path, "openai", 40_000)
    adapter = make_provider("openai", emulator, large_file_threshold=1,
                            upload_part_bytes=16_384, part_retry_backoff=0.0)
    emulator.faults.schedule("server_error", provider="openai", path_contains="/parts",
                             times=10)
    with pytest.raises(ServerError, match="part 1"):
        adapter.upload(rendered)
    cancelled = calls(emulator, "openai", "POST", "/cancel")
    assert [e.status for e in cancelled] == [200]
    assert cancelled[0].body["status"] == "cancelled"


# -- Together: multipart -----------------------------------------------------------------


@pytest.fixture
def five_mib_parts(monkeypatch: pytest.MonkeyPatch) -> None:
    """The SDK aims at 250 MB parts; aim at its 5 MiB minimum so a test file has several."""
    import together.lib.resources.files as sdk_files

    monkeypatch.setattr(sdk_files, "TARGET_PART_SIZE_MB", 5)


def together_content(emu: Any, file_id: str) -> bytes:
    import together

    with together.Together(base_url=emu.together_base_url, api_key=emu.api_key,
                           max_retries=0) as sdk:
        return bytes(sdk.files.content(file_id).read())


@pytest.mark.usefixtures("five_mib_parts")
def test_together_large_file_goes_up_in_parts(emulator: Any, tmp_path: Path,
                                              events: list[UploadEvent]) -> None:
    rendered = dataset(tmp_path, "together", 11 * MiB)
    adapter = make_provider("together", emulator, multipart_threshold=1 * MiB)
    file = adapter.upload(rendered)

    assert [e.status for e in calls(emulator, "together", "POST", "/multipart/initiate")] == [200]
    puts = calls(emulator, "together", "PUT", "/_parts/")
    assert len(puts) == 3
    assert all(p.status == 200 for p in puts)
    assert [e.status for e in calls(emulator, "together", "POST", "/multipart/complete")] == [200]
    assert calls(emulator, "together", "PUT", "/_presigned/") == []
    assert together_content(emulator, file.id) == rendered.path.read_bytes()
    emulator.advance(2.0)
    assert adapter.wait_file_ready(file, timeout=5).status == "COMPLETED"
    assert_progress(events, rendered.n_bytes, "multipart")


def test_together_small_file_is_one_put(emulator: Any, tmp_path: Path,
                                        events: list[UploadEvent]) -> None:
    rendered = dataset(tmp_path, "together", 20_000)
    adapter = make_provider("together", emulator, multipart_threshold=rendered.n_bytes)
    file = adapter.upload(rendered)

    assert [e.status for e in calls(emulator, "together", "PUT", "/_presigned/")] == [200]
    assert calls(emulator, "together", "POST", "/multipart/") == []
    assert together_content(emulator, file.id) == rendered.path.read_bytes()
    assert events[-1].flow == "single"
    assert events[-1].done


@pytest.mark.usefixtures("five_mib_parts")
def test_together_failed_part_is_sent_again_alone(emulator: Any, tmp_path: Path) -> None:
    rendered = dataset(tmp_path, "together", 6 * MiB)  # two parts
    adapter = make_provider("together", emulator, multipart_threshold=1,
                            part_retry_backoff=0.0)
    emulator.faults.schedule("server_error", provider="together", path_contains="/_parts/")
    file = adapter.upload(rendered)

    puts = calls(emulator, "together", "PUT", "/_parts/")
    assert sorted(p.status for p in puts) == [200, 200, 500]
    failed = next(p.path for p in puts if p.status == 500)
    assert [p.status for p in puts if p.path == failed] == [500, 200]  # that part, again
    assert len(calls(emulator, "together", "POST", "/multipart/initiate")) == 1
    assert calls(emulator, "together", "POST", "/multipart/abort") == []
    assert together_content(emulator, file.id) == rendered.path.read_bytes()


@pytest.mark.usefixtures("five_mib_parts")
def test_together_part_that_keeps_failing_aborts_the_upload(emulator: Any,
                                                            tmp_path: Path) -> None:
    rendered = dataset(tmp_path, "together", 6 * MiB)
    adapter = make_provider("together", emulator, multipart_threshold=1,
                            part_retry_backoff=0.0)
    emulator.faults.schedule("server_error", provider="together", path_contains="/_parts/",
                             times=20)
    with pytest.raises(ServerError, match="uploading part") as err:
        adapter.upload(rendered)
    assert [e.status for e in calls(emulator, "together", "POST", "/multipart/abort")] == [200]
    assert all("Signature" not in str(e) and "/_parts/" not in str(e)
               for e in exception_chain(err.value))
    emulator.faults.clear()


@pytest.mark.usefixtures("five_mib_parts")
def test_together_same_file_twice_reuses_the_stored_one(emulator: Any,
                                                        tmp_path: Path) -> None:
    rendered = dataset(tmp_path, "together", 6 * MiB)
    adapter = make_provider("together", emulator, multipart_threshold=1)
    first = adapter.upload(rendered)
    again = adapter.upload(rendered)  # Together answers 409 with the existing file id
    assert again.id == first.id
    assert [e.status for e in calls(emulator, "together", "POST", "/multipart/initiate")] \
        == [200, 409]


# -- Fireworks: signed URL ---------------------------------------------------------------


def fireworks_stored(emu: Any, dataset_id: str) -> bytes | None:
    # Fireworks has no content route in the SDK's dataset API; read what its store holds.
    blob: bytes | None = emu.state.store.get_blob("fireworks", f"acct-test/{dataset_id}")
    return blob


def test_fireworks_large_file_goes_to_a_signed_url(emulator: Any, tmp_path: Path,
                                                   events: list[UploadEvent]) -> None:
    rendered = dataset(tmp_path, "fireworks", 3 * MiB)
    adapter = make_provider("fireworks", emulator, signed_url_threshold=1 * MiB)
    file = adapter.upload(rendered)

    assert [e.status for e in calls(emulator, "fireworks", "POST", ":getUploadEndpoint")] \
        == [200]
    assert [e.status for e in calls(emulator, "fireworks", "PUT", "/_signed/")] == [200]
    assert [e.status for e in calls(emulator, "fireworks", "POST", ":validateUpload")] == [200]
    assert calls(emulator, "fireworks", "POST", ":upload") == []
    assert fireworks_stored(emulator, file.id) == rendered.path.read_bytes()
    emulator.advance(2.0)
    ready = adapter.wait_file_ready(file, timeout=5)
    assert ready.status == "READY"
    assert ready.raw["exampleCount"] == str(rendered.n_examples)
    assert_progress(events, rendered.n_bytes, "signed-url")


def test_fireworks_small_file_is_one_request(emulator: Any, tmp_path: Path,
                                             events: list[UploadEvent]) -> None:
    rendered = dataset(tmp_path, "fireworks", 20_000)
    adapter = make_provider("fireworks", emulator, signed_url_threshold=rendered.n_bytes)
    file = adapter.upload(rendered)

    assert [e.status for e in calls(emulator, "fireworks", "POST", ":upload")] == [200]
    assert calls(emulator, "fireworks", "POST", ":getUploadEndpoint") == []
    assert fireworks_stored(emulator, file.id) == rendered.path.read_bytes()
    assert events[-1].flow == "single"
    assert events[-1].done


def test_fireworks_failed_put_is_sent_again(emulator: Any, tmp_path: Path) -> None:
    # One signed URL per file and no parts: the retry re-sends the file, not the flow.
    rendered = dataset(tmp_path, "fireworks", 2 * MiB)
    adapter = make_provider("fireworks", emulator, signed_url_threshold=1,
                            put_retry_backoff=0.0)
    emulator.faults.schedule("unavailable", provider="fireworks", path_contains="/_signed/")
    file = adapter.upload(rendered)

    assert [e.status for e in calls(emulator, "fireworks", "PUT", "/_signed/")] == [503, 200]
    assert len(calls(emulator, "fireworks", "POST", ":getUploadEndpoint")) == 1
    assert fireworks_stored(emulator, file.id) == rendered.path.read_bytes()


def test_fireworks_retry_after_a_long_put_asks_for_a_fresh_url(
        emulator: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from tuneport.providers import fireworks as fireworks_adapter

    monkeypatch.setattr(fireworks_adapter, "SIGNED_URL_REFRESH_SECONDS", 0.0)  # always stale
    rendered = dataset(tmp_path, "fireworks", 100_000)
    adapter = make_provider("fireworks", emulator, signed_url_threshold=1,
                            put_retry_backoff=0.0)
    emulator.faults.schedule("server_error", provider="fireworks", path_contains="/_signed/")
    file = adapter.upload(rendered)
    assert [e.status for e in calls(emulator, "fireworks", "PUT", "/_signed/")] == [500, 200]
    assert len(calls(emulator, "fireworks", "POST", ":getUploadEndpoint")) == 2
    assert fireworks_stored(emulator, file.id) == rendered.path.read_bytes()


def test_storage_failures_never_show_the_signed_url(emulator: Any, tmp_path: Path) -> None:
    rendered = dataset(tmp_path, "fireworks", 10_000)
    adapter = make_provider("fireworks", emulator, signed_url_threshold=1,
                            put_retry_backoff=0.0)
    emulator.faults.schedule("server_error", provider="fireworks", path_contains="/_signed/",
                             times=5)
    with pytest.raises(ServerError) as err:
        adapter.upload(rendered)
    chain = exception_chain(err.value)
    assert "(500) at the storage URL" in str(err.value)
    assert all("sig=" not in str(e) and "_signed" not in str(e) for e in chain), chain


def test_fireworks_refuses_a_plain_http_url_off_loopback() -> None:
    from tuneport.providers._transfers import storage_url_allowed

    assert storage_url_allowed("https://storage.googleapis.com/b/o?X-Goog-Signature=1")
    assert storage_url_allowed("http://127.0.0.1:8080/fireworks/_signed/a/b/c")
    assert storage_url_allowed("http://localhost:9/x")
    assert not storage_url_allowed("http://storage.googleapis.com/b/o")
    assert not storage_url_allowed("http://10.0.0.5/b/o")
    assert not storage_url_allowed("ftp://127.0.0.1/x")


def test_thresholds_come_from_tuneport_toml(tmp_path: Path,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    import tuneport

    (tmp_path / "tuneport.toml").write_text(
        "[providers.openai]\nlarge_file_threshold = 100000000\n"
        "[providers.together]\nmultipart_threshold = 2000000000\n"
        "[providers.fireworks]\naccount_id = \"a\"\nsigned_url_threshold = 7\n")
    monkeypatch.chdir(tmp_path)
    for name in ("OPENAI_API_KEY", "TOGETHER_API_KEY", "FIREWORKS_API_KEY"):
        monkeypatch.setenv(name, "test-key")
    from tuneport.providers.fireworks import FireworksProvider
    from tuneport.providers.openai import OpenAIProvider
    from tuneport.providers.together import TogetherProvider

    with tuneport.Client(provider="openai") as client:
        openai, together, fireworks = (client.adapter(n) for n in
                                       ("openai", "together", "fireworks"))
        assert isinstance(openai, OpenAIProvider)
        assert isinstance(together, TogetherProvider)
        assert isinstance(fireworks, FireworksProvider)
        assert openai.large_file_threshold == 100_000_000
        assert together.multipart_threshold == 2_000_000_000
        assert fireworks.signed_url_threshold == 7


async def test_async_client_progress_reaches_the_listener(
        emulator: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import tuneport
    from tuneport.providers import fireworks as fireworks_adapter

    for name, value in emulator.env(fireworks_account="acct-test").items():
        monkeypatch.setenv(name, value)
    monkeypatch.setattr(fireworks_adapter, "SIGNED_URL_THRESHOLD", 1)
    rendered = dataset(tmp_path, "fireworks", 30_000)
    seen: list[UploadEvent] = []
    async with tuneport.AsyncClient(provider="fireworks") as client:
        client.sync._sleep = lambda seconds: emulator.advance(max(seconds, 1.0))
        with listening(seen.append):
            job = await client.fine_tune(rendered.path, model="llama-3.1-8b-instruct",
                                         epochs=1)
    assert job.provider == "fireworks"
    assert [e.status for e in calls(emulator, "fireworks", "PUT", "/_signed/")] == [200]
    assert seen[-1].flow == "signed-url"
    assert seen[-1].done


def test_openai_parts_flow_sends_what_the_sdk_helper_sends(emulator: Any,
                                                            tmp_path: Path) -> None:
    """Same file through ``uploads.upload_file_chunked`` and through tuneport: same requests."""
    import httpx2
    import openai

    rendered = dataset(tmp_path, "openai", 40_000)
    md5 = hashlib.md5(rendered.path.read_bytes()).hexdigest()

    def capturing() -> tuple[Any, list[tuple[str, str, bytes]]]:
        seen: list[tuple[str, str, bytes]] = []

        def hook(request: Any) -> None:
            seen.append((request.method, request.url.path, request.read()))

        client = openai.OpenAI(base_url=emulator.openai_base_url, api_key=emulator.api_key,
                               max_retries=0,
                               http_client=httpx2.Client(event_hooks={"request": [hook]}))
        return client, seen

    sdk_client, by_sdk = capturing()
    with sdk_client:
        sdk_client.uploads.upload_file_chunked(file=rendered.path, mime_type="text/jsonl",
                                               purpose="fine-tune", part_size=16_384, md5=md5)
    adapter = make_provider("openai", emulator, large_file_threshold=1,
                            upload_part_bytes=16_384)
    ours_client, by_tuneport = capturing()
    from tuneport.providers.openai import OpenAIProvider

    assert isinstance(adapter, OpenAIProvider)
    adapter._client = ours_client  # the same SDK client, observed
    with ours_client:
        adapter.upload(rendered)

    def shape(seen: list[tuple[str, str, bytes]]) -> list[Any]:
        out: list[Any] = []
        for method, path, body in seen:
            route = "/".join("{id}" if p.startswith(("upload_", "part_")) else p
                             for p in path.split("/"))
            if route.endswith("/parts"):
                out.append((method, route, len(body) // 1024))  # multipart: about the part
            else:
                data = json.loads(body)
                data.pop("part_ids", None)  # ids the server chose differ; counted below
                out.append((method, route, data))
        return out

    assert shape(by_tuneport) == shape(by_sdk)
    assert shape(by_sdk)[0] == ("POST", "/openai/v1/uploads", {
        "bytes": rendered.n_bytes, "filename": rendered.path.name, "mime_type": "text/jsonl",
        "purpose": "fine-tune"})
    assert shape(by_sdk)[-1] == ("POST", "/openai/v1/uploads/{id}/complete", {"md5": md5})
    sdk_ids = json.loads(by_sdk[-1][2])["part_ids"]
    our_ids = json.loads(by_tuneport[-1][2])["part_ids"]
    assert len(our_ids) == len(sdk_ids) == -(-rendered.n_bytes // 16_384)
