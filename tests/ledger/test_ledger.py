"""The SQLite ledger on its own: persistence, idempotency records, WAL, secrets, threads."""

from __future__ import annotations

import sqlite3
import threading
from datetime import UTC, datetime
from pathlib import Path

import pytest

from tuneport._models import Job, JobEvent, JobStatus
from tuneport.ledger import Ledger, scrub_secrets


def _job(job_id: str = "ft-1", status: JobStatus = JobStatus.RUNNING, **raw: object) -> Job:
    return Job(id=job_id, provider="together", status=status, provider_status=status.value,
               raw=dict(raw))


def test_ledger_file_is_created_in_wal_mode(tmp_path: Path) -> None:
    ledger = Ledger.in_home(tmp_path / "home")
    assert ledger.path == tmp_path / "home" / "ledger.sqlite3"
    with sqlite3.connect(ledger.path) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert tables >= {"uploads", "submissions", "jobs", "events"}


def test_uploads_by_provider_and_fingerprint(tmp_path: Path) -> None:
    ledger = Ledger(tmp_path / "l.sqlite3")
    ledger.record_upload("together", "abc", "file-1", 10)
    assert ledger.find_upload("together", "abc").remote_id == "file-1"  # type: ignore[union-attr]
    assert ledger.find_upload("fireworks", "abc") is None
    assert Ledger(tmp_path / "l.sqlite3").find_upload("together", "abc") is not None  # persisted
    ledger.forget_upload("together", "abc")
    assert ledger.find_upload("together", "abc") is None


def test_submission_goes_from_creating_to_created(tmp_path: Path) -> None:
    ledger = Ledger(tmp_path / "l.sqlite3")
    ledger.begin_submission("together", "tp-1", {"model": "m", "epochs": 2}, "fp")
    rec = ledger.get_submission("together", "tp-1")
    assert rec is not None
    assert rec.state == "creating"
    assert rec.job_id is None
    assert rec.spec == {"model": "m", "epochs": 2}
    # Beginning again (a retry after a crash) keeps the one record.
    ledger.begin_submission("together", "tp-1", {"model": "m", "epochs": 2}, "fp")
    ledger.complete_submission("together", "tp-1", _job())
    rec = ledger.get_submission("together", "tp-1")
    assert rec is not None
    assert rec.state == "created"
    assert rec.job_id == "ft-1"
    assert ledger.get_job("together", "ft-1").idempotency_key == "tp-1"  # type: ignore[union-attr]
    assert len(ledger.submissions()) == 1
    assert ledger.get_submission("openai", "tp-1") is None


def test_abandon_only_drops_unfinished_intents(tmp_path: Path) -> None:
    ledger = Ledger(tmp_path / "l.sqlite3")
    ledger.begin_submission("together", "a", {}, None)
    ledger.begin_submission("together", "b", {}, None)
    ledger.complete_submission("together", "b", _job("ft-b"))
    ledger.abandon_submission("together", "a")
    ledger.abandon_submission("together", "b")
    assert [s.idempotency_key for s in ledger.submissions()] == ["b"]


def test_job_snapshots_update_in_place_and_list_newest_first(tmp_path: Path) -> None:
    ledger = Ledger(tmp_path / "l.sqlite3")
    ledger.save_job(_job("ft-1"))
    ledger.save_job(_job("ft-2"))
    ledger.save_job(_job("ft-1", JobStatus.SUCCEEDED))
    assert [j.id for j in ledger.jobs()] == ["ft-2", "ft-1"]
    assert ledger.get_job("together", "ft-1").status is JobStatus.SUCCEEDED  # type: ignore[union-attr]
    assert ledger.jobs("openai") == []
    assert ledger.providers_of("ft-1") == ["together"]


def test_secrets_are_scrubbed_from_snapshots_and_specs(tmp_path: Path) -> None:
    ledger = Ledger(tmp_path / "l.sqlite3")
    ledger.save_job(_job(wandb_api_key="wk-123456", hyperparameters={"Authorization": "Bearer x1"},
                         trained_tokens=5))
    ledger.begin_submission("together", "k", {"wandb": {"api_key": "wk-abcdef"}}, None)
    stored = ledger.get_job("together", "ft-1")
    assert stored is not None
    assert stored.raw["wandb_api_key"] == "***"
    assert stored.raw["trained_tokens"] == 5
    blob = b"".join(p.read_bytes() for p in tmp_path.iterdir())
    assert b"wk-123456" not in blob
    assert b"wk-abcdef" not in blob
    assert b"Bearer x1" not in blob


def test_scrub_keeps_non_secrets() -> None:
    data = {"token_count": 3, "api_key": "", "nested": [{"secret": "s"}], "token": None}
    assert scrub_secrets(data) == {
        "token_count": 3, "api_key": "", "nested": [{"secret": "***"}], "token": None,
    }


def test_events_are_stored_once_in_order(tmp_path: Path) -> None:
    ledger = Ledger(tmp_path / "l.sqlite3")
    events = [
        JobEvent(id=f"e{i}", job_id="ft-1", created_at=datetime(2026, 1, 1, 0, i, tzinfo=UTC),
                 message=f"m{i}")
        for i in range(3)
    ]
    ledger.save_events("together", events[1:])
    ledger.save_events("together", events)
    assert [e.id for e in ledger.events("together", "ft-1")] == ["e0", "e1", "e2"]


def test_threads_and_instances_write_concurrently(tmp_path: Path) -> None:
    path = tmp_path / "l.sqlite3"
    errors: list[BaseException] = []

    def work(n: int) -> None:
        try:
            ledger = Ledger(path)
            for i in range(20):
                ledger.save_job(_job(f"ft-{n}-{i}"))
                ledger.record_upload("together", f"fp-{n}-{i}", "f")
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert len(Ledger(path).jobs()) == 80


def test_a_failed_write_leaves_nothing_half_done(tmp_path: Path) -> None:
    ledger = Ledger(tmp_path / "l.sqlite3")

    def insert_twice() -> None:
        with ledger._write() as conn:
            for _ in range(2):
                conn.execute("INSERT INTO uploads (provider, fingerprint, remote_id, n_bytes, "
                             "created_at) VALUES ('p', 'f', 'id', 1, 'now')")

    with pytest.raises(sqlite3.IntegrityError):
        insert_twice()
    assert ledger.find_upload("p", "f") is None


def test_submission_lock_is_released_when_its_holder_is_killed(tmp_path: Path) -> None:
    import signal
    import subprocess
    import sys
    import time

    ledger = Ledger(tmp_path / "ledger.sqlite3")
    holder = subprocess.Popen(
        [sys.executable, "-c",
         "import sys, time\n"
         "from tuneport.ledger import Ledger\n"
         f"with Ledger({str(ledger.path)!r}).submission_lock('p', 'k', scope='s'):\n"
         "    print('held', flush=True)\n"
         "    time.sleep(120)\n"],
        stdout=subprocess.PIPE, text=True,
    )
    try:
        assert holder.stdout is not None
        assert holder.stdout.readline().strip() == "held"
        waited: list[bool] = []
        got: list[float] = []

        def take() -> None:
            with ledger.submission_lock("p", "k", scope="s", on_wait=lambda: waited.append(True)):
                got.append(time.monotonic())

        taker = threading.Thread(target=take)
        taker.start()
        time.sleep(0.5)
        assert got == []  # the holder has it
        assert waited == [True]
        # Another key, or the same key in another scope, is not held up.
        with ledger.submission_lock("p", "k", scope="elsewhere"):
            pass
        killed_at = time.monotonic()
        holder.send_signal(signal.SIGKILL)
        taker.join(timeout=10)
        assert len(got) == 1
        assert got[0] - killed_at < 5
    finally:
        holder.kill()
        holder.communicate()
