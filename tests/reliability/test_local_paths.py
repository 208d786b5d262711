"""Local job ids are names, not paths: a hostile id is refused before anything is touched."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
from typer.testing import CliRunner

import tuneport
from tuneport._exceptions import TuneportError
from tuneport.cli import app

HOSTILE = ["../../x", "/abs/path", "..", ".", "a/b", "-rf", ".hidden", "x\x00y", "",
           "a" * 300, "..\\x", "runs/../../x"]


def _snapshot(root: Path) -> dict[str, tuple[int, int]]:
    """Everything outside the home (the home may gain its ledger)."""
    return {str(p): (p.lstat().st_size, p.lstat().st_mtime_ns) for p in root.rglob("*")
            if "home" not in p.relative_to(root).parts}


@pytest.fixture
def victim(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A home, and beside it a folder that looks like a run (status.json naming our pid)."""
    home = tmp_path / "home"
    (home / "runs").mkdir(parents=True)
    monkeypatch.setenv("TUNEPORT_HOME", str(home))
    outside = tmp_path / "x"
    outside.mkdir()
    (outside / "status.json").write_text(json.dumps(
        {"status": "running", "launcher_pid": os.getpid()}))
    (outside / "config.json").write_text("{}")
    return tmp_path


@pytest.mark.parametrize("job_id", HOSTILE)
@pytest.mark.parametrize("action", ["get_job", "cancel", "resume", "events"])
def test_client_refuses_path_ids(victim: Path, job_id: str, action: str) -> None:
    before = _snapshot(victim)
    client = tuneport.Client(provider="local")
    call: Callable[[str], object] = getattr(client, action)
    with pytest.raises(TuneportError) as caught:
        call(job_id)
    if job_id:
        assert "not a local job id" in str(caught.value)
    assert _snapshot(victim) == before


@pytest.mark.parametrize("job_id", ["local:../../x", "local:/abs/path", "local:../x"])
def test_cli_cancel_refuses_path_ids(victim: Path, job_id: str) -> None:
    if job_id == "local:/abs/path":
        job_id = f"local:{victim / 'x'}"
    before = _snapshot(victim)
    result = CliRunner().invoke(app, ["cancel", job_id, "--json"])
    assert result.exit_code != 0
    assert "Traceback" not in result.output
    assert _snapshot(victim) == before


def test_a_symlinked_run_folder_is_refused(victim: Path) -> None:
    home = victim / "home"
    (home / "runs" / "local-evil").symlink_to(victim / "x")
    before = _snapshot(victim)
    with pytest.raises(TuneportError, match="symbolic link"):
        tuneport.Client(provider="local").cancel("local-evil")
    assert _snapshot(victim) == before


def _fake_run(home: Path, run_id: str, status: dict[str, object]) -> Path:
    run = home / "runs" / run_id
    run.mkdir(parents=True)
    (run / "status.json").write_text(json.dumps({"status": "running", **status}))
    (run / "config.json").write_text(json.dumps({"job_id": run_id}))
    return run


@pytest.mark.parametrize("proof", ["none", "wrong-start", "right-start"])
def test_cancel_signals_only_a_proven_trainer(victim: Path, proof: str) -> None:
    from tuneport.providers.local import _start_ticks

    bystander = subprocess.Popen(["sleep", "30"], start_new_session=True)
    try:
        ticks = _start_ticks(bystander.pid)
        assert ticks is not None
        status: dict[str, object] = {"launcher_pid": bystander.pid}
        if proof != "none":
            status["launcher_start"] = ticks if proof == "right-start" else ticks - 1
        _fake_run(victim / "home", "local-20250101-000000-abcdef", status)
        tuneport.Client(provider="local").cancel("local:local-20250101-000000-abcdef")
        try:
            bystander.wait(timeout=3)
        except subprocess.TimeoutExpired:
            killed = False
        else:
            killed = True
        assert killed is (proof == "right-start")
    finally:
        bystander.kill()
        bystander.wait()


def test_client_home_is_honoured_by_the_local_backend(tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    elsewhere, home = tmp_path / "env-home", tmp_path / "client-home"
    monkeypatch.setenv("TUNEPORT_HOME", str(elsewhere))
    run_id = "local-20250101-000000-0a0b0c"
    _fake_run(home, run_id, {"status": "succeeded"})
    client = tuneport.Client(provider="local", home=home)
    assert client.get_job(f"local:{run_id}").id.endswith(run_id)
    assert [j.id for j in client.adapter().list_jobs()] == [run_id]
    records = [{"messages": [{"role": "user", "content": f"q{i}"},
                             {"role": "assistant", "content": "a"}]} for i in range(12)]
    rendered = tuneport.Dataset.from_records(records).render("local", tmp_path / "render")
    remote = client.adapter().upload(rendered)
    assert Path(remote.id).is_relative_to(home)
    assert not elsewhere.exists() or not any((elsewhere / "runs").glob("*"))
    # The environment's home does not see the client's runs.
    with pytest.raises(TuneportError):
        tuneport.Client(provider="local", home=elsewhere).get_job(f"local:{run_id}")


def test_home_holds_a_whole_local_run_end_to_end(tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """Train, account and chat under Client(home=H) while TUNEPORT_HOME points elsewhere."""
    pytest.importorskip("torch")
    pytest.importorskip("peft")
    from tuneport.testing import tiny_chat_examples, tiny_model

    model = tiny_model(tmp_path / "model")
    elsewhere, home = tmp_path / "env-home", tmp_path / "client-home"
    monkeypatch.setenv("TUNEPORT_HOME", str(elsewhere))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with tuneport.Client(provider="local", home=home) as client:
        job = client.fine_tune(
            tuneport.Dataset.from_records(tiny_chat_examples(24)), model=str(model),
            epochs=1, batch_size=8, threads=1)
        job = client.wait(job, timeout=300)
        assert (home / "runs" / job.id.removeprefix("local:") / "adapter").is_dir()
        assert (home / "throughput.jsonl").is_file()  # the trainer's accounting
        reply = client.endpoint(job).chat([{"role": "user", "content": "hi"}], max_tokens=2)
        assert isinstance(reply, str)
    assert not elsewhere.exists()
