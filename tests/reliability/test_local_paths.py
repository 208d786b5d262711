"""Local job ids are names, not paths: a hostile id is refused before anything is touched."""

from __future__ import annotations

import json
import os
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
