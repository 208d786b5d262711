"""Scratch folders for rendered copies of a dataset: private, and never left behind.

A render is a full copy of the user's training data. It lives in a ``tuneport-render-<pid>-*``
folder of the system temp directory (0700, files 0600), removed when the submission ends,
whether it succeeded or failed. A process killed meanwhile cannot clean up, so each new
scratch folder first removes the folders of processes that no longer run.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

__all__ = ["PREFIX", "render_scratch", "sweep_stale"]

PREFIX = "tuneport-render-"
# Folders of the older name (no pid) are removed once this old: no submission renders longer.
_ORPHAN_AGE_S = 6 * 3600


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process: alive, and not ours to judge
        return True
    return True


def sweep_stale(root: Path | None = None) -> list[Path]:
    """Remove this user's scratch folders whose process is gone; returns those removed."""
    folder = Path(root) if root is not None else Path(tempfile.gettempdir())
    removed: list[Path] = []
    try:
        entries = list(folder.glob(PREFIX + "*"))
    except OSError:
        return removed
    now = time.time()
    for entry in entries:
        try:
            st = entry.lstat()
        except OSError:
            continue
        if not entry.is_dir() or entry.is_symlink() or st.st_uid != os.getuid():
            continue
        owner = entry.name[len(PREFIX):].split("-", 1)[0]
        if owner.isdigit():
            if int(owner) == os.getpid() or _alive(int(owner)):
                continue
        elif now - st.st_mtime < _ORPHAN_AGE_S:
            continue
        shutil.rmtree(entry, ignore_errors=True)
        removed.append(entry)
    return removed


@contextlib.contextmanager
def render_scratch() -> Iterator[Path]:
    """A private scratch folder for renders, removed on exit (success or failure)."""
    sweep_stale()
    with tempfile.TemporaryDirectory(prefix=f"{PREFIX}{os.getpid()}-") as tmp:
        yield Path(tmp)
