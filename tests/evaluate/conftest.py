"""Fixtures of the evaluation tests: the emulator with a succeeded OpenAI fine-tune, and a
small OpenAI-compatible loopback server whose models (and judge) answer by rule."""

from __future__ import annotations

import json
import re
import threading
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from tuneport.client.client import Client


def chat_records(n: int = 10) -> list[dict[str, Any]]:
    """Support-style examples whose answers a rule-based model can get right or wrong."""
    return [{"messages": [
        {"role": "system", "content": "You are a terse support bot."},
        {"role": "user", "content": f"How do I reset password number {i}?"},
        {"role": "assistant", "content": f"Open settings, choose reset, step {i}."},
    ]} for i in range(n)]


def write_jsonl(path: Path, records: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    return path


@pytest.fixture
def emu(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    pytest.importorskip("starlette")
    pytest.importorskip("openai")
    from tuneport.emulator import ManualClock, running

    with running(clock=ManualClock(), job_seconds=50.0, file_seconds=0.0,
                 deploy_seconds=0.0, retry_after=0.05) as emulator:
        for name, value in emulator.env().items():
            monkeypatch.setenv(name, value)
        yield emulator


@pytest.fixture
def client(emu: Any) -> Iterator[Client]:
    with Client(provider="openai") as c:
        c._sleep = lambda seconds: emu.advance(max(seconds, 1.0))
        yield c


@pytest.fixture
def openai_job(client: Client, emu: Any) -> Any:
    """A succeeded OpenAI fine-tune on the emulator (its chat answers deterministically)."""
    from tuneport.client.preparing import ProviderAvailabilityWarning

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ProviderAvailabilityWarning)  # wind-down dates
        job = client.fine_tune(chat_records(12), model="gpt-4o-mini", epochs=1)
    emu.advance(200)
    return client.wait(job)


def chat_requests(emu: Any) -> int:
    return sum(1 for e in emu.exchanges if e.path.endswith("/chat/completions"))


@dataclass
class RuleServer:
    """``/v1/chat/completions`` on loopback. Models:

    - ``good``: answers with the reference it was given in ``answers`` (by prompt);
    - ``bad``: always "I do not know.";
    - ``half``: the reference for even-numbered prompts, its first clause for the others;
    - ``judge``: reads the two answers from the prompt and picks the one sharing more words
      with the reference (TIE when equal);
    - ``judge-first``: always says A (a judge with complete position bias);
    - ``broken``: answers 500 (transient, retried) until ``fail_times`` are used up.
    """

    answers: dict[str, str] = field(default_factory=dict)
    requests: list[dict[str, Any]] = field(default_factory=list)
    url: str = ""

    def reply(self, body: dict[str, Any]) -> str:
        model = body["model"]
        text = body["messages"][-1]["content"]
        if model == "good":
            return self.answers.get(text, "?")
        if model == "bad":
            return "I do not know."
        if model == "half":
            # Right when the prompt's number is even, else half right: mixed outcomes.
            digits = re.findall(r"\d+", text)
            right = self.answers.get(text, "?")
            return right if digits and int(digits[-1]) % 2 == 0 else right.split(",")[0]
        if model == "tool":
            return ""
        if model == "judge-first":
            return "A"
        if model == "judge":
            parts = re.search(r"Reference answer.*?:\n(.*?)\n\nAnswer A:\n(.*?)\n\nAnswer B:\n"
                              r"(.*?)\n\n", text, re.DOTALL)
            assert parts is not None, text
            ref, a, b = (set(p.lower().split()) for p in parts.groups())
            score_a, score_b = len(ref & a), len(ref & b)
            return "A" if score_a > score_b else "B" if score_b > score_a else "TIE"
        raise AssertionError(model)


def message_for(model: str, content: str) -> dict[str, Any]:
    """``tool``: the reply is a tool call (OpenAI's wire shape: arguments as a JSON string)."""
    if model != "tool":
        return {"role": "assistant", "content": content}
    call = {"id": "call_1", "type": "function",
            "function": {"name": "get_weather", "arguments": '{"unit": "c", "city": "Paris"}'}}
    return {"role": "assistant", "content": None, "tool_calls": [call]}


@pytest.fixture
def rule_server() -> Iterator[RuleServer]:
    state = RuleServer()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            state.requests.append(body)
            try:
                content = state.reply(body)
            except AssertionError:
                missing = json.dumps({"error": {"message": "no such model",
                                                "type": "invalid_request_error"}}).encode()
                self.send_response(404)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(missing)))
                self.end_headers()
                self.wfile.write(missing)
                return
            payload = json.dumps({
                "id": "chatcmpl-1", "object": "chat.completion", "created": 0,
                "model": body["model"],
                "choices": [{"index": 0, "finish_reason": "stop",
                             "message": message_for(body["model"], content)}],
                "usage": {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15},
            }).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.url = f"http://127.0.0.1:{server.server_address[1]}/v1"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
