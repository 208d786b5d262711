"""The evaluation's records in the ledger's database: held-out examples and cached replies.

Kept apart from the job tables (their own ``CREATE TABLE IF NOT EXISTS``, their own short
connections) so they never take part in the job ledger's schema changes.

- ``heldout_examples``: the hash of every example set aside for evaluation, so a later
  fine-tuning job can refuse training data that contains one.
- ``eval_responses``: a model's reply, keyed by a hash of (endpoint, model, messages,
  generation settings), so running an evaluation again, or scoring it with another metric,
  sends no request. Only replies are stored: never a key or a header.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable
from contextlib import AbstractContextManager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from tuneport.ledger import _sqlite

__all__ = ["EvalStore"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS heldout_examples (
    example_hash  TEXT PRIMARY KEY,
    source        TEXT NOT NULL,
    created_at    TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS eval_responses (
    cache_key      TEXT PRIMARY KEY,
    endpoint       TEXT NOT NULL,
    model          TEXT NOT NULL,
    response_json  TEXT NOT NULL,
    created_at     TEXT NOT NULL
);
"""


class EvalStore:
    """Held-out hashes and cached replies, in the ledger file at ``path``.

    Args:
        path: the ledger's SQLite file (``Ledger.path``).
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path).expanduser()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self._connect() as conn:
            conn.executescript(_SCHEMA)

    def __repr__(self) -> str:
        return f"EvalStore({str(self.path)!r})"

    def _connect(self) -> AbstractContextManager[sqlite3.Connection]:
        # One short autocommit connection per call: safe across the evaluation's threads.
        return _sqlite.connect(self.path)

    # -- held-out examples ------------------------------------------------------------

    def remember_heldout(self, hashes: Iterable[str], source: str) -> int:
        """Record example hashes as held out; returns how many were new."""
        now = datetime.now(UTC).isoformat()
        rows = [(h, source, now) for h in hashes]
        with self._connect() as conn:
            before = conn.total_changes
            conn.execute("BEGIN IMMEDIATE")
            conn.executemany("INSERT OR IGNORE INTO heldout_examples VALUES (?, ?, ?)", rows)
            conn.execute("COMMIT")
            return conn.total_changes - before

    def has_heldout(self) -> bool:
        """Whether any example was ever held out (if not, no training data can overlap)."""
        with self._connect() as conn:
            return conn.execute("SELECT 1 FROM heldout_examples LIMIT 1").fetchone() is not None

    def heldout_among(self, hashes: Iterable[str]) -> dict[str, str]:
        """Which of ``hashes`` are held out, each with the source it was recorded from."""
        wanted = list(dict.fromkeys(hashes))
        found: dict[str, str] = {}
        with self._connect() as conn:
            for start in range(0, len(wanted), 500):
                chunk = wanted[start:start + 500]
                marks = ",".join("?" * len(chunk))
                for h, source in conn.execute(
                    f"SELECT example_hash, source FROM heldout_examples "
                    f"WHERE example_hash IN ({marks})", chunk,
                ):
                    found[h] = source
        return found

    # -- cached replies -----------------------------------------------------------------

    def cached_response(self, key: str) -> dict[str, Any] | None:
        """The reply stored under ``key``, if any."""
        with self._connect() as conn:
            row = conn.execute("SELECT response_json FROM eval_responses WHERE cache_key = ?",
                               (key,)).fetchone()
        return None if row is None else dict(json.loads(row[0]))

    def store_response(self, key: str, endpoint: str, model: str,
                       response: dict[str, Any]) -> None:
        """Keep a reply for the next run (the last one wins)."""
        with self._connect() as conn:
            conn.execute(
                "INSERT OR REPLACE INTO eval_responses VALUES (?, ?, ?, ?, ?)",
                (key, endpoint, model, json.dumps(response, ensure_ascii=False),
                 datetime.now(UTC).isoformat()),
            )

    def count_responses(self) -> int:
        """How many replies are cached."""
        with self._connect() as conn:
            return int(conn.execute("SELECT COUNT(*) FROM eval_responses").fetchone()[0])
