"""``tuneport emulate`` as a user runs it: a real subprocess, stopped with Ctrl-C (SIGINT)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

openai = pytest.importorskip("openai")

_CLI = [sys.executable, "-c", "from tuneport.cli import main; main()", "emulate"]


def _start(*args: str) -> subprocess.Popen[str]:
    env = {**os.environ, "COLUMNS": "80", "NO_COLOR": "1"}
    return subprocess.Popen([*_CLI, "--port", "0", *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env)


def _ctrl_c(proc: subprocess.Popen[str]) -> tuple[str, str]:
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=20)
    assert proc.returncode == 0, err
    assert "Traceback" not in err
    return out, err


def test_human_output_ctrl_c_and_state_across_restarts(tmp_path: Path,
                                                       train_file: Path) -> None:
    state = tmp_path / "emu.sqlite"
    proc = _start("--state", str(state), "--job-seconds", "1", "--fail-rate", "1")
    try:
        assert proc.stdout is not None
        lines = [proc.stdout.readline() for _ in range(14)]
        env = dict(line.strip().removeprefix("export ").split("=", 1)
                   for line in lines if line.strip().startswith("export "))
        assert lines[0].startswith("tuneport emulator on http://127.0.0.1:")
        assert "Ctrl-C" in lines[0]
        assert set(env) == {"OPENAI_BASE_URL", "OPENAI_API_KEY", "TOGETHER_BASE_URL",
                            "TOGETHER_API_KEY", "TOGETHER_PROJECT_ID", "FIREWORKS_BASE_URL",
                            "FIREWORKS_API_KEY", "FIREWORKS_ACCOUNT_ID"}
        assert all(len(line.rstrip("\n")) <= 80 for line in lines)
        # The printed URLs take connections at once: no retries needed.
        c = openai.OpenAI(base_url=env["OPENAI_BASE_URL"], api_key=env["OPENAI_API_KEY"],
                          max_retries=0)
        f = c.files.create(file=train_file, purpose="fine-tune")
        job = c.fine_tuning.jobs.create(model="gpt-4o-mini-2024-07-18", training_file=f.id)
    finally:
        if proc.poll() is None:
            _ctrl_c(proc)
    time.sleep(1.0)  # --job-seconds 1: the job has run its course (on the wall clock)
    proc = _start("--state", str(state), "--json")
    try:
        assert proc.stdout is not None
        info = json.loads(proc.stdout.readline())
        c = openai.OpenAI(base_url=info["base_urls"]["openai"],
                          api_key=info["env"]["OPENAI_API_KEY"], max_retries=0)
        again = c.fine_tuning.jobs.retrieve(job.id)
        assert again.status == "failed"  # --fail-rate 1, remembered across the restart
        assert again.error is not None
        assert again.error.code == "server_error"
        assert c.files.content(f.id).content == train_file.read_bytes()
    finally:
        out, _ = _ctrl_c(proc)
    assert out == ""  # --json: the one JSON object read above, nothing more on stdout
    assert info["env"]["TOGETHER_BASE_URL"] == info["base_urls"]["together"]
    assert info["env"]["FIREWORKS_BASE_URL"].endswith("/fireworks")


def test_cli_can_close_openai_fine_tuning() -> None:
    proc = _start("--json", "--openai-fine-tuning-closed")
    try:
        assert proc.stdout is not None
        info = json.loads(proc.stdout.readline())
        c = openai.OpenAI(base_url=info["base_urls"]["openai"],
                          api_key=info["env"]["OPENAI_API_KEY"], max_retries=0)
        with pytest.raises(openai.PermissionDeniedError, match="fine-tuning"):
            c.fine_tuning.jobs.create(model="gpt-4o-mini-2024-07-18", training_file="file-x")
    finally:
        _ctrl_c(proc)


def test_manual_clock_moved_from_another_process(train_file: Path) -> None:
    import httpx2

    proc = _start("--json", "--manual-clock", "--job-seconds", "10")
    try:
        assert proc.stdout is not None
        info = json.loads(proc.stdout.readline())
        assert info["clock"] == "manual"
        c = openai.OpenAI(base_url=info["base_urls"]["openai"],
                          api_key=info["env"]["OPENAI_API_KEY"], max_retries=0)
        f = c.files.create(file=train_file, purpose="fine-tune")
        job = c.fine_tuning.jobs.create(model="gpt-4o-mini-2024-07-18", training_file=f.id)
        time.sleep(0.2)
        assert c.fine_tuning.jobs.retrieve(job.id).status == "validating_files"  # time stands
        moved = httpx2.post(info["control"] + "/clock/advance", json={"seconds": 10})
        assert moved.status_code == 200
        assert c.fine_tuning.jobs.retrieve(job.id).status == "succeeded"
    finally:
        _ctrl_c(proc)


def _fault_outcomes(base_url: str, key: str) -> list[str]:
    c = openai.OpenAI(base_url=base_url, api_key=key, max_retries=0, timeout=0.3)
    outcomes = []
    for _ in range(6):
        try:
            c.fine_tuning.jobs.list()
            outcomes.append("ok")
        except openai.APIError as exc:
            outcomes.append(type(exc).__name__ + str(getattr(exc, "status_code", "")))
    return outcomes


def test_fault_rate_and_seed_reach_the_server() -> None:
    from tuneport.emulator import running

    proc = _start("--json", "--fault-rate", "1", "--seed", "3")
    try:
        assert proc.stdout is not None
        info = json.loads(proc.stdout.readline())
        from_cli = _fault_outcomes(info["base_urls"]["openai"], info["env"]["OPENAI_API_KEY"])
    finally:
        _ctrl_c(proc)
    with running(fault_rate=1.0, seed=3, timeout_seconds=30.0) as emu:
        assert _fault_outcomes(emu.openai_base_url, emu.api_key) == from_cli
    assert "ok" not in from_cli  # every request met a fault
    assert len(set(from_cli)) >= 2  # of several kinds


@pytest.mark.parametrize(("args", "message"), [
    (["--host", "0.0.0.0"], "loopback"),
    (["--fault-rate", "1.5"], "fault_rate must be between 0 and 1"),
    (["--port", "70000"], "port must be between 0 and 65535"),
    (["--state", "NOT_A_DB"], "name a new file or one an earlier emulator wrote"),
])
def test_bad_settings_are_refused_clearly(tmp_path: Path, args: list[str],
                                          message: str) -> None:
    from typer.testing import CliRunner

    from tuneport.cli import app

    if "NOT_A_DB" in args:
        bogus = tmp_path / "notes.txt"
        bogus.write_text("not a database\n")
        args = [str(bogus) if a == "NOT_A_DB" else a for a in args]
    result = CliRunner().invoke(app, ["emulate", *args])
    assert result.exit_code == 2
    assert message in result.stderr
    assert result.exception is None or isinstance(result.exception, SystemExit)
