"""The ledger's one way to open its SQLite file, shared by every table's store.

Autocommit connections (``isolation_level=None``) with a 30 s busy timeout, and writes in
``BEGIN IMMEDIATE`` transactions: a writer takes the lock up front instead of failing
half-way when another thread or process writes too.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

__all__ = ["connect", "write"]


@contextmanager
def connect(path: Path, *pragmas: str) -> Iterator[sqlite3.Connection]:
    """A short-lived connection to ``path``, closed on exit; ``pragmas`` run first."""
    conn = sqlite3.connect(path, timeout=30.0, isolation_level=None)
    try:
        conn.execute("PRAGMA busy_timeout=30000")
        for pragma in pragmas:
            conn.execute(f"PRAGMA {pragma}")
        yield conn
    finally:
        conn.close()


@contextmanager
def write(path: Path, *pragmas: str) -> Iterator[sqlite3.Connection]:
    """A connection inside one ``BEGIN IMMEDIATE`` transaction, rolled back on error."""
    with connect(path, *pragmas) as conn:
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield conn
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")
