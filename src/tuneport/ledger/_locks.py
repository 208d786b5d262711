"""One submitter at a time per idempotency key, across every process sharing a home.

An OS file lock (``flock``) on a small file under ``<home>/locks/``: the kernel releases it
when its holder exits however it exits, SIGKILL included, so a crashed submitter never
leaves a lease behind to expire. The file is named by a hash of (provider, scope, key), so
neither the key nor the account shows in the name; the files are a few bytes and kept
(removing one while another process opens it would let two holders in).
"""

from __future__ import annotations

import hashlib
import os
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

__all__ = ["LOCKS_DIRNAME", "key_lock"]

LOCKS_DIRNAME = "locks"

# How often a waiting process looks whether the holder is done. The wait itself has no
# limit: a holder is either working (uploading a large file can take minutes) or dead, and
# a dead holder's lock is released by the kernel.
_POLL_SECONDS = 0.02


def _lock_path(folder: Path, provider: str, scope: str, key: str) -> Path:
    digest = hashlib.sha256(f"{provider}\0{scope}\0{key}".encode()).hexdigest()[:32]
    return folder / f"{digest}.lock"


def _try_lock(fd: int) -> bool:
    if sys.platform == "win32":
        import msvcrt

        try:
            os.lseek(fd, 0, os.SEEK_SET)
            msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
        except OSError:
            return False
        return True
    import fcntl

    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


def _unlock(fd: int) -> None:
    if sys.platform == "win32":
        import msvcrt

        os.lseek(fd, 0, os.SEEK_SET)
        msvcrt.locking(fd, msvcrt.LK_UNLCK, 1)
        return
    import fcntl

    fcntl.flock(fd, fcntl.LOCK_UN)


@contextmanager
def key_lock(
    folder: Path,
    provider: str,
    scope: str,
    key: str,
    *,
    on_wait: Callable[[], None] | None = None,
) -> Iterator[None]:
    """Hold the lock of one submission key for the ``with`` block.

    ``flock`` on POSIX, ``msvcrt.locking`` on Windows: both are released by the OS when
    the holder's process ends, however it ends.

    Args:
        folder: the locks folder (created ``0700`` when missing).
        provider: the provider's name.
        scope: the provider's base URL and account (see ``Provider.ledger_scope``).
        key: the idempotency key.
        on_wait: called once if another process holds the lock (to tell the user).
    """
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    fd = os.open(_lock_path(folder, provider, scope, key), os.O_RDWR | os.O_CREAT, 0o600)
    try:
        told = False
        while not _try_lock(fd):
            if not told and on_wait is not None:
                on_wait()
            told = True
            time.sleep(_POLL_SECONDS)
        if sys.platform != "win32":
            # Who holds it, for someone looking at a stuck submit (pid, thread; no secret).
            os.ftruncate(fd, 0)
            os.pwrite(fd, f"{os.getpid()} {threading.get_ident()}\n".encode(), 0)
        try:
            yield
        finally:
            _unlock(fd)
    finally:
        os.close(fd)
