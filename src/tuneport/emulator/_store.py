"""The emulator's state: JSON records by (provider, kind, id), in memory or in SQLite.

Records are plain dicts (the provider's wire object plus private ``_emu`` bookkeeping),
so persisting them is a JSON dump; with a state file every write goes through to SQLite
and a restarted emulator finds its files, jobs and deployments again.
"""

from __future__ import annotations

import copy
import hashlib
import json
import sqlite3
import threading
from pathlib import Path
from typing import Any

__all__ = ["Store"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS records (
    provider TEXT NOT NULL, kind TEXT NOT NULL, id TEXT NOT NULL,
    seq INTEGER NOT NULL, data TEXT NOT NULL,
    PRIMARY KEY (provider, kind, id)
);
CREATE TABLE IF NOT EXISTS blobs (provider TEXT NOT NULL, id TEXT NOT NULL, data BLOB NOT NULL,
    PRIMARY KEY (provider, id));
CREATE TABLE IF NOT EXISTS counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
"""


class Store:
    """Thread-safe record store, optionally persisted to a SQLite file.

    Args:
        path: a SQLite file to load from and write through to; ``None`` keeps state in memory.
        seed: mixed into generated ids so two emulators with different seeds differ.

    Raises:
        ValueError: ``path`` cannot be created or is not an emulator state file.
    """

    def __init__(self, path: Path | None = None, *, seed: int = 0) -> None:
        self._lock = threading.RLock()
        self._seed = seed
        self._records: dict[tuple[str, str], dict[str, tuple[int, dict[str, Any]]]] = {}
        self._blobs: dict[tuple[str, str], bytes] = {}
        self._counters: dict[str, int] = {}
        self._seq = 0
        self._db: sqlite3.Connection | None = None
        if path is not None:
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
                # The server thread and the test thread both write: one connection, our lock.
                self._db = sqlite3.connect(str(path), check_same_thread=False,
                                           isolation_level=None)
                self._db.executescript(_SCHEMA)
                self._load()
            except (OSError, sqlite3.Error) as exc:
                self.close()
                raise ValueError(
                    f"cannot use {path} as the emulator's state file ({exc}); name a new file "
                    "or one an earlier emulator wrote") from exc

    def _load(self) -> None:
        assert self._db is not None
        for provider, kind, rid, seq, data in self._db.execute(
            "SELECT provider, kind, id, seq, data FROM records ORDER BY seq"
        ):
            self._records.setdefault((provider, kind), {})[rid] = (seq, json.loads(data))
            self._seq = max(self._seq, seq)
        for provider, rid, blob in self._db.execute("SELECT provider, id, data FROM blobs"):
            self._blobs[(provider, rid)] = bytes(blob)
        for name, value in self._db.execute("SELECT name, value FROM counters"):
            self._counters[name] = value

    def close(self) -> None:
        """Close the state file, if any."""
        with self._lock:
            if self._db is not None:
                self._db.close()
                self._db = None

    def new_id(self, prefix: str, *, length: int = 24, kind: str | None = None) -> str:
        """A fresh, deterministic id: ``prefix`` + hex derived from the seed and a counter."""
        name = kind or prefix
        with self._lock:
            n = self._counters.get(name, 0) + 1
            self._counters[name] = n
            if self._db is not None:
                self._db.execute(
                    "INSERT INTO counters(name, value) VALUES(?, ?) "
                    "ON CONFLICT(name) DO UPDATE SET value = excluded.value",
                    (name, n),
                )
        digest = hashlib.sha256(f"{self._seed}:{name}:{n}".encode()).hexdigest()
        return prefix + digest[:length]

    def put(self, provider: str, kind: str, rid: str, data: dict[str, Any]) -> None:
        """Insert or replace a record (keeping its original position in listings)."""
        with self._lock:
            bucket = self._records.setdefault((provider, kind), {})
            if rid in bucket:
                seq = bucket[rid][0]
            else:
                self._seq += 1
                seq = self._seq
            bucket[rid] = (seq, copy.deepcopy(data))
            if self._db is not None:
                self._db.execute(
                    "INSERT OR REPLACE INTO records(provider, kind, id, seq, data) "
                    "VALUES(?, ?, ?, ?, ?)",
                    (provider, kind, rid, seq, json.dumps(data)),
                )

    def get(self, provider: str, kind: str, rid: str) -> dict[str, Any] | None:
        """A copy of one record, or ``None``."""
        with self._lock:
            entry = self._records.get((provider, kind), {}).get(rid)
            return copy.deepcopy(entry[1]) if entry else None

    def list(self, provider: str, kind: str) -> list[dict[str, Any]]:
        """Copies of all records of a kind, oldest first."""
        with self._lock:
            bucket = self._records.get((provider, kind), {})
            entries = sorted(bucket.values(), key=lambda e: e[0])
            return [copy.deepcopy(data) for _, data in entries]

    def delete(self, provider: str, kind: str, rid: str) -> bool:
        """Remove a record; True if it existed."""
        with self._lock:
            existed = self._records.get((provider, kind), {}).pop(rid, None) is not None
            if existed and self._db is not None:
                self._db.execute(
                    "DELETE FROM records WHERE provider=? AND kind=? AND id=?",
                    (provider, kind, rid),
                )
            return existed

    def put_blob(self, provider: str, rid: str, data: bytes) -> None:
        """Store a file's bytes."""
        with self._lock:
            self._blobs[(provider, rid)] = data
            if self._db is not None:
                self._db.execute(
                    "INSERT OR REPLACE INTO blobs(provider, id, data) VALUES(?, ?, ?)",
                    (provider, rid, data),
                )

    def get_blob(self, provider: str, rid: str) -> bytes | None:
        """A file's bytes, or ``None``."""
        with self._lock:
            return self._blobs.get((provider, rid))
