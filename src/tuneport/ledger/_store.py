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
import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from tuneport._models import Job, JobEvent
from tuneport.ledger import _sqlite
from tuneport.ledger._locks import LOCKS_DIRNAME, key_lock

__all__ = ["LEDGER_FILENAME", "Ledger", "SubmissionRecord", "UploadRecord", "scrub_secrets"]

LEDGER_FILENAME = "ledger.sqlite3"

#: The ledger's schema version (``PRAGMA user_version``). 0: records keyed by provider name
#: only (before 2026-12); 1: every record also carries ``scope``, the provider's base URL
#: and account (see :func:`tuneport.providers._hosted.ledger_scope`).
SCHEMA_VERSION = 1

# Tables as version 1 creates them. ``scope`` is part of every key: the same job id or
# content fingerprint at two base URLs or accounts is two records, never one.
_TABLES = {
    "uploads": """
CREATE TABLE IF NOT EXISTS uploads (
    provider     TEXT NOT NULL,
    fingerprint  TEXT NOT NULL,
    remote_id    TEXT NOT NULL,
    n_bytes      INTEGER,
    created_at   TEXT NOT NULL,
    scope        TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (provider, scope, fingerprint)
)""",
    "submissions": """
CREATE TABLE IF NOT EXISTS submissions (
    provider         TEXT NOT NULL,
    idempotency_key  TEXT NOT NULL,
    state            TEXT NOT NULL CHECK (state IN ('creating', 'created')),
    job_id           TEXT,
    fingerprint      TEXT,
    spec_json        TEXT NOT NULL,
    created_at       TEXT NOT NULL,
    updated_at       TEXT NOT NULL,
    scope            TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (provider, scope, idempotency_key)
)""",
    "jobs": """
CREATE TABLE IF NOT EXISTS jobs (
    provider         TEXT NOT NULL,
    job_id           TEXT NOT NULL,
    status           TEXT NOT NULL,
    provider_status  TEXT NOT NULL,
    idempotency_key  TEXT,
    snapshot_json    TEXT NOT NULL,
    first_seen       TEXT NOT NULL,
    updated_at       TEXT NOT NULL,
    scope            TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (provider, scope, job_id)
)""",
    "events": """
CREATE TABLE IF NOT EXISTS events (
    provider    TEXT NOT NULL,
    job_id      TEXT NOT NULL,
    event_id    TEXT NOT NULL,
    created_at  TEXT NOT NULL,
    event_json  TEXT NOT NULL,
    scope       TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (provider, scope, job_id, event_id)
)""",
}

_SCHEMA = ";\n".join(_TABLES.values()) + ";\n"

# Indexes name ``scope``: created after a version-0 table has been rebuilt with it.
_INDEXES = "CREATE INDEX IF NOT EXISTS jobs_by_id ON jobs (job_id);\n"

#: Tables other parts of tuneport add to the ledger that must be scoped too; an old copy
#: without ``scope`` gets the column (records from before keep the legacy scope ``''``).
_SCOPED_ELSEWHERE = ("deployments",)


def _columns(conn: sqlite3.Connection, table: str) -> list[str]:
    return [str(r[1]) for r in conn.execute(f"PRAGMA table_info({table})")]


def _migrate(conn: sqlite3.Connection) -> None:
    """Bring a ledger of any earlier version to :data:`SCHEMA_VERSION`, in place.

    Runs inside ``BEGIN IMMEDIATE``, so of several processes opening an old ledger at
    once, one migrates and the others find it done. Version-0 records keep the legacy
    scope ``''``: they stay listed (``tuneport jobs``) but are never reused for a submit
    to a scoped provider, since nobody knows which base URL or account they came from.
    """
    version = int(conn.execute("PRAGMA user_version").fetchone()[0])
    if version >= SCHEMA_VERSION:
        return
    for table, create in _TABLES.items():
        columns = _columns(conn, table)
        if not columns or "scope" in columns:
            continue
        # The primary key changes, which ALTER TABLE cannot do: copy into a new table.
        conn.execute(f"ALTER TABLE {table} RENAME TO {table}_v0")
        conn.execute(create)
        names = ", ".join(columns)
        conn.execute(f"INSERT INTO {table} ({names}, scope) SELECT {names}, '' FROM {table}_v0")
        conn.execute(f"DROP TABLE {table}_v0")
    for table in _SCOPED_ELSEWHERE:
        columns = _columns(conn, table)
        if columns and "scope" not in columns:
            conn.execute(f"ALTER TABLE {table} ADD COLUMN scope TEXT NOT NULL DEFAULT ''")
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")


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
    known, then ``created``. ``scope`` is where the record points (the provider's base URL
    and account; ``''`` for records from before the ledger had scopes). A ``creating``
    record found later means the process stopped in between: the job may or may not
    exist at the provider, so the key is looked up there (``Provider.find_job``) before
    anything is created again.
    """

    provider: str
    idempotency_key: str
    state: Literal["creating", "created"]
    job_id: str | None
    fingerprint: str | None
    spec: dict[str, Any]
    created_at: datetime
    updated_at: datetime
    scope: str = ""


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
        # Several processes or threads may open a new ledger at the same instant; switching
        # a fresh file to WAL answers "locked" at once (no busy wait) to all but one.
        for attempt in range(200):
            try:
                self._initialize()
                break
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) or attempt == 199:
                    raise
                time.sleep(0.05)

    def _initialize(self) -> None:
        with self._connect() as conn:
            if conn.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
                conn.execute("PRAGMA journal_mode=WAL")
            conn.executescript(_SCHEMA)
        with self._write() as conn:
            _migrate(conn)
            conn.execute(_INDEXES)

    @classmethod
    def in_home(cls, home: str | Path) -> Ledger:
        """The ledger of a tuneport home folder (``TUNEPORT_HOME``)."""
        return cls(Path(home).expanduser() / LEDGER_FILENAME)

    def __repr__(self) -> str:
        return f"Ledger({str(self.path)!r})"

    def _connect(self) -> AbstractContextManager[sqlite3.Connection]:
        return _sqlite.connect(self.path, "synchronous=NORMAL")

    def _write(self) -> AbstractContextManager[sqlite3.Connection]:
        return _sqlite.write(self.path, "synchronous=NORMAL")

    def submission_lock(
        self, provider: str, key: str, *, scope: str = "",
        on_wait: Callable[[], None] | None = None,
    ) -> AbstractContextManager[None]:
        """Serialize submissions of one key across the processes sharing this ledger.

        A file lock under ``<home>/locks/``, released by the OS when its holder dies (a
        SIGKILL included), so it never needs to expire. See :mod:`tuneport.ledger._locks`.
        """
        return key_lock(
            self.path.parent / LOCKS_DIRNAME, provider, scope, key, on_wait=on_wait
        )

    # -- uploads ---------------------------------------------------------------------

    def find_upload(
        self, provider: str, fingerprint: str, *, scope: str | None = None
    ) -> UploadRecord | None:
        """The remote file holding this exact content at ``provider``, if uploaded before.

        With ``scope`` (base URL and account), only a record made there is returned: what
        a submission passes. ``None`` looks in every scope (the newest record).
        """
        sql = ("SELECT provider, fingerprint, remote_id, n_bytes, created_at FROM uploads "
               "WHERE provider = ? AND fingerprint = ?")
        args: tuple[str, ...] = (provider, fingerprint)
        if scope is not None:
            sql += " AND scope = ?"
            args += (scope,)
        with self._connect() as conn:
            row = conn.execute(sql + " ORDER BY created_at DESC", args).fetchone()
        if row is None:
            return None
        return UploadRecord(row[0], row[1], row[2], row[3], datetime.fromisoformat(row[4]))

    def record_upload(
        self, provider: str, fingerprint: str, remote_id: str, n_bytes: int | None = None,
        *, scope: str = "",
    ) -> None:
        """Remember that ``fingerprint`` is stored at ``provider`` (``scope``) as ``remote_id``."""
        with self._write() as conn:
            conn.execute(
                "INSERT OR REPLACE INTO uploads "
                "(provider, fingerprint, remote_id, n_bytes, created_at, scope) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                (provider, fingerprint, remote_id, n_bytes, _now(), scope),
            )

    def forget_upload(self, provider: str, fingerprint: str, *, scope: str = "") -> None:
        """Drop an upload record (the provider no longer has the file)."""
        with self._write() as conn:
            conn.execute(
                "DELETE FROM uploads WHERE provider = ? AND scope = ? AND fingerprint = ?",
                (provider, scope, fingerprint),
            )

    # -- submissions -----------------------------------------------------------------

    def get_submission(
        self, provider: str, key: str, *, scope: str | None = None
    ) -> SubmissionRecord | None:
        """The submission made with this idempotency key at ``provider``.

        With ``scope``, only one made there (what a submission passes); ``None`` looks in
        every scope (the newest record).
        """
        sql = ("SELECT provider, idempotency_key, state, job_id, fingerprint, spec_json, "
               "created_at, updated_at, scope FROM submissions "
               "WHERE provider = ? AND idempotency_key = ?")
        args: tuple[str, ...] = (provider, key)
        if scope is not None:
            sql += " AND scope = ?"
            args += (scope,)
        with self._connect() as conn:
            row = conn.execute(sql + " ORDER BY updated_at DESC", args).fetchone()
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
            scope=row[8],
        )

    def begin_submission(
        self, provider: str, key: str, spec: dict[str, Any], fingerprint: str | None,
        *, scope: str = "",
    ) -> None:
        """Record the intent to create a job, *before* the create request is sent."""
        now = _now()
        spec_json = json.dumps(scrub_secrets(spec), sort_keys=True)
        with self._write() as conn:
            conn.execute(
                "INSERT INTO submissions (provider, idempotency_key, state, job_id, "
                "fingerprint, spec_json, created_at, updated_at, scope) "
                "VALUES (?, ?, 'creating', NULL, ?, ?, ?, ?, ?) "
                "ON CONFLICT (provider, scope, idempotency_key) "
                "DO UPDATE SET updated_at = excluded.updated_at",
                (provider, key, fingerprint, spec_json, now, now, scope),
            )

    def complete_submission(self, provider: str, key: str, job: Job, *, scope: str = "") -> None:
        """Record the job a submission created (or adopted), with its first snapshot."""
        with self._write() as conn:
            conn.execute(
                "UPDATE submissions SET state = 'created', job_id = ?, updated_at = ? "
                "WHERE provider = ? AND scope = ? AND idempotency_key = ?",
                (job.id, _now(), provider, scope, key),
            )
            self._upsert_job(conn, job, key, scope)

    def abandon_submission(self, provider: str, key: str, *, scope: str = "") -> None:
        """Drop a ``creating`` record whose create was refused for certain (no job exists)."""
        with self._write() as conn:
            conn.execute(
                "DELETE FROM submissions WHERE provider = ? AND scope = ? "
                "AND idempotency_key = ? AND state = 'creating'",
                (provider, scope, key),
            )

    def submissions(self, provider: str | None = None) -> list[SubmissionRecord]:
        """All submissions (every scope), oldest first."""
        sql = "SELECT provider, idempotency_key, scope FROM submissions"
        args: tuple[str, ...] = ()
        if provider is not None:
            sql += " WHERE provider = ?"
            args = (provider,)
        with self._connect() as conn:
            keys = conn.execute(sql + " ORDER BY created_at", args).fetchall()
        out = []
        for prov, key, scope in keys:
            rec = self.get_submission(prov, key, scope=scope)
            if rec is not None:
                out.append(rec)
        return out

    # -- jobs ------------------------------------------------------------------------

    @staticmethod
    def _upsert_job(conn: sqlite3.Connection, job: Job, key: str | None, scope: str) -> None:
        snapshot = scrub_secrets(job.model_dump(mode="json"))
        now = _now()
        conn.execute(
            "INSERT INTO jobs (provider, job_id, status, provider_status, idempotency_key, "
            "snapshot_json, first_seen, updated_at, scope) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) "
            "ON CONFLICT (provider, scope, job_id) DO UPDATE SET status = excluded.status, "
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
                scope,
            ),
        )

    def save_job(self, job: Job, *, scope: str = "") -> None:
        """Store the latest snapshot of a job (secrets scrubbed)."""
        with self._write() as conn:
            self._upsert_job(conn, job, None, scope)

    def get_job(self, provider: str, job_id: str, *, scope: str | None = None) -> Job | None:
        """The last stored snapshot of a job (in ``scope``; any scope when ``None``)."""
        sql = "SELECT snapshot_json, idempotency_key FROM jobs WHERE provider = ? AND job_id = ?"
        args: tuple[str, ...] = (provider, job_id)
        if scope is not None:
            sql += " AND scope = ?"
            args += (scope,)
        with self._connect() as conn:
            row = conn.execute(sql + " ORDER BY updated_at DESC", args).fetchone()
        return None if row is None else _load_job(row[0], row[1])

    def providers_of(self, job_id: str) -> list[str]:
        """The providers that have a job with this id in the ledger."""
        with self._connect() as conn:
            rows = conn.execute(
                "SELECT DISTINCT provider FROM jobs WHERE job_id = ? ORDER BY provider",
                (job_id,),
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

    def save_events(self, provider: str, events: list[JobEvent], *, scope: str = "") -> None:
        """Store events (already-known ids are kept as they are)."""
        if not events:
            return
        with self._write() as conn:
            conn.executemany(
                "INSERT OR IGNORE INTO events "
                "(provider, job_id, event_id, created_at, event_json, scope) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                [
                    (
                        provider,
                        e.job_id,
                        e.id,
                        e.created_at.isoformat(),
                        json.dumps(scrub_secrets(e.model_dump(mode="json")), sort_keys=True),
                        scope,
                    )
                    for e in events
                ],
            )

    def events(self, provider: str, job_id: str, *, scope: str | None = None) -> list[JobEvent]:
        """Stored events of a job in chronological order (in ``scope``; any when ``None``)."""
        sql = "SELECT event_json FROM events WHERE provider = ? AND job_id = ?"
        args: tuple[str, ...] = (provider, job_id)
        if scope is not None:
            sql += " AND scope = ?"
            args += (scope,)
        with self._connect() as conn:
            rows = conn.execute(sql + " ORDER BY created_at, rowid", args).fetchall()
        return [JobEvent.model_validate_json(r[0]) for r in rows]


def _load_job(snapshot_json: str, key: str | None) -> Job:
    job = Job.model_validate_json(snapshot_json)
    if key and job.idempotency_key != key:
        job = job.model_copy(update={"idempotency_key": key})
    return job
