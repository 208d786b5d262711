"""The OpenAI-compatible server (official openai client) and the demo's code path."""

from __future__ import annotations

import io
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import openai
import pytest
from local_helpers import log_of, start, wait
from rich.console import Console

from tuneport._models import Job, JobStatus
from tuneport.local import LocalModel
from tuneport.local.serving import build_app
from tuneport.providers.local import LocalProvider


@pytest.fixture
def trained(provider: LocalProvider, home: Path, tiny_data: Path,
            tiny_model_path: Path) -> Job:
    job = start(provider, tiny_data, tiny_model_path, key="serve", epochs=3)
    job = wait(provider, job.id)
    assert job.status is JobStatus.SUCCEEDED, log_of(home, job.id)
    return job


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def server_port(trained: Job) -> Iterator[int]:
    import uvicorn

    port = _free_port()
    model = LocalModel.from_job(trained.id)
    server = uvicorn.Server(uvicorn.Config(build_app(model, model_id=trained.id),
                                           host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    yield port
    server.should_exit = True
    thread.join(10)


def test_serve_answers_the_official_openai_client(trained: Job, server_port: int) -> None:
    endpoint = LocalProvider(port=server_port).endpoint(trained)
    with endpoint.openai_client() as client:
        assert [m.id for m in client.models.list()] == [trained.id, "base"]
        messages = [{"role": "system", "content": "You are a terse assistant."},
                    {"role": "user", "content": "Say hello to the cow."}]
        reply = client.chat.completions.create(model=trained.id, messages=messages,  # type: ignore[arg-type]
                                               max_tokens=12, temperature=0)
        answer = reply.choices[0].message.content or ""
        assert answer.startswith("Hello, ")
        assert answer.endswith("!")
        assert reply.usage is not None
        assert reply.usage.completion_tokens > 0
        base = client.chat.completions.create(model="base", messages=messages,  # type: ignore[arg-type]
                                              max_tokens=12)
        assert base.choices[0].message.content != answer
        with pytest.raises(openai.NotFoundError):
            client.chat.completions.create(model="nope", messages=messages)  # type: ignore[arg-type]
        with pytest.raises(openai.BadRequestError):
            client.chat.completions.create(model=trained.id, messages=messages, n=2)  # type: ignore[arg-type]


def test_serve_streams_chunks_to_the_official_openai_client(trained: Job,
                                                           server_port: int) -> None:
    with LocalProvider(port=server_port).endpoint(trained).openai_client() as client:
        messages = [{"role": "system", "content": "You are a terse assistant."},
                    {"role": "user", "content": "Say hello to the cow."}]
        whole = client.chat.completions.create(model=trained.id, messages=messages,  # type: ignore[arg-type]
                                               max_tokens=12)
        stream = client.chat.completions.create(
            model=trained.id, messages=messages, max_tokens=12, stream=True,  # type: ignore[arg-type]
            stream_options={"include_usage": True})
        chunks = list(stream)
        assert all(c.object == "chat.completion.chunk" and c.id == chunks[0].id for c in chunks)
        assert chunks[0].choices[0].delta.role == "assistant"
        pieces = [c.choices[0].delta.content for c in chunks if c.choices
                  and c.choices[0].delta.content]
        assert len(pieces) > 1  # generated piece by piece, not sent at the end
        assert "".join(pieces) == whole.choices[0].message.content
        finishes = [c.choices[0].finish_reason for c in chunks if c.choices]
        assert finishes[-1] == whole.choices[0].finish_reason == "stop"
        assert finishes[:-1] == [None] * (len(finishes) - 1)
        assert chunks[-1].choices == []
        assert chunks[-1].usage == whole.usage

        # A stop string ends the stream before it, as in the whole answer.
        stopped = client.chat.completions.create(model=trained.id, messages=messages,  # type: ignore[arg-type]
                                                 max_tokens=12, stream=True, stop=[","])
        text = "".join(c.choices[0].delta.content or "" for c in stopped if c.choices)
        assert text == "Hello"


def test_demo_code_path_with_the_tiny_model(home: Path, tiny_data: Path, tiny_model_path: Path,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("tuneport.dataset")
    from tuneport.cli.demo import run_demo

    monkeypatch.setenv("TUNEPORT_LOCAL_THREADS", "1")
    out = io.StringIO()
    heldout = [{"role": "system", "content": "You are a terse assistant."},
               {"role": "user", "content": "Say hello to the emu."}]
    result = run_demo(model=str(tiny_model_path), data=tiny_data, epochs=2,
                      learning_rate=1e-2, heldout=heldout,
                      console=Console(file=out, width=120, force_terminal=False))
    text = out.getvalue()
    assert result["job"].status is JobStatus.SUCCEEDED
    assert result["tuned_answer"].startswith("Hello,")
    assert result["base_answer"] != result["tuned_answer"]
    for expected in ("1. Validate", "2. Cost", "3. Fine-tune", "4. Compare", "5. Use it",
                     "tuneport serve " + result["job"].id, "--enable-lora",
                     "more rented-GPU options"):
        assert expected in text
    # A reply that stopped at the token limit says so (the random base model rambles on).
    from tuneport.local.serving import LocalModel

    base = LocalModel.from_job(result["job"].id).chat(heldout, max_tokens=60, use_adapter=False)
    assert ("cut at the token limit" in text) == (base.finish_reason == "length")
