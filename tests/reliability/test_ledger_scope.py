"""Guarantee 3: a ledger knows where it points, and old ledgers migrate in place.

Records are keyed by provider *and* scope (base URL plus account id, or a one-way hash of
the key): the same data sent from one home to a second base URL or a second account makes
a job there instead of answering with the first one's id (which the second place answers
with 404). A ledger written by the schema before scopes opens as version 1 with every
record kept; those records stay listed but are never reused for a submit.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

pytest.importorskip("starlette")
pytest.importorskip("openai")
pytest.importorskip("together")
pytest.importorskip("fireworks")

from _harness import MODELS, emulator, remote_jobs, write_dataset

import tuneport
from tuneport.emulator import Emulator
from tuneport.ledger import Ledger
from tuneport.ledger._store import SCHEMA_VERSION
from tuneport.providers.fireworks import FireworksProvider
from tuneport.providers.openai import OpenAIProvider
from tuneport.providers.together import TogetherProvider

pytestmark = pytest.mark.filterwarnings(
    "ignore::tuneport.client.preparing.ProviderAvailabilityWarning"
)

# The ledger schema as tuneport wrote it before records had a scope (version 0, no
# user_version), copied from the release that used it.
OLD_SCHEMA = """
CREATE TABLE uploads (
    provider TEXT NOT NULL, fingerprint TEXT NOT NULL, remote_id TEXT NOT NULL,
    n_bytes INTEGER, created_at TEXT NOT NULL, PRIMARY KEY (provider, fingerprint));
CREATE TABLE submissions (
    provider TEXT NOT NULL, idempotency_key TEXT NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('creating', 'created')), job_id TEXT,
    fingerprint TEXT, spec_json TEXT NOT NULL, created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL, PRIMARY KEY (provider, idempotency_key));
CREATE TABLE jobs (
    provider TEXT NOT NULL, job_id TEXT NOT NULL, status TEXT NOT NULL,
    provider_status TEXT NOT NULL, idempotency_key TEXT, snapshot_json TEXT NOT NULL,
    first_seen TEXT NOT NULL, updated_at TEXT NOT NULL, PRIMARY KEY (provider, job_id));
CREATE INDEX jobs_by_id ON jobs (job_id);
CREATE TABLE events (
    provider TEXT NOT NULL, job_id TEXT NOT NULL, event_id TEXT NOT NULL,
    created_at TEXT NOT NULL, event_json TEXT NOT NULL,
    PRIMARY KEY (provider, job_id, event_id));
"""
NOW = "2026-11-01T10:00:00+00:00"


def old_ledger(path: Path, *, key: str = "tp-old", job_id: str = "ftjob-old") -> Path:
    """A ledger file as the old schema made it, with one upload, submission, job, event."""
    snapshot = {"id": job_id, "provider": "openai", "status": "running",
                "provider_status": "running"}
    event = {"id": "ev-1", "job_id": job_id, "created_at": NOW, "level": "info",
             "message": "started"}
    conn = sqlite3.connect(path)
    conn.executescript(OLD_SCHEMA)
    conn.execute("INSERT INTO uploads VALUES ('openai', 'fp-old', 'file-old', 10, ?)", (NOW,))
    conn.execute("INSERT INTO submissions VALUES ('openai', ?, 'created', ?, 'fp-old', '{}', "
                 "?, ?)", (key, job_id, NOW, NOW))
    conn.execute("INSERT INTO jobs VALUES ('openai', ?, 'running', 'running', ?, ?, ?, ?)",
                 (job_id, key, json.dumps(snapshot), NOW, NOW))
    conn.execute("INSERT INTO events VALUES ('openai', ?, 'ev-1', ?, ?)",
                 (job_id, NOW, json.dumps(event)))
    conn.commit()
    conn.close()
    return path


def test_an_old_ledger_migrates_in_place(tmp_path: Path) -> None:
    path = old_ledger(tmp_path / "ledger.sqlite3")
    ledger = Ledger(path)
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION == 1
        for table in ("uploads", "submissions", "jobs", "events"):
            columns = [r[1] for r in conn.execute(f"PRAGMA table_info({table})")]
            assert "scope" in columns
            assert conn.execute(f"SELECT DISTINCT scope FROM {table}").fetchall() == [("",)]
    # Every record is still there, in the legacy scope ''.
    assert [j.id for j in ledger.jobs()] == ["ftjob-old"]
    assert ledger.get_submission("openai", "tp-old") is not None
    assert ledger.get_submission("openai", "tp-old", scope="") is not None
    assert ledger.find_upload("openai", "fp-old") is not None
    assert [e.id for e in ledger.events("openai", "ftjob-old")] == ["ev-1"]
    # ... and never where a scoped submission looks.
    somewhere = "openai|https://api.openai.com/v1|key-sha256:0123456789abcdef"
    assert ledger.get_submission("openai", "tp-old", scope=somewhere) is None
    assert ledger.find_upload("openai", "fp-old", scope=somewhere) is None
    # Opening again changes nothing.
    Ledger(path)
    assert [j.id for j in Ledger(path).jobs()] == ["ftjob-old"]


def test_processes_opening_an_old_ledger_at_once_migrate_it_once(tmp_path: Path) -> None:
    path = old_ledger(tmp_path / "ledger.sqlite3")
    errors: list[BaseException] = []

    def open_it() -> None:
        try:
            Ledger(path)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=open_it) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert errors == []
    assert len(Ledger(path).submissions()) == 1


@pytest.fixture
def two_emulators() -> Iterator[tuple[Emulator, Emulator]]:
    with emulator(seed=1) as first, emulator(seed=2) as second:
        yield first, second


def submit(emu: Emulator, provider: str, data: Path, home: Path, **env: str) -> tuneport.Job:
    with pytest.MonkeyPatch.context() as mp:
        for name, value in {**emu.env(), **env}.items():
            mp.setenv(name, value)
        with tuneport.Client(provider=provider, home=home) as client:
            job = client.fine_tune(data, model=MODELS[provider])
            # The job is readable where it was made (no 404 from another place's record).
            assert client.get_job(job).id == job.id
            return job


@pytest.mark.parametrize("provider", ["openai", "together", "fireworks"])
def test_one_home_two_base_urls_make_a_job_at_each(
    provider: str, two_emulators: tuple[Emulator, Emulator], tmp_path: Path
) -> None:
    first, second = two_emulators
    data, home = write_dataset(tmp_path, f"two-urls-{provider}"), tmp_path / "home"
    a = submit(first, provider, data, home)
    b = submit(second, provider, data, home)
    assert len(remote_jobs(first, provider)) == 1
    assert len(remote_jobs(second, provider)) == 1
    if provider != "fireworks":  # Fireworks ids come from the key: the same at both
        assert a.id != b.id
    # Each place's upload is its own: the second never reused the first's file id.
    scopes = {s.scope for s in Ledger.in_home(home).submissions(provider)}
    assert len(scopes) == 2
    assert all(first.url in s or second.url in s for s in scopes)
    # The same call again at the first place returns the first job (its record is kept).
    assert submit(first, provider, data, home).id == a.id
    assert len(remote_jobs(first, provider)) == 1


def test_one_home_two_fireworks_accounts_make_a_job_in_each(tmp_path: Path) -> None:
    data, home = write_dataset(tmp_path, "two-accounts"), tmp_path / "home"
    with emulator() as emu:
        submit(emu, "fireworks", data, home, FIREWORKS_ACCOUNT_ID="team-a")
        submit(emu, "fireworks", data, home, FIREWORKS_ACCOUNT_ID="team-b")
        names = sorted(str(j["name"]) for j in remote_jobs(emu, "fireworks"))
    assert len(names) == 2
    assert names[0].startswith("accounts/team-a/")
    assert names[1].startswith("accounts/team-b/")


def test_a_record_from_before_scopes_is_not_reused(tmp_path: Path) -> None:
    """A legacy 'created' record for the key must not answer for this emulator."""
    data, home = write_dataset(tmp_path, "legacy"), tmp_path / "home"
    with emulator() as emu:
        job = submit(emu, "openai", data, home)
        key = str(job.idempotency_key)
        emu.state.store.delete("openai", "job", job.id)  # as if made somewhere else
        path = Ledger.in_home(home).path
        with sqlite3.connect(path) as conn:
            for table in ("uploads", "submissions", "jobs", "events"):
                conn.execute(f"UPDATE {table} SET scope = ''")
        again = submit(emu, "openai", data, home)
        assert again.id != job.id
        assert [j["id"] for j in remote_jobs(emu, "openai")] == [again.id]
        assert again.idempotency_key == key


def test_a_scope_names_the_place_and_never_the_key() -> None:
    key_a, key_b = "sk-sentinel-AAAAAAAAAAAAAAAA", "sk-sentinel-BBBBBBBBBBBBBBBB"
    scopes = {
        OpenAIProvider(api_key=key_a).ledger_scope,
        OpenAIProvider(api_key=key_b).ledger_scope,
        OpenAIProvider(api_key=key_a, base_url="http://127.0.0.1:9/openai/v1").ledger_scope,
        TogetherProvider(api_key=key_a).ledger_scope,
        FireworksProvider(api_key=key_a, account_id="team-a").ledger_scope,
        FireworksProvider(api_key=key_b, account_id="team-a").ledger_scope,
        FireworksProvider(api_key=key_a, account_id="team-b").ledger_scope,
    }
    assert len(scopes) == 6  # one account, two keys: one Fireworks scope
    for scope in scopes:
        assert "sentinel" not in scope
        assert "AAAA" not in scope
        assert "BBBB" not in scope
