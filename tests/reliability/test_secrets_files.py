"""Files stay private: home and run folders 0700, the ledger and every copy of data 0600,
whatever the umask; scratch renders removed after success, failure, and after a kill."""

from __future__ import annotations

import os
import signal
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

import tuneport
from tuneport.dataset._scratch import PREFIX, render_scratch, sweep_stale
from tuneport.local.rundir import RunDir, home_scope

RECORDS = [{"messages": [{"role": "user", "content": f"secret question {i}"},
                         {"role": "assistant", "content": "secret answer"}]} for i in range(12)]


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def loose_umask() -> Iterator[None]:
    old = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(old)


def test_home_ledger_runs_and_copies_are_owner_only(tmp_path: Path, loose_umask: None) -> None:
    home = tmp_path / "home"
    client = tuneport.Client(provider="local", home=home)
    ledger = client.ledger
    assert mode(home) == 0o700
    assert mode(ledger.path) == 0o600
    rendered = tuneport.Dataset.from_records(RECORDS).render("local", tmp_path / "render")
    assert mode(rendered.path) == 0o600
    remote = client.adapter().upload(rendered)
    assert mode(Path(remote.id)) == 0o600
    assert mode(Path(remote.id).parent) == 0o700
    with home_scope(home):
        rd = RunDir.for_job("local-20250101-000000-abcdef")
        rd.append_event("hello", type="status")
        rd.update_status(status="queued")
    assert mode(rd.path) == 0o700
    assert mode(rd.path.parent) == 0o700
    assert mode(rd.events_path) == 0o600
    assert mode(rd.status_path) == 0o600


def test_a_loose_existing_home_is_tightened(tmp_path: Path, loose_umask: None) -> None:
    home = tmp_path / "home"
    home.mkdir(mode=0o755)
    os.chmod(home, 0o755)
    _ = tuneport.Client(provider="local", home=home).ledger
    assert mode(home) == 0o700


def test_scratch_is_removed_after_success_and_failure(tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("tempfile.tempdir", str(tmp_path))
    with render_scratch() as folder:
        (folder / "train.jsonl").write_text("data")
        assert folder.name.startswith(f"{PREFIX}{os.getpid()}-")
        assert mode(folder) == 0o700
    assert not folder.exists()
    with pytest.raises(RuntimeError), render_scratch() as folder:
        raise RuntimeError("upload failed")
    assert not folder.exists()


_KILLED = r"""
import os, signal, sys, tempfile
tempfile.tempdir = sys.argv[1]
from tuneport.dataset._scratch import render_scratch
with render_scratch() as folder:
    (folder / "train.jsonl").write_text("copy of the data")
    print(folder, flush=True)
    os.kill(os.getpid(), signal.SIGKILL)
"""


def test_scratch_left_by_a_killed_process_goes_at_the_next_start(tmp_path: Path) -> None:
    run = subprocess.run([sys.executable, "-c", _KILLED, str(tmp_path)], capture_output=True,
                         text=True, timeout=60, check=False)
    assert run.returncode == -signal.SIGKILL
    left = Path(run.stdout.strip())
    assert left.is_dir()
    live = tmp_path / f"{PREFIX}{os.getpid()}-mine"
    live.mkdir()
    other = tmp_path / "not-ours"
    other.mkdir()
    assert sweep_stale(tmp_path) == [left]
    assert not left.exists()
    assert live.exists()
    assert other.exists()


def test_a_shared_folder_as_home_keeps_its_mode(tmp_path: Path, loose_umask: None) -> None:
    shared = tmp_path / "shared"
    shared.mkdir()
    os.chmod(shared, 0o1777)  # like /tmp
    client = tuneport.Client(provider="local", home=shared)
    assert mode(client.ledger.path) == 0o600
    with home_scope(shared):
        rd = RunDir.for_job("local-20250101-000000-abcdef")
        rd.update_status(status="queued")
    assert mode(shared) == 0o1777
    assert mode(rd.path) == 0o700
