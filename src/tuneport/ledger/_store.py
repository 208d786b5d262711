"""The SQLite job ledger: uploads, submissions (idempotency), job snapshots and events.

One file, ``TUNEPORT_HOME/ledger.sqlite3``, in WAL mode so a CLI reading it and a script
writing it do not block each other. Every operation opens its own short connection:
that keeps the ledger safe to use from the threads :class:`tuneport.AsyncClient` runs
adapters in, and from several processes at once.

Nothing secret is ever written: specs are stored through ``FineTuneSpec.normalized()``
(no W&B key), and raw provider payloads are scrubbed of anything that looks like a
credential before a job snapshot is stored.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from tuneport._models import Job, JobEvent

__all__ = ["LEDGER_FILENAME", "Ledger", "SubmissionRecord", "UploadRecord", "scrub_secrets"]

LEDGER_FILENAME = "ledger.sqlite3"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS uploads (
    provider     TEXT NOT NULL,
    fingerprint  TEXT NOT NULL,
    remote_id    TEXT NOT NULL,
    n_bytes      INTEGER,
    created_at   TEXT NOT NULL,
    PRIMARY KEY (provider, fingerprint)
);
CREATE TABLE IF NOT EXISTS submissions (
    provider         TEXT NOT NULL,
    idempotency_key  TEXT NOT NULL,
    state            TEXT NOT NULL CHECK (state IN ('creating', 'created')),
    job_id           TEXT,
    fingerprint      TEXT,
    spec_json        TEXT NOT NULL,
    created_at       TEXT NOT NULL,
    updated_at       TEXT NOT NULL,
    PRIMARY KEY (provider, idempotency_key)
);
CREATE TABLE IF NOT EXISTS jobs (
    provider         TEXT NOT NULL,
    job_id           TEXT NOT NULL,
    status           TEXT NOT NULL,
    provider_status  TEXT NOT NULL,
    idempotency_key  TEXT,
    snapshot_json    TEXT NOT NULL,
    first_seen       TEXT NOT NULL,
    updated_at       TEXT NOT NULL,
    PRIMARY KEY (provider, job_id)
);
CREATE INDEX IF NOT EXISTS jobs_by_id ON jobs (job_id);
CREATE TABLE IF NOT EXISTS events (
    provider    TEXT NOT NULL,
    job_id      TEXT NOT NULL,
    event_id    TEXT NOT NULL,
    created_at  TEXT NOT NULL,
    event_json  TEXT NOT NULL,
    PRIMARY KEY (provider, job_id, event_id)
);
"""

# Key names whose values are credentials in some provider payload (e.g. a W&B key echoed
# back in a job's hyperparameters). Matched case-insensitively on the whole key name.
_SECRET_KEYS = frozenset(
    {
        "api_key",
        "apikey",
        "wandb_api_key",
        "wandb_key",
        "secret",
        "client_secret",
        "password",
        "authorization",
        "access_token",
        "token",
        "hf_api_token",
        "hf_token",
    }
)


def _is_secret_key(key: object) -> bool:
    return str(key).lower().replace("-", "_") in _SECRET_KEYS


def scrub_secrets(value: Any) -> Any:
    """A copy of ``value`` with every credential-like field replaced by ``"***"``."""
    if isinstance(value, dict):
        return {
            k: "***" if _is_secret_key(k) and v else scrub_secrets(v) for k, v in value.items()
        }
    if isinstance(value, list | tuple):
        return [scrub_secrets(v) for v in value]
    return value


@dataclass(frozen=True)
class UploadRecord:
    """A dataset file already stored at a provider."""

    provider: str
    fingerprint: str
    remote_id: str
    n_bytes: int | None
    created_at: datetime


@dataclass(frozen=True)
class SubmissionRecord:
    """One ``fine_tune`` call's intent, keyed by its idempotency key.

    ``state`` is ``creating`` from just before the create request until the job id is
    known, then ``created``. A ``creating`` record found later means the process stopped
    in between: the job may or may not exist at the provider, so the key is looked up
    there (``Provider.find_job``) before anything is created again.
    """

    provider: str
    idempotency_key: str
    state: Literal["creating", "created"]
    job_id: str | None
    fingerprint: str | None
    spec: dict[str, Any]
    created_at: datetime
    updated_at: datetime


def _now() -> str:
    return datetime.now(UTC).isoformat()


class Ledger:
    """The local record of what tuneport uploaded and submitted.

    Args:
        path: the SQLite file; its folder is created when missing.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path).expanduser()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self._connect() as conn:
            conn.execute("PRAGMA journal_mode=WAL")
            conn.executescript(_SCHEMA)

    @classmethod
    def in_home(cls, home: str | Path) -> Ledger:
        """The ledger of a tuneport home folder (``TUNEPORT_HOME``)."""
        return cls(Path(home).expanduser() / LEDGER_FILENAME)

    def __repr__(self) -> str:
        return f"Ledger({str(self.path)!r})"

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        # Autocommit mode plus explicit BEGIN IMMEDIATE for writes: a writer takes the lock
        # up front instead of failing half-way when another process writes too.
        conn = sqlite3.connect(self.path, timeout=30.0, isolation_level=None)
        try:
            conn.execute("PRAGMA busy_timeout=30000")
            conn.execute("PRAGMA synchronous=NORMAL")
            yield conn
        finally:
            conn.close()

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        with self._connect() as conn:
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")

    # -- uploads ---------------------------------------------------------------------

    def find_upload(self, provider: str, fingerprint: str) -> UploadRecord | None:
        """The remote file holding this exact content at ``provider``, if uploaded before."""
        with self._connect() as conn:
            row = conn.execute(
                "SELECT provider, fingerprint, remote_id, n_bytes, created_at FROM uploads "
                "WHERE provider = ? AND fingerprint = ?",
                (provider, fingerprint),
            ).fetchone()
        if row is None:
            return None
        return UploadRecord(row[0], row[1], row[2], row[3], datetime.fromisoformat(row[4]))

    def record_upload(
        self, provider: str, fingerprint: str, remote_id: str, n_bytes: int | None = None
    ) -> None:
        """Remember that ``fingerprint`` is stored at ``provider`` as ``remote_id``."""
        with self._write() as conn:
            conn.execute(
                "INSERT OR REPLACE INTO uploads VALUES (?, ?, ?, ?, ?)",
                (provider, fingerprint, remote_id, n_bytes, _now()),
            )

    def forget_upload(self, provider: str, fingerprint: str) -> None:
        """Drop an upload record (the provider no longer has the file)."""
        with self._write() as conn:
            conn.execute(
                "DELETE FROM uploads WHERE provider = ? AND fingerprint = ?",
                (provider, fingerprint),
            )

    # -- submissions -----------------------------------------------------------------

    def get_submission(self, provider: str, key: str) -> SubmissionRecord | None:
        """The submission made with this idempotency key at ``provider``, if any."""
        with self._connect() as conn:
            row = conn.execute(
                "SELECT provider, idempotency_key, state, job_id, fingerprint, spec_json, "
                "created_at, updated_at FROM submissions "
                "WHERE provider = ? AND idempotency_key = ?",
                (provider, key),
            ).fetchone()
        if row is None:
            return None
        return SubmissionRecord(
            provider=row[0],
            idempotency_key=row[1],
            state=row[2],
            job_id=row[3],
            fingerprint=row[4],
            spec=json.loads(row[5]),
            created_at=datetime.fromisoformat(row[6]),
            updated_at=datetime.fromisoformat(row[7]),
        )

    def begin_submission(
        self, provider: str, key: str, spec: dict[str, Any], fingerprint: str | None
    ) -> None:
        """Record the intent to create a job, *before* the create request is sent."""
        now = _now()
        spec_json = json.dumps(scrub_secrets(spec), sort_keys=True)
        with self._write() as conn:
            conn.execute(
                "INSERT INTO submissions VALUES (?, ?, 'creating', NULL, ?, ?, ?, ?) "
                "ON CONFLICT (provider, idempotency_key) "
                "DO UPDATE SET updated_at = excluded.updated_at",
                (provider, key, fingerprint, spec_json, now, now),
            )

    def complete_submission(self, provider: str, key: str, job: Job) -> None:
        """Record the job a submission created (or adopted), with its first snapshot."""
        with self._write() as conn:
            conn.execute(
                "UPDATE submissions SET state = 'created', job_id = ?, updated_at = ? "
                "WHERE provider = ? AND idempotency_key = ?",
                (job.id, _now(), provider, key),
            )
            self._upsert_job(conn, job, key)

    def abandon_submission(self, provider: str, key: str) -> None:
        """Drop a ``creating`` record whose create was refused for certain (no job exists)."""
        with self._write() as conn:
            conn.execute(
                "DELETE FROM submissions WHERE provider = ? AND idempotency_key = ? "
                "AND state = 'creating'",
                (provider, key),
            )

    def submissions(self, provider: str | None = None) -> list[SubmissionRecord]:
        """All submissions, oldest first."""
        sql = "SELECT provider, idempotency_key FROM submissions"
        args: tuple[str, ...] = ()
        if provider is not None:
            sql += " WHERE provider = ?"
            args = (provider,)
        with self._connect() as conn:
            keys = conn.execute(sql + " ORDER BY created_at", args).fetchall()
        out = []
        for prov, key in keys:
            rec = self.get_submission(prov, key)
            if rec is not None:
                out.append(rec)
        return out

    # -- jobs ------------------------------------------------------------------------

    @staticmethod
    def _upsert_job(conn: sqlite3.Connection, job: Job, key: str | None) -> None:
        snapshot = scrub_secrets(job.model_dump(mode="json"))
        now = _now()
        conn.execute(
            "INSERT INTO jobs VALUES (?, ?, ?, ?, ?, ?, ?, ?) "
            "ON CONFLICT (provider, job_id) DO UPDATE SET status = excluded.status, "
            "provider_status = excluded.provider_status, snapshot_json = excluded.snapshot_json, "
            "idempotency_key = COALESCE(excluded.idempotency_key, jobs.idempotency_key), "
            "updated_at = excluded.updated_at",
            (
                job.provider,
                job.id,
                job.status.value,
                job.provider_status,
                key or job.idempotency_key,
                json.dumps(snapshot, sort_keys=True),
                now,
                now,
            ),
        )

    def save_job(self, job: Job) -> None:
        """Store the latest snapshot of a job (secrets scrubbed)."""
        with self._write() as conn:
            self._upsert_job(conn, job, None)

    def get_job(self, provider: str, job_id: str) -> Job | None:
        """The last stored snapshot of a job."""
        with self._connect() as conn:
            row = conn.execute(
                "SELECT snapshot_json, idempotency_key FROM jobs WHERE provider = ? AND job_id = ?",
                (provider, job_id),
            ).fetchone()
        return None if row is None else _load_job(row[0], row[1])

    def providers_of(self, job_id: str) -> list[str]:
        """The providers that have a job with this id in the ledger."""
        with self._connect() as conn:
            rows = conn.execute(
                "SELECT provider FROM jobs WHERE job_id = ? ORDER BY provider", (job_id,)
            ).fetchall()
        return [r[0] for r in rows]

    def jobs(self, provider: str | None = None) -> list[Job]:
        """Stored job snapshots, newest first."""
        sql = "SELECT snapshot_json, idempotency_key FROM jobs"
        args: tuple[str, ...] = ()
        if provider is not None:
            sql += " WHERE provider = ?"
            args = (provider,)
        with self._connect() as conn:
            rows = conn.execute(sql + " ORDER BY first_seen DESC, rowid DESC", args).fetchall()
        return [_load_job(r[0], r[1]) for r in rows]

    # -- events ----------------------------------------------------------------------

    def save_events(self, provider: str, events: list[JobEvent]) -> None:
        """Store events (already-known ids are kept as they are)."""
        if not events:
            return
        with self._write() as conn:
            conn.executemany(
                "INSERT OR IGNORE INTO events VALUES (?, ?, ?, ?, ?)",
                [
                    (
                        provider,
                        e.job_id,
                        e.id,
                        e.created_at.isoformat(),
                        json.dumps(scrub_secrets(e.model_dump(mode="json")), sort_keys=True),
                    )
                    for e in events
                ],
            )

    def events(self, provider: str, job_id: str) -> list[JobEvent]:
        """Stored events of a job in chronological order."""
        with self._connect() as conn:
            rows = conn.execute(
                "SELECT event_json FROM events WHERE provider = ? AND job_id = ? "
                "ORDER BY created_at, rowid",
                (provider, job_id),
            ).fetchall()
        return [JobEvent.model_validate_json(r[0]) for r in rows]


def _load_job(snapshot_json: str, key: str | None) -> Job:
    job = Job.model_validate_json(snapshot_json)
    if key and job.idempotency_key != key:
        job = job.model_copy(update={"idempotency_key": key})
    return job
