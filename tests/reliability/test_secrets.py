"""Secrets never leave: sentinel keys run through every CLI command and client method.

Each provider runs twice in a fresh process with the SDKs' debug logging on
(``OPENAI_LOG=debug``, ``TOGETHER_LOG=debug``, ``FIREWORKS_LOG=debug``, httpx at debug):
once against the emulator (which accepts the sentinel key: jobs get created, W&B keys get
sent) and once against a loopback server that echoes the Authorization header and the
request body into every error answer. Every output, traceback and ``repr`` printed, and
every file under the home, must be free of the API key and the W&B key.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

pytest.importorskip("starlette")

from tuneport.emulator import running

KEY = "sk-SENTINELapikey0123456789abcdef"
WANDB = "SENTINELwandbkey0123456789abcdef"
MODELS = {"openai": "gpt-4o-mini", "together": "llama-3.1-8b-instruct",
          "fireworks": "llama-3.1-8b-instruct"}
JOB_IDS = {"openai": "ftjob-missing", "together": "ft-missing", "fireworks": "missing-job"}

_SCRIPT = r"""
import logging, sys, traceback
logging.getLogger("httpx").setLevel(logging.DEBUG)
logging.getLogger("httpcore").setLevel(logging.DEBUG)
from typer.testing import CliRunner
import tuneport
from tuneport.cli import app

provider, data, model, missing = sys.argv[1:5]
runner = CliRunner()
done = []

def run(*args):
    result = runner.invoke(app, list(args))
    print("$ tuneport", " ".join(args), "->", result.exit_code)
    print(result.output)
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        traceback.print_exception(result.exception)
    done.append(args[0])

ref = f"{provider}:{missing}"
for flag in ("--json", None):
    extra = [flag] if flag else []
    run("submit", data, "-p", provider, "--model", model, "--wandb-project", "p", *extra)
    run("jobs", *extra)
    for command in ("status", "events", "cancel", "endpoint"):
        run(command, ref, *extra)
    run("wait", ref, "--timeout", "1", *extra)
    run("endpoints", *extra)
    run("estimate", data, "-p", provider, "--model", model, *extra)

def attempt(name, call):
    try:
        print(name, repr(call()))
    except BaseException as exc:
        print(name, "raised")
        traceback.print_exception(exc)
        print(repr(exc), repr(getattr(exc, "__cause__", None)))

with tuneport.Client(provider=provider) as client:
    print(repr(client), repr(client.settings), repr(client.adapter()), repr(client.ledger))
    ds = tuneport.Dataset.from_jsonl(data)
    attempt("fine_tune", lambda: client.fine_tune(ds, model=model, wandb={"project": "p"},
                                                  new=True))
    for name in ("get_job", "events", "cancel", "endpoint", "checkpoints", "metrics"):
        attempt(name, lambda name=name: getattr(client, name)(ref))
    attempt("wait", lambda: client.wait(ref, timeout=1))
    attempt("jobs", lambda: client.jobs(refresh=True))
    attempt("endpoints", lambda: client.endpoints())
    attempt("quote", lambda: client.quote(ds, model=model))
print("COMMANDS", len(done))
"""


class _Echo(BaseHTTPRequestHandler):
    """Answers every request with an error that repeats the credentials it was sent."""

    def _answer(self) -> None:
        length = int(self.headers.get("content-length") or 0)
        body = self.rfile.read(length).decode("utf-8", "replace") if length else ""
        status = 401 if self.path.count("/") % 2 else 500
        payload = json.dumps({"error": {
            "message": f"rejected Authorization={self.headers.get('authorization')} "
                       f"body={body[:2000]}", "code": "echo"}}).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("x-request-id", "req_echo")
        self.send_header("x-echo-authorization", str(self.headers.get("authorization")))
        self.send_header("content-length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _answer  # noqa: N815 - http.server names

    def log_message(self, *args: object) -> None:
        return None


@pytest.fixture(scope="module")
def echo_url() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Echo)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def _dataset(folder: Path) -> Path:
    path = folder / "data.jsonl"
    lines = [json.dumps({"messages": [{"role": "user", "content": f"question {i}"},
                                      {"role": "assistant", "content": f"answer {i}"}]})
             for i in range(12)]
    path.write_text("\n".join(lines) + "\n")
    return path


def _run(provider: str, env: dict[str, str], home: Path, data: Path) -> str:
    full = {**os.environ, **env, "TUNEPORT_HOME": str(home), "WANDB_API_KEY": WANDB,
            "OPENAI_LOG": "debug", "TOGETHER_LOG": "debug", "FIREWORKS_LOG": "debug",
            "OPENAI_MAX_RETRIES": "0", "COLUMNS": "200"}
    out = subprocess.run(
        [sys.executable, "-c", _SCRIPT, provider, str(data), MODELS[provider],
         JOB_IDS[provider]],
        capture_output=True, text=True, env=full, timeout=240, check=False)
    return out.stdout + out.stderr


def _leaks(text: str, home: Path) -> list[str]:
    found = [f"output: {s}" for s in (KEY, KEY[3:], WANDB) if s in text]
    for path in home.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            found += [f"{path}: {s}" for s in (KEY, KEY[3:], WANDB) if s.encode() in data]
    return found


@pytest.mark.parametrize("provider", ["openai", "together", "fireworks"])
def test_sentinels_never_leave_against_the_emulator(provider: str, tmp_path: Path) -> None:
    with running(api_key=KEY, job_seconds=1) as emu:
        env = emu.env()
        text = _run(provider, env, tmp_path / "home", _dataset(tmp_path))
    assert "COMMANDS 18" in text, text[-3000:]
    assert "Request options" in text or "HTTP Request" in text  # debug logging was on
    assert not _leaks(text, tmp_path / "home"), _leaks(text, tmp_path / "home")


@pytest.mark.parametrize("provider", ["openai", "together", "fireworks"])
def test_sentinels_never_leave_through_echoed_errors(provider: str, tmp_path: Path,
                                                     echo_url: str) -> None:
    env = {"OPENAI_BASE_URL": f"{echo_url}/v1", "OPENAI_API_KEY": KEY,
           "TOGETHER_BASE_URL": f"{echo_url}/v1", "TOGETHER_API_KEY": KEY,
           "TOGETHER_PROJECT_ID": "p", "FIREWORKS_BASE_URL": echo_url,
           "FIREWORKS_API_KEY": KEY, "FIREWORKS_ACCOUNT_ID": "acct"}
    text = _run(provider, env, tmp_path / "home", _dataset(tmp_path))
    assert "COMMANDS 18" in text, text[-3000:]
    assert "rejected Authorization=" in text  # the echo reached the output, scrubbed
    assert not _leaks(text, tmp_path / "home"), _leaks(text, tmp_path / "home")
