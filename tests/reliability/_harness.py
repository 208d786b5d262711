"""Helpers of the reliability tests: an emulator on loopback, datasets, child processes,
and counting what the emulator holds (the provider's own view, not the client's)."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from tuneport.emulator import Emulator, running

PROVIDERS = ("openai", "together", "fireworks")
MODELS = {"openai": "gpt-4o-mini", "together": "llama-3.1-8b-instruct",
          "fireworks": "llama-3.1-8b-instruct"}
CHILD = Path(__file__).with_name("submit_child.py")

#: Trials per (provider, process count) in the cross-process test: 10 by default, as the
#: guarantee asks. The processes start once per provider, so trials are cheap (see
#: docs/reliability.md for the measured time); ``TUNEPORT_RELIABILITY_TRIALS`` changes it.
TRIALS = int(os.environ.get("TUNEPORT_RELIABILITY_TRIALS", "10"))
PROCESS_COUNTS = (2, 4, 8)


def write_dataset(folder: Path, tag: str, n: int = 12) -> Path:
    """A small valid chat dataset whose content (and so key) depends on ``tag``."""
    path = folder / f"train-{tag}.jsonl"
    with path.open("w", encoding="utf-8") as fh:
        for i in range(n):
            fh.write(json.dumps({"messages": [
                {"role": "system", "content": "You are a terse support bot."},
                {"role": "user", "content": f"How do I reset password {i} ({tag})?"},
                {"role": "assistant", "content": f"Open settings, choose reset, step {i}."},
            ]}) + "\n")
    return path


@contextlib.contextmanager
def emulator(**config: Any) -> Iterator[Emulator]:
    """An emulator on the wall clock whose jobs stay running for the whole test."""
    settings: dict[str, Any] = {"job_seconds": 3600.0, "file_seconds": 0.0,
                                "deploy_seconds": 0.0, "retry_after": 0.02,
                                "timeout_seconds": 1.0, **config}
    with running(**settings) as emu:
        yield emu


def child_env(emu: Emulator, home: Path, **extra: str) -> dict[str, str]:
    """The environment of a submitting process: the emulator's URLs and keys, its home."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("TUNEPORT_", "OPENAI_", "TOGETHER_", "FIREWORKS_"))}
    env.update(emu.env())
    env.update({"TUNEPORT_HOME": str(home), "PYTHONWARNINGS": "ignore", **extra})
    return env


def start_child(emu: Emulator, provider: str, data: list[Path], home: Path, *,
                sync: Path | None = None, kill_at: str | None = None,
                index: int = 0) -> subprocess.Popen[str]:
    """A process that submits each of ``data`` to ``provider`` (see submit_child.py)."""
    args = [sys.executable, str(CHILD), provider, MODELS[provider], *map(str, data)]
    if sync is not None:
        args += ["--sync", str(sync)]
    if kill_at is not None:
        args += ["--kill-at", kill_at]
    args += ["--index", str(index)]
    return subprocess.Popen(args, env=child_env(emu, home), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def finish(proc: subprocess.Popen[str], timeout: float = 120.0) -> tuple[int, str, str]:
    out, err = proc.communicate(timeout=timeout)
    return proc.returncode, out, err


def remote_jobs(emu: Emulator, provider: str) -> list[dict[str, Any]]:
    """Every job the emulator holds for ``provider`` (what the provider would bill)."""
    return list(emu.state.store.list(provider, "job"))


def wait_for(predicate: Any, timeout: float, what: str,
             children: list[subprocess.Popen[str]] = ()) -> None:  # type: ignore[assignment]
    """Wait until ``predicate()``; fail at once, with its stderr, if a child failed."""
    deadline = time.monotonic() + timeout
    while not predicate():
        for child in children:
            # A child that exits 0 has written all its answers; only a failure ends the wait.
            if child.poll() not in (None, 0):
                _, err = child.communicate()
                raise AssertionError(f"a child exited {child.returncode} while waiting for "
                                     f"{what}:\n{err[-3000:]}")
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.01)
