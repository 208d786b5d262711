"""The run directory: the only channel between the trainer process and everyone else.

Layout of ``TUNEPORT_HOME/runs/<job_id>/``::

    config.json        the resolved TrainConfig (secret-free)
    status.json        {"status", "pid", "updated_at", "error", "step", "total_steps", ...}
    events.jsonl       one JSON object per line (status changes, train/eval metrics)
    trainer.log        the trainer's stdout/stderr
    train.jsonl        the training data (copied or linked at upload)
    checkpoints/step-N/  trainer_state.pt + adapter or full weights
    adapter/           the final LoRA adapter (or ``model/`` for full fine-tuning)
    cancel             present when a cancel was requested

Everything is written atomically (write to a temporary file, then rename) so a reader
never sees half a JSON document.
"""

from __future__ import annotations

import contextlib
import contextvars
import json
import os
import re
import tempfile
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from tuneport._exceptions import BadRequestError

__all__ = [
    "RunDir",
    "check_job_id",
    "home_scope",
    "may_tighten",
    "private_dir",
    "runs_root",
    "tuneport_home",
    "utcnow",
]


# The home a Client(home=...) asked for, while one of its local-backend calls runs. A context
# variable rather than the environment: two clients with two homes in one process (or in
# two threads) each see their own.
_HOME: contextvars.ContextVar[Path | None] = contextvars.ContextVar("tuneport_home", default=None)


@contextlib.contextmanager
def home_scope(home: Path | str | None) -> Iterator[None]:
    """Within the block, :func:`tuneport_home` is ``home`` (None: unchanged)."""
    if home is None:
        yield
        return
    token = _HOME.set(Path(home).expanduser())
    try:
        yield
    finally:
        _HOME.reset(token)


def tuneport_home() -> Path:
    """The home of the running call (:func:`home_scope`), else ``TUNEPORT_HOME`` if set, else
    the platform's user data dir for tuneport."""
    scoped = _HOME.get()
    if scoped is not None:
        return scoped
    env = os.environ.get("TUNEPORT_HOME")
    if env:
        return Path(env).expanduser()
    import platformdirs

    return Path(platformdirs.user_data_dir("tuneport", appauthor=False))


def private_dir(path: Path) -> Path:
    """Create ``path`` (and the home above it) readable by its owner only, whatever the umask.

    Run folders hold copies of the training data and the weights learnt from it; the home
    holds the ledger. Folders between the home and ``path`` get 0700 too; an existing
    folder is tightened (a home made 0755 by an older version).
    """
    home = tuneport_home()
    chain = [path, *path.parents]
    inside = [p for p in chain if p == home or home in p.parents]
    for folder in reversed(inside or [path]):
        folder.mkdir(mode=0o700, exist_ok=True, parents=True)
        if folder.stat().st_mode & 0o077 and may_tighten(folder):
            os.chmod(folder, 0o700)
    return path


def may_tighten(folder: Path) -> bool:
    """Whether tuneport may make ``folder`` owner-only: never a shared folder.

    ``TUNEPORT_HOME=/tmp`` or ``TUNEPORT_HOME=~`` must not change the modes of the system's
    temp directory (sticky), someone else's folder, the user's own home or the root; the
    files tuneport writes there are 0600 anyway.
    """
    try:
        st = folder.stat()
    except OSError:
        return False
    if st.st_mode & 0o1000 or st.st_uid != os.getuid():
        return False
    resolved = folder.resolve()
    return resolved not in (Path.home().resolve(), Path(resolved.anchor))


def runs_root() -> Path:
    """Where local runs live: ``TUNEPORT_HOME/runs``."""
    return tuneport_home() / "runs"


def utcnow() -> datetime:
    """The current time, timezone-aware UTC."""
    return datetime.now(UTC)


def write_json_atomic(path: Path, data: Any) -> None:
    """Write JSON so that readers see either the old or the new document, never half.

    The file is 0600 (``mkstemp``) in a folder made private by :func:`private_dir`.
    """
    private_dir(path.parent)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(data, fh, indent=2, sort_keys=True, default=str)
            fh.write("\n")
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


# A local job id is a folder name under runs/, never a path: no separators, no "..", no
# leading dot or dash, printable ASCII only (what create_job makes: local-YYYYmmdd-HHMMSS-hex).
_JOB_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,127}")


def check_job_id(job_id: object) -> str:
    """``job_id`` if it names a run under the home, else a clear error.

    Checked before anything is read or written: ``local:../../x`` or ``local:/abs/path``
    would otherwise make tuneport write status, events and logs outside the home, launch a
    trainer on a foreign config or signal a foreign process.

    Raises:
        BadRequestError: the id is not a plain run name.
    """
    if not isinstance(job_id, str) or _JOB_ID.fullmatch(job_id) is None or ".." in job_id:
        shown = repr(job_id)[:80]
        raise BadRequestError(
            f"{shown} is not a local job id: an id names a run folder under "
            f"{runs_root()} (such as local-20250101-120000-abc123), never a path. "
            "`tuneport jobs --provider local` lists them.",
            provider="local", status_code=None,
        )
    return job_id


class RunDir:
    """Typed access to one run directory."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)

    @classmethod
    def for_job(cls, job_id: str) -> RunDir:
        """The run directory of ``job_id`` under ``TUNEPORT_HOME``.

        Raises:
            BadRequestError: ``job_id`` is a path, not a run name, or its folder is a link
                leading elsewhere.
        """
        root = runs_root()
        path = root / check_job_id(job_id)
        if path.is_symlink():
            raise BadRequestError(
                f"The run folder {path} is a symbolic link; tuneport only works on run "
                "folders it created under its home.", provider="local", status_code=None)
        return cls(path)

    @property
    def job_id(self) -> str:
        """The run's id (the folder name)."""
        return self.path.name

    @property
    def config_path(self) -> Path:
        """The resolved config."""
        return self.path / "config.json"

    @property
    def status_path(self) -> Path:
        """The status document."""
        return self.path / "status.json"

    @property
    def events_path(self) -> Path:
        """The event log."""
        return self.path / "events.jsonl"

    @property
    def log_path(self) -> Path:
        """The trainer's captured stdout/stderr."""
        return self.path / "trainer.log"

    @property
    def checkpoints_dir(self) -> Path:
        """Checkpoints, one folder per saved step."""
        return self.path / "checkpoints"

    @property
    def adapter_dir(self) -> Path:
        """The final LoRA adapter."""
        return self.path / "adapter"

    @property
    def model_dir(self) -> Path:
        """The final full model (full fine-tuning) or merged weights."""
        return self.path / "model"

    @property
    def cancel_path(self) -> Path:
        """Marker file: a cancel was requested."""
        return self.path / "cancel"

    def exists(self) -> bool:
        """True when the run has a config."""
        return self.config_path.is_file()

    def read_config(self) -> dict[str, Any]:
        """The resolved config as a dict."""
        data: dict[str, Any] = json.loads(self.config_path.read_text(encoding="utf-8"))
        return data

    def read_status(self) -> dict[str, Any]:
        """The status document (``{}`` before the first write)."""
        try:
            data: dict[str, Any] = json.loads(self.status_path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {}
        return data

    def update_status(self, **fields: Any) -> dict[str, Any]:
        """Merge ``fields`` into the status document (only one writer: the trainer or launcher)."""
        status = self.read_status()
        status.update(fields)
        status["updated_at"] = utcnow().isoformat()
        write_json_atomic(self.status_path, status)
        return status

    def append_event(self, message: str, *, type: str, level: str = "info",
                     step: int | None = None, **data: Any) -> None:
        """Append one event line (appends of one short line are atomic on POSIX)."""
        private_dir(self.path)
        record = {
            "created_at": utcnow().isoformat(),
            "level": level,
            "message": message,
            "type": type,
            "step": step,
            "data": data,
        }
        fd = os.open(self.events_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        with os.fdopen(fd, "a", encoding="utf-8") as fh:
            fh.write(json.dumps(record, default=str) + "\n")

    def read_events(self) -> list[dict[str, Any]]:
        """All events; the line number (1-based) becomes the event id."""
        events: list[dict[str, Any]] = []
        try:
            lines = self.events_path.read_text(encoding="utf-8").splitlines()
        except FileNotFoundError:
            return events
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError:
                # A line being written right now; the next read will see it whole.
                continue
            record["id"] = str(number)
            events.append(record)
        return events

    def checkpoint_dirs(self) -> list[Path]:
        """Complete checkpoints (with a ``trainer_state.pt``), oldest first."""
        if not self.checkpoints_dir.is_dir():
            return []
        found = [
            p for p in self.checkpoints_dir.iterdir()
            if p.is_dir() and p.name.startswith("step-") and (p / "trainer_state.pt").is_file()
        ]
        return sorted(found, key=lambda p: int(p.name.split("-", 1)[1]))
