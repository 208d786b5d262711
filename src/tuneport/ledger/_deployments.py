"""Deployments in the ledger: what tuneport started that bills by the hour.

Recorded like jobs: the intent (``creating``) is written *before* the provider is asked to
create anything, the answer (``created``) after; a ``creating`` record found later means
the process stopped in between, and the next deploy adopts what the provider has (the
adapters' deployments have names derived from the job, so they are found, never made
twice). ``stopped`` records stay as history: ``endpoints()`` lists the others.

The table lives in the ledger's SQLite file, keyed by provider, ledger scope (the
provider's base URL and account, :attr:`tuneport.providers.base.Provider.ledger_scope`)
and job id: one deployment per job and place. Nothing secret is stored: the job snapshot
is scrubbed and the endpoint is dumped without its key.
"""

from __future__ import annotations

import json
import sqlite3
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Literal

from tuneport._models import Job, ModelEndpoint
from tuneport.ledger import _sqlite

__all__ = ["DeploymentBook", "DeploymentRecord"]

_TABLE = """
CREATE TABLE IF NOT EXISTS deployments (
    provider       TEXT NOT NULL,
    scope          TEXT NOT NULL DEFAULT '',
    base_url       TEXT NOT NULL DEFAULT '',
    job_id         TEXT NOT NULL,
    state          TEXT NOT NULL CHECK (state IN ('creating', 'created', 'stopped')),
    deployment_id  TEXT,
    model          TEXT,
    hourly_usd     TEXT,
    deployed_at    TEXT NOT NULL,
    stop_at        TEXT,
    stopped_at     TEXT,
    job_json       TEXT NOT NULL,
    endpoint_json  TEXT,
    updated_at     TEXT NOT NULL,
    PRIMARY KEY (provider, scope, job_id)
)
"""

_COLUMNS = ("provider, scope, base_url, job_id, state, deployment_id, model, hourly_usd, "
            "deployed_at, stop_at, stopped_at, job_json, endpoint_json, updated_at")


@dataclass(frozen=True)
class DeploymentRecord:
    """One deployment tuneport started (or is starting) for a job."""

    provider: str
    scope: str
    base_url: str
    job_id: str
    state: Literal["creating", "created", "stopped"]
    deployment_id: str | None
    model: str | None
    hourly_usd: Decimal | None
    deployed_at: datetime
    stop_at: datetime | None
    stopped_at: datetime | None
    job: Job
    endpoint: ModelEndpoint | None

    def accrued_usd(self, now: datetime) -> Decimal | None:
        """What it has cost so far: the hourly price times the hours it has been up."""
        if self.hourly_usd is None:
            return None
        end = self.stopped_at or now
        hours = Decimal(max(0.0, (end - self.deployed_at).total_seconds())) / Decimal(3600)
        return (self.hourly_usd * hours).quantize(Decimal("0.01"))

    def overdue(self, now: datetime, *, max_age: timedelta) -> str | None:
        """Why this running deployment deserves a warning (past its deadline, or up longer
        than ``max_age``), or ``None``."""
        if self.state == "stopped":
            return None
        if self.stop_at is not None and now >= self.stop_at:
            return f"past its stop-after deadline ({self.stop_at:%Y-%m-%d %H:%M} UTC)"
        if now - self.deployed_at >= max_age:
            hours = (now - self.deployed_at).total_seconds() / 3600
            return f"up for {hours:.0f} hours"
        return None


def _iso(moment: datetime | None) -> str | None:
    return moment.astimezone(UTC).isoformat() if moment is not None else None


def _time(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text) if text else None


class DeploymentBook:
    """The ``deployments`` table of a ledger file.

    Args:
        path: the ledger's SQLite file (``Ledger.path``).
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self._write() as conn:
            conn.execute(_TABLE)

    def __repr__(self) -> str:
        return f"DeploymentBook({str(self.path)!r})"

    def _connect(self) -> AbstractContextManager[sqlite3.Connection]:
        return _sqlite.connect(self.path)

    def _write(self) -> AbstractContextManager[sqlite3.Connection]:
        return _sqlite.write(self.path)

    def get(self, provider: str, scope: str, job_id: str) -> DeploymentRecord | None:
        """The record of this job's deployment at this place, if any."""
        with self._connect() as conn:
            row = conn.execute(
                f"SELECT {_COLUMNS} FROM deployments WHERE provider = ? AND scope = ? "
                "AND job_id = ?", (provider, scope, job_id),
            ).fetchone()
        return None if row is None else _record(row)

    def records(self, *, running_only: bool = True) -> list[DeploymentRecord]:
        """Records oldest first; by default only those not stopped."""
        sql = f"SELECT {_COLUMNS} FROM deployments"
        if running_only:
            sql += " WHERE state != 'stopped'"
        with self._connect() as conn:
            rows = conn.execute(sql + " ORDER BY deployed_at, rowid").fetchall()
        return [_record(r) for r in rows]

    def begin(self, scope: str, base_url: str, job: Job, *, now: datetime,
              stop_after: timedelta | None) -> DeploymentRecord:
        """Record the intent to deploy, before anything is created.

        A running record stays as it is (deploying twice is one deployment), except that
        a new ``stop_after`` moves its deadline; a stopped one starts over.
        """
        from tuneport.ledger._store import scrub_secrets

        job_json = json.dumps(scrub_secrets(job.model_dump(mode="json")), sort_keys=True)
        with self._write() as conn:
            row = conn.execute(
                "SELECT state, deployed_at FROM deployments WHERE provider = ? AND scope = ? "
                "AND job_id = ?", (job.provider, scope, job.id),
            ).fetchone()
            if row is None or row[0] == "stopped":
                stop_at = now + stop_after if stop_after is not None else None
                conn.execute(
                    "INSERT OR REPLACE INTO deployments (provider, scope, base_url, job_id, "
                    "state, deployed_at, stop_at, job_json, updated_at) "
                    "VALUES (?, ?, ?, ?, 'creating', ?, ?, ?, ?)",
                    (job.provider, scope, base_url, job.id, _iso(now), _iso(stop_at),
                     job_json, _iso(now)),
                )
            elif stop_after is not None:
                conn.execute(
                    "UPDATE deployments SET stop_at = ?, updated_at = ? WHERE provider = ? "
                    "AND scope = ? AND job_id = ?",
                    (_iso(now + stop_after), _iso(now), job.provider, scope, job.id),
                )
        found = self.get(job.provider, scope, job.id)
        assert found is not None  # written just above
        return found

    def created(self, scope: str, endpoint: ModelEndpoint, job: Job, *, now: datetime) -> None:
        """Record what the provider created (or what a retry adopted)."""
        self._update(scope, job, now, state="created", endpoint=endpoint)

    def observed(self, scope: str, endpoint: ModelEndpoint, job: Job, *, now: datetime) -> None:
        """Keep the latest endpoint a poll saw (state and price) without changing the state."""
        self._update(scope, job, now, state=None, endpoint=endpoint)

    def stopped(self, scope: str, job: Job, *, now: datetime,
                endpoint: ModelEndpoint | None = None) -> None:
        """Record that the deployment was stopped (harmless when there is no record)."""
        self._update(scope, job, now, state="stopped", endpoint=endpoint, stopped_at=now)

    def abandon(self, scope: str, job: Job) -> None:
        """Drop a ``creating`` record whose create certainly made nothing."""
        with self._write() as conn:
            conn.execute(
                "DELETE FROM deployments WHERE provider = ? AND scope = ? AND job_id = ? "
                "AND state = 'creating'", (job.provider, scope, job.id),
            )

    def _update(self, scope: str, job: Job, now: datetime, *, state: str | None,
                endpoint: ModelEndpoint | None, stopped_at: datetime | None = None) -> None:
        sets = ["updated_at = ?"]
        args: list[object] = [_iso(now)]
        if state is not None:
            sets.append("state = ?")
            args.append(state)
        if stopped_at is not None:
            sets.append("stopped_at = ?")
            args.append(_iso(stopped_at))
        if endpoint is not None:
            sets += ["endpoint_json = ?", "deployment_id = COALESCE(?, deployment_id)",
                     "model = ?", "hourly_usd = COALESCE(?, hourly_usd)"]
            args += [endpoint.model_dump_json(), endpoint.deployment_id, endpoint.model,
                     str(endpoint.hourly_usd) if endpoint.hourly_usd is not None else None]
        with self._write() as conn:
            conn.execute(
                f"UPDATE deployments SET {', '.join(sets)} WHERE provider = ? AND scope = ? "
                "AND job_id = ?", (*args, job.provider, scope, job.id),
            )


def _record(row: tuple[object, ...]) -> DeploymentRecord:
    (provider, scope, base_url, job_id, state, deployment_id, model, hourly, deployed_at,
     stop_at, stopped_at, job_json, endpoint_json, _updated) = row
    endpoint = (ModelEndpoint.model_validate_json(str(endpoint_json))
                if endpoint_json else None)
    return DeploymentRecord(
        provider=str(provider), scope=str(scope), base_url=str(base_url), job_id=str(job_id),
        state=state,  # type: ignore[arg-type]
        deployment_id=str(deployment_id) if deployment_id else None,
        model=str(model) if model else None,
        hourly_usd=Decimal(str(hourly)) if hourly else None,
        deployed_at=datetime.fromisoformat(str(deployed_at)),
        stop_at=_time(str(stop_at) if stop_at else None),
        stopped_at=_time(str(stopped_at) if stopped_at else None),
        job=Job.model_validate_json(str(job_json)), endpoint=endpoint,
    )
