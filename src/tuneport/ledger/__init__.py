"""tuneport's local job ledger (SQLite, WAL) and idempotency records.

See :class:`Ledger`. The client keeps one at ``TUNEPORT_HOME/ledger.sqlite3``.
"""

from tuneport.ledger._eval_cache import EvalStore
from tuneport.ledger._store import (
    LEDGER_FILENAME,
    Ledger,
    SubmissionRecord,
    UploadRecord,
    scrub_secrets,
)

__all__ = [
    "LEDGER_FILENAME", "EvalStore", "Ledger", "SubmissionRecord", "UploadRecord", "scrub_secrets",
]
